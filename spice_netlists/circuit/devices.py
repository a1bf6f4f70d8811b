"""Cell laws of the circuit-exact model: what one cross-point passes, given its two nodes.

A cell sits between its row node (voltage ``x``) and its column node (voltage ``y``).
Its law gives, elementwise over tensors of any shape,

* ``i_row``: the current the cell draws from the row node (A),
* ``j_col``: the current the cell delivers into the column node (A),
* ``d``: ``∂i_row/∂x`` at fixed ``y``, the cell's small-signal conductance (S, > 0),
  which the solver's Newton step uses as if the cell were two-terminal.

For ``linear`` and ``sinh`` devices the cell *is* two-terminal (``i_row == j_col``, a
function of ``u = x − y`` only) and ``d`` is the exact derivative. A ``1t1r`` cell is
the linear memristor in series with an ngspice level-1 NMOS (drain at the memristor,
source at the column node, gate at ``v_gate``, bulk at 0 V). Its current depends on
``y`` itself (the gate drive is ``v_gate − y``), and the transistor's bulk junctions
leak a little to ground, so ``j_col`` differs from ``i_row`` by ~1e-14 A. Both effects
enter the residual exactly, so the solution is exact; only the Newton step treats them
as lagged, which costs an extra iteration.

The MOSFET equations are ngspice's MOS1 (``mos1load.c``) at the nominal temperature:
Shichman–Hodges drain current with ``beta = kp·w/l``, no body effect (``gamma = 0``),
and bulk junctions ``IS·(exp(v_b/v_t) − 1) + gmin·v_b`` (``IS`` = 1e-14 A, ``gmin`` =
1e-12 S, ngspice's defaults), linear below ``−3·v_t`` as in ngspice.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch

from spice_netlists import CrossbarSpec

#: ngspice's default junction saturation current of a MOS1 transistor, A
MOS_IS = 1e-14
#: ngspice's default gmin, S, in parallel with every pn junction
GMIN = 1e-12
#: thermal voltage kT/q at ngspice's nominal 27 °C, V (CODATA 2018 constants)
V_THERMAL = 1.380649e-23 / 1.602176634e-19 * 300.15


class CellState(NamedTuple):
    """What every cell passes at given node voltages (see the module docstring)."""

    i_row: torch.Tensor   # A, drawn from the row node
    j_col: torch.Tensor   # A, delivered into the column node
    d: torch.Tensor       # S, ∂i_row/∂x at fixed y


CellLaw = Callable[[CrossbarSpec, torch.Tensor, torch.Tensor, torch.Tensor], CellState]


def linear_cell(spec: CrossbarSpec, x: torch.Tensor, y: torch.Tensor, g: torch.Tensor) -> CellState:
    """I = G·(x − y)."""
    i = g * (x - y)
    return CellState(i, i, g.expand_as(i))


def sinh_cell(spec: CrossbarSpec, x: torch.Tensor, y: torch.Tensor, g: torch.Tensor,
              a: torch.Tensor | float | None = None) -> CellState:
    """I = G·sinh(a·(x − y))/a, dI/du = G·cosh(a·(x − y)); ``a`` per device (a tensor
    shaped like ``g``) or ``spec.sinh_a`` where None."""
    a = spec.sinh_a if a is None else a
    au = a * (x - y)
    i = g * torch.sinh(au) / a
    return CellState(i, i, g * torch.cosh(au))


# ----------------------------------------------------------------------------- 1T1R
def _junction(v_b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Bulk junction current into the terminal (A) and its conductance (S), MOS1."""
    vt = V_THERMAL
    expo = torch.exp(torch.clamp(v_b / vt, max=80.0))
    on = v_b > -3 * vt
    cur = torch.where(on, MOS_IS * (expo - 1) + GMIN * v_b, GMIN * v_b - MOS_IS)
    cond = torch.where(on, MOS_IS * expo / vt + GMIN, torch.full_like(v_b, GMIN))
    return cur, cond


