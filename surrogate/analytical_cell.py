"""The cell-voltage model: each device's law at its own cell's voltage, with one
correction through the wires.

``analytical_device`` applies the device law to the *applied* input voltage. Under
severe IR drop a cell sees much less than that, so on sinh devices it over-corrects:
at 64×64 / R_on 25 kΩ / 0.5 V it is worse than the plain linear ``analytical`` model.
This model takes the device law where it acts:

1. **The linear network's cell voltages.** With every cell the linear conductance ``g``
   and every parasitic kept, the cell voltages ``u`` (R×C) solve
   ``u = v·1ᵀ − K(g∘u)`` (``K``: the wires' transfer resistances,
   :mod:`spice_netlists.circuit.network`), and the column currents are ``Σᵢ g∘u``
   (the ``analytical`` model's).
2. **One correction.** At those voltages each device passes ``cell(u)`` (sinh:
   ``g·sinh(a·u)/a``; 1T1R: the series transistor's current at the linear network's
   node voltages) instead of ``g·u``. The difference ``s = cell(u) − g∘u`` is put back
   into the linear network as current sources in parallel with the cells, where it
   causes its own IR drop: ``u_s = −(I + K·G)⁻¹ K(s)``, and the column currents are
   ``Σᵢ (g∘u + g∘u_s + s)``.

This is the first step of a fixed-point iteration on the exact network whose fixed
point is the ``circuit`` model; one step leaves a second-order error in ``s``. Against
``circuit`` on uniform random tiles (32 each) it measured 0.0085–0.040 % of full scale at
32×32 / R_on 100 kΩ, 64×64 and 128×128 / R_on 25 kΩ / 0.5 V, where ``analytical_device``
gave 0.30–1.12 % and ``analytical`` 0.20–2.2 % (``surrogate.stages.evaluate`` reports it
on every test set). For linear devices ``s = 0`` and it equals ``analytical``.

Two ways to compute it, with the same result (to the solves' 1e-13 relative residual):

* **Per input** (few inputs per tile, e.g. one sample per tile in the datasets): two
  linear solves of the wires per (input, tile), by CG (:func:`solve_wire_system`).
* **Per tile** (many inputs stream through a tile, as in the DNN simulator): ``prepare``
  then solves R + C linear systems per tile once: the cell voltages of each unit input,
  ``T`` (R, R, C), and by the adjoint (``K`` is symmetric) the column-current response to
  a unit source at each cell, ``H`` (C, R, C): ``H_j = 1_j − K((I + G·K)⁻¹ G 1_j)``. An
  input then costs two contractions, R·R·C + R·C·C multiply-adds, and the device law.
  :meth:`AnalyticalCellModel.mvm` takes this path once a tile has more than
  :data:`TRANSFER_AFTER` × (R + C) inputs to go through it, building the transfers
  lazily (in float64; float32 inputs then contract in float32, as the functional
  simulator's float32 runs of the other models do).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from spice_netlists import CrossbarSpec
from spice_netlists.circuit.devices import cell_law
from spice_netlists.circuit.network import WireNetwork
from spice_netlists.circuit.solver import solve_wire_system
from surrogate.base import CrossbarModel

__all__ = ["AnalyticalCellModel", "TRANSFER_AFTER"]

#: a tile's inputs, as a multiple of R + C, above which the per-tile transfers pay
TRANSFER_AFTER = 0.5

#: float64 elements of work space one chunk of per-input solves may use
_CHUNK_ELEMENTS = 1 << 22


@dataclass
class _Tiles:
    """Prepared tiles: the conductances (T, R, C) float64 and, once built, the
    per-tile transfers."""

    g: torch.Tensor
    dtype: torch.dtype = torch.float64         # the conductances' own dtype
    cells: torch.Tensor | None = None      # (T, R, R·C): cell voltages per unit input
    rises: torch.Tensor | None = None      # (T, R, R·C): column-node voltages per unit input
    sources: torch.Tensor | None = None    # (T, R·C, C): column currents per unit cell source
    lead: torch.Size = field(default_factory=torch.Size)
    cast: dict = field(default_factory=dict)  # dtype -> (g, cells, rises, sources) in it


class AnalyticalCellModel(CrossbarModel):
    """The device law at each cell's own (linear-network) voltage, plus one correction
    for the IR drop of the difference (module docstring)."""

    name = "analytical_cell"

    def __init__(self, spec: CrossbarSpec) -> None:
        super().__init__(spec)
        self._nets: dict[torch.device, WireNetwork] = {}

    def _net(self, device: torch.device) -> WireNetwork:
        if device not in self._nets:
            self._nets[device] = WireNetwork(self.spec, device)
        return self._nets[device]

    def prepare(self, g: torch.Tensor) -> _Tiles:
        lead = g.shape[:-2]
        return _Tiles(g.reshape(-1, self.spec.rows, self.spec.cols).to(torch.float64),
                      dtype=g.dtype, lead=lead)

    # ------------------------------------------------------------------ the physics
    def _cell_excess(self, u: torch.Tensor, y: torch.Tensor | None, g: torch.Tensor) -> torch.Tensor:
        """``s = cell(u) − g∘u``: what each device passes beyond its linear conductance
        at cell voltage ``u`` (column-node voltage ``y``, for devices that need it)."""
        if self.spec.device == "linear":
            return torch.zeros_like(u)
        if self.spec.device == "sinh":              # the law alone (no derivative), in place
            a = self.spec.sinh_a
            excess = torch.mul(u, a).sinh_().div_(a).sub_(u)
            return excess.mul_(g)
        if y is None:
            y = torch.zeros_like(u)
        return cell_law(self.spec)(self.spec, u + y, y, g).j_col - g * u

    def _needs_y(self) -> bool:
        return self.spec.device == "1t1r"

    def _per_input(self, g: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Column currents for inputs ``v`` (B, R) on tiles ``g`` (B, R, C), two solves
        each."""
        net, c = self._net(g.device), self.spec.cols
        b = v[..., :, None].expand(-1, -1, c)
        gu = solve_wire_system(net, g, b)
        u = b - net.apply_k(gu)
        y = net.col_rise(gu) if self._needs_y() else None
        s = self._cell_excess(u, y, g)
        gus = solve_wire_system(net, g, -net.apply_k(s))
        return (gu + gus + s).sum(dim=-2)

    def _build_transfers(self, tiles: _Tiles) -> None:
        """``T`` (and the column-node rises for 1T1R) and ``H`` of every tile."""
        g = tiles.g
        n, r, c = g.shape
        net = self._net(g.device)
        cells, rises, sources = [], [], []
        eye_r = torch.eye(r, dtype=g.dtype, device=g.device)
        eye_c = torch.eye(c, dtype=g.dtype, device=g.device)
        unit_inputs = eye_r[:, :, None].expand(r, r, c)                     # E_k = e_k 1ᵀ
        unit_columns = eye_c[:, None, :].expand(c, r, c)                    # 1_j
        per_chunk = max(1, _CHUNK_ELEMENTS // (8 * (r + c) * r * c))
        for start in range(0, n, per_chunk):
            gt = g[start:start + per_chunk]
            k = len(gt)
            gb = gt[:, None].expand(k, r, r, c).reshape(-1, r, c)
            b = unit_inputs.expand(k, r, r, c).reshape(-1, r, c)
            gu = solve_wire_system(net, gb, b)
            cells.append((b - net.apply_k(gu)).reshape(k, r, r, c))
            if self._needs_y():
                rises.append(net.col_rise(gu).reshape(k, r, r, c))
            gc = gt[:, None].expand(k, c, r, c).reshape(-1, r, c)
            ones = unit_columns.expand(k, c, r, c).reshape(-1, r, c)
            # (I + G K)^-1 G 1_j = G∘w with (I + K G) w = 1_j
            gw = solve_wire_system(net, gc, ones)
            sources.append((ones - net.apply_k(gw)).reshape(k, c, r, c))
        # laid out for batched matmuls: (T, R_in, R·C) and (T, R·C, C)
        tiles.cells = torch.cat(cells).reshape(n, r, r * c)
        tiles.rises = torch.cat(rises).reshape(n, r, r * c) if rises else None
        tiles.sources = torch.cat(sources).reshape(n, c, r * c).transpose(1, 2).contiguous()

    def _per_tile(self, tiles: _Tiles, v: torch.Tensor) -> torch.Tensor:
        """Column currents for inputs ``v`` (N, T, R) through the tiles' transfers, in
        ``v``'s dtype (float32 inputs: float32 contractions, the transfers cast once)."""
        key = v.dtype
        if key not in tiles.cast:
            tiles.cast[key] = tuple(None if t is None else t.to(key)
                                    for t in (tiles.g, tiles.cells, tiles.rises, tiles.sources))
        g, cells, rises, sources = tiles.cast[key]
        n_tiles, r, c = g.shape
        g_flat = g.reshape(n_tiles, 1, r * c)
        out = []
        per_chunk = max(1, _CHUNK_ELEMENTS // max(1, n_tiles * r * c))
        for start in range(0, v.shape[0], per_chunk):
            vt = v[start:start + per_chunk].transpose(0, 1)          # (T, n, R)
            u = torch.bmm(vt, cells)                                  # (T, n, R·C)
            y = torch.bmm(vt, rises) if rises is not None else None
            gu = g_flat * u
            s = self._cell_excess(u, y, g_flat)
            cur = gu.reshape(n_tiles, -1, r, c).sum(dim=-2) + torch.bmm(s, sources)
            out.append(cur.transpose(0, 1))                           # (n, T, C)
        return torch.cat(out)

    # ------------------------------------------------------------------ per MVM
    def mvm(self, prepared: _Tiles, v: torch.Tensor) -> torch.Tensor:
        r, c = self.spec.rows, self.spec.cols
        tiles = prepared.g.shape[0]
        lead = torch.broadcast_shapes(v.shape[:-1], prepared.lead)
        out_dtype = torch.promote_types(v.dtype, prepared.dtype)
        with torch.no_grad():
            vb = v.detach().expand(*lead, r).reshape(-1, tiles, r)
            per_tile = vb.shape[0]
            if prepared.cells is None and per_tile <= TRANSFER_AFTER * (r + c):
                g = prepared.g[None].expand(per_tile, tiles, r, c).reshape(-1, r, c)
                flat = vb.reshape(-1, r).to(torch.float64)
                step = max(1, _CHUNK_ELEMENTS // (8 * r * c))
                cur = torch.cat([self._per_input(g[k:k + step], flat[k:k + step])
                                 for k in range(0, len(flat), step)])
            else:
                if prepared.cells is None:
                    self._build_transfers(prepared)
                work = torch.float32 if out_dtype == torch.float32 else torch.float64
                cur = self._per_tile(prepared, vb.to(work))
        return cur.reshape(*lead, c).to(out_dtype)
