"""The sensitivity stage: accuracy against non-ideality strength under the exact model
and cheap ones, MDM against identity, and its config errors."""

from __future__ import annotations

import json

import pytest
import torch

from functional_sim.studies.config import ConfigError, StudyConfig, pick_setting, study_config
from functional_sim.studies.inference import save_net
from functional_sim.sim.mapping import lossless_adc_bits
from functional_sim.studies.nets import build
from functional_sim.studies.sensitivity import markdown_tables, run_sensitivity, write_plot
from spice_netlists import CrossbarSpec


def _tiny(tmp_path) -> tuple[StudyConfig, list[CrossbarSpec]]:
    torch.manual_seed(0)
    save_net(tmp_path / "nets" / "digits_mlp.pt", "digits_mlp", build("digits_mlp"))
    spec = CrossbarSpec(rows=32, cols=32, device="sinh", v_read_max=0.5, g_on=4e-5, g_off=4e-5 / 6)
    sim = {"weight_bits": 4, "input_bits": 4, "bits_per_slice": 2, "bits_per_stream": 2,
           "adc_bits": lossless_adc_bits(spec, 2, 2)}
    sens = {"net": "digits_mlp", "images": 6, "models": ["ideal", "analytical"],
            "seeds": [0, 1],
            "sweeps": {"sigma": {"path": "programming.sigma", "values": [0.0, 0.3]},
                       "drift": {"path": "drift.t_s", "values": [1.0, 3.0e7], "log_x": True}}}
    cfg = StudyConfig(crossbar_model="analytical", models=("analytical",),
                      settings=({"v_read_max": 0.5},), test_subset=20, batch_size=10,
                      nets_dir=str(tmp_path / "nets"), sim=sim, train={"nets": ["digits_mlp"]},
                      sensitivity=sens)
    return cfg, [spec]


def test_sensitivity_report_runs_truth_and_cheap_models_per_strength(tmp_path) -> None:
    cfg, specs = _tiny(tmp_path)
    report = run_sensitivity(cfg, specs, log=False)
    assert report["setting"] == specs[0].label and report["images"] == 6
    assert report["reference"] == "circuit" and report["models"] == ["ideal", "analytical"]
    for name, values in (("sigma", [0.0, 0.3]), ("drift", [1.0, 3.0e7])):
        entry = report["sweeps"][name]
        assert entry["values"] == values
        assert set(entry["top1"]) == {"circuit", "ideal", "analytical"}
        assert all(len(v) == 2 and all(0 <= a <= 1 for a in v) for v in entry["top1"].values())
        assert set(entry["top1_seed_std"]) == set(entry["top1"])   # two seeds
        for model in ("ideal", "analytical"):
            assert entry["miss_pts"][model] == pytest.approx(
                [100 * (a - t) for a, t in zip(entry["top1"][model], entry["top1"]["circuit"])])
    # zero strength is one point whichever sweep reaches it
    for model in ("circuit", "ideal", "analytical"):
        assert report["sweeps"]["sigma"]["top1"][model][0] == report["sweeps"]["drift"]["top1"][model][0]
        assert report["mapping"]["identity"]["top1"][model] == report["sweeps"]["sigma"]["top1"][model][0]
    mapping = report["mapping"]
    assert mapping["mdm"]["top1"]["ideal"] == mapping["identity"]["top1"]["ideal"]
    # the ideal model is blind to the layout; NF is against the wire-free sinh devices
    assert mapping["mdm"]["nf"]["ideal"]["mean"] == pytest.approx(
        mapping["identity"]["nf"]["ideal"]["mean"], rel=1e-6)  # float32 sums
    assert mapping["identity"]["nf"]["circuit"]["mean"] > 0      # IR drop takes current
    assert set(mapping["identity"]["nf"]["circuit"]["layers"]) == {"1", "3"}
    assert mapping["mdm"]["nf_reduction"]["circuit"] == pytest.approx(
        1 - mapping["mdm"]["nf"]["circuit"]["mean"] / mapping["identity"]["nf"]["circuit"]["mean"])
    floor = mapping["nf_without_wires"]
    assert 0 < floor < mapping["identity"]["nf"]["circuit"]["mean"]   # wires add IR drop
    assert mapping["mdm"]["wire_nf_reduction"] == pytest.approx(
        (mapping["identity"]["nf"]["circuit"]["mean"] - mapping["mdm"]["nf"]["circuit"]["mean"])
        / (mapping["identity"]["nf"]["circuit"]["mean"] - floor))
    table = markdown_tables(report)
    assert "## sigma (`programming.sigma`)" in table and "NF reduction mdm" in table
    write_plot(report, tmp_path / "s.png", tmp_path / "s.csv")
    assert (tmp_path / "s.png").stat().st_size > 0
    rows = (tmp_path / "s.csv").read_text().splitlines()
    assert rows[0] == "sweep,value,model,top1" and len(rows) == 1 + 2 * 2 * 3
    json.dumps(report)                                            # JSON as written


def test_disabled_stage_writes_only_that() -> None:
    cfg = StudyConfig(sensitivity={"enabled": False})
    assert run_sensitivity(cfg, [CrossbarSpec()]) == {"enabled": False}


def test_bad_sensitivity_settings_name_their_params_path() -> None:
    def load(sens: dict) -> None:
        study_config({"functional_sim": {"sensitivity": sens}})

    with pytest.raises(ConfigError, match=r"functional_sim\.sensitivity\.sweeps\.x\.path must name a field"):
        load({"sweeps": {"x": {"path": "programming.sgima", "values": [0.1]}}})
    with pytest.raises(ConfigError, match=r"functional_sim\.sensitivity\.sweeps\.x\.values\[1\] is not a valid "
                                          r"stuck\.on_rate: stuck\.on_rate must be in"):
        load({"sweeps": {"x": {"path": "stuck.on_rate", "values": [0.0, 2.0]}}})
    with pytest.raises(ConfigError, match=r"functional_sim\.sensitivity\.models must be one of"):
        load({"models": ["exact"]})
    with pytest.raises(ConfigError, match=r"functional_sim\.sensitivity\.mappings must be one of"):
        load({"mappings": ["identity", "snake"]})
    with pytest.raises(ConfigError, match=r"functional_sim\.sensitivity\.seeds\[0\] must be >= 0"):
        load({"seeds": [-1]})
    with pytest.raises(ConfigError, match=r"functional_sim\.sensitivity\.setting '64x64' is not a study setting"):
        pick_setting("64x64", [CrossbarSpec()], "functional_sim.sensitivity.setting")
