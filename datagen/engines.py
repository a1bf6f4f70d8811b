"""What solves a sweep's chunk: ngspice itself, or the circuit-exact solver, checked.

``ENGINES`` maps a sweep's ``engine`` name to an :class:`Engine`: the function that
turns one chunk's samples into a :class:`datagen.runner.ChunkResult`, and where chunks
run on this machine. The sweep (:mod:`datagen.sweep`) draws, chunks, writes shards and
resumes the same way whichever engine it names.

- ``ngspice``: one ngspice run per chunk (:func:`datagen.runner.run_chunk`), chunks in
  a pool of local processes.
- ``circuit``: the exact DC operating point of the whole nonlinear network, solved in
  torch (:func:`spice_netlists.circuit.solver.solve_operating_point`). Its chunks run one
  after another in the sweep's own process: torch spreads each solve over the cores
  itself, a pool would import torch once per worker (seconds, against ~0.2 ms a
  sample of 32x32) and oversubscribe the cores, and a worker forked from a process
  whose torch thread pool has started can hang. A sample it cannot converge is
  recorded as failed with its residual, never dropped. Because it is not ngspice, a
  circuit sweep checks a seeded random fraction of its samples against the real
  ngspice (:func:`check_against_ngspice`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from datagen.batch import simulate_detailed
from datagen.runner import ChunkResult, run_chunk
from spice_netlists import CrossbarSpec
from spice_netlists.netlist import SolverOptions

#: largest accepted deviation of a circuit sweep from ngspice, relative to the largest
#: ngspice column current of the checked samples (the two agree to ~1e-11)
CHECK_TOLERANCE = 1e-6

#: second entropy word of the check's generator: no chunk number reaches it, so the
#: check's draw is independent of every chunk's samples
_CHECK_STREAM = 0x636865636B  # "check"

#: ``engine(spec, v (M, rows), g (M, rows, cols), reltol, timeout_s) -> ChunkResult``;
#: ``reltol`` and ``timeout_s`` are ngspice's and only ngspice uses them. An engine sets
#: each failed sample's kind (``ChunkResult.kind``; left empty, failures count as
#: ``no_convergence``) and raises only for what says nothing about the samples (an
#: OSError, ngspice missing): the sweep then leaves that chunk unwritten, to be redone
ChunkEngine = Callable[[CrossbarSpec, np.ndarray, np.ndarray, float, float], ChunkResult]


def ngspice_chunk(spec: CrossbarSpec, v: np.ndarray, g: np.ndarray, reltol: float,
                  timeout_s: float) -> ChunkResult:
    """Currents of one chunk from ngspice, failures isolated (:func:`run_chunk`)."""
    return run_chunk(spec, v, g, SolverOptions(reltol=reltol), timeout_s)


def circuit_chunk(spec: CrossbarSpec, v: np.ndarray, g: np.ndarray, reltol: float,
                  timeout_s: float) -> ChunkResult:
    """Currents of one chunk from the circuit-exact solver (CPU, float64).

    ``reltol`` and ``timeout_s`` are ngspice's and unused here. A sample whose residual
    does not reach the solver's tolerance (or whose currents are not finite) gets NaN
    currents, ``ok`` False, its residual as the reason and the kind ``no_convergence``.
    """
    # imported here, not at the top: ngspice sweeps and their worker processes never load torch
    import torch

    from spice_netlists.circuit.solver import SolverSettings, solve_operating_point

    settings = SolverSettings(raise_on_failure=False)
    start = time.perf_counter()
    with torch.no_grad():
        op = solve_operating_point(spec, torch.from_numpy(np.asarray(v, dtype=np.float64)),
                                   torch.from_numpy(np.asarray(g, dtype=np.float64)), settings)
    seconds = time.perf_counter() - start
    i = op.currents.numpy().astype(np.float64, copy=True)
    residual = op.residual.numpy()
    ok = op.converged.numpy().astype(bool) & np.all(np.isfinite(i), axis=1)
    i[~ok] = np.nan
    reason = ["" if good else
              (f"circuit solver did not converge: residual {res:.3g} V > tol {settings.tol:g} V "
               f"after {op.newton_iterations} Newton steps" if np.isfinite(res) and res > settings.tol
               else f"circuit solver gave a non-finite result (residual {res:.3g} V)")
              for good, res in zip(ok, residual)]
    kind = ["" if good else "no_convergence" for good in ok]
    return ChunkResult(i=i, ok=ok, reason=reason, seconds=seconds, kind=kind)


@dataclass(frozen=True)
class Engine:
    """A sweep engine.

    Attributes:
        solve: solves one chunk (:data:`ChunkEngine`).
        local_executor: where chunks run without a Dask scheduler, an
            :func:`datagen.executors.open_executor` kind: ``process`` (a pool of
            ``workers`` processes) or ``serial`` (in the sweep's process).
    """

    solve: ChunkEngine
    local_executor: str


#: the sweep engines, by the name a sweep's ``engine`` field gives
ENGINES: dict[str, Engine] = {
    "ngspice": Engine(ngspice_chunk, local_executor="process"),
    "circuit": Engine(circuit_chunk, local_executor="serial"),
}


@dataclass(frozen=True)
class EngineCheck:
    """A circuit sweep's samples re-solved by ngspice.

    Attributes:
        checked: samples compared (ngspice and the engine both solved them).
        sample_ids: the sample ids drawn for the check.
        max_deviation: max |I_engine − I_ngspice| / max |I_ngspice| over the compared
            samples (0 when none could be compared).
        ngspice_failed: drawn samples ngspice could not solve (not compared).
        tolerance: the largest accepted ``max_deviation``.
    """

    checked: int
    sample_ids: tuple[int, ...]
    max_deviation: float
    ngspice_failed: int
    tolerance: float = CHECK_TOLERANCE

    @property
    def passed(self) -> bool:
        """Whether the engine agreed with ngspice within ``tolerance``."""
        return self.checked > 0 and self.max_deviation <= self.tolerance

    def to_dict(self) -> dict[str, object]:
        """Plain values for the sweep's summary (YAML and JSON safe)."""
        return {"checked": self.checked, "max_deviation": float(self.max_deviation),
                "tolerance": float(self.tolerance), "passed": self.passed,
                "ngspice_failed": self.ngspice_failed, "sample_ids": list(self.sample_ids)}


class EngineCheckError(RuntimeError):
    """A sweep's engine disagreed with ngspice beyond :data:`CHECK_TOLERANCE`."""


def check_sample_ids(seed: int, candidates: np.ndarray, n_samples: int,
                     fraction: float) -> np.ndarray:
    """The sample ids to check: ``ceil(fraction · n_samples)`` (at least 1, at most all
    candidates) drawn without replacement from ``candidates``, seeded by the sweep seed
    alone, so a resumed sweep checks the same samples. Sorted."""
    candidates = np.asarray(candidates, dtype=np.int64)
    n = min(len(candidates), max(1, int(np.ceil(fraction * n_samples))))
    rng = np.random.default_rng([seed, _CHECK_STREAM])
    return np.sort(rng.choice(candidates, size=n, replace=False)) if n else candidates[:0]


def check_against_ngspice(spec: CrossbarSpec, v: np.ndarray, g: np.ndarray, i: np.ndarray,
                          sample_ids: np.ndarray, *, reltol: float = SolverOptions.reltol,
                          timeout_s: float | None = 600.0, workers: int | None = None,
                          scheduler: str | None = None) -> EngineCheck:
    """Re-solve samples (v (K, rows), g (K, rows, cols)) in ngspice and compare with the
    engine's currents ``i`` (K, cols).

    The deviation is max |i − I_ngspice| / max |I_ngspice| over the samples ngspice
    solved (a global full scale, so near-zero samples do not inflate it).
    """
    if len(v) == 0:
        return EngineCheck(checked=0, sample_ids=(), max_deviation=0.0, ngspice_failed=0)
    res = simulate_detailed(spec, v, g, options=SolverOptions(reltol=reltol),
                            timeout_s=timeout_s, workers=workers, scheduler=scheduler)
    both = res.ok & np.all(np.isfinite(i), axis=1)
    if both.any():
        diff = float(np.max(np.abs(i[both] - res.i[both])))
        scale = float(np.max(np.abs(res.i[both])))
        deviation = diff / scale if scale > 0 else (0.0 if diff == 0 else float("inf"))
    else:
        deviation = 0.0
    return EngineCheck(checked=int(both.sum()), sample_ids=tuple(int(k) for k in sample_ids),
                       max_deviation=deviation, ngspice_failed=int((~res.ok).sum()))
