"""The circuit-exact model equals ngspice, converges where a plain fixed point diverges,
and is differentiable.

Agreement is measured against the real ngspice (``datagen.simulate``) as the largest
column-current error over the largest column current.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import datagen
from spice_netlists import CrossbarSpec
from surrogate import make_model
from surrogate.circuit import CircuitModel, ir_drop
from surrogate.stages.ir_drop_map import plot_ir_drop
from spice_netlists.circuit.network import WireNetwork, col_transfer_matrix, row_transfer_matrix
from spice_netlists.circuit.solver import CircuitSolveError, SolverSettings, solve_operating_point
from tests.support.nodal_reference import solve_crossbar

#: the issue's bound: the largest column-current error over the largest column current
BOUND = 1e-9

#: the solver's backends, each checked against ngspice
BACKENDS = ("fused", "torch")

PARASITICS = {
    "default": {},
    "zero": dict(r_source=0.0, r_sink=0.0, r_wire_row=0.0, r_wire_col=0.0),
    "zero_wires": dict(r_wire_row=0.0, r_wire_col=0.0),
    "harsh": dict(r_source=1e3, r_sink=1e3, r_wire_row=10.0, r_wire_col=10.0, g_on=1 / 10e3),
}

#: settings where the plain fixed point u = v·1ᵀ − K·I(u) diverges (K·D has eigenvalues > 1)
DIVERGENT = {
    "128x128_rwire10_ron20k": dict(rows=128, cols=128, r_wire_row=10.0, r_wire_col=10.0,
                                   g_on=1 / 20e3),
    "64x64_ron10k_rs_rk_1k": dict(rows=64, cols=64, g_on=1 / 10e3, r_source=1e3, r_sink=1e3),
    "256x256_rwire5_ron10k": dict(rows=256, cols=256, r_wire_row=5.0, r_wire_col=5.0,
                                  g_on=1 / 10e3),
}


def _draw(spec: CrossbarSpec, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    return datagen.draw(spec, n, np.random.default_rng(seed))


def _deviation(spec: CrossbarSpec, v: np.ndarray, g: np.ndarray) -> float:
    """The worst of both solver backends (fused CPU kernels, batched torch) against one
    ngspice run."""
    want = datagen.simulate(spec, v, g)
    assert np.all(np.isfinite(want))
    worst = 0.0
    for backend in BACKENDS:
        model = CircuitModel(spec, SolverSettings(backend=backend))
        got = model(torch.from_numpy(v), torch.from_numpy(g)).numpy()
        worst = max(worst, float(np.max(np.abs(got - want)) / np.max(np.abs(want))))
    return worst


DEVICES = [("linear", 0.25), ("sinh", 0.25), ("sinh", 0.5), ("1t1r", 0.25)]


@pytest.mark.parametrize("size", [16, 32, 64, 128])
@pytest.mark.parametrize("device,volts", DEVICES)
def test_circuit_matches_ngspice_at_every_size(device, volts, size):
    spec = CrossbarSpec(rows=size, cols=size, device=device, v_read_max=volts)
    v, g = _draw(spec, 2 if size >= 128 else 4, seed=size)
    assert _deviation(spec, v, g) <= BOUND


@pytest.mark.parametrize("rows,cols", [(8, 24), (24, 5), (1, 1), (40, 72)])
@pytest.mark.parametrize("device,volts", DEVICES)
def test_circuit_matches_ngspice_on_non_square_crossbars(device, volts, rows, cols):
    spec = CrossbarSpec(rows=rows, cols=cols, device=device, v_read_max=volts,
                        r_source=50.0, r_sink=150.0, r_wire_row=5.0, r_wire_col=0.5)
    v, g = _draw(spec, 3, seed=rows * 100 + cols)
    assert _deviation(spec, v, g) <= BOUND


@pytest.mark.parametrize("name", sorted(PARASITICS))
@pytest.mark.parametrize("device,volts", DEVICES)
def test_circuit_matches_ngspice_for_each_parasitic_set(device, volts, name):
    spec = CrossbarSpec(rows=32, cols=24, device=device, v_read_max=volts, **PARASITICS[name])
    v, g = _draw(spec, 3, seed=11)
    assert _deviation(spec, v, g) <= BOUND


@pytest.mark.parametrize("name,device", [(name, device) for name in sorted(DIVERGENT)
                                         for device in ("sinh", "1t1r")
                                         # 1T1R at 256x256 costs ngspice ~30 s; 128 covers it
                                         if (name, device) != ("256x256_rwire5_ron10k", "1t1r")])
def test_circuit_converges_where_the_plain_fixed_point_diverges(name, device):
    spec = CrossbarSpec(device=device, v_read_max=0.5 if device == "sinh" else 0.25,
                        **DIVERGENT[name])
    # the plain fixed point's iteration matrix K·D has spectral radius ≈ k_max·g > 1 here
    assert WireNetwork(spec).k_max * spec.g_on > 1.0
    v, g = _draw(spec, 1, seed=3)
    v[:] = spec.v_read_max                              # dense inputs: the worst drop
    g[:] = np.random.default_rng(4).uniform(0.8 * spec.g_on, spec.g_on, g.shape)
    assert _deviation(spec, v, g) <= BOUND


# ------------------------------------------------------------ independent checks, no SPICE
def test_wire_operators_equal_the_transfer_matrices():
    spec = CrossbarSpec(rows=7, cols=5, r_source=30.0, r_sink=70.0, r_wire_row=3.0,
                        r_wire_col=0.7)
    net = WireNetwork(spec)
    z = torch.randn(3, 7, 5, dtype=torch.float64)
    g_row = row_transfer_matrix(spec, dtype=torch.float64)
    g_col = col_transfer_matrix(spec, dtype=torch.float64)
    torch.testing.assert_close(net.row_drop(z), z @ g_row, rtol=1e-13, atol=1e-12)
    torch.testing.assert_close(net.col_rise(z), g_col @ z, rtol=1e-13, atol=1e-12)
    out, w1, w2 = (torch.empty_like(z) for _ in range(3))
    torch.testing.assert_close(net.apply_k_(z, out, w1, w2), z @ g_row + g_col @ z,
                               rtol=1e-13, atol=1e-12)


def test_transfer_matrix_is_the_inverse_of_a_row_lines_nodal_matrix():
    """G_row is the row line's transfer resistance: the inverse of its conductance matrix
    (the chain of r_wire_row with r_source to the driven input at column 0)."""
    spec = CrossbarSpec(rows=3, cols=6, r_source=40.0, r_wire_row=2.5)
    c = spec.cols
    lap = torch.zeros(c, c, dtype=torch.float64)
    for j in range(c - 1):
        lap[j, j] += 1 / 2.5
        lap[j + 1, j + 1] += 1 / 2.5
        lap[j, j + 1] -= 1 / 2.5
        lap[j + 1, j] -= 1 / 2.5
    lap[0, 0] += 1 / 40.0
    torch.testing.assert_close(torch.linalg.inv(lap), row_transfer_matrix(spec, dtype=torch.float64),
                               rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", ["default", "zero_wires", "harsh"])
def test_linear_circuit_equals_the_analytical_model(name):
    spec = CrossbarSpec(rows=20, cols=12, device="linear", **PARASITICS[name])
    v, g = (torch.from_numpy(a) for a in _draw(spec, 6, seed=5))
    got = make_model("circuit", spec)(v, g)
    want = make_model("analytical", spec)(v, g)
    assert float((got - want).abs().max() / want.abs().max()) <= 1e-11


def test_sinh_circuit_equals_an_independent_newton_nodal_solve():
    spec = CrossbarSpec(rows=10, cols=7, device="sinh", v_read_max=0.5, r_source=60.0,
                        r_sink=120.0, r_wire_row=4.0, r_wire_col=1.0)
    v, g = _draw(spec, 3, seed=9)
    want = np.stack([solve_crossbar(v[k], g[k], r_source=60.0, r_sink=120.0, r_wire_row=4.0,
                                    r_wire_col=1.0, sinh_a=spec.sinh_a) for k in range(3)])
    got = make_model("circuit", spec)(torch.from_numpy(v), torch.from_numpy(g)).numpy()
    assert np.max(np.abs(got - want)) / np.max(np.abs(want)) <= 1e-12


def test_zero_parasitics_give_the_device_law_exactly():
    spec = CrossbarSpec(rows=6, cols=4, device="sinh", v_read_max=0.5, **PARASITICS["zero"])
    v, g = (torch.from_numpy(a) for a in _draw(spec, 3, seed=1))
    got = make_model("circuit", spec)(v, g)
    want = torch.einsum("br,brc->bc", spec.device_drive(v), g)
    torch.testing.assert_close(got, want, rtol=1e-14, atol=0)


def test_full_solution_obeys_kirchhoff_and_ohm():
    spec = CrossbarSpec(rows=9, cols=6, device="sinh", v_read_max=0.5)
    v, g = (torch.from_numpy(a) for a in _draw(spec, 2, seed=2))
    op = CircuitModel(spec).solve(v, g)
    # both relations below are components of the network equations, so they hold to the
    # solve's reported residual (V), plus rounding
    slack = op.residual[:, None] + 1e-16
    # the first row node sits one r_source below its input, carrying the whole row current
    assert bool(((op.x[..., 0] - (v - spec.r_source * op.i_row.sum(-1))).abs() <= slack).all())
    # the last column node sits one r_sink above the sense node
    assert bool(((op.y[..., -1, :] - spec.r_sink * op.currents).abs() <= slack).all())
    # each cell passes its device law at the solved voltages
    torch.testing.assert_close(op.i_row, g * spec.device_drive(op.device_voltage),
                               rtol=1e-14, atol=0)
    assert bool(op.converged.all()) and float(op.residual.max()) <= 1e-12
    drop = ir_drop(op, v)
    assert drop.shape == (2, 9, 6) and float(drop.min()) > 0


def test_tiles_and_inputs_broadcast_like_every_crossbar_model():
    spec = CrossbarSpec(rows=8, cols=5, device="1t1r")
    v, g = _draw(spec, 12, seed=8)
    v = torch.from_numpy(v).reshape(4, 3, 8)          # (inputs, tiles, rows)
    g = torch.from_numpy(g[:3])                       # (tiles, rows, cols)
    model = CircuitModel(spec)
    out = model.mvm(model.prepare(g), v)
    assert out.shape == (4, 3, 5)
    for n in range(4):
        for t in range(3):
            torch.testing.assert_close(out[n, t], model(v[n, t], g[t]), rtol=1e-13, atol=0)
    assert model.last_solve.samples == 1 and model.last_solve.max_residual <= 1e-12


def test_samples_that_converge_at_once_keep_their_state_and_true_residual():
    """A zero input converges before any step while the rest of its chunk iterates: its
    reported residual must be the network's true one at the returned state."""
    spec = CrossbarSpec(rows=12, cols=10, device="linear")
    v, g = (torch.from_numpy(a) for a in _draw(spec, 4, seed=12))
    v[1] = 0.0
    op = CircuitModel(spec).solve(v, g)
    net = WireNetwork(spec)
    true_x = (op.x - v.unsqueeze(-1) + net.row_drop(op.i_row)).abs().amax(dim=(-2, -1))
    true_y = (op.y - net.col_rise(op.j_col)).abs().amax(dim=(-2, -1))
    torch.testing.assert_close(op.residual, torch.maximum(true_x, true_y), rtol=0, atol=1e-16)
    assert float(op.currents[1].abs().max()) == 0.0
    want = make_model("analytical", spec)(v, g)
    assert float((op.currents - want).abs().max() / want.abs().max()) <= 1e-11


