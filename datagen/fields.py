"""The error of a bad datagen config value, naming the field's path in params.yaml.

Every datagen config reader (:class:`datagen.samplers.SamplerConfig`,
:class:`datagen.sweep.SweepConfig`, :class:`datagen.sweep.DatagenParams`) raises
:class:`SweepFieldError`; nested readers re-raise it under their own path, so the
message names e.g. ``datagen.train.sampler.name`` or ``datagen.configs[1]``.
"""

from __future__ import annotations

import math
from dataclasses import fields, is_dataclass
from typing import Any, Iterable, Mapping


class SweepFieldError(ValueError):
    """A datagen config field with a bad value; its message names the field's path
    (``sweep.<name>`` by default, ``datagen.train.<name>`` where params.yaml's sweeps are
    read).

    Attributes:
        name: the field's path below ``owner`` ('' for ``owner`` itself).
        problem: what is wrong, with the value given.
        owner: the path of the section holding it ('' at the top of params.yaml).
    """

    def __init__(self, name: str, problem: str, owner: str = "sweep") -> None:
        self.name, self.problem, self.owner = name, problem, owner
        path = ".".join(p for p in (owner, name) if p)
        sep = "" if problem.startswith(":") else " "
        super().__init__(f"{path}{sep}{problem}")

    def at(self, owner: str) -> "SweepFieldError":
        """The same error, naming the field under ``owner``."""
        return SweepFieldError(self.name, self.problem, owner)

    def within(self, name: str) -> "SweepFieldError":
        """The same error one level down: field ``name`` of its owner holds the bad one
        (a sampler's ``name`` becomes ``sampler.name`` of the sweep)."""
        return SweepFieldError(".".join(p for p in (name, self.name) if p), self.problem,
                               self.owner)


def check_mapping(data: Any, known: type | Iterable[str], name: str, owner: str,
                  what: str = "settings") -> None:
    """Raise :class:`SweepFieldError` at ``owner.name`` unless ``data`` is a mapping whose
    keys are all in ``known`` (a dataclass, whose field names count, or the names)."""
    if not isinstance(data, Mapping):
        raise SweepFieldError(name, f"must be a mapping of {what}, got {data!r}", owner)
    names = {f.name for f in fields(known)} if is_dataclass(known) else set(known)
    unknown = sorted(set(data) - names, key=str)
    if unknown:
        raise SweepFieldError(name, f": unknown key(s) {unknown}; known: {sorted(names)}", owner)


def number_problem(value: Any, *, positive: bool = True) -> str:
    """What is wrong with ``value`` as a finite real number (> 0 when ``positive``);
    '' when nothing is. Booleans are not numbers here."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"must be a number, got {value!r}"
    if not math.isfinite(value):
        return f"must be finite, got {value!r}"
    if positive and value <= 0:
        return f"must be > 0, got {value!r}"
    return ""
