"""Crossbar physics (`CrossbarSpec`) and the ngspice netlists that simulate it.

Every configuration error of the project is a :class:`ConfigError` (``SpecError`` is the
crossbar's)."""

from spice_netlists.config import ConfigError
from spice_netlists.spec import DEVICES, CrossbarSpec, SpecError, TransistorSpec, load_spec_from_params

__all__ = ["DEVICES", "ConfigError", "CrossbarSpec", "SpecError", "TransistorSpec",
           "load_spec_from_params"]
