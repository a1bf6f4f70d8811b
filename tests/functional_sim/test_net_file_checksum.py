"""Saved networks are checksummed: a damaged, truncated or tampered net file is refused,
naming the file and the fix, instead of loading changed weights without a word."""

from __future__ import annotations

import pytest
import torch

from functional_sim.studies.inference import NetFileError, load_net, save_net
from functional_sim.studies.nets import build


@pytest.fixture()
def net_file(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "digits_mlp.pt"
    save_net(path, "digits_mlp", build("digits_mlp"), float_top1=0.9)
    return path


def _weights_offset(path) -> int:
    """An offset inside the stored weight bytes (the largest run of the file that is
    not the small pickled header): the middle of the file is inside the first layer's
    weights, which hold most of the bytes."""
    return path.stat().st_size // 2


def test_a_good_file_loads_with_its_metadata(net_file) -> None:
    net, meta = load_net(net_file)
    assert meta["float_top1"] == 0.9
    assert not net.training


def test_flipped_weight_bytes_are_refused_naming_the_file(net_file) -> None:
    data = bytearray(net_file.read_bytes())
    at = _weights_offset(net_file)
    for i in range(at, at + 64):
        data[i] ^= 0xFF
    net_file.write_bytes(bytes(data))
    with pytest.raises(NetFileError, match="checksum") as info:
        load_net(net_file)
    assert str(net_file) in str(info.value) and "train_nets" in str(info.value)


@pytest.mark.parametrize("keep", [0, 100, 0.5])
def test_truncated_or_empty_files_are_refused_naming_the_file(net_file, keep) -> None:
    data = net_file.read_bytes()
    n = int(len(data) * keep) if isinstance(keep, float) else keep
    net_file.write_bytes(data[:n])
    with pytest.raises(NetFileError) as info:
        load_net(net_file)
    assert str(net_file) in str(info.value) and "train_nets" in str(info.value)


def test_a_torch_file_that_is_no_net_is_refused(net_file) -> None:
    torch.save({"weights": torch.zeros(3)}, net_file)
    with pytest.raises(NetFileError, match="not a saved study network"):
        load_net(net_file)


def test_a_missing_file_names_the_stage_that_makes_it(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="train_nets"):
        load_net(tmp_path / "nowhere.pt")


def test_saving_leaves_no_temporary_file(net_file) -> None:
    assert sorted(p.name for p in net_file.parent.iterdir()) == ["digits_mlp.pt"]