def _forward_drain(vgs: torch.Tensor, vds: torch.Tensor, beta: float, vto: float,
                   lam: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """MOS1 drain current for vds >= 0: (id, gm = ∂id/∂vgs, gds = ∂id/∂vds)."""
    vgst = vgs - vto
    betap = beta * (1 + lam * vds)
    sat = vgst <= vds
    on = vgst > 0
    id_lin = betap * vds * (vgst - 0.5 * vds)
    gm_lin = betap * vds
    gds_lin = betap * (vgst - vds) + lam * beta * vds * (vgst - 0.5 * vds)
    id_sat = betap * vgst * vgst * 0.5
    gm_sat = betap * vgst
    gds_sat = lam * beta * vgst * vgst * 0.5
    zero = torch.zeros_like(vds)
    i_d = torch.where(on, torch.where(sat, id_sat, id_lin), zero)
    gm = torch.where(on, torch.where(sat, gm_sat, gm_lin), zero)
    gds = torch.where(on, torch.where(sat, gds_sat, gds_lin), zero)
    return i_d, gm, gds


def _channel(spec: CrossbarSpec, m: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Channel current from the drain (memristor side, ``m``) to the source (column,
    ``y``), A, and its derivative in ``m`` (S); either direction (MOS1's mode swap)."""
    t = spec.transistor
    beta = t.kp * t.w / t.l
    fwd = m >= y
    # forward: gate–source vgs = v_gate − y, vds = m − y; reverse: roles swapped
    vgs = torch.where(fwd, t.v_gate - y, t.v_gate - m)
    vds = torch.abs(m - y)
    i_d, gm, gds = _forward_drain(vgs, vds, beta, t.vto, t.lambda_)
    # d(id)/dm: forward vds grows with m; reverse (id flows y -> m) vgs and vds both move
    dm = torch.where(fwd, gds, gm + gds)
    return torch.where(fwd, i_d, -i_d), dm


def _internal_node(spec: CrossbarSpec, x: torch.Tensor, y: torch.Tensor, g: torch.Tensor,
                   iters: int) -> torch.Tensor:
    """The 1T1R cell's memristor–drain node voltage, V, by safeguarded Newton."""
    t = spec.transistor
    lo = torch.minimum(x, y) - 1e-3
    hi = torch.maximum(x, y) + 1e-3
    # start from the exact series solution without leaks and channel-length modulation:
    # g·(u − vds) = beta·(vgst − vds/2)·vds, a quadratic in vds (linear region, u ≥ 0)
    beta = t.kp * t.w / t.l
    u = x - y
    b = beta * torch.clamp(t.v_gate - y - t.vto, min=0.0) + g
    disc = b * b - 2 * beta * g * u
    vds = 2 * g * u / (b + torch.sqrt(torch.clamp(disc, min=0.0)) + GMIN)
    m = y + torch.where((u >= 0) & (disc >= 0), vds, u * g / (b + GMIN))
    for _ in range(iters):
        i_ch, gch = _channel(spec, m, y)
        i_bd, gbd = _junction(-m)     # bulk (0 V) to drain: v_bd = −m
        h = g * (x - m) + i_bd - i_ch
        dh = -(g + gbd + gch)         # dh/dm < 0 (i_bd's derivative in m is −gbd)
        lo = torch.where(h > 0, m, lo)
        hi = torch.where(h <= 0, m, hi)
        step = -h / dh
        new = m + step
        outside = (new < lo) | (new > hi)
        new = torch.where(outside, 0.5 * (lo + hi), new)
        done = torch.abs(new - m) <= 1e-16 + 1e-15 * torch.abs(m)
        m = new
        if bool(done.all()):
            break
    return m


def one_t_one_r_cell(spec: CrossbarSpec, x: torch.Tensor, y: torch.Tensor, g: torch.Tensor,
                     iters: int = 100) -> CellState:
    """The 1T1R cell: solves its internal node (memristor–drain) by safeguarded Newton.

    KCL at the internal node ``m``: ``g·(x − m) + i_bd(m) − i_ch(m, y) = 0``, monotone
    decreasing in ``m``, so Newton steps that leave the bracket fall back to bisection.
    """
    x, y, g = torch.broadcast_tensors(x, y, g)
    with torch.no_grad():
        m = _internal_node(spec, x.detach(), y.detach(), g.detach(), iters)
    if torch.is_grad_enabled() and (x.requires_grad or y.requires_grad or g.requires_grad):
        # one more Newton step, with the derivative held fixed: the same value, and the
        # exact implicit derivative of m in (x, y, g) for autograd
        i_ch, gch = _channel(spec, m, y)
        i_bd, gbd = _junction(-m)
        m = m + (g * (x - m) + i_bd - i_ch) / (g + gbd + gch).detach()
    i_ch, gch = _channel(spec, m, y)
    _, gbd = _junction(-m)
    i_bs, _ = _junction(-y)           # bulk to source (the column node)
    i_row = g * (x - m)
    series = gbd + gch
    d = g * series / (g + series)
    return CellState(i_row, i_ch + i_bs, torch.where(g > 0, d, torch.zeros_like(d)))


#: the cell law of each ``CrossbarSpec.device``
def cell_law(spec: CrossbarSpec, sinh_a: torch.Tensor | None = None) -> CellLaw:
    """The law of ``spec``'s cells; with ``sinh_a`` (shaped like the conductances, 1/V)
    each sinh device has its own nonlinearity (ValueError for other devices)."""
    if sinh_a is None:
        return CELL_LAWS[spec.device]
    check_per_device_a(spec)
    return lambda spec_, x, y, g: sinh_cell(spec_, x, y, g, sinh_a)


def check_per_device_a(spec: CrossbarSpec) -> None:
    """ValueError unless ``spec``'s devices have a nonlinearity ``a`` to spread (sinh)."""
    if spec.device != "sinh":
        raise ValueError(f"per-device sinh_a given for {spec.device} devices: only sinh "
                         f"devices have a nonlinearity a")


CELL_LAWS: dict[str, CellLaw] = {
    "linear": linear_cell,
    "sinh": sinh_cell,
    "1t1r": one_t_one_r_cell,
}
