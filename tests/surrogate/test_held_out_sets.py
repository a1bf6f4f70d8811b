"""Named held-out test sets (``datagen.held_out``) through the real stage entry points:
the datagen stage writes each one beside ``train`` and ``test`` for every dataset tag
(circuit engine, checked against the real ngspice), resuming one re-simulates nothing,
and the evaluate stage scores every model on each of them (``"<label>/<name>"`` keys
in rmse.json, with the geniex / analytical_device ratio), the names derived from
``datagen.held_out``, never typed twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from datagen import engines
from datagen.config import DatagenParams, default_held_out
from datagen.dataset import MANIFEST_FILE, load_dataset
from datagen.sweep import main as datagen_main
from spice_netlists import CrossbarSpec
from surrogate.stages import evaluate, train
from surrogate.stages.config import SurrogateParams, held_out_names, load_params

CROSSBAR = CrossbarSpec(rows=4, cols=4, device="sinh")
VOLTAGES = (0.25, 0.5)
HELD_OUT = {
    "sparse_bitlevel": {"n_samples": 12, "seed": 101, "chunk_size": 4, "engine": "circuit",
                        "check_fraction": 0.25,
                        "sampler": {"name": "bitlevel", "min_input_sparsity": 0.6,
                                    "max_input_sparsity": 0.95, "min_weight_sparsity": 0.6,
                                    "max_weight_sparsity": 0.95}},
    "dense": {"n_samples": 12, "seed": 102, "chunk_size": 4, "engine": "circuit",
              "check_fraction": 0.25,
              "sampler": {"name": "coverage", "input_bits": 4, "max_input_sparsity": 0,
                          "max_weight_sparsity": 0, "g_mean_low": 0.6}},
}


def _params(root: Path) -> dict:
    circuit = {"engine": "circuit", "check_fraction": 0.05, "chunk_size": 40}
    fast = {"hidden": [16], "epochs": 3, "batch_size": 32, "device": "cpu"}
    return {
        "crossbar": CROSSBAR.to_dict(),
        "datagen": {
            "configs": [{"v_read_max": v} for v in VOLTAGES],
            "train": {"n_samples": 120, "seed": 0, "sampler": {"name": "coverage"}, **circuit},
            "test": {"n_samples": 40, "seed": 1, **circuit},
            "held_out": HELD_OUT,
            "out_dir": str(root / "data")},
        "surrogate": {
            "data_dir": str(root / "data"), "models_dir": str(root / "models"),
            "reports_dir": str(root / "reports"),
            "variants": {"geniex": fast, "geniex_published": {"target": "ratio"}},
            "evaluate": {"parity_points": 20, "hist_bins": 5}},
    }


@pytest.fixture(scope="module")
def stage(tmp_path_factory) -> Path:
    """The datagen stage run once on a tiny params file; returns the params path."""
    root = tmp_path_factory.mktemp("held_out")
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(_params(root), sort_keys=False))
    datagen_main(["--params", str(path), "--summary", str(root / "datagen.json")])
    return path


def _tags() -> list[str]:
    return [CROSSBAR.with_(v_read_max=v).tag for v in VOLTAGES]


@pytest.mark.slow
def test_datagen_writes_every_held_out_set_beside_train_and_test(stage) -> None:
    root = stage.parent
    summary = json.loads((root / "datagen.json").read_text())
    for tag in _tags():
        for name, cfg in HELD_OUT.items():
            directory = root / "data" / tag / name
            assert (directory / MANIFEST_FILE).is_file()
            ds = load_dataset(directory)
            assert len(ds) == len(ds.converged()) == cfg["n_samples"]
            assert set(ds.meta["sampler"]) == {cfg["sampler"]["name"]}
            assert ds.spec.tag == tag
            entry = summary[f"{tag}/{name}"]
            assert entry["engine"] == "circuit" and entry["check"]["passed"]
            assert entry["check"]["checked"] == 3          # ngspice really re-ran them
        assert {p.name for p in (root / "data" / tag).iterdir()} == {"train", "test", *HELD_OUT}
        dense = load_dataset(root / "data" / tag / "dense")
        assert (dense.v > 0).all() and (dense.g > dense.spec.g_off).all()


@pytest.mark.slow
def test_resuming_a_held_out_sweep_resimulates_nothing(stage, monkeypatch) -> None:
    calls: list[int] = []
    solve = engines.ENGINES["circuit"].solve

    def counting(spec, v, g, *args):
        calls.append(len(v))
        return solve(spec, v, g, *args)

    monkeypatch.setitem(engines.ENGINES, "circuit", engines.Engine(counting, "serial"))
    root = stage.parent
    before = (root / "datagen.json").read_text()
    datagen_main(["--params", str(stage), "--summary", str(root / "again.json")])
    assert calls == []                                   # every chunk kept
    assert (root / "again.json").read_text() == before
    # a lost shard of one held-out set: only that chunk runs again
    tag = _tags()[0]
    (root / "data" / tag / "dense" / "shard-00001.parquet").unlink()
    datagen_main(["--params", str(stage), "--summary", str(root / "again.json")])
    assert calls == [4]
    assert (root / "again.json").read_text() == before


@pytest.mark.slow
def test_every_model_is_scored_on_every_held_out_set(stage) -> None:
    params = load_params(stage)
    assert params.held_out == tuple(HELD_OUT)            # derived from datagen.held_out
    train.main(["--params", str(stage)])
    evaluate.main(["--params", str(stage)])
    report = json.loads((stage.parent / "reports" / "rmse.json").read_text())
    models = ["ideal", "analytical", "analytical_device", "analytical_cell", "geniex",
              "geniex_published"]
    assert sorted(report) == sorted(models + ["analytical_over_geniex",
                                              "geniex_over_analytical_device",
                                              "best_physics", "geniex_over_best_physics",
                                              "geniex_loses_to_physics"])
    main_labels = [CROSSBAR.with_(v_read_max=v).label for v in VOLTAGES]
    labels = sorted(main_labels + [f"{label}/{name}" for label in main_labels for name in HELD_OUT])
    for model in models:
        assert sorted(report[model]) == labels
        for entry in report[model].values():
            assert entry["rmse_uA"] > 0
    for section, (num, den) in {"analytical_over_geniex": ("analytical", "geniex"),
                                "geniex_over_analytical_device": ("geniex", "analytical_device")
                                }.items():
        assert sorted(report[section]) == labels
        for label in labels:
            assert report[section][label] == pytest.approx(
                report[num][label]["rmse_uA"] / report[den][label]["rmse_uA"])
    for label in labels:                 # GENIEx held to the best cheap physics of each set
        best = report["best_physics"][label]
        assert best in ("analytical", "analytical_device", "analytical_cell")
        assert report[best][label]["rmse_uA"] == min(
            report[m][label]["rmse_uA"] for m in ("analytical", "analytical_device",
                                                 "analytical_cell"))
        assert report["geniex_over_best_physics"][label] == pytest.approx(
            report["geniex"][label]["rmse_uA"] / report[best][label]["rmse_uA"])
    assert report["geniex_loses_to_physics"] == sorted(
        label for label in labels if report["geniex_over_best_physics"][label] > 1)
    parity = (stage.parent / "reports" / "plots" / "parity" / "geniex.csv").read_text()
    assert all(f"{label}," in parity for label in labels)  # the new sets show in the plots


def test_held_out_names_are_derived_from_datagen_not_typed_twice(tmp_path) -> None:
    params = {"crossbar": CROSSBAR.to_dict(), "datagen": {"held_out": {"dense": HELD_OUT["dense"]}},
              "surrogate": {"data_dir": "d"}}
    assert held_out_names(params) == ("dense",)
    assert held_out_names({"crossbar": CROSSBAR.to_dict(), "datagen": {"configs": [{}]}}) == \
        tuple(default_held_out())                        # datagen's defaults
    assert held_out_names({"crossbar": CROSSBAR.to_dict()}) == ()   # no datagen section
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    loaded = load_params(path)
    assert loaded.held_out == ("dense",)
    assert [(s, str(d)) for s, d in loaded.test_sets(CROSSBAR.tag)] == [
        ("", f"d/{CROSSBAR.tag}/test"), ("/dense", f"d/{CROSSBAR.tag}/dense")]
    path.write_text(yaml.safe_dump({**params, "datagen": {"held_out": {}}}))
    assert load_params(path).held_out == ()


def test_the_default_held_out_sets_are_sparse_bitlevel_and_dense_on_the_circuit_engine() -> None:
    sets = DatagenParams().held_out
    assert list(sets) == ["sparse_bitlevel", "dense"]
    for cfg in sets.values():
        assert cfg.n_samples == 500 and cfg.engine == "circuit" and cfg.check_fraction > 0
    assert len({cfg.seed for cfg in sets.values()} | {DatagenParams().train.seed}) == 3


@pytest.mark.parametrize("held_out,path,says", [
    ({"dense": {"sampler": {"name": "coverage", "min_input_sparsity": 0.5,
                            "max_input_sparsity": 0.2}}},
     "datagen.held_out.dense.sampler.min_input_sparsity", "<= max_input_sparsity"),
    ({"dense": {"n_samples": 0}}, "datagen.held_out.dense.n_samples", ">= 1"),
    ({"dense": {"engine": "xyce"}}, "datagen.held_out.dense.engine", "'xyce'"),
    ({"dense": {"seed": 0}}, "datagen.held_out.dense.seed", "must differ from train.seed"),
    ({"dense": {"sampler": {"nme": 1}}}, "datagen.held_out.dense.sampler", r"unknown key"),
    ({"test": {}}, "datagen.held_out", "bad set name 'test'"),
    ({"a/b": {}}, "datagen.held_out", "bad set name 'a/b'"),
    ({"dense": "big"}, "datagen.held_out.dense", "mapping of sweep settings, got 'big'"),
    (["dense"], "datagen.held_out", "mapping of held-out test sweeps"),
])
def test_a_bad_held_out_set_is_refused_naming_its_path(held_out, path, says) -> None:
    from datagen.fields import SweepFieldError
    import re
    with pytest.raises(SweepFieldError, match=rf"^{re.escape(path)}[ :].*{says}"):
        DatagenParams.from_dict({"held_out": held_out})


def test_a_held_out_name_may_not_also_be_an_extra_test_set() -> None:
    from spice_netlists.config import ConfigError
    with pytest.raises(ConfigError, match=r"^surrogate\.held_out\[0\].*'workload'"):
        SurrogateParams.from_dict({"held_out": ["workload"], "extra_test_sets": {"workload": "d"}})


def test_evaluate_names_a_missing_held_out_set_before_any_work(tmp_path) -> None:
    params = SurrogateParams(datasets=(CROSSBAR.tag,), data_dir=str(tmp_path), held_out=("dense",))
    (tmp_path / CROSSBAR.tag / "test").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=rf"{CROSSBAR.tag}/dense"):
        evaluate.run(params)
