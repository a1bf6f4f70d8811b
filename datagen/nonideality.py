"""How non-ideal is a crossbar? |I_spice / I_ideal − 1| over random dense samples.

``python -m datagen.nonideality`` prints, for the default physics (CrossbarSpec's
defaults) at 16, 32 and 64 and each device and read voltage, the mean and max relative
deviation of ngspice's column currents from the ideal Vᵀ·G. Columns whose ideal current
is under 1 % of full scale are left out (their ratio is noise).
"""

from __future__ import annotations

import argparse

import numpy as np

from datagen.batch import simulate
from datagen.samplers import SamplerConfig, draw
from spice_netlists import CrossbarSpec


def deviation(spec: CrossbarSpec, n: int, seed: int = 0) -> tuple[float, float]:
    """(mean, max) of |I_spice/I_ideal − 1| over ``n`` dense uniform samples."""
    dense = SamplerConfig(max_input_sparsity=0.0, max_weight_sparsity=0.0)
    v, g = draw(spec, n, np.random.default_rng(seed), dense)
    ideal = np.einsum("mr,mrc->mc", v, g)
    spice = simulate(spec, v, g)
    keep = ideal > 0.01 * spec.full_scale_current
    dev = np.abs(spice[keep] / ideal[keep] - 1.0)
    return float(dev.mean()), float(dev.max())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[16, 32, 64])
    ap.add_argument("--devices", nargs="+", default=["linear", "sinh", "1t1r"])
    ap.add_argument("--voltages", type=float, nargs="+", default=[0.25, 0.5])
    ap.add_argument("--samples", type=int, default=40)
    args = ap.parse_args(argv)
    print("| crossbar | mean abs(I_spice/I_ideal - 1) | max |")
    print("|---|---|---|")
    for size in args.sizes:
        for device in args.devices:
            for v_max in args.voltages:
                spec = CrossbarSpec(rows=size, cols=size, device=device, v_read_max=v_max)
                mean, worst = deviation(spec, args.samples)
                print(f"| {spec.label} | {100 * mean:.2f} % | {100 * worst:.2f} % |", flush=True)


if __name__ == "__main__":
    main()
