"""Benchmark: samples/s of the circuit-exact model beside ngspice, measured in one run.

``python -m surrogate.stages.circuit_bench`` prints, for 32/64/128 × linear/sinh/1t1r:

* ngspice (:func:`datagen.simulate`, batched netlists, one process per core);
* the ``circuit`` model on the same samples with each solver backend (``fused``: the
  compiled CPU kernels; ``torch``: batched torch ops), all threads, the median of three
  runs, and the fused one on one thread;
* the fused backend one vector per call, against half its batched rate (a user calling
  the model in a loop on one core, against both cores batched);
* both backends again with a CPU-bound process beside them (``python -c "while True:
  pass"``), and how much slower that made them;
* the worst disagreement with ngspice (largest column-current difference over the largest
  column current), and the Newton and CG iterations.

Then the targets of issue 17 (fused ≥ 4× torch and ≥ 300×/500× ngspice at 64/128 sinh,
1t1r within 2× of sinh, one vector at a time ≥ ½ the batched rate, under load within 2.5×)
with their measured values, and CrossSim's parasitic solver at equal accuracy as the
issue measured it on this machine kind (CrossSim is not a dependency). ``--device cuda``
runs the torch backend on a GPU (ngspice and the fused backend stay on the CPU).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import time
from typing import Iterator

import numpy as np
import torch

from datagen.batch import simulate_detailed
from datagen.executors import default_workers
from datagen.samplers import draw
from spice_netlists import CrossbarSpec
from spice_netlists.circuit.solver import SolverSettings
from surrogate.circuit import CircuitModel

#: CrossSim 3.2's parasitic solver at equal accuracy, one thread, as issue 17 measured it
#: beside the torch solver on this machine kind: (spec label prefix, batched, one vector)
CROSSSIM_REFERENCE = {"64x64/sinh": (467.0, 770.0), "128x128/linear": (54.0, None)}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def cpu_load() -> Iterator[None]:
    """A second CPU-bound process on the machine while the block runs."""
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)                                  # let it take its core
        yield
    finally:
        busy.kill()
        busy.wait()


@contextlib.contextmanager
def threads(n: int | None) -> Iterator[None]:
    """torch's (and so the fused kernels') thread count set to ``n`` inside the block."""
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def batched_rate(model: CircuitModel, v: torch.Tensor, g: torch.Tensor, repeats: int) -> float:
    """Samples/s of one call on the whole batch, the median of ``repeats`` runs."""
    model(v[:8], g[:8])                                  # warm-up (and compilation)
    rates = []
    for _ in range(repeats):
        _sync(g.device)
        start = time.perf_counter()
        model(v, g)
        _sync(g.device)
        rates.append(len(v) / (time.perf_counter() - start))
    return float(np.median(rates))


def single_rate(model: CircuitModel, v: torch.Tensor, g: torch.Tensor, calls: int) -> float:
    """Samples/s calling the model on one vector (and its tile) at a time."""
    pairs = [(v[k:k + 1], g[k:k + 1]) for k in range(min(calls, len(v)))]
    model(*pairs[0])
    start = time.perf_counter()
    for vk, gk in pairs:
        model(vk, gk)
    return len(pairs) / (time.perf_counter() - start)


def bench_one(spec: CrossbarSpec, n_spice: int, n_circuit: int, device: torch.device,
              seed: int = 0, repeats: int = 3) -> dict:
    """Every figure of one spec (see the module docstring)."""
    v, g = draw(spec, max(n_spice, n_circuit), np.random.default_rng(seed))
    start = time.perf_counter()
    res = simulate_detailed(spec, v[:n_spice], g[:n_spice])
    spice_rate = n_spice / (time.perf_counter() - start)
    vt, gt = torch.from_numpy(v[:n_circuit]), torch.from_numpy(g[:n_circuit])
    fused = CircuitModel(spec, SolverSettings(backend="fused"))
    ref = CircuitModel(spec, SolverSettings(backend="torch"))
    vd, gd = vt.to(device), gt.to(device)
    out = {"spec": spec.label, "ngspice_samples_per_s": round(spice_rate, 2)}
    out["fused_samples_per_s"] = batched_rate(fused, vt, gt, repeats)
    stats = fused.last_solve
    out["torch_samples_per_s"] = batched_rate(ref, vd, gd, repeats)
    half, quarter = max(len(vt) // 2, 8), max(len(vt) // 4, 8)   # the slower runs on fewer
    with threads(1):
        out["fused_one_thread_samples_per_s"] = batched_rate(fused, vt[:half], gt[:half], repeats)
    out["fused_single_vector_samples_per_s"] = single_rate(fused, vt, gt, 200)
    with cpu_load():
        out["fused_loaded_samples_per_s"] = batched_rate(fused, vt, gt, 1)
        out["torch_loaded_samples_per_s"] = batched_rate(ref, vd[:quarter], gd[:quarter], 1)
    ok = res.ok
    want = res.i[ok]
    worst = 0.0
    for model, vv, gg in ((fused, vt, gt), (ref, vd, gd)):
        got = model(vv[:n_spice], gg[:n_spice]).cpu().numpy()[ok]
        worst = max(worst, float(np.max(np.abs(got - want)) / np.max(np.abs(want))))
    out.update(max_rel_deviation=worst, newton=stats.newton_iterations, cg=stats.cg_iterations,
               ngspice_failed=int((~ok).sum()))
    f = out["fused_samples_per_s"]
    out.update(
        fused_over_torch=f / out["torch_samples_per_s"],
        fused_over_ngspice=f / spice_rate,
        single_over_half_batched=out["fused_single_vector_samples_per_s"] / (f / 2),
        fused_quiet_over_loaded=f / out["fused_loaded_samples_per_s"],
        torch_quiet_over_loaded=out["torch_samples_per_s"] / out["torch_loaded_samples_per_s"])
    return out


def _row(r: dict) -> str:
    return (f"{r['spec'].rsplit('/', 2)[0]:<16}{r['ngspice_samples_per_s']:>9.1f}"
            f"{r['torch_samples_per_s']:>9.0f}{r['fused_samples_per_s']:>9.0f}"
            f"{r['fused_over_torch']:>7.1f}x{r['fused_over_ngspice']:>7.0f}x"
            f"{r['fused_one_thread_samples_per_s']:>9.0f}"
            f"{r['fused_single_vector_samples_per_s']:>9.0f}{r['single_over_half_batched']:>7.2f}"
            f"{r['fused_quiet_over_loaded']:>8.2f}x{r['torch_quiet_over_loaded']:>7.2f}x"
            f"{r['max_rel_deviation']:>9.1e}{r['newton']:>4}{r['cg']:>5}")


def targets(rows: list[dict]) -> list[str]:
    """Issue 17's targets beside what was measured (lines to print)."""
    by = {r["spec"].rsplit("/", 2)[0]: r for r in rows}
    lines = []

    def line(label: str, value: float, goal: float, more_is_better: bool = True) -> None:
        met = value >= goal if more_is_better else value <= goal
        lines.append(f"  {label:<46}{value:>9.2f}  (target {'≥' if more_is_better else '≤'} "
                     f"{goal:g}: {'met' if met else 'NOT met'})")

    for size, ngspice_goal in ((64, 300), (128, 500)):
        r = by.get(f"{size}x{size}/sinh")
        if r:
            line(f"{size}x{size} sinh: fused ÷ torch", r["fused_over_torch"], 4)
            line(f"{size}x{size} sinh: fused ÷ ngspice", r["fused_over_ngspice"], ngspice_goal)
    for size in sorted({int(k.split("x")[0]) for k in by}):
        s, t = by.get(f"{size}x{size}/sinh"), by.get(f"{size}x{size}/1t1r")
        if s and t:
            line(f"{size}x{size}: sinh ÷ 1t1r time per sample",
                 s["fused_samples_per_s"] / t["fused_samples_per_s"], 2, more_is_better=False)
    for r in rows:
        line(f"{r['spec'].rsplit('/', 2)[0]}: one vector ÷ ½ batched",
             r["single_over_half_batched"], 1)
    for r in rows:
        line(f"{r['spec'].rsplit('/', 2)[0]}: quiet ÷ loaded (fused)",
             r["fused_quiet_over_loaded"], 2.5, more_is_better=False)
    for key, (batched, single) in CROSSSIM_REFERENCE.items():
        r = by.get(key)
        if r:
            line(f"{key}: fused 1 thread ÷ CrossSim batched",
                 r["fused_one_thread_samples_per_s"] / batched, 3)
            if single:
                line(f"{key}: fused one vector ÷ CrossSim one vector",
                     r["fused_single_vector_samples_per_s"] / single, 3)
    return lines


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 128])
    ap.add_argument("--devices", nargs="+", default=["linear", "sinh", "1t1r"])
    ap.add_argument("--v-read-max", type=float, default=0.5)
    ap.add_argument("--seconds", type=float, default=8.0,
                    help="rough time budget per ngspice measurement")
    ap.add_argument("--device", default="cpu", help="torch device of the torch backend")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    where = (f"{torch.get_num_threads()} threads" if device.type == "cpu"
             else torch.cuda.get_device_name(device))
    print(f"ngspice processes: {default_workers()}; torch backend on {device} ({where}); "
          f"fused on the CPU ({torch.get_num_threads()} threads)")
    print("samples/s; 'one' = fused one vector per call, '÷½b' = that over half the batched "
          "rate; 'load' = quiet ÷ with a busy process beside")
    print(f"{'crossbar':<16}{'ngspice':>9}{'torch':>9}{'fused':>9}{'÷torch':>8}{'÷spice':>8}"
          f"{'1 thread':>9}{'one':>9}{'÷½b':>7}{'load f':>9}{'load t':>8}{'max dev':>9}"
          f"{'nwt':>4}{'cg':>5}")
    rows = []
    for size in args.sizes:
        for kind in args.devices:
            spec = CrossbarSpec(rows=size, cols=size, device=kind,
                                v_read_max=0.25 if kind == "1t1r" else args.v_read_max)
            # ngspice's cost per sample here is ~4e-5 s per cell over the worker count
            n_spice = int(np.clip(args.seconds * default_workers() / (4e-5 * size * size), 16, 1000))
            n_circuit = int(np.clip(1e7 / (size * size), 256, 10000))
            r = bench_one(spec, n_spice, n_circuit, device)
            rows.append(r)
            print(_row(r), flush=True)
    print("\ntargets (issue 17):")
    print("\n".join(targets(rows)))
    print("\ncost growth per doubling of the side (time per sample, ratio):")
    for kind in args.devices:
        mine = [r for r in rows if r["spec"].split("/")[1] == kind]
        for a, b in zip(mine, mine[1:]):
            print(f"  {kind:<7}{a['spec'].split('/')[0]} -> {b['spec'].split('/')[0]}: "
                  f"ngspice {a['ngspice_samples_per_s'] / b['ngspice_samples_per_s']:.1f}x, "
                  f"fused {a['fused_samples_per_s'] / b['fused_samples_per_s']:.1f}x")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)


if __name__ == "__main__":
    main()
