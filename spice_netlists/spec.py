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

import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import yaml

from spice_netlists.validation import reject_unknown_keys

DEVICES = ("linear", "sinh", "1t1r")


class SpecError(ValueError):
    """A crossbar parameter has a bad value; the message names the field and the value."""


def _check_number(owner: str, name: str, value: Any, *, positive: bool = False,
                  nonnegative: bool = False) -> float:
    """Return ``value`` as a finite float, or raise naming ``owner.name`` and the value."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{owner}.{name} must be a number, got {value!r} "
                        f"({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value):
        raise SpecError(f"{owner}.{name} must be finite, got {value!r}")
    if positive and value <= 0:
        raise SpecError(f"{owner}.{name} must be > 0, got {value!r}")
    if nonnegative and value < 0:
        raise SpecError(f"{owner}.{name} must be >= 0, got {value!r}")
    return value


def _check_size(owner: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{owner}.{name} must be an integer, got {value!r} "
                        f"({type(value).__name__})")
    if value < 1:
        raise SpecError(f"{owner}.{name} must be >= 1, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class TransistorSpec:
    """The access transistor of a 1T1R cell: an ngspice level-1 NMOS.

    The memristor (linear, conductance G) sits between the row node and the drain; the
    source connects to the column node; the gate is held at ``v_gate`` volts (the word
    line is selected for a read); the bulk is at 0 V.
    """

    v_gate: float = 1.8        # V, gate (word-line select) voltage
    vto: float = 0.5           # V, threshold voltage
    kp: float = 200e-6         # A/V^2, transconductance parameter
    w: float = 1e-6            # m, channel width
    l: float = 0.5e-6          # m, channel length
    lambda_: float = 0.0       # 1/V, channel-length modulation

    def __post_init__(self) -> None:
        own = "transistor"
        object.__setattr__(self, "v_gate", _check_number(own, "v_gate", self.v_gate))
        object.__setattr__(self, "vto", _check_number(own, "vto", self.vto))
        for name in ("kp", "w", "l"):
            object.__setattr__(self, name, _check_number(own, name, getattr(self, name),
                                                         positive=True))
        object.__setattr__(self, "lambda_", _check_number(own, "lambda_", self.lambda_,
                                                          nonnegative=True))


@dataclass(frozen=True)
class CrossbarSpec:
    """A non-ideal memristive crossbar, validated on construction.

    Attributes:
        rows, cols: crossbar size (word lines, bit lines).
        r_source: Ω, driver resistance between each input and its row (0 = ideal).
        r_sink: Ω, resistance between each column's last cell and the 0 V sense node.
        r_wire_row: Ω, row wire segment between neighbouring cells.
        r_wire_col: Ω, column wire segment between neighbouring cells.
        g_on, g_off: S, the conductance range devices are programmed into (g_off < g_on).
        v_read_max: V, the largest input (read) voltage.
        device: ``linear`` (I = G·V), ``sinh`` (I = G·sinh(a·V)/a) or ``1t1r``.
        sinh_a: 1/V, the nonlinearity ``a`` of the ``sinh`` device.
        transistor: the access transistor of ``1t1r`` cells.
    """

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

    def __post_init__(self) -> None:
        own = "CrossbarSpec"
        object.__setattr__(self, "rows", _check_size(own, "rows", self.rows))
        object.__setattr__(self, "cols", _check_size(own, "cols", self.cols))
        for name in ("r_source", "r_sink", "r_wire_row", "r_wire_col"):
            object.__setattr__(self, name, _check_number(own, name, getattr(self, name),
                                                         nonnegative=True))
        for name in ("g_on", "g_off", "v_read_max", "sinh_a"):
            object.__setattr__(self, name, _check_number(own, name, getattr(self, name),
                                                         positive=True))
        if self.g_off >= self.g_on:
            raise SpecError(f"{own}.g_off must be < g_on, got g_off={self.g_off!r} "
                            f">= g_on={self.g_on!r}")
        if not isinstance(self.device, str) or self.device not in DEVICES:
            raise SpecError(f"{own}.device must be one of {DEVICES}, got {self.device!r}")
        if isinstance(self.transistor, Mapping):
            reject_unknown_keys("transistor", self.transistor, TransistorSpec, SpecError)
            object.__setattr__(self, "transistor", TransistorSpec(**self.transistor))
        elif not isinstance(self.transistor, TransistorSpec):
            raise SpecError(f"{own}.transistor must be a mapping of transistor parameters, "
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
        """File-name form of the spec's size, device and voltage, e.g. ``64x64_sinh_0.5V``:
        the directory of its datasets and the name of its GENIEx checkpoints."""
        return f"{self.rows}x{self.cols}_{self.device}_{self.v_read_max:g}V"

    @property
    def label(self) -> str:
        """Short name for reports, e.g. ``64x64/sinh/0.5V``."""
        return f"{self.rows}x{self.cols}/{self.device}/{self.v_read_max:g}V"

    def with_(self, **changes: Any) -> "CrossbarSpec":
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    # ----------------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        """Plain types only (safe for YAML/JSON); inverse of :meth:`from_dict`."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "CrossbarSpec":
        """Build from a mapping (e.g. a params.yaml section); unknown keys are errors."""
        reject_unknown_keys("CrossbarSpec", data, cls, SpecError)
        return cls(**data)

    def save(self, path: str | Path) -> None:
        """Write the spec as YAML."""
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def load(cls, path: str | Path) -> "CrossbarSpec":
        """Read a spec written by :meth:`save`; a file that is not YAML, empty, or holds
        a bad spec raises :class:`SpecError` naming it."""
        try:
            return cls.from_dict(yaml.safe_load(Path(path).read_text()))
        except (SpecError, yaml.YAMLError) as exc:
            raise SpecError(f"{path}: {exc}") from None


def load_spec_from_params(params: Mapping[str, Any], **overrides: Any) -> CrossbarSpec:
    """The spec of a params.yaml's ``crossbar`` section, with ``overrides`` applied.

    Raises:
        SpecError: ``params`` is not a mapping, has no ``crossbar`` section, or that
            section is not a mapping (the message names it), or a value is bad.
    """
    if not isinstance(params, Mapping):
        raise SpecError(f"params must be a mapping of sections (crossbar, datagen, ...), "
                        f"got {params!r}")
    if "crossbar" not in params:
        raise SpecError("params has no 'crossbar' section")
    section = params["crossbar"]
    if not isinstance(section, Mapping):
        raise SpecError(f"crossbar (params section) must be a mapping of crossbar "
                        f"parameters, got {section!r}")
    return CrossbarSpec.from_dict({**section, **overrides})
