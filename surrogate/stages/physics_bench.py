"""Benchmark (not a stage): the cheap physics models against the exact network.

``python -m surrogate.stages.physics_bench`` draws ``--samples`` uniform random tiles
(inputs in [0, v_read_max], conductances in [g_off, g_on]) at each setting of the
GENIEx-scale grid's axes (32/64/128, R_on 100 kΩ / 25 kΩ, 0.25 / 0.5 V, sinh and 1t1r)
and prints, per setting, the RMSE in % of full scale of ``analytical``,
``analytical_device`` and ``analytical_cell`` against ``circuit`` (the exact operating
point, which agrees with ngspice to ~1e-10), and which is best. No training is
involved, so it runs in minutes; the datasets' RMSE of every model, GENIEx included, is
``surrogate_evaluate``'s ``rmse.json``.

``--geniex N`` also trains the main GENIEx network (relative target) on N such tiles
labelled by ``circuit``, once on each baseline (``device``, ``cell``), and adds their
RMSE on the same test tiles: how much the baseline leaves the network to learn.
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np
import pandas as pd
import torch

from datagen.dataset import CrossbarDataset
from spice_netlists import CrossbarSpec
from spice_netlists.circuit.solver import solve_operating_point
from surrogate import make_model
from surrogate.base import CrossbarModel
from surrogate.geniex import GeniexConfig
from surrogate.training import train_geniex

__all__ = ["PHYSICS", "settings", "compare", "main"]

#: the cheap physics models compared
PHYSICS = ("analytical", "analytical_device", "analytical_cell")

#: the baselines GENIEx is trained on with ``--geniex``
GENIEX_BASELINES = ("device", "cell")


def settings(sizes: list[int], devices: list[str]) -> list[CrossbarSpec]:
    """Every (size, R_on, read voltage, device) of the grid's axes (R_off = 6·R_on)."""
    out = []
    for n, r_on, v, device in itertools.product(sizes, (100e3, 25e3), (0.25, 0.5), devices):
        out.append(CrossbarSpec(rows=n, cols=n, device=device, g_on=1 / r_on,
                                g_off=1 / (6 * r_on), v_read_max=v))
    return out


def _tiles(spec: CrossbarSpec, samples: int, seed: int) -> tuple[torch.Tensor, ...]:
    """Uniform random inputs and conductances, and ``circuit``'s currents for them."""
    gen = torch.Generator().manual_seed(seed)
    v = torch.rand(samples, spec.rows, generator=gen, dtype=torch.float64) * spec.v_read_max
    g = spec.g_off + torch.rand(samples, spec.rows, spec.cols, generator=gen,
                                dtype=torch.float64) * (spec.g_on - spec.g_off)
    return v, g, solve_operating_point(spec, v, g, keep_state=False).currents


def _geniex(spec: CrossbarSpec, baseline: str, n_train: int) -> CrossbarModel:
    """The main GENIEx configuration on ``baseline``, trained on ``n_train`` tiles."""
    v, g, i = (t.numpy() for t in _tiles(spec, n_train, seed=1))
    meta = pd.DataFrame({"sample_id": np.arange(n_train), "ok": np.ones(n_train, dtype=bool)})
    data = CrossbarDataset(spec, v, g, i, meta, identity=f"physics-bench-{spec.tag}")
    model, _, _ = train_geniex(data, GeniexConfig(baseline=baseline, device="cpu"),
                               progress=False)
    return model


def compare(spec: CrossbarSpec, samples: int, seed: int = 0,
            geniex_samples: int = 0) -> dict[str, float]:
    """RMSE (% of full scale) of every model of :data:`PHYSICS` against ``circuit`` (and,
    with ``geniex_samples``, of GENIEx on each baseline, trained on that many tiles)."""
    v, g, truth = _tiles(spec, samples, seed)
    models: dict[str, CrossbarModel] = {name: make_model(name, spec) for name in PHYSICS}
    if geniex_samples:
        for baseline in GENIEX_BASELINES:
            models[f"geniex_{baseline}"] = _geniex(spec, baseline, geniex_samples)
    fs = spec.full_scale_current
    return {name: float((model(v, g) - truth).pow(2).mean().sqrt()) / fs * 100
            for name, model in models.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--devices", nargs="+", default=["sinh", "1t1r"])
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--geniex", type=int, default=0, metavar="N",
                        help="also train GENIEx on N tiles on each baseline (0: no)")
    args = parser.parse_args(argv)
    names = list(PHYSICS) + ([f"geniex_{b}" for b in GENIEX_BASELINES] if args.geniex else [])
    print(f"RMSE against circuit, % of full scale ({args.samples} uniform random tiles each"
          + (f"; GENIEx trained on {args.geniex}" if args.geniex else "") + ")")
    print("| setting | " + " | ".join(names) + " | best physics |")
    print("|---|" + "---|" * (len(names) + 1))
    for spec in settings(args.sizes, args.devices):
        rmse = compare(spec, args.samples, geniex_samples=args.geniex)
        best = min(PHYSICS, key=rmse.get)
        print(f"| {spec.label} | " + " | ".join(f"{rmse[m]:.4f}" for m in names)
              + f" | {best} |", flush=True)


if __name__ == "__main__":
    main()
