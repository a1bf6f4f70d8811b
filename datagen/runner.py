"""One chunk of samples through one ngspice process, with failures isolated.

A chunk is solved by one batched netlist (see :mod:`spice_netlists.netlist`). When
ngspice fails on a chunk (a sample that does not converge stops the whole ``.dc``
sweep) the samples it finished before the failure are kept, the failing sample is
retried alone, and the rest of the chunk goes on in a new run. A sample that fails
alone is recorded with ngspice's reason; nothing is silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spice_netlists import CrossbarSpec
from spice_netlists.netlist import SolverOptions, crossbar_netlist, sense_vectors
from spice_netlists.ngspice import failure_reason, run_netlist


@dataclass
class ChunkResult:
    """Column currents of a chunk and, per sample, whether ngspice solved it.

    Attributes:
        i: (M, cols) column currents, A; NaN rows where ``ok`` is False.
        ok: (M,) bool.
        reason: per sample, '' when ok, else why it failed.
        seconds: wall time of the ngspice runs.
    """

    i: np.ndarray
    ok: np.ndarray
    reason: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _solve(spec: CrossbarSpec, v: np.ndarray, g: np.ndarray, options: SolverOptions,
           timeout_s: float | None) -> tuple[np.ndarray, str, float]:
    """Run one netlist; return the currents of the samples solved before any failure
    ((k, cols), k <= M), the failure reason ('' if all M solved) and the seconds."""
    run = run_netlist(lambda raw: crossbar_netlist(spec, v, g, raw, options), timeout_s)
    cols = spec.cols
    if run.raw is None:
        return np.empty((0, cols)), failure_reason(run.log), run.seconds
    names = sense_vectors(cols)
    missing = [n for n in names if n not in run.raw.vectors]
    if missing:
        return np.empty((0, cols)), f"ngspice wrote no {missing[0]}", run.seconds
    currents = np.stack([run.raw.vectors[n] for n in names], axis=1)
    bad = ~np.all(np.isfinite(currents), axis=1)
    k = int(np.argmax(bad)) if bad.any() else len(currents)
    currents = currents[:k]
    if k < len(v):
        reason = "non-finite current" if bad.any() else failure_reason(run.log)
        return currents, reason, run.seconds
    return currents, "", run.seconds


def run_chunk(spec: CrossbarSpec, v: np.ndarray, g: np.ndarray,
              options: SolverOptions = SolverOptions(), timeout_s: float | None = 600.0) -> ChunkResult:
    """Solve every sample of (v (M, rows), g (M, rows, cols)), isolating failures.

    ``timeout_s`` bounds each ngspice process; a chunk that times out is split in
    halves until the slow samples stand alone and are recorded as failed.
    """
    m = len(v)
    out = ChunkResult(i=np.full((m, spec.cols), np.nan), ok=np.zeros(m, dtype=bool),
                      reason=[""] * m)
    pending = [(0, m)]
    while pending:
        lo, hi = pending.pop()
        currents, reason, seconds = _solve(spec, v[lo:hi], g[lo:hi], options, timeout_s)
        out.seconds += seconds
        k = len(currents)
        out.i[lo:lo + k] = currents
        out.ok[lo:lo + k] = True
        if lo + k == hi:
            continue
        if hi - lo == 1:
            out.reason[lo] = reason or "ngspice failed"
            continue
        if k > 0:                       # the sweep stopped at sample lo+k
            pending.append((lo + k, hi))
        else:                           # nothing solved: bisect to find the culprit
            mid = (lo + hi) // 2
            pending += [(mid, hi), (lo, mid)]
    return out
