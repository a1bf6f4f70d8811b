"""Benchmark: samples/s of the circuit-exact model beside ngspice, measured in one run.

``python -m surrogate.stages.circuit_bench`` prints, for 32/64/128 × linear/sinh/1t1r, the
throughput of :func:`datagen.simulate` (batched netlists, one ngspice process per core)
and of the ``circuit`` model on the same samples (torch on the chosen device, all its
threads; the median of three runs), their ratio, the worst disagreement between the two (relative to the largest
column current), the Newton and CG iterations, and how each cost grows with size.
``--device cuda`` runs the circuit model on a GPU (ngspice stays on the CPU).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from datagen.batch import simulate_detailed
from datagen.executors import default_workers
from datagen.samplers import draw
from spice_netlists import CrossbarSpec
from surrogate.circuit import CircuitModel


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_one(spec: CrossbarSpec, n_spice: int, n_circuit: int, device: torch.device,
              seed: int = 0, repeats: int = 3) -> dict:
    """Samples/s of ngspice (one run over many chunks) and of ``circuit`` (the median of
    ``repeats`` runs: single runs varied by up to 1.5x here) for one spec, and their
    agreement."""
    v, g = draw(spec, max(n_spice, n_circuit), np.random.default_rng(seed))
    start = time.perf_counter()
    res = simulate_detailed(spec, v[:n_spice], g[:n_spice])
    spice_rate = n_spice / (time.perf_counter() - start)
    model = CircuitModel(spec)
    vt, gt = torch.from_numpy(v).to(device), torch.from_numpy(g).to(device)
    model(vt[:8], gt[:8])                                    # warm-up
    rates = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        i_circuit = model(vt[:n_circuit], gt[:n_circuit])
        _sync(device)
        rates.append(n_circuit / (time.perf_counter() - start))
    circuit_rate = float(np.median(rates))
    stats = model.last_solve
    ok = res.ok
    ref = res.i[ok]
    dev = float(np.max(np.abs(i_circuit[:n_spice].cpu().numpy()[ok] - ref)) / np.max(np.abs(ref)))
    return {"spec": spec.label, "ngspice_samples_per_s": round(spice_rate, 2),
            "circuit_samples_per_s": round(circuit_rate, 1),
            "speedup": round(circuit_rate / spice_rate, 1), "max_rel_deviation": dev,
            "newton": stats.newton_iterations, "cg": stats.cg_iterations,
            "ngspice_failed": int((~ok).sum())}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 128])
    ap.add_argument("--devices", nargs="+", default=["linear", "sinh", "1t1r"])
    ap.add_argument("--v-read-max", type=float, default=0.5)
    ap.add_argument("--seconds", type=float, default=8.0,
                    help="rough time budget per ngspice measurement")
    ap.add_argument("--device", default="cpu", help="torch device of the circuit model")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    print(f"ngspice processes: {default_workers()}; circuit on {device} "
          f"({torch.get_num_threads()} threads)" if device.type == "cpu" else
          f"ngspice processes: {default_workers()}; circuit on {torch.cuda.get_device_name(device)}")
    print(f"{'crossbar':<22}{'ngspice/s':>11}{'circuit/s':>11}{'speedup':>9}"
          f"{'max dev':>10}{'newton':>8}{'cg':>5}")
    rows = []
    for size in args.sizes:
        for kind in args.devices:
            spec = CrossbarSpec(rows=size, cols=size, device=kind,
                                v_read_max=0.25 if kind == "1t1r" else args.v_read_max)
            # ngspice's cost per sample here is ~4e-5 s per cell over the worker count
            n_spice = int(np.clip(args.seconds * default_workers() / (4e-5 * size * size), 16, 1000))
            n_circuit = int(np.clip(2e7 / (size * size), 256, 20000))
            r = bench_one(spec, n_spice, n_circuit, device)
            rows.append(r)
            print(f"{r['spec']:<22}{r['ngspice_samples_per_s']:>11.1f}"
                  f"{r['circuit_samples_per_s']:>11.0f}{r['speedup']:>8.0f}x"
                  f"{r['max_rel_deviation']:>10.1e}{r['newton']:>8}{r['cg']:>5}", flush=True)
    print("\ncost growth per doubling of the side (time per sample, ratio):")
    for kind in args.devices:
        mine = [r for r in rows if r["spec"].split("/")[1] == kind]
        for a, b in zip(mine, mine[1:]):
            print(f"  {kind:<7}{a['spec'].split('/')[0]} -> {b['spec'].split('/')[0]}: "
                  f"ngspice {a['ngspice_samples_per_s'] / b['ngspice_samples_per_s']:.1f}x, "
                  f"circuit {a['circuit_samples_per_s'] / b['circuit_samples_per_s']:.1f}x")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)


if __name__ == "__main__":
    main()
