"""Checks shared by every configuration of the project (specs, sweeps, models, studies)."""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any, Iterable, Mapping


def reject_unknown_keys(owner: str, data: Any, known: type | Iterable[str],
                        error: type[Exception] = ValueError) -> None:
    """Raise ``error`` naming ``owner`` and the unknown keys when mapping ``data`` has keys
    outside ``known`` (a dataclass, whose field names count, or the names themselves);
    also when ``data`` is not a mapping at all."""
    if not isinstance(data, Mapping):
        raise error(f"{owner} needs a mapping, got {data!r}")
    names = {f.name for f in fields(known)} if is_dataclass(known) else set(known)
    unknown = sorted(set(data) - names)
    if unknown:
        raise error(f"{owner}: unknown key(s) {unknown}; known: {sorted(names)}")
