"""The ``check_params`` stage: every section read and checked before any stage works, so
that a bad experiment value stops the pipeline before DVC removes outputs; its output is
the same line for every good params file, so it never makes another stage rerun."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from functional_sim.studies.check_params import CHECKED, check_params, main
from spice_netlists.config import ConfigError
from tests.support import REPO_ROOT


def _with(tmp_path: Path, dotted: str, value) -> Path:
    """The repository's params.yaml with one value set (as ``dvc exp run -S`` does)."""
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    *parents, leaf = dotted.split(".")
    node = params
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


@pytest.mark.parametrize("dotted,value,message", [
    ("functional_sim.sim.nonideal.programming.sigma", -0.1,
     "functional_sim.sim.nonideal.programming.sigma must be >= 0, got -0.1"),
    ("datagen.train.engine", "circuitt", "datagen.train.engine must be one of"),
    ("surrogate.evaluate", "often", "surrogate.evaluate"),
    ("functional_sim.ground_truth.models", [], "functional_sim.ground_truth.models is empty"),
    ("functional_sim.aware_training.nonideal", {"stuk": {"on_rate": 0.1}},
     "functional_sim.aware_training.nonideal.stuk: no such field"),
    ("functional_sim.sensitivity.setting", "64x64/sinh/Ron25k/0.5V",
     "functional_sim.sensitivity.setting '64x64/sinh/Ron25k/0.5V' is not a study setting"),
    ("crossbar.rows", 0, "crossbar.rows"),
    ("surrogate.scaling", {"enabled": True, "variants": {"v": {"arch": "cnn"}}},
     "surrogate.scaling.variants.v.arch must be one of mlp, column"),
    ("surrogate.scaling", {"enabled": True, "variants": {"v": {}}, "setting": {"g_on": -1}},
     "surrogate.scaling.setting.g_on"),
])
def test_a_bad_value_anywhere_is_named_before_any_stage_runs(tmp_path, dotted, value,
                                                           message) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("[", r"\[")):
        check_params(_with(tmp_path, dotted, value))


def test_the_stage_fails_in_one_line_and_writes_nothing(tmp_path) -> None:
    params = _with(tmp_path, "functional_sim.sim.nonideal.programming.sigma", -0.1)
    out = tmp_path / "params_check.txt"
    done = subprocess.run([sys.executable, "-m", "functional_sim.studies.check_params",
                           "--params", str(params), "--out", str(out)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and not out.exists()
    assert done.stderr.strip().splitlines() == [
        f"check_params: {params}: functional_sim.sim.nonideal.programming.sigma must be "
        f">= 0, got -0.1"]


def test_every_good_params_file_gives_the_same_output(tmp_path) -> None:
    outs = []
    for i, (dotted, value) in enumerate([("functional_sim.crossbar_model", "analytical"),
                                         ("functional_sim.crossbar_model", "ideal"),
                                         ("functional_sim.test_subset", 100)]):
        folder = tmp_path / str(i)
        folder.mkdir()
        out = folder / "params_check.txt"
        main(["--params", str(_with(folder, dotted, value)), "--out", str(out)])
        outs.append(out.read_text())
    assert outs == [CHECKED] * 3
    main(["--params", str(REPO_ROOT / "params.yaml"), "--out", str(tmp_path / "repo.txt")])
    assert (tmp_path / "repo.txt").read_text() == CHECKED
    assert (REPO_ROOT / "reports" / "params_check.txt").read_text() == CHECKED
