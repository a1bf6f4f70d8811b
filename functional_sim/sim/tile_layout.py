"""Where a tile's logical rows and columns sit on the physical crossbar: identity or MDM.

A layout permutes each tile's rows (which physical word line carries input ``i``) and
columns (which physical bit line senses output ``j``). The conductances are placed by
it once per tile, the inputs are routed to their word lines on every MVM, and the column
currents are read back in logical order, so that with the ideal model the result is
exactly that of the identity layout.

``mdm`` is Manhattan Distance Mapping (Farias, Martins and Kung, 2025) as this tool's
geometry has it (see :mod:`spice_netlists` for the orientation: inputs enter every row
at column 0, columns are sensed after the last row). A cell (r, c) is ``c`` row-wire
segments from its driver and ``rows-1-r`` column-wire segments from its sense node, so
its current crosses ``c + rows-1-r`` wire segments. With ``w_rc`` a cell's programmed
level (its conductance above g_off), the weighted distance ``Σ w_rc·(c + rows-1-r)``
separates into a row term and a column term, and each is minimised exactly by a sort
(the rearrangement inequality): columns by descending level sum from the driver side
(the paper's "feeding activations from the denser side"), rows by ascending level sum
toward the sense end (its row reordering by Manhattan distance). Ties keep their order.
Each bit slice sits on its own crossbar here, so each gets its own layout.

``mdm_activity`` is this tool's extension: the same sorts with each cell weighted by
its row's mean input (``w_rc·a_r``, the current the cell actually carries on average),
calibrated on the first batch of inputs the layer sees. Weights alone rank a row that
is never driven (an image's always-black border pixel) by weights it never uses; with
activities it goes where the wires hurt most, since it carries nothing.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch

__all__ = ["MAPPINGS", "CALIBRATED", "TileLayout", "mdm_layout", "make_layout"]


class TileLayout(NamedTuple):
    """Row and column permutations of a stack of T tiles.

    Attributes:
        rows: (T, rows) int64: physical row r carries logical row ``rows[t, r]``.
        cols: (T, cols) int64: physical column c holds logical column ``cols[t, c]``.
        inv_cols: (T, cols) int64: logical column j sits at physical column
            ``inv_cols[t, j]``.
    """

    rows: torch.Tensor
    cols: torch.Tensor
    inv_cols: torch.Tensor

    def place(self, g: torch.Tensor) -> torch.Tensor:
        """Physical conductances (T, rows, cols) from logical ones."""
        t, r, c = g.shape
        g = g.gather(1, self.rows.to(g.device)[:, :, None].expand(t, r, c))
        return g.gather(2, self.cols.to(g.device)[:, None, :].expand(t, r, c))

    def route_inputs(self, v: torch.Tensor) -> torch.Tensor:
        """Word-line voltages (N, T, rows) in physical order from logical ones."""
        return v.gather(-1, self.rows.to(v.device).expand(v.shape))

    def read_back(self, currents: torch.Tensor) -> torch.Tensor:
        """Column currents (N, T, cols) in logical order from physical ones."""
        return currents.gather(-1, self.inv_cols.to(currents.device).expand(currents.shape))


def _layout(rows: torch.Tensor, cols: torch.Tensor) -> TileLayout:
    return TileLayout(rows, cols, torch.argsort(cols, dim=-1))


def mdm_layout(levels: torch.Tensor, activity: torch.Tensor | None = None) -> TileLayout:
    """The MDM layout (module docstring) of tiles whose cells hold ``levels`` (T, rows,
    cols), non-negative (conductance above g_off, in any unit); with ``activity`` (T,
    rows), each row's mean input, the cells are weighted by it (``mdm_activity``)."""
    w = levels.to(torch.float64)
    if activity is not None:
        w = w * activity.to(torch.float64)[:, :, None]
    rows = torch.sort(w.sum(-1), dim=-1, stable=True).indices
    cols = torch.sort(w.sum(-2), dim=-1, descending=True, stable=True).indices
    return _layout(rows, cols)


def _identity(levels: torch.Tensor, activity: torch.Tensor | None = None) -> None:
    return None


def _mdm_activity(levels: torch.Tensor, activity: torch.Tensor | None = None) -> TileLayout:
    if activity is None:
        raise ValueError("mdm_activity needs each row's mean input (calibration inputs)")
    return mdm_layout(levels, activity)


#: mapping name -> layout of a tile stack's levels (T, rows, cols) and, for the mappings
#: of :data:`CALIBRATED`, its rows' mean inputs (T, rows); None: the identity
MAPPINGS: dict[str, Callable[..., TileLayout | None]] = {
    "identity": _identity,
    "mdm": mdm_layout,
    "mdm_activity": _mdm_activity,
}

#: the mappings that need the inputs' activity, calibrated on the first batch
CALIBRATED = frozenset({"mdm_activity"})


def make_layout(mapping: str, levels: torch.Tensor,
                activity: torch.Tensor | None = None) -> TileLayout | None:
    """The layout ``mapping`` gives tiles holding ``levels`` (T, rows, cols) (and, for
    the calibrated mappings, rows whose mean inputs are ``activity`` (T, rows)); None
    for the identity."""
    return MAPPINGS[mapping](levels) if mapping not in CALIBRATED else \
        MAPPINGS[mapping](levels, activity)
