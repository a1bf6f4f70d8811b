"""ngspice netlists of a crossbar, for one sample or a batch of samples.

A batch of M samples (voltages v (M, rows), conductances g (M, rows, cols)) becomes ONE
netlist: a dummy index source ``Vidx`` is swept by a ``.dc`` analysis over 0..M−1, and
every quantity that differs between samples is a piecewise-linear table of ``v(idx)``
(``pwl(v(idx), 0, x0, 1, x1, …)``). ngspice then solves all samples in one process,
each solution starting from the previous one: tens of times faster than one circuit
per sample. Quantities equal across the batch are written as constants.

Nothing a user typed is pasted into a netlist: every number is formatted from a float
(``repr``: the shortest text that reads back to the same double, so full precision) and
every name is generated here. The rawfile path is the one string from outside; ngspice's
control language splits it at spaces and ``;`` and expands ``$`` in it (quotes do not
help against ``$``), so :func:`crossbar_netlist` refuses a path with any character
outside ``A-Z a-z 0-9 _ . / + -``. :func:`spice_netlists.ngspice.run_netlist` passes a
bare file name and runs ngspice in the rawfile's directory, so a ``TMPDIR`` with such
characters does not matter.

Topology (see :mod:`spice_netlists.spec`): ``in<i>`` –r_source– row node (i,0) –r_wire_row–
(i,1) …; device between row node (i,j) and column node (i,j); column nodes joined by
r_wire_col down to (rows−1, j) –r_sink– sense node ``s<j>``, held at 0 V by ``Vs<j>``
whose branch current is the column current. A zero resistance merges its two nodes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any, Iterable

import numpy as np

from spice_netlists.config import ConfigError, ConfigSection, check_bool, check_number
from spice_netlists.spec import CrossbarSpec

def sense_vectors(cols: int) -> list[str]:
    """Names of the vectors holding the column currents (A), column order."""
    return [f"i(vs{j})" for j in range(cols)]


@dataclass(frozen=True)
class SolverOptions(ConfigSection):
    """ngspice convergence options.

    The defaults tighten ngspice's (reltol 1e-3 left 5e-4 relative errors on nonlinear
    devices, KLU's pivot threshold 1e-3 left 2e-9 on linear ones): with them a linear
    crossbar matches a direct nodal solve to ~1e-11, and sinh and 1T1R crossbars match
    the circuit-exact solve to ~1e-11 of the largest column current. (reltol 1e-7 left
    2–5e-9 on sinh crossbars with harsh parasitics; 1e-9 costs no measurable time.)

    A bad value raises :class:`spice_netlists.config.ConfigError` naming the option.

    Attributes:
        reltol: ngspice's relative tolerance (dimensionless, in (0, 1]).
        vntol: V, absolute voltage tolerance (> 0).
        abstol: A, absolute current tolerance (> 0).
        klu: use the KLU sparse solver (ngspice >= 41): ~100x faster at 64x64.
        pivrel: relative pivot threshold (dimensionless, in (0, 1]); KLU's default
            (1e-3) left 2e-9 errors.
    """

    reltol: float = 1e-9
    vntol: float = 1e-10
    abstol: float = 1e-15
    klu: bool = True
    pivrel: float = 0.1

    def __post_init__(self) -> None:
        for f in fields(self):
            self.check(f.name, getattr(self, f.name))

    @staticmethod
    def check(name: str, value: Any) -> Any:
        """``value`` if it is fine for option ``name``, else a ConfigError naming ``name``:
        the tolerances must be finite numbers > 0 (``reltol`` and ``pivrel`` also <= 1; a
        relative tolerance of 1 or more is no tolerance), ``klu`` a bool. Config readers
        (e.g. a sweep's ``reltol``) use it to check their own field of that name."""
        if name == "klu":
            return check_bool(name, value)
        number = check_number(name, value, positive=True)
        if name in ("reltol", "pivrel") and number > 1:
            raise ConfigError(name, f"must be <= 1, got {value!r}")
        return value

    def card(self) -> str:
        """The ``.options`` card of these options."""
        klu = " klu" if self.klu else ""
        return (f".options{klu} reltol={self.reltol!r} vntol={self.vntol!r} "
                f"abstol={self.abstol!r} pivrel={self.pivrel!r} noacct")


def _num(x: float) -> str:
    """A float as netlist text with full precision."""
    return repr(float(x))


def _table(values: np.ndarray) -> str:
    """An expression of the sample index: a constant when all samples agree, else a
    pwl table of ``v(idx)``."""
    if values.size == 1 or np.all(values == values[0]):
        return _num(values[0])
    pairs = ",".join(f"{k},{x!r}" for k, x in enumerate(values.tolist()))
    return f"pwl(v(idx),{pairs})"


class NodeNames:
    """Node names of one crossbar, merging the two ends of every zero resistance."""

    def __init__(self, spec: CrossbarSpec) -> None:
        self.spec = spec

    def row(self, i: int, j: int) -> str:
        s = self.spec
        if s.r_source == 0 and (j == 0 or s.r_wire_row == 0):
            return f"in{i}"
        return f"r{i}" if s.r_wire_row == 0 else f"r{i}_{j}"

    def col(self, i: int, j: int) -> str:
        s = self.spec
        if s.r_sink == 0 and (i == s.rows - 1 or s.r_wire_col == 0):
            return f"s{j}"
        return f"c{j}" if s.r_wire_col == 0 else f"c{i}_{j}"


def _wrap(line: str, width: int = 4000) -> Iterable[str]:
    """Split a long card into ngspice continuation lines (``+``) at commas."""
    while len(line) > width:
        cut = line.rfind(",", 0, width)
        if cut <= 0:
            break
        yield line[: cut + 1]
        line = "+" + line[cut + 1:]
    yield line


def check_samples(spec: CrossbarSpec, v: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate and return (v, g) as float64 arrays of shapes (M, rows), (M, rows, cols).

    Raises ValueError naming the bad shape or value.
    """
    v = np.asarray(v, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    if v.ndim == 1:
        v = v[None]
    if g.ndim == 2:
        g = g[None]
    r, c = spec.rows, spec.cols
    if v.ndim != 2 or v.shape[1] != r:
        raise ValueError(f"v has shape {v.shape}, expected (M, {r}) for a {r}-row crossbar")
    if g.ndim != 3 or g.shape[1:] != (r, c):
        raise ValueError(f"g has shape {g.shape}, expected (M, {r}, {c}) for a {r}x{c} crossbar")
    if len(v) != len(g):
        raise ValueError(f"v has {len(v)} samples but g has {len(g)}")
    if not np.all(np.isfinite(v)):
        k = int(np.argwhere(~np.isfinite(v))[0][0])
        raise ValueError(f"v of sample {k} is not finite: {v[k].tolist()!r}")
    bad = ~np.isfinite(g) | (g < 0)
    if bad.any():
        k, i, j = (int(x) for x in np.argwhere(bad)[0])
        raise ValueError(f"g[{k}, {i}, {j}] = {float(g[k, i, j])!r}: conductances must be finite and >= 0 S")
    return v, g


#: characters a rawfile path may hold: ngspice's control language splits a ``write``
#: argument at spaces and ``;`` and expands ``$``, even inside quotes
SAFE_RAW_PATH = re.compile(r"[A-Za-z0-9_./+-]+")


def check_sinh_a(spec: CrossbarSpec, sinh_a: np.ndarray | None, m: int) -> np.ndarray | None:
    """Per-device sinh nonlinearity (M, rows, cols) 1/V as float64, or None.

    Raises ValueError unless the spec's devices are ``sinh`` and every value is finite
    and > 0, in the shape of the samples' conductances.
    """
    if sinh_a is None:
        return None
    if spec.device != "sinh":
        raise ValueError(f"per-device sinh_a given for {spec.device} devices: only sinh "
                         f"devices have a nonlinearity a")
    a = np.asarray(sinh_a, dtype=np.float64)
    if a.ndim == 2:
        a = a[None]
    if a.shape != (m, spec.rows, spec.cols):
        raise ValueError(f"sinh_a has shape {a.shape}, expected ({m}, {spec.rows}, {spec.cols})")
    if not np.all(np.isfinite(a) & (a > 0)):
        k, i, j = (int(x) for x in np.argwhere(~(np.isfinite(a) & (a > 0)))[0])
        raise ValueError(f"sinh_a[{k}, {i}, {j}] = {float(a[k, i, j])!r}: must be finite and > 0 (1/V)")
    return a


def crossbar_netlist(spec: CrossbarSpec, v: np.ndarray, g: np.ndarray, raw_path: str,
                     options: SolverOptions = SolverOptions(),
                     sinh_a: np.ndarray | None = None) -> str:
    """Netlist that solves every sample of (v, g) and writes the column currents.

    Args:
        spec: the crossbar.
        v: (M, rows) input voltages, V.
        g: (M, rows, cols) device conductances, S.
        sinh_a: (M, rows, cols) per-device nonlinearity a (1/V) of sinh devices, each
            device passing ``g·sinh(a·V)/a``; None: ``spec.sinh_a`` for all.
        raw_path: where ngspice writes the binary rawfile of the column currents
            (one point per sample, vectors :func:`sense_vectors`); relative paths are
            relative to ngspice's working directory. Only the characters of
            :data:`SAFE_RAW_PATH` are allowed (ValueError otherwise).
        options: solver options.
    """
    if not isinstance(raw_path, str) or not SAFE_RAW_PATH.fullmatch(raw_path):
        raise ValueError(f"rawfile path {raw_path!r} holds characters ngspice's control "
                         f"language would split or expand (only A-Z a-z 0-9 _ . / + - are "
                         f"safe): pass a bare file name and run ngspice in its directory")
    v, g = check_samples(spec, v, g)
    m = len(v)
    per_device_a = check_sinh_a(spec, sinh_a, m)
    s, n = spec, NodeNames(spec)
    lines = [f"* crossbar {s.rows}x{s.cols} {s.device}, {m} samples", options.card(),
             "Vidx idx 0 0"]
    for i in range(s.rows):
        lines.append(f"Bin{i} in{i} 0 V={_table(v[:, i])}")
        if s.r_source > 0:
            lines.append(f"Rsrc{i} in{i} {n.row(i, 0)} {_num(s.r_source)}")
        if s.r_wire_row > 0:
            for j in range(s.cols - 1):
                lines.append(f"Rwr{i}_{j} {n.row(i, j)} {n.row(i, j + 1)} {_num(s.r_wire_row)}")
    for j in range(s.cols):
        if s.r_wire_col > 0:
            for i in range(s.rows - 1):
                lines.append(f"Rwc{i}_{j} {n.col(i, j)} {n.col(i + 1, j)} {_num(s.r_wire_col)}")
        if s.r_sink > 0:
            lines.append(f"Rsnk{j} {n.col(s.rows - 1, j)} s{j} {_num(s.r_sink)}")
        lines.append(f"Vs{j} s{j} 0 0")
    if s.device == "1t1r":
        t = s.transistor
        lines.append(f"Vgate gate 0 {_num(t.v_gate)}")
        lines.append(f".model nacc nmos level=1 vto={_num(t.vto)} kp={_num(t.kp)} "
                     f"lambda={_num(t.lambda_)}")
    a = _num(s.sinh_a)
    # sinh: I = (g/a)·sinh(a·V), with g/a tabulated (a division inside a B-source
    # expression made ngspice ~2x slower)
    if per_device_a is not None:
        g_table = g / per_device_a
    else:
        g_table = g / s.sinh_a if s.device == "sinh" else g
    for i in range(s.rows):
        for j in range(s.cols):
            row, col = n.row(i, j), n.col(i, j)
            cond = _table(g_table[:, i, j])
            if per_device_a is not None:
                a = _table(per_device_a[:, i, j])
            if s.device == "linear":
                card = f"Bc{i}_{j} {row} {col} I=({cond})*V({row},{col})"
            elif s.device == "sinh":
                card = f"Bc{i}_{j} {row} {col} I=({cond})*sinh({a}*V({row},{col}))"
            else:  # 1t1r: linear memristor, then the access transistor to the column
                mid = f"m{i}_{j}"
                lines.append(f"Mc{i}_{j} {mid} gate {col} 0 nacc "
                             f"w={_num(s.transistor.w)} l={_num(s.transistor.l)}")
                card = f"Bc{i}_{j} {row} {mid} I=({cond})*V({row},{mid})"
            lines.extend(_wrap(card))
    lines += [
        f".dc Vidx 0 {m - 1} 1",
        ".control",
        "set filetype=binary",
        "run",
        f"write {raw_path} " + " ".join(sense_vectors(s.cols)),
        "quit",
        ".endc",
        ".end",
    ]
    return "\n".join(lines) + "\n"
