"""The cell-voltage model ``analytical_cell``: the linear network's cell voltages, the
device law there, and one correction through the wires; checked against an independent
nodal solve of the same two steps (tests/support/nodal_reference.py, scipy's sparse LU),
and its two ways of computing (per input, per tile) against each other."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spice_netlists import CrossbarSpec
from spice_netlists.circuit.solver import solve_operating_point
from surrogate import make_model
from surrogate.analytical_cell import TRANSFER_AFTER
from tests.support.nodal_reference import solve_crossbar

SEVERE = CrossbarSpec(rows=16, cols=12, device="sinh", g_on=1 / 25e3, g_off=1 / 150e3,
                      v_read_max=0.5, r_wire_row=5.0, r_wire_col=5.0)


def _samples(spec: CrossbarSpec, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    v = torch.rand(n, spec.rows, generator=gen, dtype=torch.float64) * spec.v_read_max
    g = spec.g_off + torch.rand(n, spec.rows, spec.cols, generator=gen,
                                dtype=torch.float64) * (spec.g_on - spec.g_off)
    return v, g


def _nodal(spec: CrossbarSpec, v: np.ndarray, g: np.ndarray) -> np.ndarray:
    """The model's two steps by a direct nodal solve: the linear network's cell
    voltages, then the device law's excess current put back as cell sources."""
    wires = dict(r_source=spec.r_source, r_sink=spec.r_sink, r_wire_row=spec.r_wire_row,
                 r_wire_col=spec.r_wire_col)
    _, u = solve_crossbar(v, g, **wires, return_cell_voltages=True)
    a = spec.sinh_a
    excess = g * np.sinh(a * u) / a - g * u
    return solve_crossbar(v, g, **wires, cell_sources=excess)


def test_the_cell_voltage_model_is_its_two_steps_solved_directly() -> None:
    v, g = _samples(SEVERE, 4)
    got = make_model("analytical_cell", SEVERE)(v, g)
    scale = float(got.abs().max())
    for k in range(len(v)):
        want = _nodal(SEVERE, v[k].numpy(), g[k].numpy())
        # CG to a 1e-13 relative residual against a sparse LU: both near float64 rounding
        np.testing.assert_allclose(got[k].numpy(), want, rtol=0, atol=1e-10 * scale)


def test_with_linear_devices_it_is_the_analytical_model() -> None:
    spec = SEVERE.with_(device="linear")
    v, g = _samples(spec, 6)
    got = make_model("analytical_cell", spec)(v, g)
    want = make_model("analytical", spec)(v, g)
    # two exact solves of one linear network (CG against block elimination)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10 * float(want.abs().max()))


@pytest.mark.parametrize("device", ["sinh", "1t1r"])
def test_per_tile_transfers_give_the_per_input_answer(device: str) -> None:
    """Few inputs per tile are solved directly; many go through the tiles' transfers,
    built once: the two agree to the solves' tolerance."""
    spec = SEVERE.with_(device=device)
    model = make_model("analytical_cell", spec)
    v, g = _samples(spec, 3)
    direct = model.mvm(model.prepare(g), v)                     # one input per tile
    many = int(TRANSFER_AFTER * (spec.rows + spec.cols)) + 1
    prepared = model.prepare(g)
    batch = v[None].expand(many, *v.shape)
    through = model.mvm(prepared, batch)
    assert prepared.cells is not None                           # the transfers were built
    scale = float(direct.abs().max())
    for k in range(many):
        torch.testing.assert_close(through[k], direct, rtol=0, atol=1e-10 * scale)


def test_shapes_and_dtype_follow_the_interface() -> None:
    model = make_model("analytical_cell", SEVERE)
    v, g = _samples(SEVERE, 5)
    one_tile = model.mvm(model.prepare(g[0]), v)                # (5, R) through one tile
    assert one_tile.shape == (5, SEVERE.cols)
    tiles = model.mvm(model.prepare(g), v[None].expand(2, 5, SEVERE.rows))
    assert tiles.shape == (2, 5, SEVERE.cols)
    assert model(v.float(), g.float()).dtype == torch.float32
    torch.testing.assert_close(one_tile[0], model(v[0], g[0]), rtol=1e-10, atol=0.0)


@pytest.mark.parametrize("device", ["sinh", "1t1r"])
def test_it_comes_closer_to_the_exact_network_than_the_applied_voltage_law(device: str) -> None:
    """Under severe IR drop the device law at the applied voltage over-corrects; at the
    cell's own voltage it does not (for 1T1R, analytical_device is analytical)."""
    spec = SEVERE.with_(device=device)
    v, g = _samples(spec, 16, seed=1)
    truth = solve_operating_point(spec, v, g).currents

    def rms(model: str) -> float:
        return float((make_model(model, spec)(v, g) - truth).pow(2).mean().sqrt())

    assert rms("analytical_cell") < 0.25 * min(rms("analytical_device"), rms("analytical"))


def test_the_physics_benchmark_prints_a_row_per_setting(capsys) -> None:
    from surrogate.stages.physics_bench import main

    main(["--sizes", "8", "--devices", "sinh", "1t1r", "--samples", "2"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| 8x8")]
    assert len(rows) == 2 * 2 * 2                  # R_on, read voltage, device
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert all(float(x) >= 0 for x in cells[1:4]) and cells[4] in (
            "analytical", "analytical_device", "analytical_cell")


def test_the_physics_benchmark_trains_geniex_on_both_baselines(capsys) -> None:
    from surrogate.stages.physics_bench import compare

    spec = CrossbarSpec(rows=6, cols=5, device="sinh")
    rmse = compare(spec, samples=8, geniex_samples=48)
    assert set(rmse) == {"analytical", "analytical_device", "analytical_cell",
                         "geniex_device", "geniex_cell"}
    assert all(value >= 0 for value in rmse.values())
