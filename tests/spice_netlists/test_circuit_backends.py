"""The circuit solver's two backends, fused CPU kernels and batched torch, agree with each
other on every device law, parasitic set, shape and batch layout; the fused one is
independent of its thread count, survives a fork, and skips what has no drive.

(Both against ngspice: tests/surrogate/test_circuit_model.py.) Both backends solve the
network to a residual of ``tol`` = 1e-12 V, so their column currents may differ by about
``tol`` times the largest cell conductance times the rows (~1e-15 A here) plus float32
CG noise that the residual absorbs: 1e-10 of the largest current is well above what two
converged answers can differ by, and far below any modelling effect.
"""

from __future__ import annotations

import multiprocessing
import os

import numpy as np
import pytest
import torch

import datagen
from spice_netlists import CrossbarSpec
from spice_netlists.circuit import fused
from spice_netlists.circuit.solver import CircuitSolveError, SolverSettings, solve_operating_point

#: two converged answers differ by far less than this fraction of the largest current
AGREE = 1e-10

FUSED, TORCH = SolverSettings(backend="fused"), SolverSettings(backend="torch")

SPECS = {
    "default": dict(rows=32, cols=32),
    "harsh": dict(rows=24, cols=24, r_source=1e3, r_sink=1e3, r_wire_row=10.0, r_wire_col=10.0,
                  g_on=1 / 10e3),
    "zero_wires": dict(rows=16, cols=20, r_wire_row=0.0, r_wire_col=0.0),
    "zero": dict(rows=8, cols=8, r_source=0.0, r_sink=0.0, r_wire_row=0.0, r_wire_col=0.0),
    "non_square": dict(rows=7, cols=45, r_source=50.0, r_sink=150.0, r_wire_row=5.0,
                       r_wire_col=0.5),
    "one_cell": dict(rows=1, cols=1),
}


