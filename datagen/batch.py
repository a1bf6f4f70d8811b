"""``datagen.simulate``: column currents of many (V, G) samples from the real ngspice,
chunked over parallel ngspice processes.

Each call first removes the ngspice run directories that killed processes left behind
(:func:`spice_netlists.ngspice.clean_stale_tempdirs`).
"""

from __future__ import annotations

from concurrent.futures import Executor, as_completed
from typing import Iterator

import numpy as np
from tqdm.auto import tqdm

from datagen.executors import default_workers, open_executor
from datagen.runner import ChunkResult, run_chunk
from spice_netlists import CrossbarSpec
from spice_netlists.netlist import SolverOptions, check_samples, check_sinh_a
from spice_netlists.ngspice import clean_stale_tempdirs, ngspice_info

#: samples per chunk times sqrt(cells): measured best near 50 samples of a 32x32 crossbar
#: and 25 of a 64x64 one per ngspice process (longer tables slow each sample down,
#: shorter chunks pay ngspice's start-up and parsing more often)
CHUNK_SCALE = 1600


def auto_chunk_size(spec: CrossbarSpec) -> int:
    """Samples per ngspice process for this crossbar size (10..200)."""
    return int(np.clip(round(CHUNK_SCALE / np.sqrt(spec.rows * spec.cols)), 10, 200))


def check_timeout(timeout_s: float | None) -> float | None:
    """``timeout_s`` if it is None (no limit) or a finite number of seconds > 0, else
    ValueError naming it."""
    if timeout_s is None:
        return None
    if (isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float))
            or not np.isfinite(timeout_s) or timeout_s <= 0):
        raise ValueError(f"timeout_s must be a finite number of seconds > 0 (or None), "
                         f"got {timeout_s!r}")
    return timeout_s


def chunk_bounds(m: int, chunk_size: int) -> list[tuple[int, int]]:
    """[lo, hi) sample ranges of ``m`` samples in chunks of ``chunk_size``."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size!r}")
    return [(lo, min(lo + chunk_size, m)) for lo in range(0, m, chunk_size)]


def iter_chunks(spec: CrossbarSpec, v: np.ndarray, g: np.ndarray, executor: Executor,
                bounds: list[tuple[int, int]], options: SolverOptions,
                timeout_s: float | None,
                sinh_a: np.ndarray | None = None) -> Iterator[tuple[int, ChunkResult]]:
    """Submit every chunk; yield (chunk number, result) as they finish."""
    futures = {executor.submit(run_chunk, spec, v[lo:hi], g[lo:hi], options, timeout_s,
                               None if sinh_a is None else sinh_a[lo:hi]): k
               for k, (lo, hi) in enumerate(bounds)}
    for fut in as_completed(futures):
        yield futures[fut], fut.result()


def simulate_detailed(spec: CrossbarSpec, v: np.ndarray, g: np.ndarray, *,
                      chunk_size: int | None = None, workers: int | None = None,
                      scheduler: str | None = None, executor: Executor | None = None,
                      options: SolverOptions | None = None, timeout_s: float | None = 600.0,
                      progress: bool = False, sinh_a: np.ndarray | None = None) -> ChunkResult:
    """Like :func:`simulate`, but also return per-sample success, failure reasons and
    failure kinds (:data:`datagen.runner.FAILURE_KINDS`)."""
    ngspice_info()  # fail early, with what to install, if ngspice is missing or too old
    check_timeout(timeout_s)
    clean_stale_tempdirs()
    v, g = check_samples(spec, v, g)
    m = len(v)
    sinh_a = check_sinh_a(spec, sinh_a, m)
    options = options or SolverOptions()
    size = chunk_size or auto_chunk_size(spec)
    n_workers = workers or default_workers()
    if chunk_size is None and executor is None and scheduler is None:
        size = max(1, min(size, -(-m // n_workers)))  # keep every worker busy
    bounds = chunk_bounds(m, size)
    out = ChunkResult(i=np.full((m, spec.cols), np.nan), ok=np.zeros(m, dtype=bool),
                      reason=[""] * m, kind=[""] * m)
    bar = tqdm(total=m, unit="sample", desc=f"ngspice {spec.label}", disable=not progress)

    def collect(ex: Executor) -> None:
        for k, res in iter_chunks(spec, v, g, ex, bounds, options, timeout_s, sinh_a):
            lo, hi = bounds[k]
            out.i[lo:hi], out.ok[lo:hi], out.reason[lo:hi] = res.i, res.ok, res.reason
            out.kind[lo:hi] = res.kinds()
            out.seconds += res.seconds
            bar.update(hi - lo)

    if executor is not None:
        collect(executor)
    else:
        kind = "serial" if len(bounds) == 1 else "process"
        with open_executor(workers=min(n_workers, len(bounds)), scheduler=scheduler, kind=kind) as ex:
            collect(ex)
    bar.close()
    return out


def simulate(spec: CrossbarSpec, v: np.ndarray, g: np.ndarray, **kwargs) -> np.ndarray:
    """Column currents from ngspice.

    Args:
        spec: the crossbar.
        v: (M, rows) input voltages, V (a single (rows,) vector is taken as M=1).
        g: (M, rows, cols) conductances, S.
        **kwargs: chunk_size, workers, scheduler (Dask address), executor, options
            (:class:`SolverOptions`), timeout_s, progress, sinh_a ((M, rows, cols) per-device
            nonlinearity of sinh devices, 1/V) — see :func:`simulate_detailed`.

    Returns:
        (M, cols) column currents, A; a row of NaN for a sample ngspice could not solve
        (use :func:`simulate_detailed` for the reasons).
    """
    return simulate_detailed(spec, v, g, **kwargs).i
