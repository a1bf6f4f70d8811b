"""Crossbar models behind one interface: ideal, analytical, analytical_device, geniex, spice,
circuit.

``surrogate.make_model(name, spec, checkpoint=None)`` returns a :class:`CrossbarModel`;
``currents = model(v, g)`` with v (..., rows) V, g (..., rows, cols) S -> (..., cols) A.
The models live at this package's top; its DVC stages and benchmarks in
:mod:`surrogate.stages`.

May import: :mod:`spice_netlists` (the circuit solver included) and :mod:`datagen`;
never functional_sim.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from spice_netlists import CrossbarSpec
from surrogate.analytical import AnalyticalDeviceModel, AnalyticalModel
from surrogate.analytical_cell import AnalyticalCellModel
from surrogate.base import CrossbarModel
from surrogate.ideal import IdealModel



def _geniex(spec: CrossbarSpec, checkpoint: str | Path | None) -> CrossbarModel:
    if checkpoint is None:
        raise ValueError("crossbar model 'geniex' needs a checkpoint (a .pt file written "
                         "by `python -m surrogate.stages.train`, e.g. models/geniex/<tag>.pt)")
    from surrogate.checkpoint import load_geniex
    return load_geniex(checkpoint, spec)


def _spice(spec: CrossbarSpec, checkpoint: str | Path | None) -> CrossbarModel:
    from surrogate.spice_model import SpiceModel
    return SpiceModel(spec)


def _circuit(spec: CrossbarSpec, checkpoint: str | Path | None) -> CrossbarModel:
    from surrogate.circuit import CircuitModel
    return CircuitModel(spec)


#: every crossbar model by name: (spec, checkpoint) -> model
MODEL_FACTORIES: dict[str, Callable[[CrossbarSpec, str | Path | None], CrossbarModel]] = {
    "ideal": lambda spec, _: IdealModel(spec),
    "analytical": lambda spec, _: AnalyticalModel(spec),
    "analytical_device": lambda spec, _: AnalyticalDeviceModel(spec),
    "analytical_cell": lambda spec, _: AnalyticalCellModel(spec),
    "geniex": _geniex,
    "spice": _spice,
    "circuit": _circuit,
}
MODEL_NAMES = tuple(MODEL_FACTORIES)


def make_model(name: str, spec: CrossbarSpec, checkpoint: str | Path | None = None) -> CrossbarModel:
    """The crossbar model called ``name`` for ``spec``.

    ``analytical`` is GENIEx's analytical model (the exact linear network, devices
    linear); ``analytical_device`` is the same network with the device I–V applied to
    the inputs (``spec.device_drive(v)ᵀ·G_eff``), equally cheap per MVM;
    ``analytical_cell`` applies each device's law at its own cell's voltage in the linear
    network, with one correction through the wires (:mod:`surrogate.analytical_cell`).
    ``circuit`` is
    the exact nonlinear network (every parasitic and the device I–V solved together),
    ngspice's answer at a fraction of its cost; ``spice`` is ngspice itself.

    ``checkpoint`` is required for ``geniex`` (a file written by ``surrogate.stages.train``,
    e.g. ``models/geniex/<tag>.pt``); its spec must equal ``spec``, else
    :class:`surrogate.checkpoint.SpecMismatchError` names the differing fields.
    """
    if name not in MODEL_FACTORIES:
        raise ValueError(f"unknown crossbar model {name!r}; choose one of {MODEL_NAMES}")
    return MODEL_FACTORIES[name](spec, checkpoint)


__all__ = ["MODEL_FACTORIES", "MODEL_NAMES", "AnalyticalCellModel", "AnalyticalDeviceModel", "AnalyticalModel", "CrossbarModel", "IdealModel", "make_model"]