def _draw(spec: CrossbarSpec, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    v, g = datagen.draw(spec, n, np.random.default_rng(seed))
    return torch.from_numpy(v), torch.from_numpy(g)


def _gap(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp(min=1e-300))


@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("device,volts", [("linear", 0.5), ("sinh", 0.5), ("1t1r", 0.25)])
def test_fused_and_torch_backends_agree(device, volts, name):
    spec = CrossbarSpec(device=device, v_read_max=volts, **SPECS[name])
    v, g = _draw(spec, 6, seed=len(name))
    a = solve_operating_point(spec, v, g, FUSED)
    b = solve_operating_point(spec, v, g, TORCH)
    assert _gap(a.currents, b.currents) <= AGREE
    # the node voltages too, against the largest input
    assert float((a.x - b.x).abs().max()) <= AGREE * spec.v_read_max
    assert float((a.y - b.y).abs().max()) <= AGREE * spec.v_read_max
    assert bool(a.converged.all()) and float(a.residual.max()) <= FUSED.tol


def test_backends_agree_with_per_device_sinh_a():
    spec = CrossbarSpec(rows=16, cols=12, device="sinh", v_read_max=0.5, r_wire_row=5.0)
    v, g = _draw(spec, 4, seed=3)
    a_dev = spec.sinh_a * torch.from_numpy(np.random.default_rng(5).uniform(0.6, 1.4, g.shape))
    got = solve_operating_point(spec, v, g, FUSED, sinh_a=a_dev).currents
    want = solve_operating_point(spec, v, g, TORCH, sinh_a=a_dev).currents
    assert _gap(got, want) <= AGREE
    # and the spread matters: not the answer with the spec's own a
    plain = solve_operating_point(spec, v, g, FUSED).currents
    assert _gap(plain, want) > 1e-4


def test_fused_backend_broadcasts_tiles_against_inputs_without_copies():
    spec = CrossbarSpec(rows=10, cols=6, device="sinh", v_read_max=0.5)
    v, g = _draw(spec, 12, seed=8)
    v = v.reshape(4, 3, 10)                  # (inputs, tiles, rows)
    g = g[:3]                                # (tiles, rows, cols): shared by every input
    got = solve_operating_point(spec, v, g, FUSED).currents
    assert got.shape == (4, 3, 6)
    for n in range(4):
        for t in range(3):
            one = solve_operating_point(spec, v[n, t], g[t], TORCH).currents
            assert _gap(got[n, t], one) <= AGREE


def test_fused_answer_does_not_depend_on_the_thread_count():
    """Each sample is solved by the same compiled code whichever thread takes it, so the
    answers are the same numbers (not merely close) on 1 or 2 threads."""
    spec = CrossbarSpec(rows=32, cols=32, device="sinh", v_read_max=0.5)
    v, g = _draw(spec, 200, seed=1)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = solve_operating_point(spec, v, g, FUSED).currents
        torch.set_num_threads(2)
        two = solve_operating_point(spec, v, g, FUSED).currents
    finally:
        torch.set_num_threads(before)
    assert torch.equal(one, two)


@pytest.mark.parametrize("n,threads", [(1, 2), (5, 2), (200, 2), (1000, 3), (7, 1)])
def test_chunks_cover_every_sample_once_and_share_the_work(n, threads):
    bounds = fused.chunk_bounds(n, threads, 32 * 32)
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    assert all(lo < hi for lo, hi in bounds)
    if threads > 1 and n >= 64 * threads * 4:
        assert len(bounds) > threads          # more chunks than threads: a slow core takes fewer


@pytest.mark.parametrize("backend", ["fused", "torch"])
def test_samples_with_no_drive_are_not_solved_and_carry_no_current(backend):
    spec = CrossbarSpec(rows=12, cols=9, device="1t1r", v_read_max=0.25)
    v, g = _draw(spec, 5, seed=2)
    v[1] = 0.0
    v[3] = 0.0
    op = solve_operating_point(spec, v, g, SolverSettings(backend=backend))
    assert op.solved == 3
    assert float(op.currents[[1, 3]].abs().max()) == 0.0
    assert float(op.x[[1, 3]].abs().max()) == 0.0 and float(op.residual[[1, 3]].max()) == 0.0
    full = solve_operating_point(spec, v[[0, 2, 4]], g[[0, 2, 4]], TORCH).currents
    assert _gap(op.currents[[0, 2, 4]], full) <= AGREE


@pytest.mark.parametrize("backend", ["fused", "torch"])
def test_a_sample_that_does_not_converge_is_named_on_either_backend(backend):
    spec = CrossbarSpec(rows=16, cols=16, device="sinh", v_read_max=0.5)
    v, g = _draw(spec, 3, seed=6)
    settings = SolverSettings(max_newton=1, backend=backend)
    with pytest.raises(CircuitSolveError, match=r"3 of 3 samples did not converge.*#0: .* V"):
        solve_operating_point(spec, v, g, settings)
    op = solve_operating_point(spec, v, g, SolverSettings(max_newton=1, backend=backend,
                                                          raise_on_failure=False))
    assert not bool(op.converged.any()) and bool((op.residual > 1e-12).all())


def test_float64_cg_gives_the_same_answer():
    spec = CrossbarSpec(rows=24, cols=24, device="sinh", v_read_max=0.5, r_wire_row=5.0)
    v, g = _draw(spec, 4, seed=4)
    f32 = solve_operating_point(spec, v, g, FUSED).currents
    f64 = solve_operating_point(spec, v, g, SolverSettings(backend="fused", cg_float32=False))
    assert _gap(f32, f64.currents) <= AGREE


def test_bad_backend_is_refused_naming_the_field():
    with pytest.raises(ValueError, match="backend must be one of auto, fused, torch, got 'gpu'"):
        SolverSettings(backend="gpu")


def test_fused_backend_refuses_tensors_off_the_cpu():
    spec = CrossbarSpec(rows=4, cols=4)
    v = torch.zeros(1, 4, device="meta", dtype=torch.float64)
    g = torch.zeros(1, 4, 4, device="meta", dtype=torch.float64)
    with pytest.raises(ValueError, match="fused' runs on the CPU only.*meta"):
        solve_operating_point(spec, v, g, FUSED)


def _solve_in_child(queue: "multiprocessing.Queue") -> None:
    spec = CrossbarSpec(rows=16, cols=16, device="sinh", v_read_max=0.5)
    v, g = _draw(spec, 300, seed=0)
    torch.set_num_threads(2)
    queue.put(float(solve_operating_point(spec, v, g, FUSED).currents.abs().sum()))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fused_solver_runs_in_a_forked_child_after_the_parent_used_its_threads():
    """datagen's worker processes may be forked from a parent whose thread pool exists:
    the child must build its own rather than wait on threads it does not have."""
    spec = CrossbarSpec(rows=16, cols=16, device="sinh", v_read_max=0.5)
    v, g = _draw(spec, 300, seed=0)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        want = float(solve_operating_point(spec, v, g, FUSED).currents.abs().sum())
    finally:
        torch.set_num_threads(before)
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_solve_in_child, args=(queue,))
    child.start()
    child.join(timeout=120)
    assert child.exitcode == 0, "the forked child did not finish"
    assert queue.get(timeout=5) == pytest.approx(want, rel=1e-12)


_WITHOUT_NUMBA = """
import sys, warnings
sys.modules["numba"] = None                  # as if numba were not installed
import numpy as np, torch, datagen
from spice_netlists import CrossbarSpec
from spice_netlists.circuit.solver import SolverSettings, solve_operating_point
spec = CrossbarSpec(rows=8, cols=8, device="sinh", v_read_max=0.5)
v, g = (torch.from_numpy(a) for a in datagen.draw(spec, 3, np.random.default_rng(0)))
with warnings.catch_warnings(record=True) as seen:
    warnings.simplefilter("always")
    got = solve_operating_point(spec, v, g).currents
want = solve_operating_point(spec, v, g, SolverSettings(backend="torch")).currents
assert torch.equal(got, want), "auto without numba is not the torch backend"
assert any("pip install numba" in str(w.message) for w in seen), [str(w.message) for w in seen]
try:
    solve_operating_point(spec, v, g, SolverSettings(backend="fused"))
except ValueError as err:
    assert "cannot run here" in str(err) and "numba" in str(err), err
else:
    raise AssertionError("backend fused ran without numba")
print("ok")
"""


def test_without_numba_auto_solves_with_torch_and_says_so():
    """A user without numba still gets exact answers (from the torch backend, the same
    code path as asking for it, hence the same numbers), a warning naming the fix, and a
    clear error where they asked for the fused backend."""
    import subprocess
    import sys

    from tests.support import REPO_ROOT
    proc = subprocess.run([sys.executable, "-c", _WITHOUT_NUMBA], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]
