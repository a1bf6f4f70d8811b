"""Benchmark (not a stage): the cheap physics models against the exact network.

``python -m surrogate.stages.physics_bench`` draws ``--samples`` uniform random tiles
(inputs in [0, v_read_max], conductances in [g_off, g_on]) at each setting of the
GENIEx-scale grid's axes (32/64/128, R_on 100 kΩ / 25 kΩ, 0.25 / 0.5 V, sinh and 1t1r)
and prints, per setting, the RMSE in % of full scale of ``analytical``,
``analytical_device`` and ``analytical_cell`` against ``circuit`` (the exact operating
point, which agrees with ngspice to ~1e-10), and which is best. No training is
involved, so it runs in minutes; the datasets' RMSE of every model, GENIEx included, is
``surrogate_evaluate``'s ``rmse.json``.
"""

from __future__ import annotations

import argparse
import itertools

import torch

from spice_netlists import CrossbarSpec
from spice_netlists.circuit.solver import solve_operating_point
from surrogate import make_model

__all__ = ["PHYSICS", "settings", "compare", "main"]

#: the cheap physics models compared
PHYSICS = ("analytical", "analytical_device", "analytical_cell")


def settings(sizes: list[int], devices: list[str]) -> list[CrossbarSpec]:
    """Every (size, R_on, read voltage, device) of the grid's axes (R_off = 6·R_on)."""
    out = []
    for n, r_on, v, device in itertools.product(sizes, (100e3, 25e3), (0.25, 0.5), devices):
        out.append(CrossbarSpec(rows=n, cols=n, device=device, g_on=1 / r_on,
                                g_off=1 / (6 * r_on), v_read_max=v))
    return out


def compare(spec: CrossbarSpec, samples: int, seed: int = 0) -> dict[str, float]:
    """RMSE (% of full scale) of every model of :data:`PHYSICS` against ``circuit``."""
    gen = torch.Generator().manual_seed(seed)
    v = torch.rand(samples, spec.rows, generator=gen, dtype=torch.float64) * spec.v_read_max
    g = spec.g_off + torch.rand(samples, spec.rows, spec.cols, generator=gen,
                                dtype=torch.float64) * (spec.g_on - spec.g_off)
    truth = solve_operating_point(spec, v, g, keep_state=False).currents
    fs = spec.full_scale_current
    return {name: float((make_model(name, spec)(v, g) - truth).pow(2).mean().sqrt()) / fs * 100
            for name in PHYSICS}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--devices", nargs="+", default=["sinh", "1t1r"])
    parser.add_argument("--samples", type=int, default=32)
    args = parser.parse_args(argv)
    print(f"RMSE against circuit, % of full scale ({args.samples} uniform random tiles each)")
    print("| setting | " + " | ".join(PHYSICS) + " | best |")
    print("|---|" + "---|" * (len(PHYSICS) + 1))
    for spec in settings(args.sizes, args.devices):
        rmse = compare(spec, args.samples)
        best = min(rmse, key=rmse.get)
        print(f"| {spec.label} | " + " | ".join(f"{rmse[m]:.4f}" for m in PHYSICS)
              + f" | {best} |", flush=True)


if __name__ == "__main__":
    main()
