"""Where chunks run: a local process pool (default), threads, in-process, or a Dask
distributed cluster given by its scheduler address.

Every choice is a ``concurrent.futures.Executor``; Dask's comes from
``distributed.Client(address).get_executor()``, so the sweep code is the same.
"""

from __future__ import annotations

import contextlib
import os
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, Callable, Iterator


class SerialExecutor(Executor):
    """Runs each task at once in the calling process (debugging, tiny jobs)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller via the future
            fut.set_exception(exc)
        return fut


def default_workers() -> int:
    """One ngspice process per available core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def open_executor(workers: int | None = None, scheduler: str | None = None,
                  kind: str = "process") -> Iterator[Executor]:
    """An executor for chunks.

    Args:
        workers: parallel chunks on this machine (default: one per core).
        scheduler: address of a Dask distributed scheduler (e.g. ``tcp://host:8786``);
            when given, chunks run on that cluster's workers instead.
        kind: ``process`` (default), ``thread`` or ``serial`` for local runs.
    """
    if scheduler:
        from distributed import Client

        with Client(scheduler) as client:
            yield client.get_executor()
        return
    workers = workers or default_workers()
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")
    if kind == "serial" or workers == 1:
        yield SerialExecutor()
    elif kind == "thread":
        with ThreadPoolExecutor(workers) as pool:
            yield pool
    elif kind == "process":
        with ProcessPoolExecutor(workers) as pool:
            yield pool
    else:
        raise ValueError(f"executor kind must be process, thread or serial, got {kind!r}")
