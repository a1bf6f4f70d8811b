"""One chunk of samples through one ngspice process, with failures isolated and sorted
by kind.

A chunk is solved by one batched netlist (see :mod:`spice_netlists.netlist`). When
ngspice fails on a chunk (a sample that does not converge stops the whole ``.dc``
sweep) the samples it finished before the failure are kept, the failing sample is
retried alone, and the rest of the chunk goes on in a new run. When a run leaves no
results at all, because it timed out or ngspice did not run to its end, every sample
it had left is run alone. A sample that fails alone is recorded with ngspice's reason
and the kind of its failure (:data:`FAILURE_KINDS`); nothing is silently dropped.

Failure kinds:

- ``no_convergence``: ngspice ran and said this circuit cannot be solved (or gave
  non-finite currents). A property of the sample: a sweep keeps it for good.
- ``timeout``: the sample alone ran past ``timeout_s``.
- ``error``: ngspice did not run to a result (killed by a signal, an unreadable
  rawfile, a log without any convergence message).

The last two are not facts about the sample (:data:`RETRYABLE_KINDS`): a sweep stores
them but redoes their chunk when it is run again.

Cost of timeouts: after a multi-sample run times out its samples are only ever run
alone, so a chunk of ``n`` samples of which ``h`` hang costs at most ``1 + h`` timeouts
(at most ``n + 1``), against up to ``2n - 1`` for halving the chunk until the hung
samples stand alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spice_netlists import CrossbarSpec
from spice_netlists.netlist import SolverOptions, crossbar_netlist, sense_vectors
from spice_netlists.ngspice import failure_reason, is_convergence_failure, run_netlist

#: every kind of failure a sample can have ('' is success)
FAILURE_KINDS = ("no_convergence", "timeout", "error")
#: the kinds that say nothing about the sample: a sweep retries them when rerun
RETRYABLE_KINDS = frozenset({"timeout", "error"})


@dataclass
class ChunkResult:
    """Column currents of a chunk and, per sample, whether ngspice solved it.

    Attributes:
        i: (M, cols) column currents, A; NaN rows where ``ok`` is False.
        ok: (M,) bool.
        reason: per sample, '' when ok, else why it failed.
        seconds: wall time of the ngspice runs.
        kind: per sample, '' when ok, else one of :data:`FAILURE_KINDS`; may be left
            empty by an engine, failures then count as ``no_convergence``
            (:meth:`kinds`).
    """

    i: np.ndarray
    ok: np.ndarray
    reason: list[str] = field(default_factory=list)
    seconds: float = 0.0
    kind: list[str] = field(default_factory=list)

    def kinds(self) -> list[str]:
        """Per sample, '' when ok, else its failure kind (``no_convergence`` where the
        engine gave none)."""
        if len(self.kind) == len(self.ok):
            return ["" if ok else (k or "no_convergence") for ok, k in zip(self.ok, self.kind)]
        return ["" if ok else "no_convergence" for ok in self.ok]


@dataclass
class _Run:
    """One ngspice run of samples lo..hi-1: the currents of the leading samples it solved,
    why it stopped, and whether it left partial results (the ``.dc`` sweep stopped at a
    sample) or none because it never got to write them."""

    currents: np.ndarray
    reason: str
    seconds: float
    kind: str             # the failure kind if this run was of one sample
    partial: bool         # results up to the failing sample were written


def _solve(spec: CrossbarSpec, v: np.ndarray, g: np.ndarray, options: SolverOptions,
           timeout_s: float | None, sinh_a: np.ndarray | None = None) -> _Run:
    """Run one netlist of (v, g) (and per-device sinh_a); see :class:`_Run`."""
    run = run_netlist(lambda raw: crossbar_netlist(spec, v, g, raw, options, sinh_a), timeout_s)
    cols = spec.cols
    none = np.empty((0, cols))
    if run.timed_out:
        return _Run(none, failure_reason(run.log), run.seconds, "timeout", partial=False)
    if run.crashed:
        return _Run(none, failure_reason(run.log), run.seconds, "error", partial=False)
    converge = "no_convergence" if is_convergence_failure(run.log) else "error"
    if run.raw is None:   # a .dc sweep that fails at its first sample writes no vectors
        return _Run(none, failure_reason(run.log), run.seconds, converge,
                    partial=converge == "no_convergence")
    names = sense_vectors(cols)
    missing = [n for n in names if n not in run.raw.vectors]
    if missing:
        return _Run(none, f"ngspice wrote no {missing[0]}", run.seconds, "error", partial=False)
    currents = np.stack([run.raw.vectors[n] for n in names], axis=1)
    bad = ~np.all(np.isfinite(currents), axis=1)
    k = int(np.argmax(bad)) if bad.any() else len(currents)
    currents = currents[:k]
    if k < len(v):
        if bad.any():
            return _Run(currents, "non-finite current", run.seconds, "no_convergence", partial=True)
        return _Run(currents, failure_reason(run.log), run.seconds, converge, partial=True)
    return _Run(currents, "", run.seconds, "", partial=True)


def run_chunk(spec: CrossbarSpec, v: np.ndarray, g: np.ndarray,
              options: SolverOptions = SolverOptions(), timeout_s: float | None = 600.0,
              sinh_a: np.ndarray | None = None) -> ChunkResult:
    """Solve every sample of (v (M, rows), g (M, rows, cols)), isolating failures.

    ``sinh_a`` (M, rows, cols): each sinh device's own nonlinearity a (1/V); None:
    ``spec.sinh_a`` for every device.

    ``timeout_s`` bounds each ngspice process. When a run of several samples stops
    without results (timed out, or ngspice did not finish), each sample it had left is
    run alone with the same bound: at most ``1 + h`` timeouts for ``h`` hung samples
    (see the module docstring). Each failed sample gets its reason and kind
    (``ChunkResult.kind``).
    """
    m = len(v)
    out = ChunkResult(i=np.full((m, spec.cols), np.nan), ok=np.zeros(m, dtype=bool),
                      reason=[""] * m, kind=[""] * m)
    pending = [(0, m)]
    while pending:
        lo, hi = pending.pop()
        run = _solve(spec, v[lo:hi], g[lo:hi], options, timeout_s,
                     None if sinh_a is None else sinh_a[lo:hi])
        out.seconds += run.seconds
        k = len(run.currents)
        out.i[lo:lo + k] = run.currents
        out.ok[lo:lo + k] = True
        if lo + k == hi:
            continue
        if hi - lo == 1:
            out.reason[lo] = run.reason or "ngspice failed"
            out.kind[lo] = run.kind or "error"
            continue
        if run.partial:                 # the .dc sweep stopped at sample lo+k
            if lo + k + 1 < hi:
                pending.append((lo + k + 1, hi))
            pending.append((lo + k, lo + k + 1))
        else:                           # no results: each remaining sample alone
            pending += [(j, j + 1) for j in reversed(range(lo + k, hi))]
    return out


def classify_reason(reason: str) -> str:
    """The failure kind of a stored reason, for shards written before kinds were
    recorded: ``timeout`` for a timed-out run, ``no_convergence`` for an ngspice
    convergence message, a non-finite current or the circuit solver's residual, else
    ``error`` (retried: a rerun costs only that chunk)."""
    low = reason.lower()
    if "timed out" in low:
        return "timeout"
    if is_convergence_failure(reason) or "non-finite" in low or "circuit solver" in low:
        return "no_convergence"
    return "error"
