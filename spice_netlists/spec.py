"""The physics of one crossbar, in one validated place.

`CrossbarSpec` holds every number that defines a crossbar: its size, its parasitic
resistances, the conductance range of its devices, the read-voltage range and the
device model (``linear``, ``sinh`` or ``1t1r``). Netlists, datagen, every crossbar model
and the functional simulator take a spec; it is saved beside every dataset and model
so that nothing is ever paired with the wrong physics.

Units are SI throughout: volts, siemens, amperes, ohms. Orientation (shared by every
tool): row ``i``'s input enters at column 0 through ``r_source``; column ``j`` is sensed
after the last row through ``r_sink`` into a 0 V sense node. A parasitic resistance of 0
means an ideal wire (the two nodes are one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import yaml

from spice_netlists.config import ConfigError, check_choice, check_int, check_number
from spice_netlists.validation import CheckedSection

DEVICES = ("linear", "sinh", "1t1r")


class SpecError(ConfigError):
    """A crossbar parameter has a bad value; the message names its path (``rows``, or
    ``crossbar.transistor.kp`` where params.yaml is read) and the value. A
    :class:`spice_netlists.config.ConfigError`."""


@dataclass(frozen=True)
class TransistorSpec(CheckedSection):
    """The access transistor of a 1T1R cell: an ngspice level-1 NMOS.

    The memristor (linear, conductance G) sits between the row node and the drain; the
    source connects to the column node; the gate is held at ``v_gate`` volts (the word
    line is selected for a read); the bulk is at 0 V.

    Attributes:
        v_gate: V, gate (word-line select) voltage.
        vto: V, threshold voltage.
        kp: A/V^2, transconductance parameter (> 0).
        w: m, channel width (> 0).
        l: m, channel length (> 0).
        lambda_: 1/V, channel-length modulation (>= 0).
    """

    error = SpecError

    v_gate: float = 1.8
    vto: float = 0.5
    kp: float = 200e-6
    w: float = 1e-6
    l: float = 0.5e-6
    lambda_: float = 0.0

    def check(self) -> None:
        self.set("v_gate", check_number("v_gate", self.v_gate))
        self.set("vto", check_number("vto", self.vto))
        for name in ("kp", "w", "l"):
            self.set(name, check_number(name, getattr(self, name), positive=True))
        self.set("lambda_", check_number("lambda_", self.lambda_, nonnegative=True))


@dataclass(frozen=True)
class CrossbarSpec(CheckedSection):
    """A non-ideal memristive crossbar, validated on construction.

    Attributes:
        rows, cols: crossbar size (word lines, bit lines), integers >= 1.
        r_source: Ω, driver resistance between each input and its row (0 = ideal).
        r_sink: Ω, resistance between each column's last cell and the 0 V sense node.
        r_wire_row: Ω, row wire segment between neighbouring cells.
        r_wire_col: Ω, column wire segment between neighbouring cells.
        g_on, g_off: S, the conductance range devices are programmed into (g_off < g_on).
        v_read_max: V, the largest input (read) voltage.
        device: ``linear`` (I = G·V), ``sinh`` (I = G·sinh(a·V)/a) or ``1t1r``.
        sinh_a: 1/V, the nonlinearity ``a`` of the ``sinh`` device.
        transistor: the access transistor of ``1t1r`` cells (:class:`TransistorSpec`;
            a mapping of its fields is read as one).
    """

    error = SpecError

    rows: int = 32
    cols: int = 32
    r_source: float = 100.0
    r_sink: float = 100.0
    r_wire_row: float = 2.0
    r_wire_col: float = 2.0
    g_on: float = 1.0 / 100e3
    g_off: float = 1.0 / 600e3
    v_read_max: float = 0.25
    device: str = "linear"
    sinh_a: float = 2.0
    transistor: TransistorSpec = field(default_factory=TransistorSpec)

    def check(self) -> None:
        self.set("rows", check_int("rows", self.rows, low=1))
        self.set("cols", check_int("cols", self.cols, low=1))
        for name in ("r_source", "r_sink", "r_wire_row", "r_wire_col"):
            self.set(name, check_number(name, getattr(self, name), nonnegative=True))
        for name in ("g_on", "g_off", "v_read_max", "sinh_a"):
            self.set(name, check_number(name, getattr(self, name), positive=True))
        if self.g_off >= self.g_on:
            raise SpecError("g_off", f"must be < g_on, got g_off={self.g_off!r} "
                                     f">= g_on={self.g_on!r}")
        check_choice("device", self.device, DEVICES)
        if isinstance(self.transistor, Mapping):
            self.set("transistor", TransistorSpec.from_dict(self.transistor, "transistor"))
        elif not isinstance(self.transistor, TransistorSpec):
            raise SpecError("transistor", f"must be a mapping of transistor parameters, "
                                          f"got {self.transistor!r}")

    # ----------------------------------------------------------------- derived values
    @property
    def full_scale_current(self) -> float:
        """A: the ideal column current with every device at g_on and every input at
        v_read_max (rows·g_on·v_read_max): the scale of the RMSE reports."""
        return self.rows * self.g_on * self.v_read_max

    def device_drive(self, v: Any) -> Any:
        """Current per siemens (A/S) a device passes with ``v`` volts across it.

        A device of conductance ``G`` passes ``G · device_drive(v)``:

        * ``sinh``: ``sinh(a·v)/a`` with ``a = sinh_a`` (tends to ``v`` for small ``v``);
        * ``linear``: ``v``;
        * ``1t1r``: ``v`` (the memristor itself is linear; the access transistor's drop
          is part of the cell, not of this law).

        Works elementwise on floats, numpy arrays and torch tensors (any device, dtype
        kept); the linear laws return ``v`` itself. ``device_drive(0) == 0`` exactly,
        and the function is odd. Crossbar models use it as the device-aware baseline
        ``I = G_effᵀ · device_drive(v)`` (see ``surrogate.analytical``).
        """
        if self.device != "sinh":
            return v
        a = self.sinh_a
        if hasattr(v, "sinh"):                 # torch tensors
            return (v * a).sinh() / a
        return np.sinh(np.multiply(v, a)) / a

    @property
    def tag(self) -> str:
        """File-name form of the spec's size, device, R_on and voltage, e.g.
        ``64x64_sinh_Ron100k_0.5V`` (R_on = 1/g_on in kΩ): the directory of its datasets
        and the name of its GENIEx checkpoints."""
        return f"{self.rows}x{self.cols}_{self.device}_Ron{self.r_on_kohm:.4g}k_{self.v_read_max:g}V"

    @property
    def label(self) -> str:
        """Short name for reports, e.g. ``64x64/sinh/Ron100k/0.5V``."""
        return f"{self.rows}x{self.cols}/{self.device}/Ron{self.r_on_kohm:.4g}k/{self.v_read_max:g}V"

    @property
    def r_on_kohm(self) -> float:
        """kΩ: the ON resistance 1/g_on."""
        return 1e-3 / self.g_on

    # ----------------------------------------------------------------- serialisation
    # to_dict, from_dict(data, path), with_ and with_overrides come from ConfigSection.

    def save(self, path: str | Path) -> None:
        """Write the spec as YAML."""
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def load(cls, path: str | Path) -> "CrossbarSpec":
        """Read a spec written by :meth:`save`; a file that is not YAML, empty, or holds
        a bad spec raises :class:`SpecError` naming it."""
        try:
            return cls.from_dict(yaml.safe_load(Path(path).read_text()))
        except (ConfigError, yaml.YAMLError) as exc:
            raise SpecError(str(path), f": {exc}") from None


def load_spec_from_params(params: Mapping[str, Any], **overrides: Any) -> CrossbarSpec:
    """The spec of a params.yaml's ``crossbar`` section, with ``overrides`` applied.

    Raises:
        SpecError: ``params`` is not a mapping, has no ``crossbar`` section, or that
            section is not a mapping (the message names it), or a value is bad.
    """
    if not isinstance(params, Mapping):
        raise SpecError("params", f"must be a mapping of sections (crossbar, datagen, ...), "
                                  f"got {params!r}")
    if "crossbar" not in params:
        raise SpecError("params", "has no 'crossbar' section")
    section = params["crossbar"]
    if not isinstance(section, Mapping):
        raise SpecError("crossbar", f"(params section) must be a mapping of crossbar "
                                    f"parameters, got {section!r}")
    return CrossbarSpec.from_dict({**section, **overrides}, "crossbar")
