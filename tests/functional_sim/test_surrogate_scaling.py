"""The ``surrogate_scaling`` stage through its real entry point on tiny tiles: sweeps with
the circuit engine (checked in the real ngspice), nested training sets capped per tile
size, every variant scored on the in-distribution and held-out sets beside the physics
models, the report, table and plot written; a rerun resumes every unit and rewrites the
report byte for byte; off by default; bad settings named by their path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from spice_netlists import CrossbarSpec
from spice_netlists.config import ConfigError
from surrogate.scaling import ScalingParams
from functional_sim.studies import surrogate_scaling as scaling
from surrogate.stages.config import SurrogateParams

CROSSBAR = CrossbarSpec(rows=4, cols=4, device="sinh")


def _params(root: Path, enabled: bool = True) -> dict:
    circuit = {"engine": "circuit", "check_fraction": 0.05}
    fast = {"hidden": [8], "epochs": 3, "batch_size": 16, "device": "cpu"}
    return {
        "crossbar": CROSSBAR.to_dict(),
        "datagen": {
            "train": {"n_samples": 10, "seed": 0, "sampler": {"name": "coverage"}, **circuit},
            "test": {"n_samples": 10, "seed": 1, **circuit},
            "held_out": {"all_on": {"n_samples": 10, "seed": 103, **circuit,
                                    "sampler": {"name": "structured", "pattern": "all_on"}}},
            "out_dir": str(root / "data")},
        "surrogate": {
            "variants": {"geniex": fast},
            "scaling": {"enabled": enabled, "setting": {"v_read_max": 0.5},
                        "sizes": [4, 6], "train_samples": [40, 80],
                        "max_train_samples": {6: 40}, "test_samples": 16,
                        "check_fraction": 0.1, "threads": 1, "bench_tiles": 4,
                        "bench_vectors": 8, "bench_repeats": 2,
                        "variants": {"mlp_cell": {"baseline": "cell", "target": "excess"},
                                     "column_cell": {"arch": "column", "baseline": "cell",
                                                     "target": "excess"}},
                        "data_dir": str(root / "scaling_data"),
                        "out_dir": str(root / "reports" / "scaling")}},
    }


@pytest.mark.slow
def test_the_study_scores_every_variant_at_every_size_and_resumes_byte_for_byte(tmp_path, capsys):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(_params(tmp_path)))
    args = ["--params", str(params), "--resume-dir", str(tmp_path / "cache")]
    scaling.main(args)
    out = tmp_path / "reports" / "scaling"
    report = json.loads((out / "scaling.json").read_text())
    assert report["enabled"] and list(report["sizes"]) == ["4x4/sinh/Ron100k/0.5V",
                                                           "6x6/sinh/Ron100k/0.5V"]
    small, large = report["sizes"].values()
    assert list(small["units"]) == ["40", "80"] and list(large["units"]) == ["40"]  # capped
    for entry in (small, large):
        assert sorted(entry["physics"]) == ["analytical", "analytical_cell", "analytical_device"]
        for units in entry["units"].values():
            assert sorted(units) == ["column_cell", "mlp_cell"]
            for unit in units.values():
                assert sorted(unit["rmse_pct_fs"]) == ["all_on", "test"]
                assert all(v > 0 for v in unit["rmse_pct_fs"].values())
                assert unit["weights"] > 0 and unit["mvms_per_s"] > 0
                assert unit["epochs_run"] == 3
    # the column network has fewer weights than the MLP on the whole tile, and the
    # cell baseline's transfers are counted in its cost
    unit = large["units"]["40"]
    assert unit["column_cell"]["weights"] < unit["mlp_cell"]["weights"]
    assert unit["mlp_cell"]["baseline_macs_per_mvm"] == 2 * 6 ** 3 + 6 * 6
    table = (out / "scaling.md").read_text()
    assert table.count("| 6x6/sinh/Ron100k/0.5V | 40 |") == 2
    assert (out / "scaling.png").stat().st_size > 0
    first = (out / "scaling.json").read_bytes()
    capsys.readouterr()
    scaling.main(args)                                   # everything resumed
    assert "8 unit(s) resumed, 0 computed" in capsys.readouterr().out   # 6 trained + 2 physics
    assert (out / "scaling.json").read_bytes() == first


def test_the_study_is_off_unless_enabled(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(_params(tmp_path, enabled=False)))
    scaling.main(["--params", str(params), "--no-resume"])
    out = tmp_path / "reports" / "scaling"
    assert json.loads((out / "scaling.json").read_text()) == {"enabled": False}
    assert not (tmp_path / "scaling_data").exists()


@pytest.mark.parametrize("change,says", [
    ({"setting": {"rows": 8}}, r"^surrogate\.scaling\.setting\.rows is set per tile size"),
    ({"sizes": []}, r"^surrogate\.scaling\.sizes must be a non-empty list"),
    ({"variants": {}}, r"^surrogate\.scaling\.variants must name at least one"),
    ({"threads": 0}, r"^surrogate\.scaling\.threads "),
])
def test_a_bad_setting_is_named_by_its_path(change, says):
    data = {"enabled": True, "variants": {"v": {}}, **change}
    with pytest.raises(ConfigError, match=says):
        SurrogateParams.from_dict({"scaling": data})


def test_a_bad_variant_field_is_named_under_the_study(tmp_path, capsys):
    data = _params(tmp_path)
    data["surrogate"]["scaling"]["variants"]["mlp_cell"]["arch"] = "cnn"
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(data))
    with pytest.raises(SystemExit) as exit_:
        scaling.main(["--params", str(params), "--no-resume"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "surrogate.scaling.variants.mlp_cell.arch must be one of mlp, column" in err


def test_train_sizes_are_capped_per_tile_size():
    cfg = ScalingParams(train_samples=(64000, 4000, 16000), max_train_samples={128: 16000})
    assert cfg.train_sizes(64) == (4000, 16000, 64000)
    assert cfg.train_sizes(128) == (4000, 16000)
    # `dvc exp run -S surrogate.scaling.max_train_samples.128=16000` writes a string key
    assert ScalingParams(max_train_samples={"128": 16000}).train_sizes(128) == (4000, 16000)
    with pytest.raises(ConfigError, match=r"^max_train_samples key 'big'"):
        ScalingParams(max_train_samples={"big": 1})
