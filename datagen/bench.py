"""Benchmark: SPICE samples per second, batched netlists vs one PySpice circuit per sample.

``python -m datagen.bench`` prints, for 16/32/64 × linear/sinh/1t1r, the throughput of
:func:`datagen.simulate` (batched netlists, one ngspice process per core) and of the
one-circuit-per-sample PySpice path, measured in the same run, and their ratio.
"""

from __future__ import annotations

import argparse
import json
import logging
import time

import numpy as np

from datagen.batch import simulate_detailed
from datagen.executors import default_workers
from datagen.samplers import draw
from spice_netlists import CrossbarSpec
from spice_netlists.pyspice_circuit import simulate_one_by_one


def bench_one(spec: CrossbarSpec, n_batched: int, n_pyspice: int, seed: int = 0) -> dict:
    """Samples/s of both paths for one spec."""
    v, g = draw(spec, n_batched, np.random.default_rng(seed))
    start = time.perf_counter()
    res = simulate_detailed(spec, v, g)
    batched = n_batched / (time.perf_counter() - start)
    _, seconds = simulate_one_by_one(spec, v[:n_pyspice], g[:n_pyspice])
    one_by_one = n_pyspice / seconds
    return {"spec": spec.label, "batched_samples_per_s": round(batched, 2),
            "pyspice_samples_per_s": round(one_by_one, 2),
            "speedup": round(batched / one_by_one, 1), "failed": int((~res.ok).sum())}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[16, 32, 64])
    ap.add_argument("--devices", nargs="+", default=["linear", "sinh", "1t1r"])
    ap.add_argument("--seconds", type=float, default=6.0,
                    help="rough time budget per batched measurement")
    ap.add_argument("--v-read-max", type=float, default=0.5)
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)
    logging.getLogger("PySpice").setLevel(logging.ERROR)
    print(f"ngspice processes: {default_workers()}")
    print(f"{'crossbar':<22}{'batched/s':>12}{'PySpice/s':>12}{'speedup':>10}")
    rows = []
    for size in args.sizes:
        for device in args.devices:
            spec = CrossbarSpec(rows=size, cols=size, device=device, v_read_max=args.v_read_max)
            # rough per-sample costs (s) measured here, to fit the time budget
            per_sample = 2e-5 * size * size / default_workers()
            n_batched = int(np.clip(args.seconds / per_sample, 40, 2000))
            n_pyspice = int(np.clip(2.0 / (3e-4 * size * size), 2, 40))
            r = bench_one(spec, n_batched, n_pyspice)
            rows.append(r)
            print(f"{r['spec']:<22}{r['batched_samples_per_s']:>12.1f}"
                  f"{r['pyspice_samples_per_s']:>12.2f}{r['speedup']:>9.1f}x", flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)


if __name__ == "__main__":
    main()
