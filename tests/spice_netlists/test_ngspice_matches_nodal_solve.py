"""ngspice's column currents equal an independent nodal solve (tests/support/nodal_reference.py).

Linear devices: ≤ 1e-9 relative; sinh devices: ≤ 1e-6 relative (Newton solve).
These run the real ngspice.
"""

from __future__ import annotations

import numpy as np
import pytest

import datagen
from spice_netlists import CrossbarSpec
from tests.support.nodal_reference import solve_crossbar

PARASITICS = {
    "default": dict(r_source=100.0, r_sink=100.0, r_wire_row=2.0, r_wire_col=2.0),
    "unequal_wires": dict(r_source=50.0, r_sink=150.0, r_wire_row=5.0, r_wire_col=0.5),
    "zero_parasitics": dict(r_source=0.0, r_sink=0.0, r_wire_row=0.0, r_wire_col=0.0),
    "zero_source_sink": dict(r_source=0.0, r_sink=0.0, r_wire_row=3.0, r_wire_col=1.0),
    "zero_wires": dict(r_source=200.0, r_sink=50.0, r_wire_row=0.0, r_wire_col=0.0),
}


def _samples(spec: CrossbarSpec, n: int, seed: int):
    return datagen.draw(spec, n, np.random.default_rng(seed))


def _reference(spec: CrossbarSpec, v, g, nonlinear: bool):
    return np.stack([solve_crossbar(v[k], g[k], r_source=spec.r_source, r_sink=spec.r_sink,
                                    r_wire_row=spec.r_wire_row, r_wire_col=spec.r_wire_col,
                                    sinh_a=spec.sinh_a if nonlinear else None)
                     for k in range(len(v))])


def _rel_err(got, want):
    return np.max(np.abs(got - want)) / np.max(np.abs(want))


@pytest.mark.parametrize("rows,cols", [(16, 16), (32, 32), (64, 64), (8, 24), (24, 5), (1, 1)])
def test_linear_crossbar_matches_nodal_solve_across_sizes(rows, cols):
    spec = CrossbarSpec(rows=rows, cols=cols, device="linear", **PARASITICS["unequal_wires"])
    v, g = _samples(spec, 3, seed=rows * 100 + cols)
    got = datagen.simulate(spec, v, g)
    assert _rel_err(got, _reference(spec, v, g, nonlinear=False)) <= 1e-9


@pytest.mark.parametrize("name", sorted(PARASITICS))
def test_linear_crossbar_matches_nodal_solve_for_each_parasitic_set(name):
    spec = CrossbarSpec(rows=12, cols=9, device="linear", **PARASITICS[name])
    v, g = _samples(spec, 4, seed=7)
    got = datagen.simulate(spec, v, g)
    assert _rel_err(got, _reference(spec, v, g, nonlinear=False)) <= 1e-9


@pytest.mark.parametrize("rows,cols,v_max", [(16, 16, 0.5), (32, 32, 0.25), (10, 20, 0.5)])
def test_sinh_crossbar_matches_newton_nodal_solve(rows, cols, v_max):
    spec = CrossbarSpec(rows=rows, cols=cols, device="sinh", v_read_max=v_max)
    v, g = _samples(spec, 3, seed=rows + cols)
    got = datagen.simulate(spec, v, g)
    assert _rel_err(got, _reference(spec, v, g, nonlinear=True)) <= 1e-6


@pytest.mark.parametrize("name", ["zero_parasitics", "zero_source_sink", "zero_wires"])
def test_sinh_crossbar_with_ideal_wires_matches_newton_nodal_solve(name):
    spec = CrossbarSpec(rows=8, cols=8, device="sinh", v_read_max=0.5, **PARASITICS[name])
    v, g = _samples(spec, 3, seed=3)
    got = datagen.simulate(spec, v, g)
    assert _rel_err(got, _reference(spec, v, g, nonlinear=True)) <= 1e-6


def test_sinh_nonideality_exceeds_linear_at_high_voltage():
    """At 0.5 V the sinh device conducts more than G·V: currents exceed the linear ones."""
    lin = CrossbarSpec(rows=16, cols=16, device="linear", v_read_max=0.5)
    v = np.full((1, 16), 0.5)
    g = np.full((1, 16, 16), lin.g_on)
    i_lin = datagen.simulate(lin, v, g)
    i_sinh = datagen.simulate(lin.with_(device="sinh"), v, g)
    assert np.all(i_sinh > i_lin)


def test_1t1r_crossbar_converges_at_64x64_and_conducts_less_than_the_bare_memristor():
    spec = CrossbarSpec(rows=64, cols=64, device="1t1r", v_read_max=0.5)
    v, g = _samples(spec, 4, seed=11)
    res = datagen.simulate_detailed(spec, v, g)
    assert res.ok.all(), res.reason
    bare = datagen.simulate(spec.with_(device="linear"), v, g)
    assert np.all(res.i > 0) and np.all(res.i < bare)
