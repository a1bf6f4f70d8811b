"""The crossbar's wires as linear operators: what the circuit-exact model iterates with.

With cell currents ``I`` (R×C, drawn from the row nodes) and ``J`` (R×C, delivered into
the column nodes), the row- and column-node voltages of a crossbar are

    x = v·1ᵀ − I·G_row,     y = G_col·J,

with ``G_row[j,k] = r_source + r_wire_row·min(j,k)`` (C×C) and
``G_col[i,k] = r_sink + r_wire_col·(R−1−max(i,k))`` (R×R): the transfer resistances of
one row line (driven at column 0) and of one column line (sensed after row R−1). They
depend on the wires alone. Zero resistances need no special case (an ideal wire is a
zero transfer resistance).

Both products are applied in O(R·C) with prefix sums rather than as matrices: the
current in a row-wire segment is the sum of the cell currents beyond it, and a node's
drop is the sum of its segments' drops. :meth:`WireNetwork.apply_k_` applies
``K = G_row ⊕ G_col`` (the solver's inner loop) in place into given buffers, since
on a CPU the allocations cost as much as the arithmetic; :attr:`WireNetwork.k_diag` is
its diagonal (the solver's preconditioner).
"""

from __future__ import annotations

import torch

from spice_netlists import CrossbarSpec


def row_transfer_matrix(spec: CrossbarSpec, **kw) -> torch.Tensor:
    """``G_row`` (C×C), Ω: ``r_source + r_wire_row·min(j, k)``."""
    k = torch.arange(spec.cols, **kw)
    return spec.r_source + spec.r_wire_row * torch.minimum(k[:, None], k[None, :])


def col_transfer_matrix(spec: CrossbarSpec, **kw) -> torch.Tensor:
    """``G_col`` (R×R), Ω: ``r_sink + r_wire_col·(R − 1 − max(i, k))``."""
    k = torch.arange(spec.rows, **kw)
    return spec.r_sink + spec.r_wire_col * (spec.rows - 1 - torch.maximum(k[:, None], k[None, :]))


class WireNetwork:
    """The wire operators of one :class:`CrossbarSpec` on one torch device (float64)."""

    def __init__(self, spec: CrossbarSpec, device: torch.device | str = "cpu") -> None:
        self.spec = spec
        kw = dict(dtype=torch.float64, device=device)
        g_row, g_col = row_transfer_matrix(spec, **kw), col_transfer_matrix(spec, **kw)
        #: diagonal of K = G_row ⊕ G_col, (R, C), Ω
        self.k_diag = torch.diagonal(g_col)[:, None] + torch.diagonal(g_row)[None, :]
        #: largest eigenvalue of K, Ω: ``K·D`` contracts where ``k_max·max(d) < 1``
        self.k_max = float(torch.linalg.eigvalsh(g_row).max() + torch.linalg.eigvalsh(g_col).max())

    def row_drop(self, i_row: torch.Tensor) -> torch.Tensor:
        """``I·G_row`` (…, R, C), V: each row node's drop below its input."""
        s = self.spec
        pre = torch.cumsum(i_row, dim=-1)
        total = pre[..., -1:]
        beyond = total - pre + i_row                  # current in the segment before col m
        drop = s.r_source * total
        if s.r_wire_row:
            drop = drop + s.r_wire_row * (torch.cumsum(beyond, dim=-1) - beyond[..., :1])
        return drop

    def col_rise(self, j_col: torch.Tensor) -> torch.Tensor:
        """``G_col·J`` (…, R, C), V: each column node's rise above the sense node."""
        s = self.spec
        pre = torch.cumsum(j_col, dim=-2)              # current in the segment below row i
        rise = s.r_sink * pre[..., -1:, :]
        if s.r_wire_col:
            acc = torch.cumsum(pre, dim=-2)
            rise = rise + s.r_wire_col * (acc[..., -1:, :] - pre[..., -1:, :] - acc + pre)
        return rise

    def apply_k(self, z: torch.Tensor) -> torch.Tensor:
        """``K(z) = z·G_row + G_col·z``, V for currents ``z`` (…, R, C) A."""
        return self.row_drop(z) + self.col_rise(z)

    def row_drop_(self, z: torch.Tensor, out: torch.Tensor, w1: torch.Tensor) -> torch.Tensor:
        """:meth:`row_drop` into ``out`` with ``w1`` as work space (all of z's shape,
        contiguous): the same arithmetic, no allocation of tile-sized tensors."""
        s = self.spec
        torch.cumsum(z, dim=-1, out=w1)               # row prefix sums
        total = w1[..., -1:].clone()
        torch.sub(z, w1, out=w1).add_(total)          # current in the segment before col m
        if s.r_wire_row:
            torch.cumsum(w1, dim=-1, out=out)
            out.sub_(w1[..., :1]).mul_(s.r_wire_row)
        else:
            out.zero_()
        return out.add_(total, alpha=s.r_source)

    def col_rise_(self, z: torch.Tensor, out: torch.Tensor, w1: torch.Tensor, w2: torch.Tensor,
                  accumulate: bool = False) -> torch.Tensor:
        """:meth:`col_rise` into ``out`` (added to it with ``accumulate``), with ``w1``,
        ``w2`` as work space."""
        s = self.spec
        if not accumulate:
            out.zero_()
        torch.cumsum(z, dim=-2, out=w1)               # column prefix sums
        last = w1[..., -1:, :].clone()
        if s.r_wire_col:
            torch.cumsum(w1, dim=-2, out=w2)
            top = w2[..., -1:, :] - last
            torch.sub(w1, w2, out=w2).add_(top)
            out.add_(w2, alpha=s.r_wire_col)
        return out.add_(last, alpha=s.r_sink)

    def apply_k_(self, z: torch.Tensor, out: torch.Tensor, w1: torch.Tensor,
                 w2: torch.Tensor) -> torch.Tensor:
        """:meth:`apply_k` into ``out``, with ``w1``, ``w2`` as work space."""
        self.row_drop_(z, out, w1)
        return self.col_rise_(z, out, w1, w2, accumulate=True)
