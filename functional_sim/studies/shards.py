"""Image shards: a study's units of work over slices of a network's images, run here or
on a Dask cluster, each kept when it is finished.

:func:`image_shards` cuts ``n`` images into slices of ``functional_sim.shard_images``
(one slice where it is 0). :func:`run_units` runs a list of units (a picklable function
and its arguments, with the inputs that key it in a
:class:`~functional_sim.studies.resume.UnitStore`): those already kept are taken from the
store, the rest run in this process, one at a time, or, where ``scheduler`` names a Dask
distributed scheduler (the convention of ``datagen.sweep.scheduler``), as tasks on its
workers; each result is kept as soon as it arrives. The results come back in the
units' order, so the report does not depend on where or in which order units ran.
"""

from __future__ import annotations

from concurrent.futures import Future, as_completed
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from datagen.executors import open_executor
from functional_sim.studies.resume import UnitStore

__all__ = ["image_shards", "Unit", "run_units"]


def image_shards(n: int, size: int) -> list[slice]:
    """``n`` images as consecutive slices of ``size`` (the last may be shorter); one
    slice of all of them where ``size`` is 0 or at least ``n``."""
    if size <= 0 or size >= n:
        return [slice(0, n)]
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


@dataclass
class Unit:
    """One unit of work: ``fn(*args)``, keyed in the store as ``what`` with ``inputs``
    (everything the result depends on; :meth:`UnitStore.key`)."""

    what: str
    inputs: Mapping[str, Any]
    fn: Callable[..., Any]
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


def run_units(units: Sequence[Unit], store: UnitStore, scheduler: str = "") -> list[Any]:
    """Every unit's result, in the order of ``units`` (module docstring)."""
    results: list[Any] = [None] * len(units)
    todo: list[tuple[int, str]] = []
    for k, unit in enumerate(units):
        key = store.key(unit.what, unit.inputs)
        found, value = store.take(key)
        if found:
            results[k] = value
        else:
            todo.append((k, key))
    if not todo:
        return results
    if not scheduler:
        for k, key in todo:                    # one at a time, each kept as it ends
            unit = units[k]
            results[k] = store.keep(key, unit.fn(*unit.args, **unit.kwargs))
        return results
    with open_executor(scheduler=scheduler) as executor:
        futures: dict[Future, tuple[int, str]] = {
            executor.submit(units[k].fn, *units[k].args, **units[k].kwargs): (k, key)
            for k, key in todo}
        for fut in as_completed(futures):
            k, key = futures[fut]
            results[k] = store.keep(key, fut.result())
    return results
