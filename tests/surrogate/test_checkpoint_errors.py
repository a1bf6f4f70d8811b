"""A damaged GENIEx checkpoint is an error naming its path and what is wrong, whether it
is loaded directly or through ``make_model('geniex', …)``: empty (was a bare EOFError),
truncated (was a RuntimeError from torch's zip reader without the path), overwritten
bytes, not a torch file at all, missing entries (was a KeyError) or weights that do not
fit the network (was load_state_dict's RuntimeError)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

import pytest
import torch

import surrogate
from spice_netlists import CrossbarSpec
from surrogate.checkpoint import (CheckpointError, SpecMismatchError, state_checksum,
                                  load_geniex, read_checkpoint, save_geniex)
from surrogate.geniex import GeniexConfig, GeniexModel, GeniexNet, Normalisation

SPEC = CrossbarSpec(rows=4, cols=3, device="sinh")


@pytest.fixture
def good(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    config = GeniexConfig(target="relative", hidden=[8])
    model = GeniexModel(SPEC, config, GeniexNet(SPEC.rows, SPEC.cols, config.hidden),
                        Normalisation(), data_identity="test")
    path = tmp_path / "good.pt"
    save_geniex(model, path)
    return path


LOADERS: dict[str, Callable[[Path], object]] = {
    "load_geniex": lambda p: load_geniex(p, SPEC),
    "make_model": lambda p: surrogate.make_model("geniex", SPEC, checkpoint=p),
    "read_checkpoint": read_checkpoint,
}


def damaged(tmp_path: Path, good: Path, kind: str) -> Path:
    data = good.read_bytes()
    path = tmp_path / f"{kind}.pt"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif kind == "last_bytes_missing":
        path.write_bytes(data[:-20])
    elif kind == "garbage":
        path.write_bytes(b"not a checkpoint at all\n" * 20)
    elif kind == "overwritten":
        middle = len(data) // 3
        path.write_bytes(data[:middle] + b"\xff" * 64 + data[middle + 64:])
    return path


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize("kind", ["empty", "truncated", "last_bytes_missing", "garbage",
                                  "overwritten"])
def test_a_damaged_checkpoint_names_its_path(tmp_path: Path, good: Path, kind: str,
                                             loader: str) -> None:
    path = damaged(tmp_path, good, kind)
    with pytest.raises(CheckpointError, match=re.escape(str(path))) as info:
        LOADERS[loader](path)
    message = str(info.value)
    assert "surrogate.stages.train" in message                      # says how to get a good one
    if kind == "empty":
        assert "is empty (0 bytes)" in message
    else:
        assert "truncated or damaged" in message or "not a GENIEx checkpoint" in message
    assert isinstance(info.value, ValueError)                # callers catching ValueError


@pytest.mark.parametrize("loader", LOADERS)
def test_a_missing_checkpoint_names_its_path(tmp_path: Path, loader: str) -> None:
    path = tmp_path / "absent.pt"
    with pytest.raises(FileNotFoundError, match=re.escape(str(path))):
        LOADERS[loader](path)


@pytest.mark.parametrize("loader", LOADERS)
def test_a_directory_is_not_a_checkpoint(tmp_path: Path, loader: str) -> None:
    with pytest.raises(CheckpointError, match=re.escape(f"{tmp_path} is not a file")):
        LOADERS[loader](tmp_path)


def _missing_entries(payload: dict) -> None:
    del payload["spec"], payload["normalisation"]


def _resized_weights(payload: dict) -> None:
    payload["state"]["w_v"] = torch.zeros(8, SPEC.rows + 1)
    payload["state_sha256"] = state_checksum(payload["state"])   # written so, not damaged


def _bad_config(payload: dict) -> None:
    payload["config"]["target"] = "ratios"


@pytest.mark.parametrize("edit,named", [(_missing_entries, "normalisation, spec"),
                                        (_resized_weights, "w_v"), (_bad_config, "target")])
def test_a_checkpoint_with_bad_content_names_its_path_and_the_problem(tmp_path: Path, good: Path,
                                                                      edit, named: str) -> None:
    payload = torch.load(good, weights_only=True)
    edit(payload)
    path = tmp_path / f"{edit.__name__.strip('_')}.pt"
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match=rf"{re.escape(str(path))}.*{named}"):
        load_geniex(path, SPEC)


def test_overwritten_weights_that_torch_still_loads_fail_the_checksum(tmp_path: Path,
                                                                      good: Path) -> None:
    data = good.read_bytes()
    w_g = torch.load(good, weights_only=True)["state"]["w_g"]
    start = data.index(w_g.numpy().tobytes())          # the tensor's bytes in the zip
    path = tmp_path / "overwritten_weights.pt"
    path.write_bytes(data[:start] + b"\xff" * 16 + data[start + 16:])
    assert not torch.isfinite(torch.load(path, weights_only=True)["state"]["w_g"]).all()
    with pytest.raises(CheckpointError, match=rf"{re.escape(str(path))}: its weights do not "
                                              rf"match their checksum"):
        load_geniex(path, SPEC)


def test_checkpoints_without_a_checksum_still_load(tmp_path: Path, good: Path) -> None:
    payload = torch.load(good, weights_only=True)
    del payload["state_sha256"]                        # written before the checksum existed
    path = tmp_path / "legacy.pt"
    torch.save(payload, path)
    assert load_geniex(path, SPEC).data_identity == "test"


def test_good_checkpoints_and_spec_mismatches_are_unchanged(tmp_path: Path, good: Path) -> None:
    model = load_geniex(good, SPEC)
    assert model.spec == SPEC and model.data_identity == "test"
    with pytest.raises(SpecMismatchError, match=re.escape(str(good))):
        load_geniex(good, SPEC.with_(rows=5))
