"""The ``coverage`` sampler spans the whole input space: input and weight densities from
fully sparse to exactly dense, binary, DAC-level and continuous inputs, and samples whose
"on" conductances are mostly low next to samples whose are mostly high; it is seeded.
The ``min_*_sparsity`` knobs give sparse sets, are validated with errors naming the
field, and leave the older samplers' draws (and their datasets' stamps) unchanged."""

from __future__ import annotations

import re

import numpy as np
import pytest

from datagen.config import DatagenParams, SweepConfig, default_held_out
from datagen.fields import SweepFieldError
from datagen.samplers import SAMPLERS, SamplerConfig, draw
from spice_netlists import CrossbarSpec

SPEC = CrossbarSpec(rows=16, cols=16, device="sinh", v_read_max=0.5)
COVERAGE = SamplerConfig(name="coverage", input_bits=4, weight_bits=2,
                         max_input_sparsity=0.95, max_weight_sparsity=0.95)
N = 3000


@pytest.fixture(scope="module")
def drawn() -> tuple[np.ndarray, np.ndarray]:
    return draw(SPEC, N, np.random.default_rng(7), COVERAGE)


def _positions(g: np.ndarray) -> np.ndarray:
    """Conductances as positions between g_off (0) and g_on (1)."""
    return (g - SPEC.g_off) / (SPEC.g_on - SPEC.g_off)


def test_coverage_is_a_registered_sampler_within_the_physical_ranges(drawn) -> None:
    assert "coverage" in SAMPLERS
    v, g = drawn
    assert v.shape == (N, SPEC.rows) and g.shape == (N, SPEC.rows, SPEC.cols)
    assert v.min() >= 0 and v.max() <= SPEC.v_read_max
    assert g.min() >= SPEC.g_off and g.max() <= SPEC.g_on * (1 + 1e-12)


def test_input_and_weight_densities_span_fully_sparse_to_exactly_dense(drawn) -> None:
    v, g = drawn
    for density in ((v > 0).mean(axis=1), (g > SPEC.g_off).mean(axis=(1, 2))):
        assert density.min() < 0.15                      # nearly everything off
        assert np.mean(density == 1.0) > 0.15            # exactly dense: real mass
        # and everything between: every tenth of the range is populated
        counts = np.histogram(density, bins=10, range=(0, 1))[0]
        assert counts.min() > 0.02 * N, counts


def test_inputs_are_binary_on_dac_levels_or_continuous(drawn) -> None:
    v, _ = drawn
    x = v / SPEC.v_read_max
    on = x > 0
    binary = np.array([np.all(row[m] == 1.0) for row, m in zip(x, on)]) & on.any(axis=1)
    dac = 2 ** COVERAGE.input_bits - 1
    levels = np.array([np.allclose(row[m] * dac, np.round(row[m] * dac)) for row, m in zip(x, on)])
    continuous = ~levels & on.any(axis=1)
    assert 0.4 < binary.mean() < 0.6                    # binary_input_fraction 0.5
    assert (levels & ~binary & on.any(axis=1)).mean() > 0.15
    assert continuous.mean() > 0.15


def test_conductances_range_from_mostly_low_to_mostly_high_per_sample(drawn) -> None:
    _, g = drawn
    pos = _positions(g)
    on = pos > 0
    has = on.sum(axis=(1, 2)) >= 10
    mean = np.array([p[m].mean() for p, m in zip(pos[has], on[has])])
    high = np.array([np.mean(p[m] > 0.5) for p, m in zip(pos[has], on[has])])
    assert np.quantile(mean, 0.05) < 0.2 and np.quantile(mean, 0.95) > 0.8
    assert np.mean(high < 0.2) > 0.1 and np.mean(high > 0.8) > 0.1   # skewed either way
    # some samples on the 2^weight_bits slice levels, the rest continuous
    slice_levels = 2 ** COVERAGE.weight_bits - 1
    leveled = np.array([np.allclose(p[m] * slice_levels, np.round(p[m] * slice_levels))
                        for p, m in zip(pos[has], on[has])])
    assert 0.35 < leveled.mean() < 0.65


def test_coverage_is_seeded_and_deterministic() -> None:
    a = draw(SPEC, 50, np.random.default_rng([3, 0]), COVERAGE)
    b = draw(SPEC, 50, np.random.default_rng([3, 0]), COVERAGE)
    c = draw(SPEC, 50, np.random.default_rng([3, 1]), COVERAGE)
    for x, y, z in zip(a, b, c):
        np.testing.assert_array_equal(x, y)
        assert not np.array_equal(x, z)


def test_the_default_dense_held_out_set_is_fully_on_and_biased_high() -> None:
    dense = default_held_out()["dense"].sampler
    v, g = draw(SPEC, 400, np.random.default_rng(0), dense)
    assert np.all(v > 0) and np.all(g > SPEC.g_off)
    assert np.median(_positions(g).mean(axis=(1, 2))) > 0.6


