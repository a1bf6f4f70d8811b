"""The non-idealities beyond the wires: statistics, seeding, zero strength, bad input,
and the same perturbed tiles reaching every crossbar model (ngspice included)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from functional_sim.sim.config import SimConfig
from functional_sim.studies.config import ConfigError, study_config
from functional_sim.sim.engine import CrossbarMatmul
from functional_sim.sim.mapping import levels_to_conductance, lossless_adc_bits
from functional_sim.sim.nonideal import Readout, program_tiles
from functional_sim.sim.nonideal_config import NonidealConfig
from spice_netlists import CrossbarSpec
from surrogate import make_model
from surrogate.base import CrossbarModel

SPEC = CrossbarSpec(rows=32, cols=32)
G_MID = 0.5 * (SPEC.g_on + SPEC.g_off)


def _tiles(n: int = 100, value: float = G_MID) -> torch.Tensor:
    return torch.full((n, SPEC.rows, SPEC.cols), value, dtype=torch.float64)


def _program(**nonideal) -> torch.Tensor:
    return program_tiles(_tiles(), SPEC, NonidealConfig.from_dict(nonideal), "layer").g


# ----------------------------------------------------------------------------- statistics
@pytest.mark.parametrize("distribution", ["normal", "lognormal"])
def test_proportional_programming_error_has_mean_g_and_sigma_times_g(distribution) -> None:
    g = _program(programming={"sigma": 0.05, "distribution": distribution})
    n = g.numel()
    assert abs(g.mean().item() - G_MID) < 4 * 0.05 * G_MID / math.sqrt(n)
    assert g.std().item() == pytest.approx(0.05 * G_MID, rel=0.01)


def test_independent_programming_error_has_sigma_times_g_on_and_is_clipped() -> None:
    g = _program(programming={"sigma": 0.02, "scale": "independent"})
    assert g.std().item() == pytest.approx(0.02 * SPEC.g_on, rel=0.01)
    wide = _program(programming={"sigma": 2.0, "scale": "independent"})
    assert wide.min().item() == SPEC.g_off and wide.max().item() == SPEC.g_on


def test_stuck_faults_hit_their_rates() -> None:
    g = program_tiles(_tiles(), SPEC, NonidealConfig(stuck={"on_rate": 0.03, "off_rate": 0.05}),
                      "layer").g
    n = g.numel()
    for value, rate in ((SPEC.g_on, 0.03), (SPEC.g_off, 0.05)):
        share = (g == value).double().mean().item()
        assert abs(share - rate) < 5 * math.sqrt(rate * (1 - rate) / n)
    assert ((g == SPEC.g_on) | (g == SPEC.g_off) | (g == G_MID)).all()


def test_drift_follows_the_power_law_and_its_spread() -> None:
    t, t0 = 1e5, 10.0
    exact = _program(drift={"t_s": t, "t0_s": t0, "nu_mean": 0.06, "nu_std": 0.0})
    assert torch.allclose(exact, torch.full_like(exact, G_MID * (t / t0) ** -0.06), rtol=1e-14)
    spread = _program(drift={"t_s": t, "t0_s": t0, "nu_mean": 0.06, "nu_std": 0.01})
    nu = -torch.log(spread / G_MID) / math.log(t / t0)
    assert nu.mean().item() == pytest.approx(0.06, abs=1e-4)
    assert nu.std().item() == pytest.approx(0.01, rel=0.02)


def test_drift_compensation_restores_each_tiles_all_ones_read() -> None:
    torch.manual_seed(0)
    target = SPEC.g_off + torch.rand(6, SPEC.rows, SPEC.cols, dtype=torch.float64) * (SPEC.g_on - SPEC.g_off)
    cfg = NonidealConfig(drift={"t_s": 3e7, "compensation": True})
    g, scale, _ = program_tiles(target, SPEC, cfg, "layer")
    assert scale is not None and scale.shape == (6,)
    assert torch.allclose(scale * g.sum(dim=(1, 2)), target.sum(dim=(1, 2)), rtol=1e-12)
    assert program_tiles(target, SPEC, cfg.with_overrides({"drift.compensation": False}),
                         "layer").digital_scale is None


def test_nonlinearity_spread_has_mean_a_and_sigma_times_a() -> None:
    spec = SPEC.with_(device="sinh")
    tiles = program_tiles(_tiles(), spec, NonidealConfig(sinh_a_spread=0.2), "layer")
    assert torch.equal(tiles.g, _tiles())                       # conductances untouched
    a = tiles.sinh_a
    assert (a > 0).all()
    assert a.mean().item() == pytest.approx(spec.sinh_a, rel=4 * 0.2 / math.sqrt(a.numel()))
    assert a.std().item() == pytest.approx(0.2 * spec.sinh_a, rel=0.02)
    assert program_tiles(_tiles(), spec, NonidealConfig(), "layer").sinh_a is None
    with pytest.raises(ValueError, match="sinh_a_spread is 0.2, but .* has linear devices"):
        program_tiles(_tiles(), SPEC.with_(device="linear"), NonidealConfig(sinh_a_spread=0.2), "layer")


def test_finite_levels_round_to_the_nearest_level() -> None:
    torch.manual_seed(1)
    target = SPEC.g_off + torch.rand(4, SPEC.rows, SPEC.cols, dtype=torch.float64) * (SPEC.g_on - SPEC.g_off)
    g = program_tiles(target, SPEC, NonidealConfig(levels=5), "layer").g
    grid = torch.linspace(SPEC.g_off, SPEC.g_on, 5, dtype=torch.float64)
    nearest = grid[(target[..., None] - grid).abs().argmin(-1)]
    assert torch.allclose(g, nearest, rtol=0, atol=1e-20)


def test_read_noise_matches_a_monte_carlo_of_independent_device_noise() -> None:
    """The output-referred noise has the distribution of Σ_i v_i·δG_ij, δG_ij drawn anew
    per read: checked against that direct Monte Carlo."""
    torch.manual_seed(2)
    g = (SPEC.g_off + torch.rand(1, SPEC.rows, SPEC.cols, dtype=torch.float64)
         * (SPEC.g_on - SPEC.g_off))
    v = torch.rand(SPEC.rows, dtype=torch.float64) * 0.25
    reads = 20000
    for scale, sigma_ij in (("proportional", 0.1 * g[0]), ("independent", torch.full_like(g[0], 0.1 * SPEC.g_on))):
        readout = Readout(NonidealConfig(read_noise={"sigma": 0.1, "scale": scale}), SPEC, g,
                          1e-9, "layer")
        vv = v.expand(reads, 1, SPEC.rows)
        noise = readout.analog(torch.zeros(reads, 1, SPEC.cols, dtype=torch.float64), vv)[:, 0]
        rng = np.random.default_rng(0)
        direct = np.einsum("r,nrc->nc", v.numpy(), rng.standard_normal((4000, SPEC.rows, SPEC.cols))
                           * sigma_ij.numpy())
        assert abs(noise.mean().item()) < 4 * noise.std().item() / math.sqrt(noise.numel())
        np.testing.assert_allclose(noise.std(dim=0).numpy(), direct.std(axis=0), rtol=0.08)


def test_adc_gain_and_offset_errors_have_their_sigmas() -> None:
    g = _tiles(200)
    lsb = 1e-7
    readout = Readout(NonidealConfig(adc={"gain_sigma": 0.02, "offset_sigma_lsb": 0.5}), SPEC, g,
                      lsb, "layer")
    assert readout.gain.std().item() == pytest.approx(0.02, rel=0.03)
    assert readout.gain.mean().item() == pytest.approx(1.0, abs=4 * 0.02 / math.sqrt(readout.gain.numel()))
    assert readout.offset.std().item() == pytest.approx(0.5 * lsb, rel=0.03)
    clip = Readout(NonidealConfig(adc={"clip_fraction": 0.25}), SPEC, g, lsb, "layer")
    big = torch.full((3, 200, SPEC.cols), SPEC.full_scale_current, dtype=torch.float64)
    assert (clip.analog(big, torch.zeros(3, 200, SPEC.rows, dtype=torch.float64))
            == 0.25 * SPEC.full_scale_current).all()


# ----------------------------------------------------------------------------- seeding
def test_draws_are_reproducible_per_seed_and_differ_across_seeds_and_layers() -> None:
    cfg = NonidealConfig(programming={"sigma": 0.1}, stuck={"on_rate": 0.01})
    first = program_tiles(_tiles(3), SPEC, cfg, "fc1").g
    assert torch.equal(first, program_tiles(_tiles(3), SPEC, cfg, "fc1").g)
    assert not torch.equal(first, program_tiles(_tiles(3), SPEC, cfg.with_(seed=1), "fc1").g)
    assert not torch.equal(first, program_tiles(_tiles(3), SPEC, cfg, "fc2").g)


def test_each_transform_has_its_own_stream() -> None:
    """Turning stuck-at faults on leaves the programming error of the other devices as it was."""
    alone = _program(programming={"sigma": 0.05})
    both = _program(programming={"sigma": 0.05}, stuck={"off_rate": 0.1})
    healthy = both != SPEC.g_off
    assert torch.equal(both[healthy], alone[healthy])


# ----------------------------------------------------------------------------- zero strength
def _layer(model: CrossbarModel | str = "ideal", spec: CrossbarSpec = SPEC, **sim) -> CrossbarMatmul:
    torch.manual_seed(3)
    q = torch.randint(-31, 32, (20, 40))
    cfg = SimConfig(spec=spec, weight_bits=6, input_bits=6, bits_per_slice=2, bits_per_stream=2,
                    adc_bits=lossless_adc_bits(spec, 2, 2), **sim)
    xbar = make_model(model, spec) if isinstance(model, str) else model
    return CrossbarMatmul(q, cfg, xbar, "fc")


def test_zero_strength_is_exactly_no_transform() -> None:
    x = torch.randint(0, 64, (16, 40))
    zero = {"seed": 5, "levels": 0, "programming": {"sigma": 0.0, "distribution": "lognormal"},
            "read_noise": {"sigma": 0.0}, "stuck": {"on_rate": 0.0, "off_rate": 0.0},
            "drift": {"t_s": 100.0, "t0_s": 100.0, "compensation": True},
            "adc": {"gain_sigma": 0.0, "offset_sigma_lsb": 0.0, "clip_fraction": 1.0}}
    for model in ("ideal", "analytical", "circuit"):
        plain, off = _layer(model), _layer(model, nonideal=zero)
        assert not off.cfg.nonideal.active
        assert torch.equal(off.conductances("cpu", torch.float64),
                           plain.conductances("cpu", torch.float64))
        assert torch.equal(off(x, torch.float64), plain(x, torch.float64))
    g = levels_to_conductance(plain.levels, SPEC, 2, torch.float64).reshape(-1, SPEC.rows, SPEC.cols)
    assert torch.equal(program_tiles(g, SPEC, NonidealConfig.from_dict(zero), "fc").g, g)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("path, value, message", [
    ("programming.sigma", -0.1, "functional_sim.sim.nonideal.programming.sigma must be >= 0"),
    ("programming.sigma", float("nan"), "functional_sim.sim.nonideal.programming.sigma must be finite"),
    ("read_noise.sigma", -1, "functional_sim.sim.nonideal.read_noise.sigma must be >= 0"),
    ("stuck.on_rate", 1.5, "functional_sim.sim.nonideal.stuck.on_rate must be in [0.0, 1.0]"),
    ("stuck.off_rate", float("nan"), "functional_sim.sim.nonideal.stuck.off_rate must be finite"),
    ("drift.t_s", 0.5, "functional_sim.sim.nonideal.drift.t_s must be >= t0_s"),
    ("drift.nu_std", -0.01, "functional_sim.sim.nonideal.drift.nu_std must be >= 0"),
    ("adc.clip_fraction", 0.0, "functional_sim.sim.nonideal.adc.clip_fraction must be > 0"),
    ("levels", 1, "functional_sim.sim.nonideal.levels must be 0 (continuous) or >= 2"),
    ("programming.scale", "absolute", "functional_sim.sim.nonideal.programming.scale must be one of"),
])
def test_bad_strengths_are_refused_naming_the_params_path(path, value, message) -> None:
    section: dict = {}
    node = section
    keys = path.split(".")
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    with pytest.raises(ConfigError, match=re.escape(message)):
        study_config({"functional_sim": {"sim": {"nonideal": section}}})


def test_rates_summing_over_one_and_additive_lognormal_are_refused() -> None:
    with pytest.raises(ConfigError, match="nonideal.stuck.off_rate.*on_rate \\+ off_rate must be <= 1"):
        study_config({"functional_sim": {"sim": {"nonideal": {"stuck": {"on_rate": 0.6, "off_rate": 0.5}}}}})
    with pytest.raises(ConfigError, match="nonideal.programming.distribution.*set scale to proportional"):
        study_config({"functional_sim": {"sim": {"nonideal": {"programming": {
            "sigma": 0.1, "distribution": "lognormal", "scale": "independent"}}}}})


# ----------------------------------------------------------------------------- every model
class _Spy(CrossbarModel):
    """A real model that records the conductances (and per-device a) it is prepared with."""

    def __init__(self, inner: CrossbarModel) -> None:
        super().__init__(inner.spec)
        self.inner, self.name, self.seen, self.seen_a = inner, inner.name, [], []
        self.uses_sinh_a = inner.uses_sinh_a

    def prepare(self, g: torch.Tensor, **kwargs):
        self.seen.append(g.clone())
        self.seen_a.append(kwargs.get("sinh_a"))
        return self.inner.prepare(g, **kwargs)

    def mvm(self, prepared, v: torch.Tensor) -> torch.Tensor:
        return self.inner.mvm(prepared, v)


def test_every_model_is_prepared_with_the_same_perturbed_tiles() -> None:
    spec = SPEC.with_(device="sinh")
    perturbed = {"programming": {"sigma": 0.1}, "stuck": {"on_rate": 0.02, "off_rate": 0.02},
                 "drift": {"t_s": 1e4}, "levels": 9, "sinh_a_spread": 0.1}
    spies = [_Spy(make_model(name, spec)) for name in ("ideal", "analytical", "analytical_device",
                                                        "circuit", "spice")]
    for spy in spies:
        _layer(spy, spec, nonideal=perturbed, mapping="mdm").conductances("cpu", torch.float64)
    first = spies[0].seen[0]
    clean = _layer("ideal", spec).conductances("cpu", torch.float64)
    assert not torch.equal(first, clean)
    for spy in spies[1:]:
        assert torch.equal(spy.seen[0], first), spy.name
    # the per-device nonlinearity reaches the models that solve each device's I–V
    by_name = {spy.name: spy.seen_a[0] for spy in spies}
    assert by_name["circuit"] is not None and torch.equal(by_name["circuit"], by_name["spice"])
    assert by_name["ideal"] is None and by_name["analytical_device"] is None


def test_ngspice_and_circuit_compute_the_same_perturbed_layer() -> None:
    """Real ngspice on a small perturbed layer: it gives the circuit model's integers,
    so both solved the same perturbed tiles (and the same read noise reached both)."""
    spec = CrossbarSpec(rows=8, cols=8, device="sinh", v_read_max=0.5)
    perturbed = {"programming": {"sigma": 0.1}, "stuck": {"on_rate": 0.05},
                 "read_noise": {"sigma": 0.02}, "adc": {"gain_sigma": 0.01},
                 "sinh_a_spread": 0.3}
    torch.manual_seed(4)
    q = torch.randint(-31, 32, (7, 8))
    x = torch.randint(0, 64, (3, 8))
    cfg = SimConfig(spec=spec, weight_bits=6, input_bits=6, bits_per_slice=2, bits_per_stream=2,
                    adc_bits=12, nonideal=perturbed, mapping="mdm")
    out = {name: CrossbarMatmul(q, cfg, make_model(name, spec), "fc")(x, torch.float64)
           for name in ("circuit", "spice")}
    assert torch.equal(out["circuit"], out["spice"])
    clean = CrossbarMatmul(q, cfg.with_(nonideal=NonidealConfig()), make_model("circuit", spec),
                           "fc")(x, torch.float64)
    assert not torch.equal(out["circuit"], clean)


def test_bad_per_device_nonlinearity_is_refused_before_ngspice_runs() -> None:
    from datagen import simulate

    spec = CrossbarSpec(rows=4, cols=4, device="sinh")
    v, g = np.full((1, 4), 0.1), np.full((1, 4, 4), spec.g_on)
    a = np.full((1, 4, 4), 2.0)
    a[0, 1, 2] = -1.0
    with pytest.raises(ValueError, match=r"sinh_a\[0, 1, 2\] = -1.0: must be finite and > 0"):
        simulate(spec, v, g, sinh_a=a)
    with pytest.raises(ValueError, match="only sinh devices have a nonlinearity"):
        simulate(spec.with_(device="linear"), v, g, sinh_a=np.full((1, 4, 4), 2.0))
