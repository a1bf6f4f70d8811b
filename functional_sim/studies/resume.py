"""Finished units of a study's work, kept on disk so that a killed stage resumes.

A study stage (ground truth, accuracy study, sensitivity, aware training) splits its
work into units: one (setting, network) of the ground truth with every model, one
(model, setting, network) of the accuracy study, one (model, point) of the sensitivity
study, one epoch of a fine-tuning. :class:`UnitStore` keeps each unit's result in its own
file as soon as it is finished, under a key that is the SHA-256 of everything the unit
depends on:

* the inputs the stage names for it (config sections as their ``to_dict``, images and
  labels by the SHA-256 of their bytes, network and checkpoint files by the SHA-256 of
  their content: :func:`file_digest`), and
* the project's source: every ``.py`` file of ``spice_netlists``, ``datagen``,
  ``surrogate`` and ``functional_sim`` (:func:`source_fingerprint`).

So a rerun after a kill takes every finished unit from the store and computes only the
rest, and the report comes out byte for byte as an uninterrupted run's (a unit's stored
result is the very objects the run made: floats and tensors round-trip exactly through
``torch.save``). A changed parameter changes the keys of the units it affects only; a
changed source file, every key.

A unit file (``<store>/<key>.pt``) holds one line ``study-unit/1 <sha256 of the
payload>`` and then the ``torch.save`` payload, and is written whole or not at all
(:func:`datagen.dataset.atomic_write_bytes`). A file that is damaged (its checksum or
header wrong) is recomputed, with a warning naming it. The store is never pruned: remove
the directory (``.study_cache/`` by default) to reclaim its space.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

import numpy as np
import torch

from datagen.dataset import atomic_write_bytes

__all__ = ["UNIT_FORMAT", "DEFAULT_RESUME_DIR", "UnitStore", "file_digest",
           "source_fingerprint", "canonical"]

#: the first word of every unit file
UNIT_FORMAT = "study-unit/1"

#: where the study stages keep their units unless told otherwise (relative to the
#: working directory, the repository root under ``dvc repro``; git-ignored)
DEFAULT_RESUME_DIR = ".study_cache"

#: the packages whose source is part of every key
SOURCE_PACKAGES = ("spice_netlists", "datagen", "surrogate", "functional_sim")

T = TypeVar("T")

_SOURCE: str | None = None


def source_fingerprint() -> str:
    """SHA-256 of the path and content of every ``.py`` file of :data:`SOURCE_PACKAGES`
    (computed once per process)."""
    global _SOURCE
    if _SOURCE is None:
        root = Path(__file__).resolve().parents[2]
        digest = hashlib.sha256()
        for package in SOURCE_PACKAGES:
            for path in sorted((root / package).rglob("*.py")):
                digest.update(str(path.relative_to(root)).encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
        _SOURCE = digest.hexdigest()
    return _SOURCE


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's content (a network or checkpoint a unit reads)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def canonical(value: Any) -> Any:
    """``value`` as plain JSON data for a key: config sections by their ``to_dict``,
    tensors and arrays by dtype, shape and the SHA-256 of their bytes, paths as text."""
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return canonical(value.to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return canonical(dataclasses.asdict(value))
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().contiguous().numpy()
    if isinstance(value, np.ndarray):
        data = np.ascontiguousarray(value)
        return {"array": str(data.dtype), "shape": list(data.shape),
                "sha256": hashlib.sha256(data.tobytes()).hexdigest()}
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float):
        return repr(value)                # every bit of it, nan and inf included
    if value is None or isinstance(value, (str, int, bool)):
        return value
    raise TypeError(f"cannot key a study unit on a {type(value).__name__}: {value!r}")


class UnitStore:
    """The finished units of one study stage, in ``directory`` (module docstring).

    With ``directory=None`` nothing is kept: :meth:`get_or_compute` always computes.
    ``hits`` and ``computed`` count the units taken from the store and computed.
    """

    def __init__(self, directory: str | Path | None) -> None:
        self.directory = None if directory is None else Path(directory)
        self.hits = 0
        self.computed = 0

    def key(self, what: str, inputs: Mapping[str, Any]) -> str:
        """The key of unit ``what`` with ``inputs`` (hex SHA-256)."""
        text = json.dumps({"unit": what, "inputs": canonical(inputs),
                           "source": source_fingerprint()}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        assert self.directory is not None
        return self.directory / f"{key}.pt"

    def load(self, key: str) -> tuple[bool, Any]:
        """(found, value) of the unit ``key``; a damaged file counts as not found and is
        reported with a warning naming it."""
        if self.directory is None:
            return False, None
        path = self._path(key)
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            return False, None
        head, _, payload = blob.partition(b"\n")
        words = head.decode(errors="replace").split()
        if len(words) != 2 or words[0] != UNIT_FORMAT \
                or hashlib.sha256(payload).hexdigest() != words[1]:
            warnings.warn(f"{path}: damaged study unit (not a {UNIT_FORMAT} file or its "
                          f"checksum is wrong): computing it again", stacklevel=2)
            return False, None
        return True, torch.load(io.BytesIO(payload), map_location="cpu", weights_only=False)

    def save(self, key: str, value: Any) -> None:
        """Keep ``value`` as unit ``key`` (whole or not at all)."""
        if self.directory is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        torch.save(value, buf)
        payload = buf.getvalue()
        head = f"{UNIT_FORMAT} {hashlib.sha256(payload).hexdigest()}\n".encode()
        atomic_write_bytes(self._path(key), head + payload)

    def take(self, key: str) -> tuple[bool, Any]:
        """:meth:`load`, counting a found unit in ``hits``."""
        found, value = self.load(key)
        self.hits += found
        return found, value

    def keep(self, key: str, value: Any) -> Any:
        """:meth:`save` a computed unit, counting it in ``computed``; returns ``value``."""
        self.save(key, value)
        self.computed += 1
        return value

    def get_or_compute(self, what: str, inputs: Mapping[str, Any],
                       compute: Callable[[], T]) -> T:
        """The stored result of unit ``what`` with ``inputs``, or ``compute()``'s, stored
        before it is returned."""
        key = self.key(what, inputs)
        found, value = self.take(key)
        return value if found else self.keep(key, compute())

    def summary(self) -> str:
        """One line: how many units were resumed and computed, and where they are kept."""
        where = f" (kept in {self.directory})" if self.directory is not None else ""
        return f"{self.hits} unit(s) resumed, {self.computed} computed{where}"
