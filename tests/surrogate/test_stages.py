"""The surrogate stage CLIs end to end on tiny ngspice datasets written to disk:
train -> checkpoints and curves (a variant may train on another data directory),
evaluate -> rmse.json in the agreed shape (plus extra test sets) and plots,
bench -> one throughput per model and size; plus the SPICE model and make_model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

import datagen
from datagen.dataset import META_COLUMNS, SPEC_FILE, load_dataset, shard_path, write_shard
from spice_netlists import CrossbarSpec
from surrogate import MODEL_NAMES, make_model
from surrogate.stages import bench, evaluate, train
from surrogate.checkpoint import load_geniex
from surrogate.stages.config import BenchParams, SurrogateParams, load_params
from tests.support import REPO_ROOT

SPECS = [CrossbarSpec(rows=4, cols=4, device="sinh", v_read_max=0.5),
         CrossbarSpec(rows=8, cols=8, device="sinh", v_read_max=0.5)]


def write_dataset(directory, spec: CrossbarSpec, m: int, seed: int) -> None:
    v, g = datagen.draw(spec, m, np.random.default_rng(seed))
    i = datagen.simulate(spec, v, g, workers=2)
    ok = np.all(np.isfinite(i), axis=1)
    meta = pd.DataFrame({"sample_id": np.arange(m), "seed": seed, "sampler": "uniform",
                         "ok": ok, "reason": ""})[list(META_COLUMNS)]
    directory.mkdir(parents=True)
    spec.save(directory / SPEC_FILE)
    write_shard(shard_path(directory, 0), spec, v, g, i, meta)


def tag(spec: CrossbarSpec) -> str:
    return spec.tag


@pytest.fixture(scope="module")
def params_file(tmp_path_factory):
    root = tmp_path_factory.mktemp("stages")
    for k, spec in enumerate(SPECS):
        write_dataset(root / "data" / tag(spec) / "train", spec, 160, seed=k)
        write_dataset(root / "data" / tag(spec) / "test", spec, 60, seed=100 + k)
        # a second data directory ("alt", standing in for workload-derived samples)
        for split in ("train", "test"):
            shutil.copytree(root / "data" / tag(spec) / "test", root / "alt" / tag(spec) / split)
    fast = {"hidden": [32], "epochs": 4, "batch_size": 32, "device": "cpu"}
    params = {"surrogate": {
        "datasets": [tag(s) for s in SPECS],
        "data_dir": str(root / "data"), "models_dir": str(root / "models"),
        "reports_dir": str(root / "reports"),
        "variants": {"geniex": {"target": "relative", **fast},
                     "geniex_published": {"target": "ratio", **fast},
                     "geniex_residual": {"target": "residual", **fast},
                     "geniex_alt": {"target": "relative", **fast}},
        "train_data_dirs": {"geniex_alt": str(root / "alt")},
        "extra_test_sets": {"alt": str(root / "alt")},
        "evaluate": {"parity_points": 50, "hist_bins": 10},
        "bench": {"sizes": [4], "tiles": 2, "vectors": 3, "repeats": 1, "hidden": [8]},
    }}
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


@pytest.mark.slow
def test_train_then_evaluate_write_checkpoints_curves_and_rmse_report(params_file) -> None:
    params = load_params(params_file)
    train.main(["--params", str(params_file)])
    for variant in params.variants:
        for spec in SPECS:
            assert params.checkpoint(variant, tag(spec)).exists()
            curve = pd.read_csv(f"{params.reports_dir}/train/{variant}/{tag(spec)}.csv")
            assert list(curve.columns) == ["epoch", "train_loss", "val_loss", "val_rmse_pct_fs"]
        alt = params.train_dir(tag(spec), "geniex_alt")
        assert alt == params_file.parent / "alt" / tag(spec) / "train"
        assert load_geniex(params.checkpoint("geniex_alt", tag(spec))).data_identity == \
            load_dataset(alt).identity != load_dataset(params.train_dir(tag(spec))).identity
    evaluate.main(["--params", str(params_file)])
    report = json.loads((params_file.parent / "reports" / "rmse.json").read_text())
    models = ["ideal", "analytical", "analytical_device", "analytical_cell", "geniex",
              "geniex_published",
              "geniex_residual", "geniex_alt"]
    assert sorted(report) == sorted(models + ["analytical_over_geniex",
                                              "geniex_over_analytical_device",
                                              "best_physics", "geniex_over_best_physics",
                                              "geniex_loses_to_physics"])
    main_labels = ["4x4/sinh/Ron100k/0.5V", "8x8/sinh/Ron100k/0.5V"]
    labels = sorted(main_labels + [f"{label}/alt" for label in main_labels])
    for model in models:
        assert sorted(report[model]) == labels
        for entry in report[model].values():
            assert sorted(entry) == ["rmse_pct_fs", "rmse_uA"] and entry["rmse_uA"] > 0
    for label in labels:
        ratio = report["analytical"][label]["rmse_uA"] / report["geniex"][label]["rmse_uA"]
        assert report["analytical_over_geniex"][label] == pytest.approx(ratio)
        # the device-aware analytical model beats the linear one on sinh crossbars
        assert report["analytical_device"][label]["rmse_uA"] < report["analytical"][label]["rmse_uA"]
        fs = SPECS[main_labels.index(label.removesuffix("/alt"))].full_scale_current
        entry = report["ideal"][label]
        assert entry["rmse_pct_fs"] == pytest.approx(entry["rmse_uA"] * 1e-6 / fs * 100)
    plots = params_file.parent / "reports" / "plots"
    for name in ("parity.png", "error_hist.png", "rmse_vs_size.png",
                 "parity/geniex.csv", "error_hist/analytical.csv", "rmse_vs_size/ideal.csv"):
        assert (plots / name).stat().st_size > 0


def test_evaluate_names_a_missing_checkpoint(params_file, tmp_path) -> None:
    params = load_params(params_file)
    params = params.with_(models_dir=str(tmp_path / "nothing"))
    with pytest.raises(FileNotFoundError, match="surrogate.stages.train"):
        evaluate.run(params)


def test_bench_reports_every_model_and_variant_at_every_size(capsys) -> None:
    from surrogate.geniex import GeniexConfig
    variants = {"column_cell": GeniexConfig(arch="column", hidden=[8], baseline="cell",
                                            target="excess2"),
                "column_device": GeniexConfig(arch="column", hidden=[8], target="excess",
                                              baseline="device")}
    result = bench.run(BenchParams(sizes=[4, 6], tiles=2, vectors=3, repeats=1, hidden=[8]),
                       variants)
    assert sorted(result) == ["4x4", "6x6"]
    for r in result.values():
        assert all(r[name] > 0 for name in ("ideal", "analytical", "analytical_cell",
                                            "mlp_device", "column_cell", "column_device",
                                            "published"))
    out = capsys.readouterr().out
    assert out.count("MVMs/s") == 14 and out.count("x mlp_device time") == 6


def test_missing_data_directories_are_named_before_any_work(params_file, tmp_path) -> None:
    params = load_params(params_file)
    params = params.with_(train_data_dirs={"geniex_alt": str(tmp_path / "no_such_train")})
    with pytest.raises(FileNotFoundError, match="no_such_train"):
        train.run(params, progress=False)
    params = load_params(params_file)
    params = params.with_(extra_test_sets={"workload": str(tmp_path / "no_such_test")})
    with pytest.raises(FileNotFoundError, match="no_such_test"):
        evaluate.run(params)


def test_params_validate_train_data_dirs_and_extra_test_sets() -> None:
    params = SurrogateParams.from_dict({"train_data_dirs": {"geniex_published": "d"},
                                        "extra_test_sets": {"workload": "d"}})
    assert str(params.train_dir("t", "geniex_published")) == "d/t/train"
    assert str(params.train_dir("t", "geniex")) == "data/spice/t/train"
    assert [(s, str(d)) for s, d in params.test_sets("t")] == [
        ("", "data/spice/t/test"), ("/workload", "d/t/test")]
    assert SurrogateParams.from_dict({"train_data_dirs": None}).train_data_dirs == {}
    main = SurrogateParams().variants["geniex"]
    assert (main.target, main.baseline, main.lr) == ("relative", "device", 3e-4)
    with pytest.raises(ValueError, match="unknown variant"):
        SurrogateParams.from_dict({"train_data_dirs": {"geniex_other": "d"}})
    with pytest.raises(ValueError, match="bad name"):
        SurrogateParams.from_dict({"extra_test_sets": {"a/b": "d"}})
    with pytest.raises(ValueError, match="must be a directory"):
        SurrogateParams.from_dict({"extra_test_sets": {"w": 3}})


def test_params_reject_unknown_keys_and_need_the_main_variant() -> None:
    with pytest.raises(ValueError, match="unknown key"):
        SurrogateParams.from_dict({"dataset": []})
    with pytest.raises(ValueError, match="'geniex'"):
        SurrogateParams.from_dict({"variants": {"other": {}}})
    with pytest.raises(ValueError, match="unknown key"):
        SurrogateParams.from_dict({"bench": {"size": [3]}})


def test_spice_model_broadcasts_tiles_and_inputs_through_ngspice() -> None:
    spec = CrossbarSpec(rows=3, cols=2, device="sinh")
    model = make_model("spice", spec)
    gen = torch.Generator().manual_seed(0)
    g = spec.g_off + (spec.g_on - spec.g_off) * torch.rand(2, 3, 2, generator=gen, dtype=torch.float64)
    v = spec.v_read_max * torch.rand(4, 2, 3, generator=gen, dtype=torch.float64)
    out = model.mvm(model.prepare(g), v)
    assert out.shape == (4, 2, 2)
    want = datagen.simulate(spec, v.reshape(8, 3).numpy(),
                            g.expand(4, 2, 3, 2).reshape(8, 3, 2).numpy(), workers=1)
    # ngspice solves each chunk's samples in sequence, each from the previous solution:
    # a different chunking moves a nonlinear solution within its tolerance (reltol 1e-7)
    np.testing.assert_allclose(out.reshape(8, 2).numpy(), want, rtol=1e-6)


def test_make_model_knows_every_name() -> None:
    spec = CrossbarSpec(rows=2, cols=2)
    for name in MODEL_NAMES:
        if name != "geniex":
            assert make_model(name, spec).name == name


def write_synthetic_dataset(directory, spec: CrossbarSpec, m: int, seed: int) -> None:
    """A dataset whose "SPICE" currents are the device-aware analytical ones, perturbed
    (no ngspice)."""
    from surrogate import AnalyticalDeviceModel

    rng = np.random.default_rng(seed)
    v, g = datagen.draw(spec, m, rng)
    i = AnalyticalDeviceModel(spec)(torch.from_numpy(v), torch.from_numpy(g)).numpy()
    i = i * (1.0 + 0.01 * rng.standard_normal(i.shape))
    meta = pd.DataFrame({"sample_id": np.arange(m), "seed": seed, "sampler": "uniform",
                         "ok": True, "reason": ""})[list(META_COLUMNS)]
    directory.mkdir(parents=True)
    spec.save(directory / SPEC_FILE)
    write_shard(shard_path(directory, 0), spec, v, g, i, meta)


def test_g_eff_is_solved_once_per_dataset_and_shared_by_every_model(tmp_path, monkeypatch) -> None:
    import surrogate.analytical
    import surrogate.geniex
    import surrogate.training

    spec = SPECS[0]
    write_synthetic_dataset(tmp_path / "data" / tag(spec) / "train", spec, 40, seed=1)
    write_synthetic_dataset(tmp_path / "data" / tag(spec) / "test", spec, 20, seed=2)
    fast = {"hidden": [8], "epochs": 2, "batch_size": 16, "device": "cpu"}
    params = SurrogateParams.from_dict({
        "datasets": [tag(spec)], "data_dir": str(tmp_path / "data"),
        "models_dir": str(tmp_path / "models"), "reports_dir": str(tmp_path / "reports"),
        "variants": {"geniex": {"target": "relative", **fast},
                     "geniex_residual": {"target": "residual", **fast},
                     "geniex_published": {"target": "ratio", **fast}},
        "evaluate": {"parity_points": 10, "hist_bins": 5}})
    calls: list[tuple[int, ...]] = []
    real = surrogate.analytical.effective_conductance

    def counting(spec_, g):
        calls.append(tuple(g.shape))
        return real(spec_, g)

    for module in (surrogate.analytical, surrogate.geniex, surrogate.training, evaluate):
        monkeypatch.setattr(module, "effective_conductance", counting)
    train.run(params, progress=False)
    assert calls == [(40, 4, 4)]          # one solve for the two variants that need it
    calls.clear()
    report = evaluate.run(params)
    assert calls == [(20, 4, 4)]          # one solve for analytical(_device) and 2 variants
    monkeypatch.undo()
    ds = load_dataset(tmp_path / "data" / tag(spec) / "test").converged()
    for name, model in evaluate.models_for(params, tag(spec), ds).items():
        alone = model.mvm(model.prepare(torch.from_numpy(ds.g)), torch.from_numpy(ds.v))
        assert report[name][spec.label] == evaluate.rmse_entry(alone.double().numpy(), ds.i,
                                                               spec.full_scale_current)


# ----------------------------------------------------------- the section on the config base
def test_surrogate_sections_are_documented_config_sections_that_round_trip() -> None:
    from spice_netlists.config import ConfigSection
    from surrogate.stages.config import EvaluateParams
    from surrogate.geniex import GeniexConfig
    params = SurrogateParams.from_dict({
        "datasets": ["a"], "variants": {"geniex": {"hidden": [8, 4]},
                                        "geniex_published": {"target": "ratio"}},
        "train_data_dirs": {"geniex_published": "d"}, "bench": {"sizes": [4]}})
    for sec in (params, params.variants["geniex"], params.bench, EvaluateParams()):
        assert isinstance(sec, ConfigSection)
        assert type(sec).undocumented_fields() == []
        assert type(sec).from_dict(sec.to_dict()) == sec
    assert params.variants["geniex"].hidden == (8, 4)
    assert SurrogateParams().variants["geniex"] == GeniexConfig()


@pytest.mark.parametrize("data, path", [
    ({"variants": {"geniex": {"lr": -1}}}, "surrogate.variants.geniex.lr"),
    ({"variants": {"geniex": {}, "other": {"target": "x"}}}, "surrogate.variants.other.target"),
    ({"variants": {"geniex": {"hidden": [8, 0]}}}, "surrogate.variants.geniex.hidden[1]"),
    ({"variants": {"geniex": {"nope": 1}}}, "surrogate.variants.geniex"),
    ({"bench": {"tiles": 0}}, "surrogate.bench.tiles"),
    ({"evaluate": {"hist_bins": "x"}}, "surrogate.evaluate.hist_bins"),
    ({"train_data_dirs": {"geniex_other": "d"}}, "surrogate.train_data_dirs"),
    ({"extra_test_sets": {"w": 3}}, "surrogate.extra_test_sets.w"),
    ({"datasets": [""]}, "surrogate.datasets[0]"),
])
def test_a_bad_value_is_a_config_error_naming_its_params_path(data, path) -> None:
    from spice_netlists.config import ConfigError
    with pytest.raises(ConfigError) as info:
        SurrogateParams.from_dict(data)
    assert info.value.path == path, str(info.value)


# ----------------------------------------------------------- derived, not repeated
def test_dataset_tags_follow_crossbar_and_datagen_configs(tmp_path) -> None:
    from spice_netlists.config import read_params
    from surrogate.stages.config import dataset_tags
    root = read_params(REPO_ROOT / "params.yaml")
    assert "datasets" not in root["surrogate"]
    params = {"crossbar": {**root["crossbar"], "rows": 8, "cols": 4},
              "datagen": {"configs": [{"v_read_max": 0.3}, {"device": "linear"}]},
              "surrogate": {"data_dir": "d"}}
    assert dataset_tags(params) == ("8x4_sinh_Ron100k_0.3V", f"8x4_linear_Ron100k_{root['crossbar']['v_read_max']:g}V")
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    assert load_params(path).datasets == dataset_tags(params)
    path.write_text(yaml.safe_dump({**params, "surrogate": {"datasets": ["x"]}}))
    assert load_params(path).datasets == ("x",)          # listed: taken as they are


def test_variants_are_the_main_variant_plus_their_differences() -> None:
    main = {"target": "relative", "baseline": "device", "hidden": [64], "lr": 3e-4, "seed": 2}
    params = SurrogateParams.from_dict({"variants": {
        "geniex": main, "same": {}, "none": None, "faster": {"lr": 1e-3},
        "published": {"target": "ratio"}, "ratio_dev": {"target": "ratio", "baseline": "device"}}})
    v = params.variants
    assert v["same"] == v["none"] == v["geniex"]
    assert v["faster"] == v["geniex"].with_(lr=1e-3)
    # a variant that changes the target takes that target's default baseline
    assert v["published"] == v["geniex"].with_(target="ratio", baseline="analytical")
    assert v["ratio_dev"].baseline == "device" and v["ratio_dev"].hidden == (64,)
    with pytest.raises(ValueError, match=r"^surrogate\.variants\.faster: unknown key"):
        SurrogateParams.from_dict({"variants": {"geniex": {}, "faster": {"rl": 1}}})


def test_the_committed_params_resolve_every_variant_in_full() -> None:
    from surrogate.geniex import GeniexConfig
    params = load_params(REPO_ROOT / "params.yaml")
    main = GeniexConfig(target="excess2", baseline="cell", arch="column", hidden=(128,),
                        epochs=200, batch_size=256, lr=1e-3, patience=20, seed=0)
    assert params.variants == {"geniex": main, "geniex_workload": main,
                               "geniex_fast": main.with_(baseline="device", target="excess"),
                               "geniex_published": main.with_(target="ratio", arch="mlp",
                                                              hidden=(500,),
                                                              baseline="analytical")}
    assert params.datasets == ("32x32_sinh_Ron100k_0.25V", "32x32_sinh_Ron100k_0.5V")
    assert params.train_dir("t", "geniex_workload") == Path("data/spice_workload/t/train")


def test_rmse_table_has_a_row_per_test_set_and_the_geniex_ratio() -> None:
    from surrogate.stages.evaluate import rmse_table

    report = {"ideal": {"4x4/sinh/Ron100k/0.5V": {"rmse_uA": 1.0, "rmse_pct_fs": 0.5},
                        "4x4/sinh/Ron100k/0.5V/dense": {"rmse_uA": 2.0, "rmse_pct_fs": 1.0}},
              "geniex": {"4x4/sinh/Ron100k/0.5V": {"rmse_uA": 0.1, "rmse_pct_fs": 0.05},
                         "4x4/sinh/Ron100k/0.5V/dense": {"rmse_uA": 0.3, "rmse_pct_fs": 0.15}},
              "analytical_over_geniex": {"4x4/sinh/Ron100k/0.5V": 10.0},
              "geniex_over_analytical_device": {"4x4/sinh/Ron100k/0.5V": 0.25}}
    table = rmse_table(report).splitlines()
    assert table[0] == "| test set | ideal | geniex | geniex / analytical_device |"
    assert table[2] == "| 4x4/sinh/Ron100k/0.5V | 0.5000 | 0.0500 | 0.25 |"
    assert table[3] == "| 4x4/sinh/Ron100k/0.5V/dense | 1.0000 | 0.1500 | – |"
    report["geniex_over_best_physics"] = {"4x4/sinh/Ron100k/0.5V/dense": 1.5}
    table = rmse_table(report).splitlines()
    assert table[0] == ("| test set | ideal | geniex | geniex / analytical_device | "
                        "geniex / best physics |")
    assert table[2] == "| 4x4/sinh/Ron100k/0.5V | 0.5000 | 0.0500 | 0.25 | – |"
    assert table[3] == "| 4x4/sinh/Ron100k/0.5V/dense | 1.0000 | 0.1500 | – | 1.50 |"
    report["geniex_loses_to_physics"] = ["4x4/sinh/Ron100k/0.5V/dense"]
    assert rmse_table(report).splitlines()[-1] == (
        "geniex is worse than the best physics model on 1 of 2 sets: "
        "4x4/sinh/Ron100k/0.5V/dense.")
