"""GENIEx surrogate: shapes, zero-input exactness, per-tile caching, checkpoints, config,
the device-aware baseline (spec.device_drive, analytical_device, GeniexConfig.baseline),
and a tiny training run on real ngspice data that beats the analytical model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import datagen
from datagen.dataset import CrossbarDataset
from spice_netlists import CrossbarSpec
from surrogate import make_model
from surrogate.analytical import AnalyticalDeviceModel, AnalyticalModel, effective_conductance
from surrogate.checkpoint import SpecMismatchError, load_geniex, read_checkpoint, save_geniex
from surrogate.geniex import GeniexConfig, GeniexModel, GeniexNet, Normalisation
from surrogate.training import base_currents, sample_g_eff, train_geniex
from tests.support.tolerances import fs_atol

SPEC = CrossbarSpec(rows=6, cols=5, device="sinh", v_read_max=0.5)


def untrained(target: str, hidden: list[int] = [32], spec: CrossbarSpec = SPEC,
              baseline: str | None = None) -> GeniexModel:
    torch.manual_seed(0)
    norm = Normalisation(mean=1.0 if target == "ratio" else 0.0, scale=0.05)
    return GeniexModel(spec, GeniexConfig(target=target, hidden=hidden, baseline=baseline),
                       GeniexNet(spec.rows, spec.cols, hidden), norm, data_identity="abc")


BASELINES = ["analytical", "device"]


def inputs(t: int, b: int, seed: int = 0, spec: CrossbarSpec = SPEC) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    g = spec.g_off + (spec.g_on - spec.g_off) * torch.rand(t, spec.rows, spec.cols, generator=gen,
                                                           dtype=torch.float64)
    v = spec.v_read_max * torch.rand(b, t, spec.rows, generator=gen, dtype=torch.float64)
    return v, g


@pytest.mark.parametrize("target", ["ratio", "residual", "relative"])
@pytest.mark.parametrize("hidden", [[32], [16, 8]])
def test_prepare_then_mvm_broadcasts_inputs_over_tiles(target: str, hidden: list[int]) -> None:
    model = untrained(target, hidden)
    v, g = inputs(t=3, b=4)
    out = model.mvm(model.prepare(g), v)
    assert out.shape == (4, 3, SPEC.cols) and out.dtype == torch.float64
    assert model(v[0], g).shape == (3, SPEC.cols)
    assert torch.all(torch.isfinite(out))


@pytest.mark.parametrize("baseline", BASELINES)
@pytest.mark.parametrize("target", ["ratio", "residual", "relative"])
def test_zero_input_gives_exactly_zero_current(target: str, baseline: str) -> None:
    model = untrained(target, baseline=baseline)
    _, g = inputs(t=3, b=1)
    out = model.mvm(model.prepare(g), torch.zeros(2, 3, SPEC.rows, dtype=torch.float64))
    assert torch.equal(out, torch.zeros_like(out))


@pytest.mark.parametrize("baseline", BASELINES)
@pytest.mark.parametrize("target", ["ratio", "residual", "relative"])
def test_cached_prepare_equals_full_first_layer_evaluation(target: str, baseline: str) -> None:
    model = untrained(target, [64, 16], baseline=baseline)
    v, g = inputs(t=5, b=3)
    cached = model.mvm(model.prepare(g), v)
    full = model.full_forward(v, g.expand(3, *g.shape))
    torch.testing.assert_close(cached, full, rtol=1e-5, atol=fs_atol(SPEC, 1e-6))


@pytest.mark.parametrize("target", ["residual", "relative"])
def test_zero_weight_network_sits_on_its_baseline(target: str) -> None:
    v, g = inputs(t=2, b=2)
    g_eff = effective_conductance(SPEC, g)
    a = SPEC.sinh_a
    want = {"analytical": torch.einsum("btr,trc->btc", v, g_eff),
            "device": torch.einsum("btr,trc->btc", torch.sinh(a * v) / a, g_eff)}
    for baseline, model_name in (("analytical", "analytical"), ("device", "analytical_device")):
        model = untrained(target, baseline=baseline)
        with torch.no_grad():
            model.net.out.weight.zero_()       # f(g, v) = bias: residual 0, relative δ = 0
            model.net.out.bias.zero_()
        torch.testing.assert_close(model(v, g), want[baseline], rtol=1e-12, atol=0.0)
        torch.testing.assert_close(make_model(model_name, SPEC)(v, g), want[baseline],
                                   rtol=1e-12, atol=0.0)
    torch.testing.assert_close(AnalyticalModel(SPEC)(v, g), want["analytical"], rtol=1e-12, atol=0)


def test_device_drive_is_the_device_law_on_numpy_and_torch() -> None:
    x = np.linspace(-0.5, 0.5, 11)
    np.testing.assert_allclose(SPEC.device_drive(x), np.sinh(2.0 * x) / 2.0, rtol=1e-15)
    t32 = torch.from_numpy(x).float()
    out = SPEC.device_drive(t32)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    torch.testing.assert_close(out, torch.sinh(2.0 * t32) / 2.0)
    assert SPEC.device_drive(0.0) == 0.0 and SPEC.device_drive(0.25) == pytest.approx(
        np.sinh(0.5) / 2.0, rel=1e-15)
    for device in ("linear", "1t1r"):
        spec = SPEC.with_(device=device)
        assert spec.device_drive(t32) is t32 and spec.device_drive(x) is x
        v, g = inputs(t=2, b=1, spec=spec)
        # the identity drive returns v itself: both models run the same operations
        torch.testing.assert_close(make_model("analytical_device", spec)(v, g),
                                   AnalyticalModel(spec)(v, g), rtol=0, atol=0)


@pytest.mark.parametrize("target", ["ratio", "residual", "relative"])
@pytest.mark.parametrize("baseline", BASELINES)
def test_training_baseline_equals_the_models_baseline(target: str, baseline: str) -> None:
    model = untrained(target, baseline=baseline)
    v, g = inputs(t=4, b=1)
    want = model.base_current(v[0], model.prepare(g).base).numpy()
    got = base_currents(model.config, SPEC, v[0].numpy(), g.numpy())
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)


def test_baseline_defaults_follow_the_target() -> None:
    assert GeniexConfig(target="relative").baseline == "device"
    assert GeniexConfig(target="residual").baseline == "device"
    assert GeniexConfig(target="ratio").baseline == "analytical"
    assert GeniexConfig(target="ratio").baseline_model == "ideal"
    assert GeniexConfig(target="relative").baseline_model == "analytical_device"
    from surrogate import MODEL_NAMES
    for target in ("ratio", "residual", "relative"):
        for baseline in BASELINES:
            name = GeniexConfig(target=target, baseline=baseline).baseline_model
            assert name in MODEL_NAMES or (target, baseline, name) == ("ratio", "device", "ideal_device")
    assert GeniexConfig.from_dict({"target": "relative", "baseline": "analytical"}).baseline == "analytical"
    with pytest.raises(ValueError, match="baseline"):
        GeniexConfig(baseline="devices")


@pytest.mark.parametrize("baseline", BASELINES)
@pytest.mark.parametrize("target", ["ratio", "residual", "relative"])
def test_fewer_leading_dims_in_v_broadcast_like_the_per_tile_loop(target: str, baseline: str) -> None:
    """v (R,) and v (N, T, R) against g (T, R, C) give what each tile alone gives, with
    the shapes the analytical model returns."""
    model = untrained(target, baseline=baseline)
    v, g = inputs(t=3, b=2)
    prepared = model.prepare(g)
    one = model.mvm(prepared, v[0, 0])                       # (R,) on every tile
    assert one.shape == (3, SPEC.cols) == AnalyticalModel(SPEC)(v[0, 0], g).shape
    loop = torch.stack([model(v[0, 0], g[t]) for t in range(3)])
    torch.testing.assert_close(one, loop, rtol=1e-6, atol=fs_atol(SPEC, 1e-9))
    many = model.mvm(prepared, v)                            # (N, T, R)
    assert many.shape == (2, 3, SPEC.cols)
    loop = torch.stack([torch.stack([model(v[n, t], g[t]) for t in range(3)]) for n in range(2)])
    torch.testing.assert_close(many, loop, rtol=1e-6, atol=fs_atol(SPEC, 1e-9))
    assert model(v[0, 0], g).shape == (3, SPEC.cols)


def test_float32_inputs_give_float32_currents() -> None:
    model = untrained("residual")
    v, g = inputs(t=2, b=1)
    assert model(v.float(), g.float()).dtype == torch.float32


def test_checkpoint_round_trip_is_exact_and_loads_weights_only(tmp_path) -> None:
    model = untrained("ratio", [16, 8])
    path = tmp_path / "m.pt"
    save_geniex(model, path, metrics={"val_rmse_pct_fs": 0.5})
    payload = torch.load(path, weights_only=True)          # plain types and tensors only
    assert payload["spec"] == SPEC.to_dict() and payload["data_identity"] == "abc"
    loaded = load_geniex(path, SPEC)
    assert loaded.config == model.config and loaded.norm == model.norm
    v, g = inputs(t=2, b=3)
    # a checkpoint round trip: the same weights through the same code, so bit for bit
    torch.testing.assert_close(loaded(v, g), model(v, g), rtol=0, atol=0)
    via_registry = make_model("geniex", SPEC, checkpoint=path)
    torch.testing.assert_close(via_registry(v, g), model(v, g), rtol=0, atol=0)
    assert read_checkpoint(path)["metrics"] == {"val_rmse_pct_fs": 0.5}


def test_checkpoint_keeps_the_baseline_and_old_ones_load_as_analytical(tmp_path) -> None:
    model = untrained("relative", baseline="device")
    path = tmp_path / "m.pt"
    save_geniex(model, path)
    loaded = load_geniex(path, SPEC)
    assert loaded.config.baseline == "device" and loaded.config == model.config
    v, g = inputs(t=2, b=3)
    torch.testing.assert_close(loaded(v, g), model(v, g), rtol=0, atol=0)
    payload = read_checkpoint(path)              # a checkpoint from before the option
    del payload["config"]["baseline"]
    torch.save(payload, tmp_path / "old.pt")
    old = load_geniex(tmp_path / "old.pt", SPEC)
    assert old.config.baseline == "analytical"
    torch.testing.assert_close(old(v, g), untrained("relative", baseline="analytical")(v, g),
                               rtol=0, atol=0)


def test_checkpoint_refuses_a_different_spec_naming_the_fields(tmp_path) -> None:
    path = tmp_path / "m.pt"
    save_geniex(untrained("residual"), path)
    other = SPEC.with_(r_wire_row=5.0, transistor={"v_gate": 1.2})
    with pytest.raises(SpecMismatchError) as err:
        load_geniex(path, other)
    assert "r_wire_row" in str(err.value) and "transistor.v_gate" in str(err.value)
    assert "r_wire_col" not in str(err.value)


def test_make_model_errors_are_clear(tmp_path) -> None:
    with pytest.raises(ValueError, match="needs a checkpoint"):
        make_model("geniex", SPEC)
    with pytest.raises(FileNotFoundError, match="surrogate.stages.train"):
        make_model("geniex", SPEC, checkpoint=tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="unknown crossbar model 'genie'"):
        make_model("genie", SPEC)


def test_config_round_trips_and_rejects_unknown_keys() -> None:
    cfg = GeniexConfig(target="ratio", hidden=[1024, 1024], epochs=7)
    assert GeniexConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown key"):
        GeniexConfig.from_dict({"hiden": [5]})
    with pytest.raises(ValueError, match="target"):
        GeniexConfig(target="ratios")


# --------------------------------------------------------------------- training
TRAIN_SPEC = CrossbarSpec(rows=8, cols=8, device="sinh", v_read_max=0.5)


@pytest.fixture(scope="module")
def sinh_data() -> tuple[CrossbarDataset, CrossbarDataset]:
    """400 training and 200 test samples of an 8x8 sinh crossbar from real ngspice."""
    rng = np.random.default_rng(7)
    v, g = datagen.draw(TRAIN_SPEC, 600, rng)
    i = datagen.simulate(TRAIN_SPEC, v, g, workers=2)
    ok = np.all(np.isfinite(i), axis=1)
    meta = pd.DataFrame({"sample_id": np.arange(600), "ok": ok})
    full = CrossbarDataset(TRAIN_SPEC, v, g, i, meta, identity="test-sinh-8x8")
    return full.select(np.arange(400)), full.select(np.arange(400, 600))


def rmse(model, ds: CrossbarDataset) -> float:
    ds = ds.converged()
    pred = model(torch.from_numpy(ds.v), torch.from_numpy(ds.g)).numpy()
    return float(np.sqrt(np.mean((pred - ds.i) ** 2)))


@pytest.mark.slow
@pytest.mark.parametrize("target", ["residual", "ratio", "relative"])
def test_tiny_training_run_beats_the_analytical_model(sinh_data, target: str, tmp_path) -> None:
    train, test = sinh_data
    cfg = GeniexConfig(target=target, hidden=[128], epochs=60, batch_size=64, lr=3e-3,
                       patience=15, seed=0, device="cpu")
    model, history, metrics = train_geniex(train, cfg)
    assert len(history) == metrics["epochs_run"] and history[0]["epoch"] == 1
    assert model.data_identity == "test-sinh-8x8"
    analytical = rmse(AnalyticalModel(TRAIN_SPEC), test)
    learned = rmse(model, test)
    assert learned < 0.7 * analytical, (learned, analytical)
    if target != "ratio":                 # default baseline: device-aware, and better
        assert model.config.baseline == "device"
        assert rmse(AnalyticalDeviceModel(TRAIN_SPEC), test) < 0.7 * analytical
    save_geniex(model, tmp_path / "m.pt")
    assert rmse(load_geniex(tmp_path / "m.pt", TRAIN_SPEC), test) == pytest.approx(learned, rel=1e-6)


# ----------------------------------------------------------- training failures are loud
def synthetic_dataset(m: int = 40, seed: int = 3) -> CrossbarDataset:
    """Samples whose "SPICE" currents are the device-aware analytical ones, slightly
    perturbed: no ngspice needed, every target finite."""
    rng = np.random.default_rng(seed)
    v, g = datagen.draw(SPEC, m, rng)
    i = AnalyticalDeviceModel(SPEC)(torch.from_numpy(v), torch.from_numpy(g)).numpy()
    i = i * (1.0 + 0.01 * rng.standard_normal(i.shape))
    meta = pd.DataFrame({"sample_id": np.arange(m), "ok": np.ones(m, dtype=bool)})
    return CrossbarDataset(SPEC, v, g, i, meta, identity="synthetic")


FAST = {"hidden": [16], "epochs": 3, "batch_size": 16, "device": "cpu"}


@pytest.mark.parametrize("target", ["ratio", "residual", "relative"])
def test_training_refuses_a_nan_current_in_a_converged_sample(target: str) -> None:
    ds = synthetic_dataset()
    ds.i[7, 2] = np.nan
    with pytest.raises(FloatingPointError, match=r"v1 6x5: 1 converged sample.*sample_id 7"):
        train_geniex(ds, GeniexConfig(target=target, **FAST), desc="v1 6x5")
    ds.meta.loc[7, "ok"] = False                      # a failed sample is simply left out
    model, history, _ = train_geniex(ds, GeniexConfig(target=target, **FAST))
    assert len(history) == 3 and all(np.isfinite(h["train_loss"]) for h in history)


def test_training_that_diverges_names_the_run_and_epoch() -> None:
    cfg = GeniexConfig(target="residual", lr=1e20, **FAST)
    with pytest.raises(FloatingPointError, match=r"geniex 6x5: non-finite loss at epoch \d"):
        train_geniex(synthetic_dataset(), cfg, desc="geniex 6x5")


@pytest.mark.parametrize("target", ["residual", "relative"])
def test_training_with_a_precomputed_g_eff_is_the_same_run(target: str) -> None:
    ds = synthetic_dataset()
    cfg = GeniexConfig(target=target, **FAST)
    _, plain, _ = train_geniex(ds, cfg)
    _, shared, _ = train_geniex(ds, cfg, g_eff=sample_g_eff(SPEC, ds.converged().g))
    assert shared == plain
    with pytest.raises(ValueError, match="g_eff has shape"):
        train_geniex(ds, cfg, g_eff=sample_g_eff(SPEC, ds.g[:5]))


def test_prepare_with_a_precomputed_g_eff_equals_prepare() -> None:
    v, g = inputs(t=3, b=2)
    g_eff = effective_conductance(SPEC, g)
    for model in (AnalyticalModel(SPEC), AnalyticalDeviceModel(SPEC), untrained("residual"),
                  untrained("relative"), untrained("ratio")):
        assert model.uses_g_eff == (getattr(model, "config", None) is None
                                    or model.config.target != "ratio")
        # prepare computes this very g_eff itself: the same operations, bit for bit
        torch.testing.assert_close(model.mvm(model.prepare_with(g, g_eff), v),
                                   model.mvm(model.prepare(g), v), rtol=0, atol=0)


# ----------------------------------------------------------- targets are one object each
@pytest.mark.parametrize("name", ["ratio", "residual", "relative"])
def test_target_inverse_undoes_forward_where_labels_count(name: str) -> None:
    from surrogate.geniex import TARGET_TABLE, Normalisation, target_for
    target = target_for(name)
    assert TARGET_TABLE[name] is target and target.name == name
    rng = np.random.default_rng(0)
    i_base = rng.uniform(1e-6, 1e-4, (5, 4))
    i_spice = i_base * rng.uniform(0.9, 1.1, (5, 4))
    y, w = target.forward(i_spice, i_base, 1e-4, 1e-3)
    assert w.all()
    back = target.inverse(torch.from_numpy(i_base), torch.from_numpy(y), Normalisation(),
                          1e-4, 1e-9).numpy()
    np.testing.assert_allclose(back, i_spice, rtol=1e-12)
    with pytest.raises(ValueError, match="target"):
        target_for("ratios")


@pytest.mark.parametrize("name,power", [("excess", 1), ("excess2", 2)])
def test_the_excess_targets_scale_by_the_device_laws_part_and_invert(name: str, power: int) -> None:
    """Labels are the error over ``m = e·|e/I_lin|^(power-1)``, weighted by m²; the
    inverse gives the SPICE current back; the correction vanishes with e."""
    from surrogate.geniex import Normalisation, target_for
    target = target_for(name)
    rng = np.random.default_rng(1)
    i_linear = rng.uniform(1e-6, 1e-4, (6, 4))
    i_base = i_linear * rng.uniform(1.02, 1.2, (6, 4))     # the device law adds 2-20 %
    i_spice = i_base * rng.uniform(0.99, 1.01, (6, 4))
    fs = 1e-4
    y, w = target.forward(i_spice, i_base, fs, 1e-6, i_linear)
    e = i_base - i_linear
    m = e * (e / i_linear) ** (power - 1)
    np.testing.assert_allclose(y, (i_spice - i_base) / m, rtol=1e-12)
    np.testing.assert_allclose(w, (m / fs) ** 2, rtol=1e-12)
    t = lambda a: torch.from_numpy(a)   # noqa: E731
    back = target.inverse(t(i_base), t(y), Normalisation(), fs, 1e-9, t(i_linear)).numpy()
    np.testing.assert_allclose(back, i_spice, rtol=1e-12)
    # a column whose device law adds nothing (linear devices, zero input) gets no
    # correction whatever the network says, and carries no weight in the loss
    y0, w0 = target.forward(i_spice, i_linear, fs, 1e-6, i_linear)
    assert not w0.any() and not y0.any()
    same = target.inverse(t(i_linear), t(np.full((6, 4), 5.0)), Normalisation(), fs, 1e-9,
                          t(i_linear)).numpy()
    np.testing.assert_array_equal(same, i_linear)
    with pytest.raises(ValueError, match="linear network"):
        target.forward(i_spice, i_base, fs, 1e-6)


def test_the_excess_targets_need_a_baseline_with_a_device_law() -> None:
    for target in ("excess", "excess2"):
        assert GeniexConfig(target=target).baseline == "cell"
        with pytest.raises(ValueError, match=r"^baseline excess2? corrects the device law's part"):
            GeniexConfig(target=target, baseline="analytical")


@pytest.mark.parametrize("target", ["excess", "excess2"])
@pytest.mark.parametrize("baseline", ["device", "cell"])
def test_an_excess_model_caches_per_tile_and_sits_on_its_baseline_at_zero_weights(
        target: str, baseline: str) -> None:
    model = untrained(target, [32, 8], baseline=baseline)
    assert model.uses_g_eff                  # the linear current needs G_eff
    v, g = inputs(t=3, b=2)
    cached = model.mvm(model.prepare(g), v)
    full = model.full_forward(v, g.expand(2, *g.shape))
    torch.testing.assert_close(cached, full, rtol=1e-5, atol=fs_atol(SPEC, 1e-6))
    zero = model.mvm(model.prepare(g), torch.zeros(2, 3, SPEC.rows, dtype=torch.float64))
    assert torch.equal(zero, torch.zeros_like(zero))
    with torch.no_grad():
        model.net.out.weight.zero_()
        model.net.out.bias.zero_()
    physics = make_model("analytical_cell" if baseline == "cell" else "analytical_device", SPEC)
    torch.testing.assert_close(model(v, g), physics(v, g), rtol=1e-10, atol=fs_atol(SPEC, 1e-12))


# ------------------------------------------------- the cell-voltage baseline (``cell``)
@pytest.mark.parametrize("target", ["residual", "relative"])
def test_the_cell_baseline_is_the_cell_voltage_model(target: str, tmp_path) -> None:
    v, g = inputs(t=2, b=3)
    model = untrained(target, baseline="cell")
    assert model.config.baseline_model == "analytical_cell" and not model.uses_g_eff
    zero = model.mvm(model.prepare(g), torch.zeros(2, 2, SPEC.rows, dtype=torch.float64))
    assert torch.equal(zero, torch.zeros_like(zero))          # no drive, no current
    cached = model.mvm(model.prepare(g), v)
    full = model.full_forward(v, g.expand(3, *g.shape))
    torch.testing.assert_close(cached, full, rtol=1e-5, atol=fs_atol(SPEC, 1e-6))
    with torch.no_grad():
        model.net.out.weight.zero_()           # residual 0, relative δ = 0: the baseline
        model.net.out.bias.zero_()
    cell = make_model("analytical_cell", SPEC)
    # the same solves: equal to CG's tolerance, far below the currents' size
    torch.testing.assert_close(model(v, g), cell(v, g), rtol=1e-10, atol=fs_atol(SPEC, 1e-12))
    got = base_currents(model.config, SPEC, v[0].numpy(), g.numpy())
    np.testing.assert_allclose(got, cell(v[0], g).numpy(), rtol=1e-10,
                               atol=float(fs_atol(SPEC, 1e-12)))
    save_geniex(model, tmp_path / "cell.pt")
    assert load_geniex(tmp_path / "cell.pt", SPEC).config.baseline == "cell"


def test_the_cell_baseline_needs_a_target_on_the_analytical_network() -> None:
    with pytest.raises(ValueError, match=r"baseline cell corrects the analytical network, so "
                                         r"it needs the residual or relative target, not 'ratio'"):
        GeniexConfig(target="ratio", baseline="cell")
