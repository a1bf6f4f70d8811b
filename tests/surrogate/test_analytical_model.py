"""The analytical model equals the linear resistive network: ngspice and an independent
MNA solve (zero resistances as 0 V sources) are the golden references."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import datagen
from spice_netlists import CrossbarSpec
from surrogate.analytical import (AnalyticalModel, effective_conductance_blocks,
                                  effective_conductance_sparse)

REL_TOL = 1e-9


def mna_currents(spec: CrossbarSpec, v: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Column currents of one sample by dense modified nodal analysis.

    Every node is kept; inputs and the 0 V sense nodes are voltage sources, and every
    zero resistance is a 0 V source too (no node merging), so this shares no code or
    method with the model under test. The column current is the sense source's current.
    """
    r, c = spec.rows, spec.cols
    nodes: dict[tuple, int] = {}

    def node(*key: object) -> int:
        return nodes.setdefault(key, len(nodes))

    resistors, sources = [], []          # (a, b, conductance), (a, b, volts)

    def branch(a: int, b: int, res: float) -> None:
        if res == 0:
            sources.append((a, b, 0.0))
        else:
            resistors.append((a, b, 1.0 / res))

    for i in range(r):
        sources.append((node("in", i), None, v[i]))
        branch(node("in", i), node("row", i, 0), spec.r_source)
        for j in range(c - 1):
            branch(node("row", i, j), node("row", i, j + 1), spec.r_wire_row)
    sense_rows = []
    for j in range(c):
        for i in range(r - 1):
            branch(node("col", i, j), node("col", i + 1, j), spec.r_wire_col)
        branch(node("col", r - 1, j), node("s", j), spec.r_sink)
        sense_rows.append(len(sources))
        sources.append((node("s", j), None, 0.0))
    for i in range(r):
        for j in range(c):
            resistors.append((node("row", i, j), node("col", i, j), g[i, j]))
    n, m = len(nodes), len(sources)
    a = np.zeros((n + m, n + m))
    rhs = np.zeros(n + m)
    for p, q, cond in resistors:
        a[p, p] += cond; a[q, q] += cond; a[p, q] -= cond; a[q, p] -= cond
    for k, (p, q, volts) in enumerate(sources):
        a[p, n + k] += 1; a[n + k, p] += 1
        if q is not None:
            a[q, n + k] -= 1; a[n + k, q] -= 1
        rhs[n + k] = volts
    x = np.linalg.solve(a, rhs)
    # MNA source current flows from + through the source to −: into the sense node
    # from the circuit means out of the node through the source to ground.
    return np.array([x[n + k] for k in sense_rows])


