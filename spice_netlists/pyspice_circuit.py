"""The same crossbar as a PySpice ``Circuit``, one circuit per sample.

PySpice builds circuits as Python objects and runs them through ngspice's shared
library. It is the convenient way to inspect or extend a single circuit, and it is the
baseline the batched netlists (:mod:`spice_netlists.netlist`) are measured against.

Notes on PySpice 1.5 with ngspice 46 (measured here): it prints "Unsupported Ngspice
version 46" and works; it needs ``NGSPICE_LIBRARY_PATH`` pointing at
``libngspice.so.0`` (found with ctypes here when unset); and the shared library keeps
every circuit and result unless they are removed, ~5 MB per 64x64 run, so
:func:`simulate_one_by_one` removes each circuit after reading its currents.
"""

from __future__ import annotations

import ctypes.util
import os
import time

import numpy as np

from spice_netlists.netlist import NodeNames, check_samples
from spice_netlists.spec import CrossbarSpec


def _ensure_library_path() -> None:
    if "NGSPICE_LIBRARY_PATH" not in os.environ:
        name = ctypes.util.find_library("ngspice")
        if name:
            os.environ["NGSPICE_LIBRARY_PATH"] = name


def build_circuit(spec: CrossbarSpec, v: np.ndarray, g: np.ndarray):
    """A PySpice Circuit of one sample: v (rows,) V, g (rows, cols) S."""
    _ensure_library_path()
    from PySpice.Spice.Netlist import Circuit

    n = NodeNames(spec)
    c = Circuit(f"crossbar {spec.rows}x{spec.cols} {spec.device}")
    gnd = c.gnd
    for i in range(spec.rows):
        c.V(f"in{i}", f"in{i}", gnd, float(v[i]))
        if spec.r_source > 0:
            c.R(f"src{i}", f"in{i}", n.row(i, 0), spec.r_source)
        if spec.r_wire_row > 0:
            for j in range(spec.cols - 1):
                c.R(f"wr{i}_{j}", n.row(i, j), n.row(i, j + 1), spec.r_wire_row)
    for j in range(spec.cols):
        if spec.r_wire_col > 0:
            for i in range(spec.rows - 1):
                c.R(f"wc{i}_{j}", n.col(i, j), n.col(i + 1, j), spec.r_wire_col)
        if spec.r_sink > 0:
            c.R(f"snk{j}", n.col(spec.rows - 1, j), f"s{j}", spec.r_sink)
        c.V(f"s{j}", f"s{j}", gnd, 0.0)
    if spec.device == "1t1r":
        t = spec.transistor
        c.V("gate", "gate", gnd, t.v_gate)
        c.model("nacc", "nmos", level=1, vto=t.vto, kp=t.kp, **{"lambda": t.lambda_})
    a = repr(spec.sinh_a)
    for i in range(spec.rows):
        for j in range(spec.cols):
            row, col, gij = n.row(i, j), n.col(i, j), float(g[i, j])
            if spec.device == "linear":
                c.R(f"c{i}_{j}", row, col, 1.0 / gij if gij > 0 else 1e30)
            elif spec.device == "sinh":
                c.B(f"c{i}_{j}", row, col,
                    current_expression=f"{gij / spec.sinh_a!r}*sinh({a}*V({row},{col}))")
            else:
                mid = f"m{i}_{j}"
                c.R(f"c{i}_{j}", row, mid, 1.0 / gij if gij > 0 else 1e30)
                c.M(f"c{i}_{j}", mid, "gate", col, gnd, model="nacc",
                    w=spec.transistor.w, l=spec.transistor.l)
    return c


def simulate_one_by_one(spec: CrossbarSpec, v: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, float]:
    """Column currents (M, cols) A, one PySpice circuit and operating point per sample,
    and the seconds it took."""
    v, g = check_samples(spec, v, g)
    out = np.empty((len(v), spec.cols))
    start = time.perf_counter()
    for k in range(len(v)):
        circuit = build_circuit(spec, v[k], g[k])
        sim = circuit.simulator(simulator="ngspice-shared")
        analysis = sim.operating_point()
        branches = {name.lower(): np.asarray(val).item() for name, val in analysis.branches.items()}
        out[k] = [branches[f"vs{j}"] for j in range(spec.cols)]
        sim.ngspice.remove_circuit()
        sim.ngspice.destroy()
    return out, time.perf_counter() - start
