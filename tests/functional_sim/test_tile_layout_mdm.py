"""Tile layouts (identity, MDM) and the nonideality factor: a permutation leaves the
ideal result exact, MDM minimises the weighted Manhattan distance, and lowers NF."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from functional_sim.sim.config import SimConfig
from functional_sim.sim.engine import CrossbarMatmul
from functional_sim.sim.mapping import lossless_adc_bits
from functional_sim.sim.nf import NFMeter
from functional_sim.sim.tile_layout import make_layout, mdm_layout
from spice_netlists import CrossbarSpec
from surrogate import make_model
from tests.support.nodal_reference import solve_crossbar


def _distance_cost(levels: np.ndarray) -> float:
    """Σ w_rc·(c + rows-1-r): wire segments each cell's current crosses, weighted."""
    rows, cols = levels.shape
    r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    return float((levels * (c + rows - 1 - r)).sum())


def test_mdm_minimises_the_weighted_manhattan_distance_over_all_permutations() -> None:
    rng = np.random.default_rng(0)
    levels = rng.integers(0, 4, size=(4, 4))
    layout = mdm_layout(torch.from_numpy(levels)[None])
    placed = layout.place(torch.from_numpy(levels)[None].double())[0].numpy()
    best = min(_distance_cost(levels[np.ix_(rp, cp)])
               for rp in itertools.permutations(range(4)) for cp in itertools.permutations(range(4)))
    assert _distance_cost(placed) == best
    assert _distance_cost(placed) < _distance_cost(levels)


def test_layout_moves_cells_inputs_and_outputs_consistently() -> None:
    torch.manual_seed(0)
    g = torch.rand(5, 6, 7, dtype=torch.float64)
    v = torch.rand(3, 5, 6, dtype=torch.float64)
    layout = mdm_layout(g)
    for t in range(5):
        assert sorted(layout.rows[t].tolist()) == list(range(6))
        assert sorted(layout.cols[t].tolist()) == list(range(7))
    ideal = torch.einsum("ntr,trc->ntc", v, g)
    moved = layout.read_back(torch.einsum("ntr,trc->ntc", layout.route_inputs(v), layout.place(g)))
    torch.testing.assert_close(moved, ideal, rtol=1e-14, atol=0)
    assert make_layout("identity", g) is None


@pytest.mark.parametrize("mapping", ["mdm", "mdm_activity"])
@pytest.mark.parametrize("negative_weights", ["differential", "offset"])
def test_mdm_leaves_the_ideal_layer_exact(negative_weights, mapping) -> None:
    spec = CrossbarSpec(rows=16, cols=16)
    torch.manual_seed(1)
    q = torch.randint(-31, 32, (40, 50))
    x = torch.randint(-31, 64, (12, 50))
    out = {}
    for name in ("identity", mapping):
        cfg = SimConfig(spec=spec, weight_bits=6, input_bits=7, bits_per_slice=2, bits_per_stream=2,
                        adc_bits=lossless_adc_bits(spec, 2, 2), negative_weights=negative_weights,
                        mapping=name)
        out[name] = CrossbarMatmul(q, cfg, make_model("ideal", spec), "fc")(x, torch.float32)
    assert torch.equal(out[mapping], x @ q.T)
    assert torch.equal(out["identity"], out[mapping])


def test_nf_meter_matches_a_nodal_solve_and_is_zero_for_the_ideal_model() -> None:
    spec = CrossbarSpec(rows=8, cols=8, device="linear", r_wire_row=5.0, r_wire_col=5.0)
    torch.manual_seed(2)
    g = spec.g_off + torch.rand(1, 8, 8, dtype=torch.float64) * (spec.g_on - spec.g_off)
    v = torch.rand(4, 1, 8, dtype=torch.float64) * spec.v_read_max
    meter = NFMeter(spec, min_fraction=0.0)
    meter.update("t", v, g, make_model("circuit", spec).mvm(make_model("circuit", spec).prepare(g), v))
    nodal = np.stack([solve_crossbar(v[n, 0].numpy(), g[0].numpy(), r_source=spec.r_source,
                                     r_sink=spec.r_sink, r_wire_row=spec.r_wire_row,
                                     r_wire_col=spec.r_wire_col) for n in range(4)])
    ideal = np.einsum("nr,rc->nc", v[:, 0].numpy(), g[0].numpy())
    assert meter.overall() == pytest.approx(float(((ideal - nodal) / ideal).mean()), rel=1e-9)
    assert meter.overall() > 0
    zero = NFMeter(spec)
    zero.update("t", v, g, make_model("ideal", spec)(v, g))
    assert abs(zero.overall()) < 1e-12


def test_mdm_lowers_nf_of_the_exact_model_on_uneven_tiles() -> None:
    """Tiles whose heavy rows and columns sit far from the rails: MDM moves them close,
    and the exact model's NF drops."""
    spec = CrossbarSpec(rows=16, cols=16, device="linear", g_on=4e-5, g_off=4e-5 / 6,
                        v_read_max=0.5)
    torch.manual_seed(3)
    q = torch.zeros(16, 16, dtype=torch.int64)
    q[8:, :6] = torch.randint(20, 32, (8, 6))        # heavy outputs far from the driver,
    q[:, 10:] = torch.randint(0, 4, (16, 6))         # heavy inputs far from the sense end
    x = torch.randint(0, 64, (20, 16))
    nf = {}
    for mapping in ("identity", "mdm"):
        cfg = SimConfig(spec=spec, weight_bits=6, input_bits=6, bits_per_slice=5, bits_per_stream=6,
                        adc_bits=12, mapping=mapping)
        layer = CrossbarMatmul(q, cfg, make_model("circuit", spec), "fc")
        layer.nf_meter = NFMeter(spec)
        layer(x, torch.float64)
        nf[mapping] = layer.nf_meter.overall()
    assert 0 < nf["mdm"] < nf["identity"]


def test_activity_mdm_sends_undriven_rows_where_the_wires_hurt_most() -> None:
    """Calibrated on the first inputs: a row that is never driven goes to physical row 0
    (farthest from the sense end) however heavy its weights, unlike weight-only MDM."""
    spec = CrossbarSpec(rows=4, cols=4)
    q = torch.tensor([[3, 1, 1, 1]] * 4)          # input 0 has the heaviest weights
    x = torch.tensor([[0, 3, 2, 1]] * 5)           # but is never driven
    layers = {}
    for mapping in ("mdm", "mdm_activity"):
        cfg = SimConfig(spec=spec, weight_bits=3, input_bits=2, bits_per_slice=2, bits_per_stream=2,
                        adc_bits=lossless_adc_bits(spec, 2, 2), mapping=mapping)
        layers[mapping] = CrossbarMatmul(q, cfg, make_model("ideal", spec), "fc")
    with pytest.raises(RuntimeError, match="calibrated on the first inputs"):
        layers["mdm_activity"].conductances("cpu", torch.float64)
    for layer in layers.values():
        assert torch.equal(layer(x), x @ q.T)
    w_plus = 0                                     # tile 0: the W+ crossbar of slice 0
    assert layers["mdm"].layout.rows[w_plus, -1].item() == 0           # heaviest: by the sink
    assert layers["mdm_activity"].layout.rows[w_plus, 0].item() == 0   # undriven: farthest
    assert layers["mdm_activity"].layout.rows[w_plus, -1].item() == 1  # most current: by the sink
