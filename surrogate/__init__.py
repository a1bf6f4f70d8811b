"""Crossbar models behind one interface: ideal, analytical, geniex, spice.

``surrogate.make_model(name, spec, checkpoint=None)`` returns a :class:`CrossbarModel`;
``currents = model(v, g)`` with v (..., rows) V, g (..., rows, cols) S -> (..., cols) A.
"""

from __future__ import annotations

from pathlib import Path

from spice_netlists import CrossbarSpec
from surrogate.base import CrossbarModel
from surrogate.ideal import IdealModel

MODEL_NAMES = ("ideal", "analytical", "geniex", "spice")


def make_model(name: str, spec: CrossbarSpec, checkpoint: str | Path | None = None) -> CrossbarModel:
    """The crossbar model called ``name`` for ``spec``.

    ``checkpoint`` is required for ``geniex`` (a file written by ``surrogate.train``);
    its spec must equal ``spec``.
    """
    if name == "ideal":
        return IdealModel(spec)
    raise ValueError(f"unknown crossbar model {name!r}; choose one of {MODEL_NAMES}")


__all__ = ["MODEL_NAMES", "CrossbarModel", "IdealModel", "make_model"]
