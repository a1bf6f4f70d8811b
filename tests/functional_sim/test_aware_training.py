"""Non-ideality-aware fine-tuning: the straight-through layers, the fine-tuning loop and
the stage's report judged by the exact model."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from functional_sim.studies.aware_training import fine_tune, run_aware_training, write_plot
from functional_sim.sim.config import SimConfig
from functional_sim.studies.config import ConfigError, StudyConfig, study_config
from functional_sim.sim.convert import convert
from functional_sim.studies.inference import save_net
from functional_sim.sim.mapping import lossless_adc_bits
from functional_sim.studies.nets import build
from functional_sim.sim.quant import quantize_inputs, quantize_weights
from spice_netlists import CrossbarSpec
from surrogate import make_model

SPEC = CrossbarSpec(rows=16, cols=16, device="sinh", v_read_max=0.5)


def _sim(**kw) -> SimConfig:
    return SimConfig(spec=SPEC, weight_bits=5, input_bits=5, bits_per_slice=2, bits_per_stream=2,
                     adc_bits=lossless_adc_bits(SPEC, 2, 2), **kw)


def test_training_forward_is_the_simulation_with_the_fake_quantised_gradient() -> None:
    torch.manual_seed(0)
    lin = nn.Linear(20, 6)
    x = torch.rand(4, 20)
    sim = convert(lin, _sim(nonideal={"stuck": {"on_rate": 0.05}}), model=make_model("circuit", SPEC))
    with torch.no_grad():
        simulated = sim.eval()(x)
    y = sim.train()(x)
    # exact on any CPU: the training forward is the same simulation plus f − f.detach(),
    # which is 0.0 in value (straight_through), so no rounding step lies between the two
    assert torch.equal(y.detach(), simulated)
    grad_out = torch.randn_like(y)
    y.backward(grad_out)
    # the gradient of the fake-quantised float layer, computed apart
    q, s = quantize_weights(lin.weight.detach(), 5, True)
    xi, xs = quantize_inputs(x, 5)
    w = lin.weight.detach().clone().requires_grad_()
    xf = x.clone().requires_grad_()
    ref = F.linear(xf + (xi * xs[:, None] - xf).detach(), w + (q * s[:, None] - w).detach())
    ref.backward(grad_out)
    torch.testing.assert_close(sim.weight.grad, w.grad)
    assert sim.bias.grad is not None


def test_fine_tuning_through_a_faulty_crossbar_wins_accuracy_back_and_is_reproducible() -> None:
    from functional_sim.studies.data import load_images

    split = load_images("digits", seed=0)
    x, y = split.x_train[:200], split.y_train[:200]
    sim = _sim(nonideal={"stuck": {"on_rate": 0.02}})
    model = make_model("analytical_device", SPEC)

    def top1(net: nn.Module) -> float:
        with torch.no_grad():
            return float((convert(net, sim, model=model).eval()(x).argmax(1) == y).double().mean())

    torch.manual_seed(1)
    start = build("digits_mlp").state_dict()
    runs = []
    for _ in range(2):
        net = build("digits_mlp")
        net.load_state_dict(start)
        before = top1(net)
        losses, _ = fine_tune(net, sim, model, x, y, epochs=3, batch_size=25, lr=3e-3, seed=0)
        runs.append((before, losses, net.state_dict()))
    before, losses, state = runs[0]
    assert losses[-1] < losses[0]
    tuned = build("digits_mlp")
    tuned.load_state_dict(state)
    assert top1(tuned) > before + 0.15      # from a random start: 0.155 -> 0.355
    assert runs[1][1] == losses
    assert all(torch.equal(state[k], runs[1][2][k]) for k in state)


def _tiny(tmp_path) -> tuple[StudyConfig, list[CrossbarSpec]]:
    torch.manual_seed(0)
    save_net(tmp_path / "nets" / "digits_mlp.pt", "digits_mlp", build("digits_mlp"))
    spec = CrossbarSpec(rows=32, cols=32, device="sinh", v_read_max=0.5)
    sim = {"weight_bits": 4, "input_bits": 4, "bits_per_slice": 2, "bits_per_stream": 2,
           "adc_bits": lossless_adc_bits(spec, 2, 2)}
    aware = {"net": "digits_mlp", "models": ["ideal", "analytical"], "reference": "circuit",
             "nonideal": {"stuck": {"on_rate": 0.02}}, "epochs": 2, "train_images": 60,
             "batch_size": 20, "lr": 0.003, "out_dir": str(tmp_path / "aware")}
    cfg = StudyConfig(crossbar_model="analytical", models=("analytical",),
                      settings=({"v_read_max": 0.5},), test_subset=12, batch_size=12,
                      nets_dir=str(tmp_path / "nets"), sim=sim, train={"nets": ["digits_mlp"]},
                      aware_training=aware)
    return cfg, [spec]


def test_stage_report_judges_every_epoch_by_the_exact_model(tmp_path) -> None:
    cfg, specs = _tiny(tmp_path)
    report, states = run_aware_training(cfg, specs, log=False)
    assert report["setting"] == specs[0].label and report["test_images"] == 12
    assert report["train_images"] == 60 and report["nonideal"] == {"stuck": {"on_rate": 0.02}}
    assert set(report["models"]) == set(states) == {"ideal", "analytical"}
    for entry in report["models"].values():
        assert [r["epoch"] for r in entry["epochs"]] == [1, 2]
        assert entry["before"]["truth"] == report["before"]["truth"]
        assert entry["after"]["truth"] == entry["epochs"][-1]["truth_top1"]
        assert entry["recovered_pts"] == pytest.approx(
            100 * (entry["after"]["truth"] - report["before"]["truth"]))
        assert all(r["train_loss"] > 0 for r in entry["epochs"])
    head = report["headline"]
    assert head["best_model"] in states
    assert head["truth_loss_pts"] == pytest.approx(100 * (report["float_top1"] - report["before"]["truth"]))
    write_plot(report, tmp_path / "a.png", tmp_path / "a.csv")
    assert (tmp_path / "a.png").stat().st_size > 0
    assert len((tmp_path / "a.csv").read_text().splitlines()) == 1 + 2 * 3
    json.dumps(report)


def test_an_unknown_setting_names_the_aware_training_key(tmp_path) -> None:
    cfg, specs = _tiny(tmp_path)
    cfg = cfg.with_(aware_training=cfg.aware_training.with_(setting="64x64/sinh/Ron25k/0.5V"))
    with pytest.raises(ConfigError, match=r"functional_sim\.aware_training\.setting '64x64/sinh/"
                                          r"Ron25k/0\.5V' is not a study setting"):
        run_aware_training(cfg, specs, log=False)


def test_bad_aware_training_settings_name_their_params_path() -> None:
    def load(aware: dict) -> None:
        study_config({"functional_sim": {"aware_training": aware}})

    with pytest.raises(ConfigError, match=r"functional_sim\.aware_training\.nonideal\.stuck\.on_rate "
                                          r"must be in \[0\.0, 1\.0\], got 2\.0"):
        load({"nonideal": {"stuck": {"on_rate": 2.0}}})
    with pytest.raises(ConfigError, match=r"functional_sim\.aware_training\.nonideal\.stuk: no such field"):
        load({"nonideal": {"stuk": {"on_rate": 0.1}}})
    with pytest.raises(ConfigError, match=r"functional_sim\.aware_training\.models must be one of"):
        load({"models": ["exact"]})
    with pytest.raises(ConfigError, match=r"functional_sim\.aware_training\.lr must be > 0"):
        load({"lr": 0.0})
