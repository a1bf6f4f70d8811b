"""An independent nodal solve of a crossbar, for golden values in tests.

Written from the physics in DESIGN.md alone (it shares no code with the package):
nodes are merged across zero resistances with a union-find, KCL is assembled as a
sparse system and solved with scipy; the sinh device is solved by Newton's method.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla


def _edges(rows, cols, r_source, r_sink, r_wire_row, r_wire_col):
    """Resistive edges (node, node, resistance) and device edges (row node, col node, i, j)."""
    res, dev = [], []
    for i in range(rows):
        res.append((("in", i), ("r", i, 0), r_source))
        for j in range(cols - 1):
            res.append((("r", i, j), ("r", i, j + 1), r_wire_row))
    for j in range(cols):
        for i in range(rows - 1):
            res.append((("c", i, j), ("c", i + 1, j), r_wire_col))
        res.append((("c", rows - 1, j), ("s", j), r_sink))
    for i in range(rows):
        for j in range(cols):
            dev.append((("r", i, j), ("c", i, j), i, j))
    return res, dev


def solve_crossbar(v, g, *, r_source, r_sink, r_wire_row, r_wire_col, sinh_a=None,
                   tol=1e-15, max_iter=100, cell_sources=None, return_cell_voltages=False):
    """Column currents (A) of one crossbar sample.

    v: (rows,) V; g: (rows, cols) S; sinh_a None for linear devices, else the sinh
    nonlinearity a (I = g·sinh(a·V)/a). cell_sources: (rows, cols) A, current sources in
    parallel with the cells, from row node to column node. With
    return_cell_voltages: (currents, (rows, cols) voltage across each cell).
    """
    s_cell = np.zeros(g.shape) if cell_sources is None else np.asarray(cell_sources, float)
    rows, cols = g.shape
    res, dev = _edges(rows, cols, r_source, r_sink, r_wire_row, r_wire_col)
    parent: dict = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b, r in res:
        find(a), find(b)
        if r == 0:
            parent[find(a)] = find(b)
    for a, b, _, _ in dev:
        find(a), find(b)
    fixed = {}
    for i in range(rows):
        fixed[find(("in", i))] = v[i]
    for j in range(cols):
        fixed[find(("s", j))] = 0.0
    groups = sorted({find(x) for x in parent}, key=repr)
    free = [x for x in groups if x not in fixed]
    index = {x: k for k, x in enumerate(free)}
    n = len(free)
    cond_edges = [(find(a), find(b), 1.0 / r) for a, b, r in res if r > 0]
    dev_edges = [(find(a), find(b), g[i, j]) for a, b, i, j in dev]

    def volt(x, vec):
        return fixed[x] if x in fixed else vec[index[x]]

    def residual_and_jacobian(x):
        f = np.zeros(n)
        rr, cc, vv = [], [], []

        def stamp(a, b, current, dcurrent):
            # current flows a -> b; dcurrent = d current / d (Va - Vb)
            if a in index:
                f[index[a]] -= current
                rr.append(index[a]); cc.append(index[a]); vv.append(-dcurrent)
                if b in index:
                    rr.append(index[a]); cc.append(index[b]); vv.append(dcurrent)
            if b in index:
                f[index[b]] += current
                rr.append(index[b]); cc.append(index[b]); vv.append(-dcurrent)
                if a in index:
                    rr.append(index[b]); cc.append(index[a]); vv.append(dcurrent)

        for a, b, c in cond_edges:
            d = volt(a, x) - volt(b, x)
            stamp(a, b, c * d, c)
        for (a, b, c), (_, _, i, j) in zip(dev_edges, dev):
            d = volt(a, x) - volt(b, x)
            if sinh_a is None:
                stamp(a, b, c * d + s_cell[i, j], c)
            else:
                stamp(a, b, c * np.sinh(sinh_a * d) / sinh_a + s_cell[i, j],
                      c * np.cosh(sinh_a * d))
        return f, sp.csc_matrix((vv, (rr, cc)), shape=(n, n))

    x = np.zeros(n)
    for _ in range(max_iter if sinh_a is not None else 1):  # linear: one solve is exact
        f, jac = residual_and_jacobian(x)
        dx = spla.spsolve(jac, -f) if n else np.zeros(0)
        x = x + dx
        if sinh_a is None or np.max(np.abs(dx), initial=0.0) < tol:
            break
    # current into each sense node from every edge that reaches it from outside
    out = np.zeros(cols)
    sense = {find(("s", j)): j for j in range(cols)}
    for a, b, c in cond_edges + ([] if sinh_a is not None else dev_edges):
        for src, dst in ((a, b), (b, a)):
            if dst in sense and src not in sense:
                out[sense[dst]] += c * (volt(src, x) - volt(dst, x))
    if sinh_a is not None:
        for a, b, c in dev_edges:
            for src, dst, sign in ((a, b, 1.0), (b, a, -1.0)):
                if dst in sense and src not in sense:
                    d = volt(a, x) - volt(b, x)
                    out[sense[dst]] += sign * c * np.sinh(sinh_a * d) / sinh_a
    for (a, b, _), (_, _, i, j) in zip(dev_edges, dev):     # sources that reach a sense node
        for src, dst, sign in ((a, b, 1.0), (b, a, -1.0)):
            if dst in sense and src not in sense:
                out[sense[dst]] += sign * s_cell[i, j]
    if return_cell_voltages:
        cells = np.zeros(g.shape)
        for (a, b, _), (_, _, i, j) in zip(dev_edges, dev):
            cells[i, j] = volt(a, x) - volt(b, x)
        return out, cells
    return out
