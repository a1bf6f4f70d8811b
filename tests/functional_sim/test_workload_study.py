"""Workload samples are real tile reads; the study and the ground-truth comparison
produce the documented report shapes; tiles are prepared once per layer."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from functional_sim import SimConfig, convert, lossless_adc_bits, set_crossbar_model
from functional_sim.studies.config import ConfigError, StudyConfig
from functional_sim.studies.inference import save_net
from functional_sim.studies.ground_truth import compare_models
from functional_sim.studies.nets import build
from functional_sim.studies.accuracy_study import run_study, write_outputs
from functional_sim.studies.workload import workload_samples
from spice_netlists import CrossbarSpec
from surrogate import make_model
from surrogate.ideal import IdealModel

SPEC = CrossbarSpec(rows=16, cols=16)


def test_workload_samples_lie_on_dac_and_slice_levels() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(40, 20), nn.ReLU(), nn.Linear(20, 5)).double()
    k, m = 2, 2
    cfg = SimConfig(spec=SPEC, bits_per_slice=k, bits_per_stream=m, weight_bits=6, input_bits=4)
    x = torch.rand(6, 40, dtype=torch.float64)
    v, g = workload_samples(net, cfg, x, 300, seed=1)
    again, _ = workload_samples(net, cfg, x, 300, seed=1)
    assert v.shape == (300, 16) and g.shape == (300, 16, 16)
    assert np.array_equal(v, again)
    dv = SPEC.v_read_max / (2 ** m - 1)
    dg = (SPEC.g_on - SPEC.g_off) / (2 ** k - 1)
    v_levels, g_levels = v / dv, (g - SPEC.g_off) / dg
    assert np.allclose(v_levels, np.rint(v_levels)) and v_levels.min() >= 0 and v_levels.max() <= 3
    assert np.allclose(g_levels, np.rint(g_levels), atol=1e-9) and g_levels.max() <= 3 + 1e-9
    assert (np.abs(v).sum(axis=1) > 0).all()           # all-zero reads are skipped
    # every sampled G is one of the network's tiles
    tiles = [layer.engine.conductances("cpu", torch.float64).numpy()
             for layer in convert(net, cfg, IdealModel(cfg.spec)).modules() if hasattr(layer, "engine")]
    tiles = np.concatenate(tiles)
    assert all(np.any(np.all(np.isclose(tiles, gi, rtol=0, atol=1e-15), axis=(1, 2))) for gi in g[:20])


def test_few_reads_return_fewer_samples() -> None:
    net = nn.Linear(10, 3)
    v, g = workload_samples(net, SimConfig(spec=SPEC, input_bits=2, bits_per_stream=2),
                            torch.rand(1, 10) + 0.1, 1000)
    # one row tile, one column tile, 4 slices x 2 (W+, W-) crossbars, one stream
    assert len(v) == len(g) == 8


class CountingIdeal:
    """An ideal crossbar model that counts prepare calls."""

    def __init__(self, spec: CrossbarSpec) -> None:
        self.inner = make_model("ideal", spec)
        self.spec, self.name, self.prepared = spec, "counting", 0

    def prepare(self, g: torch.Tensor) -> torch.Tensor:
        self.prepared += 1
        return self.inner.prepare(g)

    def mvm(self, prepared: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return self.inner.mvm(prepared, v)


def test_tiles_are_prepared_once_per_layer_and_again_after_weight_change() -> None:
    net = nn.Sequential(nn.Linear(20, 12), nn.ReLU(), nn.Linear(12, 4))
    model = CountingIdeal(SPEC)
    sim = convert(net, SimConfig(spec=SPEC), model)
    for _ in range(3):
        sim(torch.rand(5, 20))
    assert model.prepared == 2
    with torch.no_grad():
        sim[0].weight.mul_(0.5)
    sim(torch.rand(5, 20))
    assert model.prepared == 3


def _tiny_study(tmp_path) -> tuple[StudyConfig, list[CrossbarSpec]]:
    torch.manual_seed(0)
    save_net(tmp_path / "nets" / "digits_mlp.pt", "digits_mlp", build("digits_mlp"))
    spec = CrossbarSpec(rows=32, cols=32)
    sim = {"weight_bits": 6, "input_bits": 6, "bits_per_slice": 2, "bits_per_stream": 2,
           "adc_bits": lossless_adc_bits(spec, 2, 2), "negative_weights": "differential",
           "weight_scale": "per_channel"}
    cfg = StudyConfig(crossbar_model="analytical", models=("analytical",),
                      settings=({"v_read_max": 0.25}, {"v_read_max": 0.5}),
                      test_subset=40, batch_size=20, nets_dir=str(tmp_path / "nets"),
                      sim=sim, train={"nets": ["digits_mlp"]})
    return cfg, [spec.with_(v_read_max=0.25), spec.with_(v_read_max=0.5)]


def test_study_report_is_model_network_voltage_top1(tmp_path) -> None:
    cfg, specs = _tiny_study(tmp_path)
    report = run_study(cfg, specs, log=False)
    low, high = (s.label for s in specs)
    assert set(report) == {"float", "ideal", "analytical", "test_images"}
    assert set(report["ideal"]["digits_mlp"]) == {low, high}
    assert report["test_images"] == {"digits_mlp": 40}
    for model in ("ideal", "analytical"):
        for entry in report[model]["digits_mlp"].values():
            assert 0.0 <= entry["top1"] <= 1.0
    # a lossless ideal crossbar is the quantised network: the read voltage cannot matter
    assert report["ideal"]["digits_mlp"][low] == report["ideal"]["digits_mlp"][high]
    write_outputs(report, cfg, tmp_path / "reports", tmp_path / "plots")
    written = json.loads((tmp_path / "reports" / "accuracy.json").read_text())
    assert written.pop("headline") == report[cfg.crossbar_model]
    assert written == report
    for name in ("accuracy.png", "accuracy.csv", "accuracy_headline.png", "accuracy_headline.csv"):
        assert (tmp_path / "plots" / name).stat().st_size > 0


def test_ground_truth_ranks_the_reference_itself_best(tmp_path) -> None:
    cfg, specs = _tiny_study(tmp_path)
    torch.manual_seed(0)
    net = build("digits_mlp")
    x, y = torch.rand(6, 1, 8, 8), torch.arange(6)
    out = compare_models(net, x, y, cfg, specs[0], "analytical", ["ideal", "analytical"], "cpu")
    assert out["best_model"] == "analytical"
    assert out["analytical"]["degradation_error"] == 0.0 and out["analytical"]["agreement"] == 1.0
    assert out["analytical"]["degradation_error_ci95"] == [0.0, 0.0]
    assert all(v["rel_rmse"] == 0.0 for v in out["analytical"]["layers"].values())
    assert set(out["ideal"]["layers"]) == {"1", "3"}
    assert out["ideal"]["layers"]["1"]["rel_rmse"] > 0


def _ground_truth_params(tmp_path, **ground_truth) -> dict:
    """params.yaml of a tiny ground-truth run: digits_mlp on 6 images, few tile reads."""
    cfg, specs = _tiny_study(tmp_path)
    spec = specs[0].with_(device="sinh")      # analytical is exact for linear devices
    sim = {**cfg.sim.param_dict(), "weight_bits": 4, "input_bits": 4, "bits_per_slice": 2,
           "bits_per_stream": 2, "adc_bits": lossless_adc_bits(spec, 2, 2)}
    return {"crossbar": spec.to_dict(),
            "functional_sim": {**cfg.to_dict(), "test_subset": 6, "sim": sim,
                               "ground_truth": {"nets": ["digits_mlp"],
                                                "spice_check_net": "digits_mlp",
                                                "models": ["ideal", "analytical"],
                                                **ground_truth}}}


def test_ground_truth_report_scores_against_circuit_checked_by_spice(tmp_path) -> None:
    """The stage's report on a tiny mapping (few tile reads per image): ``circuit`` on
    every image of the test subset, ngspice beside it on two of them (real ngspice);
    the table and the plot are written beside it."""
    from functional_sim.studies.ground_truth import SPICE_CHECK_TOLERANCE, main

    params = _ground_truth_params(tmp_path, reference="circuit", spice_check_images=2)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    out = tmp_path / "ground_truth.json"
    main(["--params", str(tmp_path / "params.yaml"), "--out", str(out),
          "--table", str(tmp_path / "gt.md"), "--plots", str(tmp_path / "plots")])
    report = json.loads(out.read_text())
    assert report["enabled"] and report["reference"] == "circuit"
    assert report["nets"]["digits_mlp"]["images"] == 6
    labels = ["32x32/sinh/Ron100k/0.25V", "32x32/sinh/Ron100k/0.5V"]
    assert list(report["settings"]) == labels
    for label in labels:
        entry = report["settings"][label]["digits_mlp"]
        assert set(entry) == {"circuit", "ideal", "analytical", "best_model"}
        assert entry["best_model"] in ("ideal", "analytical")
        truth = entry["circuit"]
        assert truth["degradation"] == pytest.approx(
            report["nets"]["digits_mlp"]["float_top1"] - truth["top1"])
        assert truth["ci95"][0] <= truth["top1"] <= truth["ci95"][1]
        for model in ("ideal", "analytical"):
            m = entry[model]
            assert set(m) == {"top1", "ci95", "degradation_error", "degradation_error_ci95",
                              "agreement", "layers"}
            assert m["degradation_error"] == pytest.approx(m["top1"] - truth["top1"])
            low, high = m["degradation_error_ci95"]
            assert low <= m["degradation_error"] <= high
            assert set(m["layers"]) == {"1", "3"}
            assert m["layers"]["1"]["rel_rmse"] > 0
    head = report["headline"]
    assert head["cells"] == 2 and set(head["models"]) == {"ideal", "analytical"}
    assert head["best_model"] in ("ideal", "analytical")
    check = report["spice_check"]
    assert check["n_images"] == 2 and check["tolerance"] == SPICE_CHECK_TOLERANCE == 1e-9
    assert check["passed"] is True and check["net"] == "digits_mlp"
    assert list(check["settings"]) == labels
    for entry in check["settings"].values():
        assert set(entry) == {"spice", "circuit", "ideal", "analytical", "best_model"}
        assert entry["best_model"] in ("ideal", "analytical")      # circuit is not ranked
        circuit = entry["circuit"]
        assert circuit["agreement"] == 1.0 and circuit["top1"] == entry["spice"]["top1"]
        assert set(circuit["layers"]) == {"1", "3"}
        for layer in circuit["layers"].values():
            assert layer["max_rel_error"] <= 1e-9
            assert 0 < layer["currents_max_rel_error"] <= 1e-9   # real, tiny differences
        assert entry["ideal"]["layers"]["1"]["rel_rmse"] > 1e-6
    table = (tmp_path / "gt.md").read_text()
    assert all(label in table for label in labels) and "| analytical |" in table
    assert (tmp_path / "plots" / "ground_truth.png").stat().st_size > 0
    assert "miss_pts" in (tmp_path / "plots" / "ground_truth.csv").read_text()


def test_spice_check_fails_an_inexact_reference_and_can_be_off(tmp_path) -> None:
    from functional_sim.studies.ground_truth import run_ground_truth
    from functional_sim.studies.config import study_config, study_specs

    params = _ground_truth_params(tmp_path, reference="analytical", spice_check_images=2,
                                  spice_check_settings=["32x32/sinh/Ron100k/0.5V"])
    cfg = study_config(params)
    report = run_ground_truth(cfg, study_specs(params, cfg), log=False)
    check = report["spice_check"]
    assert check["passed"] is False
    assert list(check["settings"]) == ["32x32/sinh/Ron100k/0.5V"]   # only where asked
    entry = check["settings"]["32x32/sinh/Ron100k/0.5V"]
    assert entry["analytical"]["layers"]["1"]["max_rel_error"] > 1e-3
    assert set(entry) == {"spice", "analytical", "ideal", "best_model"}
    assert entry["best_model"] == "ideal"          # the checked model is not ranked
    params = _ground_truth_params(tmp_path, reference="circuit", spice_check_images=0)
    cfg = study_config(params)
    report = run_ground_truth(cfg, study_specs(params, cfg), log=False)
    assert report["spice_check"] == {"n_images": 0}
    assert report["settings"]["32x32/sinh/Ron100k/0.25V"]["digits_mlp"]["circuit"]["top1"] >= 0
    # the SPICE images are some of the reference's: no more of them, caught before any run
    params = _ground_truth_params(tmp_path, reference="circuit", spice_check_images=7)
    cfg = study_config(params)
    with pytest.raises(ConfigError, match=r"^functional_sim\.ground_truth\.spice_check_images.* 6 test images"):
        run_ground_truth(cfg, study_specs(params, cfg), log=False)
    # a SPICE setting the study does not run is named, with the ones it does
    params = _ground_truth_params(tmp_path, spice_check_images=2,
                                  spice_check_settings=["32x32/sinh/Ron100k/0.7V"])
    cfg = study_config(params)
    with pytest.raises(ConfigError, match=r"spice_check_settings.*0\.7V.*Ron100k/0\.25V"):
        run_ground_truth(cfg, study_specs(params, cfg), log=False)


def test_study_and_ground_truth_name_every_missing_checkpoint_before_running(tmp_path,
                                                                            monkeypatch) -> None:
    import functional_sim.studies.ground_truth as ground_truth
    import functional_sim.studies.accuracy_study as study
    from functional_sim.studies.config import geniex_checkpoint
    from functional_sim.studies.stage import require_checkpoints

    cfg, specs = _tiny_study(tmp_path)
    spec = specs[0]
    cfg = StudyConfig.from_dict({**cfg.to_dict(), "models": ["analytical", "geniex"],
                                 "ground_truth": {"enabled": True, "nets": ["digits_mlp"],
                                                  "models": ["ideal", "geniex"]}}
                                ).with_(models_dir=str(tmp_path / "models"))
    have = geniex_checkpoint(cfg, spec.with_(v_read_max=0.25))
    have.parent.mkdir(parents=True)
    have.write_bytes(b"")                              # only the 0.25 V one exists
    want = geniex_checkpoint(cfg, spec.with_(v_read_max=0.5))

    def nothing_may_run(*args, **kwargs):
        raise AssertionError("ran before checking the checkpoints")

    monkeypatch.setattr(study, "load_study_nets", nothing_may_run)
    monkeypatch.setattr(ground_truth, "load_net", nothing_may_run)
    with pytest.raises(FileNotFoundError, match="geniex") as err:
        study.run_study(cfg, specs, log=False)
    assert str(want) in str(err.value) and str(have) not in str(err.value)
    with pytest.raises(FileNotFoundError) as err:
        ground_truth.run_ground_truth(cfg, specs)
    assert str(want) in str(err.value)
    # without geniex nothing is required
    require_checkpoints(cfg, specs, ["ideal", "analytical", "spice"])


def test_switching_model_changes_results_but_not_weights() -> None:
    torch.manual_seed(0)
    net = nn.Linear(32, 8)
    spec = CrossbarSpec(rows=32, cols=32, r_wire_row=20.0, r_wire_col=20.0)
    cfg = SimConfig(spec=spec, adc_bits=12)
    sim = convert(net, cfg, IdealModel(cfg.spec))
    x = torch.rand(4, 32)
    ideal = sim(x)
    set_crossbar_model(sim, make_model("analytical", spec))
    assert (sim(x) - ideal).abs().max() > 0      # IR drop lowers the read currents
    assert torch.equal(sim.weight, net.weight)