def test_min_sparsity_gives_a_sparse_bitlevel_set() -> None:
    sparse = default_held_out()["sparse_bitlevel"].sampler
    assert (sparse.min_input_sparsity, sparse.max_input_sparsity) == (0.6, 0.95)
    big = CrossbarSpec(rows=64, cols=64, device="sinh", v_read_max=0.5)
    v, g = draw(big, 400, np.random.default_rng(0), sparse)
    assert set(np.unique(v)) <= {0.0, big.v_read_max}           # 1-bit input streams
    w_sparsity = (g == big.g_off).mean(axis=(1, 2))
    assert w_sparsity.min() > 0.55 and w_sparsity.max() < 0.97
    assert np.mean(w_sparsity) == pytest.approx(0.775, abs=0.03)
    assert np.mean((v == 0).mean(axis=1)) == pytest.approx(0.775, abs=0.03)


def test_the_older_samplers_draw_exactly_as_before_min_sparsity_existed() -> None:
    rng = np.random.default_rng(11)
    v, g = draw(SPEC, 20, rng, SamplerConfig(max_input_sparsity=0.7))
    # the uniform sampler as it was written before the min_* knobs
    old = np.random.default_rng(11)
    r, c = SPEC.rows, SPEC.cols
    v0 = old.uniform(0.0, SPEC.v_read_max, (20, r))
    sparsity = old.uniform(0.0, 0.7, size=(20, 1))
    v0 = v0 * (old.random((20, r)) >= sparsity)
    g0 = old.uniform(SPEC.g_off, SPEC.g_on, (20, r, c))
    sparsity = old.uniform(0.0, 0.9, size=(20, 1, 1))
    g0 = np.where(old.random((20, r, c)) >= sparsity, g0, SPEC.g_off)
    np.testing.assert_array_equal(v, v0)
    np.testing.assert_array_equal(g, g0)
    # and a sweep's stamp leaves the new knobs out while they are at their defaults
    stamp = SweepConfig().identity()["sampler"]
    assert "min_input_sparsity" not in stamp and "dense_fraction" not in stamp
    assert SweepConfig(sampler={"min_input_sparsity": 0.2}).identity()["sampler"][
        "min_input_sparsity"] == 0.2
    assert "dense_fraction" in SweepConfig(sampler={"name": "coverage"}).identity()["sampler"]


@pytest.mark.parametrize("sampler,field,says", [
    ({"min_input_sparsity": 0.5, "max_input_sparsity": 0.4}, "min_input_sparsity",
     r"<= max_input_sparsity \(0.4\), got 0.5"),
    ({"min_weight_sparsity": 0.95}, "min_weight_sparsity", r"<= max_weight_sparsity \(0.9\), got 0.95"),
    ({"min_input_sparsity": -0.1}, "min_input_sparsity", ">= 0, got -0.1"),
    ({"min_weight_sparsity": 1.0, "max_weight_sparsity": 0.5}, "min_weight_sparsity", r"\[0, 1\), got 1.0"),
    ({"min_input_sparsity": "0.2"}, "min_input_sparsity", "number, got '0.2'"),
    ({"max_weight_sparsity": 1}, "max_weight_sparsity", r"\[0, 1\), got 1"),
    ({"name": "coverage", "dense_fraction": 1.5}, "dense_fraction", "1.5"),
    ({"name": "coverage", "binary_input_fraction": -1}, "binary_input_fraction", "-1"),
    ({"name": "coverage", "level_fraction": None}, "level_fraction", "number, got None"),
    ({"name": "coverage", "g_mean_low": 0.9, "g_mean_high": 0.5}, "g_mean_low", "<= g_mean_high"),
    ({"name": "coverage", "g_mean_high": 1.0}, "g_mean_high", r"\(0, 1\), got 1.0"),
    ({"name": "coverage", "g_concentration": 0}, "g_concentration", "> 0"),
])
@pytest.mark.parametrize("where", ["train", "held_out.dense"])
def test_bad_sampler_knobs_are_refused_naming_their_path(sampler, field, says, where) -> None:
    section: dict = {"train": {"sampler": sampler}}
    if where != "train":
        section = {"held_out": {"dense": {"seed": 9, "sampler": sampler}}}
    path = re.escape(f"datagen.{where}.sampler.{field}")
    with pytest.raises(SweepFieldError, match=rf"^{path} .*{says}"):
        DatagenParams.from_dict(section)


def test_sparsity_bounds_are_checked_when_a_sampler_is_built_directly() -> None:
    with pytest.raises(SweepFieldError, match=r"^min_input_sparsity must be <= max_input_sparsity"):
        SamplerConfig(min_input_sparsity=0.5, max_input_sparsity=0.1)
    assert SamplerConfig(min_input_sparsity=0.3, max_input_sparsity=0.3).min_input_sparsity == 0.3
