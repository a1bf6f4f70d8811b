"""Crossbar physics (`CrossbarSpec`) and the ngspice netlists that simulate it.

Every configuration error of the project is a :class:`ConfigError` (``SpecError`` is the
crossbar's); :mod:`spice_netlists.config` is the one config base (sections, validators,
the params reader). :mod:`spice_netlists.circuit` solves the same physics exactly in
torch; it is imported only where asked for, so this package alone never loads torch.

The ground floor: imports no other package of the project.
"""

from spice_netlists.config import ConfigError
from spice_netlists.spec import DEVICES, CrossbarSpec, SpecError, TransistorSpec, load_spec_from_params

__all__ = ["DEVICES", "ConfigError", "CrossbarSpec", "SpecError", "TransistorSpec",
           "load_spec_from_params"]