def test_torch_chunking_does_not_change_the_answer():
    spec = CrossbarSpec(rows=16, cols=16, device="sinh", v_read_max=0.5)
    v, g = (torch.from_numpy(a) for a in _draw(spec, 10, seed=6))
    whole = solve_operating_point(spec, v, g, SolverSettings(chunk_elements=10 * 256,
                                                             backend="torch")).currents
    parts = solve_operating_point(spec, v, g, SolverSettings(chunk_elements=3 * 256,
                                                             backend="torch")).currents
    torch.testing.assert_close(whole, parts, rtol=1e-12, atol=0)


@pytest.mark.parametrize("field,value", [("tol", 0.0), ("tol", float("nan")), ("cg_rtol", 2.0),
                                         ("max_newton", 0), ("max_cg", 1.5),
                                         ("chunk_elements", -1)])
def test_bad_solver_settings_are_refused_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        SolverSettings(**{field: value})


@pytest.mark.parametrize("device", ["linear", "sinh", "1t1r"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_gradients_match_finite_differences(device, backend):
    spec = CrossbarSpec(rows=4, cols=3, device=device, v_read_max=0.5, r_wire_row=20.0,
                        r_wire_col=15.0, r_source=300.0, r_sink=200.0)
    v, g = (torch.from_numpy(a) for a in _draw(spec, 2, seed=4))
    v = (v + 0.05).requires_grad_()                   # away from v = 0 (1T1R mode switch)
    g_unit = (g / 1e-5).requires_grad_()               # O(1) inputs for finite differences
    scale = 1.0 / spec.full_scale_current
    tight = SolverSettings(tol=1e-15, backend=backend)   # the forward solve's backend

    def currents(v_: torch.Tensor, g_: torch.Tensor) -> torch.Tensor:
        return solve_operating_point(spec, v_, g_ * 1e-5, tight).currents * scale

    assert torch.autograd.gradcheck(currents, (v, g_unit), eps=1e-6, atol=1e-7, rtol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_solve_equals_cpu():
    spec = CrossbarSpec(rows=64, cols=64, device="sinh", v_read_max=0.5)
    v, g = (torch.from_numpy(a) for a in _draw(spec, 8, seed=0))
    cpu = make_model("circuit", spec)(v, g)
    gpu = make_model("circuit", spec)(v.cuda(), g.cuda()).cpu()
    torch.testing.assert_close(gpu, cpu, rtol=1e-12, atol=0)


def test_ir_drop_map_is_drawn(tmp_path):
    spec = CrossbarSpec(rows=16, cols=12, device="sinh", v_read_max=0.5)
    v, g = _draw(spec, 1, seed=0)
    out = plot_ir_drop(spec, torch.from_numpy(v[0]), torch.from_numpy(g[0]), tmp_path / "ir.png")
    assert out.exists() and out.stat().st_size > 10_000
