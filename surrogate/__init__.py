"""Crossbar models behind one interface: ideal, analytical, analytical_device, geniex, spice.

``surrogate.make_model(name, spec, checkpoint=None)`` returns a :class:`CrossbarModel`;
``currents = model(v, g)`` with v (..., rows) V, g (..., rows, cols) S -> (..., cols) A.
"""

from __future__ import annotations

from pathlib import Path

from spice_netlists import CrossbarSpec
from surrogate.analytical import AnalyticalDeviceModel, AnalyticalModel
from surrogate.base import CrossbarModel
from surrogate.ideal import IdealModel

MODEL_NAMES = ("ideal", "analytical", "analytical_device", "geniex", "spice")


def make_model(name: str, spec: CrossbarSpec, checkpoint: str | Path | None = None) -> CrossbarModel:
    """The crossbar model called ``name`` for ``spec``.

    ``analytical`` is GENIEx's analytical model (the exact linear network, devices
    linear); ``analytical_device`` is the same network with the device I–V applied to
    the inputs (``spec.device_drive(v)ᵀ·G_eff``), equally cheap per MVM.

    ``checkpoint`` is required for ``geniex`` (a file written by ``surrogate.train``,
    e.g. ``models/geniex/<tag>.pt``); its spec must equal ``spec``, else
    :class:`surrogate.checkpoint.SpecMismatchError` names the differing fields.
    """
    if name == "ideal":
        return IdealModel(spec)
    if name == "analytical":
        return AnalyticalModel(spec)
    if name == "analytical_device":
        return AnalyticalDeviceModel(spec)
    if name == "geniex":
        if checkpoint is None:
            raise ValueError("crossbar model 'geniex' needs a checkpoint (a .pt file written "
                             "by `python -m surrogate.train`, e.g. models/geniex/<tag>.pt)")
        from surrogate.checkpoint import load_geniex
        return load_geniex(checkpoint, spec)
    if name == "spice":
        from surrogate.spice_model import SpiceModel
        return SpiceModel(spec)
    raise ValueError(f"unknown crossbar model {name!r}; choose one of {MODEL_NAMES}")


__all__ = ["MODEL_NAMES", "AnalyticalDeviceModel", "AnalyticalModel", "CrossbarModel", "IdealModel", "make_model"]