def samples(spec: CrossbarSpec, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    g = rng.uniform(spec.g_off, spec.g_on, (m, spec.rows, spec.cols))
    v = rng.uniform(0.0, spec.v_read_max, (m, spec.rows))
    return v, g


def analytical_currents(spec: CrossbarSpec, v: np.ndarray, g: np.ndarray) -> np.ndarray:
    model = AnalyticalModel(spec)
    return model(torch.from_numpy(v), torch.from_numpy(g)).numpy()


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


SPICE_CASES = {
    "16x16": dict(rows=16, cols=16),
    "32x32": dict(rows=32, cols=32),
    "8x24_unequal_wires": dict(rows=8, cols=24, r_wire_row=1.5, r_wire_col=3.5,
                               r_source=70.0, r_sink=130.0),
    "all_zero_parasitics": dict(rows=8, cols=8, r_source=0.0, r_sink=0.0,
                                r_wire_row=0.0, r_wire_col=0.0),
    "zero_source_and_sink": dict(rows=8, cols=6, r_source=0.0, r_sink=0.0),
    "zero_column_wires": dict(rows=6, cols=8, r_wire_col=0.0),
}


@pytest.mark.parametrize("case", list(SPICE_CASES))
def test_analytical_equals_ngspice_on_linear_devices(case: str) -> None:
    spec = CrossbarSpec(device="linear", **SPICE_CASES[case])
    v, g = samples(spec, 4, seed=len(case))
    spice = datagen.simulate(spec, v, g, workers=1)    # the datagen default solver (KLU)
    assert np.all(np.isfinite(spice))
    assert rel_err(analytical_currents(spec, v, g), spice) <= REL_TOL


MNA_CASES = [
    dict(rows=5, cols=4, r_source=40.0, r_sink=60.0, r_wire_row=3.0, r_wire_col=1.0),
    dict(rows=1, cols=5), dict(rows=5, cols=1), dict(rows=1, cols=1),
    dict(rows=4, cols=5, r_wire_row=0.0),
    dict(rows=4, cols=5, r_source=0.0, r_wire_row=0.0),
    dict(rows=4, cols=5, r_sink=0.0, r_wire_col=0.0),
    dict(rows=4, cols=5, r_source=0.0, r_sink=0.0, r_wire_row=0.0),
    dict(rows=3, cols=3, r_source=0.0, r_sink=0.0, r_wire_row=0.0, r_wire_col=0.0),
]


@pytest.mark.parametrize("kw", MNA_CASES, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_analytical_equals_independent_nodal_solve(kw: dict) -> None:
    spec = CrossbarSpec(**kw)
    v, g = samples(spec, 3, seed=1)
    want = np.stack([mna_currents(spec, v[k], g[k]) for k in range(len(v))])
    assert rel_err(analytical_currents(spec, v, g), want) <= REL_TOL


def test_block_and_sparse_solvers_agree() -> None:
    spec = CrossbarSpec(rows=12, cols=9, r_source=30.0, r_sink=200.0, r_wire_row=5.0,
                        r_wire_col=0.5)
    _, g = samples(spec, 5, seed=3)
    blocks = effective_conductance_blocks(spec, torch.from_numpy(g)).numpy()
    sparse = effective_conductance_sparse(spec, g)
    assert rel_err(blocks, sparse) <= 1e-11


def test_all_zero_parasitics_is_the_ideal_crossbar() -> None:
    spec = CrossbarSpec(rows=4, cols=3, r_source=0.0, r_sink=0.0, r_wire_row=0.0, r_wire_col=0.0)
    v, g = samples(spec, 2, seed=0)
    np.testing.assert_allclose(analytical_currents(spec, v, g), np.einsum("mr,mrc->mc", v, g),
                               rtol=1e-13)


def test_prepare_once_then_broadcast_mvm_keeps_dtype_and_shape() -> None:
    spec = CrossbarSpec(rows=6, cols=5)
    model = AnalyticalModel(spec)
    v, g = samples(spec, 3, seed=2)
    g32 = torch.from_numpy(g).float()
    prepared = model.prepare(g32)                       # (3, 6, 5)
    assert prepared.dtype == torch.float32 and prepared.shape == (3, 6, 5)
    vb = torch.from_numpy(np.stack([v, 0.5 * v])).float()   # (2, 3, 6): 2 inputs per tile
    out = model.mvm(prepared, vb)
    assert out.shape == (2, 3, 5) and out.dtype == torch.float32
    per_sample = analytical_currents(spec, v, g)
    np.testing.assert_allclose(out[0].numpy(), per_sample, rtol=1e-5)
    np.testing.assert_allclose(out[1].numpy(), 0.5 * per_sample, rtol=1e-5)


def test_batched_leading_dims_of_g() -> None:
    spec = CrossbarSpec(rows=4, cols=4)
    _, g = samples(spec, 6, seed=4)
    model = AnalyticalModel(spec)
    flat = model.prepare(torch.from_numpy(g))
    nested = model.prepare(torch.from_numpy(g).reshape(2, 3, 4, 4))
    # batched solves of another batch shape may take other kernels (vector widths differ
    # by CPU): equal to rounding, far below the 1e-9 the model is validated to
    np.testing.assert_allclose(nested.reshape(6, 4, 4).numpy(), flat.numpy(), rtol=1e-12, atol=0)
