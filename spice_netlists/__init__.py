"""Crossbar physics (`CrossbarSpec`) and the ngspice netlists that simulate it."""

from spice_netlists.spec import DEVICES, CrossbarSpec, SpecError, TransistorSpec, load_spec_from_params

__all__ = ["DEVICES", "CrossbarSpec", "SpecError", "TransistorSpec", "load_spec_from_params"]
