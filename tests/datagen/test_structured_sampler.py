"""The ``structured`` sampler: every pattern draws what its name says (checked on the
drawn arrays, and for the corner blocks on the IR drop the linear network gives them),
within the physical ranges, seeded; a missing or misplaced ``pattern`` is refused naming
the field; a structured sweep through the circuit engine passes its ngspice check."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from datagen.config import DatagenParams
from datagen.fields import SweepFieldError
from datagen.samplers import SamplerConfig, draw
from datagen.structured import PATTERNS
from datagen.sweep import SweepConfig, run_sweep
from spice_netlists import CrossbarSpec
from surrogate.analytical import AnalyticalModel

SPEC = CrossbarSpec(rows=16, cols=12, device="sinh", v_read_max=0.5)
N = 400


def _draw(pattern: str, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    return draw(SPEC, N, np.random.default_rng(seed), SamplerConfig(name="structured",
                                                                     pattern=pattern))


def _positions(v: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return v / SPEC.v_read_max, (g - SPEC.g_off) / (SPEC.g_on - SPEC.g_off)


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_every_pattern_is_seeded_and_within_the_physical_ranges(pattern):
    v, g = _draw(pattern)
    assert v.shape == (N, SPEC.rows) and g.shape == (N, SPEC.rows, SPEC.cols)
    assert v.min() >= 0 and v.max() <= SPEC.v_read_max
    assert g.min() >= SPEC.g_off * (1 - 1e-12) and g.max() <= SPEC.g_on * (1 + 1e-12)
    v2, g2 = _draw(pattern)
    np.testing.assert_array_equal(v, v2)          # the same seed draws the same numbers
    np.testing.assert_array_equal(g, g2)
    assert (v.max(axis=1) > 0).all()              # every sample drives some current


def test_the_patterns_draw_what_their_names_say():
    vp, gp = _positions(*_draw("all_on"))
    assert vp.min() >= 0.9 and gp.min() >= 0.9
    vp, gp = _positions(*_draw("one_hot"))
    assert ((vp > 0).sum(axis=1) == 1).all() and vp.max(axis=1).min() >= 0.5
    vp, gp = _positions(*_draw("two_state"))
    assert set(np.unique(vp)) <= {0.0, 1.0}
    assert np.all(np.isclose(gp, 0.0, atol=1e-9) | np.isclose(gp, 1.0, atol=1e-9))
    vp, gp = _positions(*_draw("low_conductance"))
    assert gp.max() <= 0.1 + 1e-9
    vp, gp = _positions(*_draw("low_voltage"))
    assert vp.max() <= 0.2 + 1e-12
    vp, gp = _positions(*_draw("complementary_columns"))
    both_on = (gp[:, :, 0::2][:, :, :SPEC.cols // 2] > 1e-9) & (gp[:, :, 1::2] > 1e-9)
    assert not both_on.any()                      # a pair holds a weight's one sign only
    vp, gp = _positions(*_draw("row_blocks"))
    for row in vp > 0:                            # the active inputs are one contiguous run
        on = np.flatnonzero(row)
        assert on.size and on[-1] - on[0] + 1 == on.size
    vp, gp = _positions(*_draw("column_blocks"))
    col_mean = gp.mean(axis=1)                    # (n, cols): hot columns >= 0.7, cold <= 0.1
    assert np.all((col_mean >= 0.7) | (col_mean <= 0.1))
    vp, gp = _positions(*_draw("gradient"))
    step = np.abs(np.diff(gp, axis=2)).mean()     # neighbours close, the tile spread out
    assert step < 0.15 * gp.std(axis=(1, 2)).mean() + 0.06


def test_the_far_corner_loses_more_to_the_wires_than_the_near_corner():
    """The relative current the linear network loses to IR drop (against I = VᵀG) is
    larger for a block far from drivers and sink than for the same block near them. The
    wires are made 10 Ω a segment here so that they, not the source and sink resistances
    every cell shares, decide the drop."""
    model = AnalyticalModel(SPEC.with_(r_wire_row=10.0, r_wire_col=10.0))
    loss = {}
    for pattern in ("far_corner", "near_corner"):
        v, g = (torch.from_numpy(a) for a in _draw(pattern))
        ideal = torch.einsum("nr,nrc->nc", v, g).sum(dim=1)
        real = model.mvm(model.prepare(g), v).sum(dim=1)
        loss[pattern] = float(((ideal - real) / ideal).mean())
    assert loss["far_corner"] > 1.3 * loss["near_corner"] > 0


def test_a_structured_sampler_needs_a_known_pattern_and_no_other_sampler_takes_one():
    with pytest.raises(SweepFieldError, match=r"^pattern must be one of all_on, .*got ''"):
        SamplerConfig(name="structured")
    with pytest.raises(SweepFieldError, match=r"^pattern must be one of .*got 'spiral'"):
        SamplerConfig(name="structured", pattern="spiral")
    with pytest.raises(SweepFieldError, match=r"^pattern is only read by the structured sampler"):
        SamplerConfig(name="uniform", pattern="all_on")
    with pytest.raises(SweepFieldError, match=r"^datagen\.held_out\.corner\.sampler\.pattern "):
        DatagenParams.from_dict({"held_out": {"corner": {"sampler": {
            "name": "structured", "pattern": "corner"}}}})


def test_a_structured_circuit_sweep_passes_its_ngspice_check(tmp_path):
    spec = CrossbarSpec(rows=8, cols=8, device="sinh", v_read_max=0.5)
    cfg = SweepConfig(n_samples=16, seed=4, chunk_size=8, workers=1, engine="circuit",
                      check_fraction=0.25,
                      sampler=SamplerConfig(name="structured", pattern="far_corner"))
    summary = run_sweep(spec, cfg, tmp_path / "far", progress=False)
    assert summary["check"]["passed"] and summary["check"]["checked"] == 4
