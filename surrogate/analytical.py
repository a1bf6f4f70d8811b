"""The analytical crossbar model: the exact solution of the linear resistive network.

Every parasitic of the :class:`CrossbarSpec` is kept (source, row-wire, column-wire and
sink resistances); devices are taken as linear conductances ``G``. For a fixed tile the
network is linear in the inputs, so it reduces to an effective R×C conductance matrix
``G_eff`` with ``I = vᵀ·G_eff``: :meth:`AnalyticalModel.prepare` computes ``G_eff``
once per tile (float64), and :meth:`AnalyticalModel.mvm` is then a plain batched matvec,
the cost of the ideal model.

Two solvers compute ``G_eff``:

* :func:`effective_conductance_blocks` (every parasitic resistance > 0): a batched
  block elimination in torch that exploits the crossbar's structure. Row ``i``'s row
  line is a tridiagonal chain coupled only to the column nodes of row ``i``; eliminating
  it leaves a block-tridiagonal system in the column-node voltages whose off-diagonal
  blocks are ``−g_wire_col·I``. One forward sweep down the rows (a Cholesky factor per
  row) carries all R inputs at once and ends at the sink, so the cost is O(R·C³) per
  tile with O(C² + R·C) memory, batched over tiles, on CPU or CUDA.
* :func:`effective_conductance_sparse` (general, including zero resistances, which
  merge their two nodes): a nodal analysis assembled with scipy.sparse and factored
  with SuperLU per tile, solving R right-hand sides.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from spice_netlists import CrossbarSpec
from surrogate.base import CrossbarModel, matvec

#: bytes of float64 work space one chunk of tiles may use in the block solver
_CHUNK_BYTES = 1 << 26


def _conductance(r: float) -> float:
    return 1.0 / r


def effective_conductance_blocks(spec: CrossbarSpec, g: torch.Tensor) -> torch.Tensor:
    """``G_eff`` (T, R, C) float64 for tiles ``g`` (T, R, C); all parasitics must be > 0.

    Unknowns are the row-line node voltages ``x_i`` and column-node voltages ``y_i`` of
    each row ``i`` (C each). With ``Tr_i = L_row + diag(g_i)`` (``L_row`` the row chain's
    Laplacian plus the source conductance at column 0), the row line gives
    ``x_i = Tr_i⁻¹ (g_s·e₀·v_i + diag(g_i)·y_i)``; substituting into the column nodes'
    current law gives ``A_i y_i − g_c (y_{i−1} + y_{i+1}) = u_i v_i`` with
    ``A_i = diag(g_i) − diag(g_i) Tr_i⁻¹ diag(g_i) + d_i·I`` and
    ``u_i = g_s·diag(g_i)·Tr_i⁻¹ e₀``. Forward elimination (``S_i = A_i − g_c² S_{i−1}⁻¹``,
    right-hand sides ``Q_i = u_i e_iᵀ + g_c S_{i−1}⁻¹ Q_{i−1}``) yields the last row's
    column voltages for every input at once, and ``I = g_sink · y_{R−1}``.
    """
    s = spec
    if min(s.r_source, s.r_sink, s.r_wire_row, s.r_wire_col) <= 0:
        raise ValueError("effective_conductance_blocks needs every parasitic resistance > 0")
    g = g.to(torch.float64)
    t_count, rows, cols = g.shape
    dev = g.device
    g_s, g_k = _conductance(s.r_source), _conductance(s.r_sink)
    g_r, g_c = _conductance(s.r_wire_row), _conductance(s.r_wire_col)

    # Laplacian of one row line: chain of g_r, plus g_s from column 0 to the input
    l_row = torch.zeros(cols, cols, dtype=torch.float64, device=dev)
    idx = torch.arange(cols - 1, device=dev)
    l_row[idx, idx] += g_r
    l_row[idx + 1, idx + 1] += g_r
    l_row[idx, idx + 1] = -g_r
    l_row[idx + 1, idx] = -g_r
    l_row[0, 0] += g_s

    out = torch.empty(t_count, rows, cols, dtype=torch.float64, device=dev)
    per_tile = 8 * (3 * rows * cols * cols + 3 * cols * cols + 2 * cols * (cols + rows))
    chunk = max(1, _CHUNK_BYTES // per_tile)
    for start in range(0, t_count, chunk):
        gt = g[start:start + chunk]                                 # (B, R, C)
        b = gt.shape[0]
        # every row line at once: W_i = Tr_i^-1 diag(g_i), (B, R, C, C)
        tr = l_row + torch.diag_embed(gt)
        w = torch.cholesky_solve(torch.diag_embed(gt), torch.linalg.cholesky(tr))
        del tr
        s_inv = None                                                # S_{i-1}^-1
        q = torch.zeros(b, cols, rows, dtype=torch.float64, device=dev)
        for i in range(rows):
            gi, wi = gt[:, i, :], w[:, i]
            d_i = g_c * ((i > 0) + (i < rows - 1)) + (g_k if i == rows - 1 else 0.0)
            a = torch.diag_embed(gi + d_i) - gi.unsqueeze(-1) * wi  # diag(g)(I - W) + d_i
            if s_inv is not None:
                a = a - (g_c * g_c) * s_inv
                q[:, :, :i] = g_c * torch.matmul(s_inv, q[:, :, :i])
            q[:, :, i] = g_s * wi[:, 0, :]                          # u_i = g_s g ⊙ Tr^-1 e0
            chol = torch.linalg.cholesky(a)
            if i < rows - 1:
                s_inv = torch.cholesky_inverse(chol)
            else:
                y_last = torch.cholesky_solve(q, chol)              # (B, C, R)
        out[start:start + b] = g_k * y_last.transpose(-1, -2)
    return out


# ----------------------------------------------------------------------- sparse solver
@dataclass(frozen=True)
class _Topology:
    """The crossbar's nodal structure after merging zero-resistance nodes.

    Every merged node is either an unknown (index into the nodal matrix), an input
    (driven at ``v_i``) or a sense node (0 V). Branches are listed by the merged node
    ids at their two ends; ``device`` branches take their conductance from G.
    """

    n_unknown: int
    kind: np.ndarray        # per merged node: 0 unknown, 1 input, 2 sense
    index: np.ndarray       # unknown index, input row, or sense column, per merged node
    a: np.ndarray           # branch end a (merged node id)
    b: np.ndarray           # branch end b
    cond: np.ndarray        # fixed conductance of wire branches (0 for devices)
    device: np.ndarray      # flat cell index (i*C+j) for device branches, -1 for wires


def _topology(spec: CrossbarSpec) -> _Topology:
    s = spec
    r, c = s.rows, s.cols
    # raw node numbering: inputs, row nodes, column nodes, sense nodes
    n_in, n_row = r, r * c

    def row(i, j):
        return n_in + i * c + j

    def col(i, j):
        return n_in + n_row + i * c + j

    def sense(j):
        return n_in + 2 * n_row + j

    n_raw = n_in + 2 * n_row + c
    parent = list(range(n_raw))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(x: int, y: int) -> None:
        parent[find(x)] = find(y)

    branches: list[tuple[int, int, float, int]] = []

    def wire(x: int, y: int, res: float) -> None:
        if res == 0:
            union(x, y)
        else:
            branches.append((x, y, 1.0 / res, -1))

    for i in range(r):
        wire(i, row(i, 0), s.r_source)
        for j in range(c - 1):
            wire(row(i, j), row(i, j + 1), s.r_wire_row)
    for j in range(c):
        for i in range(r - 1):
            wire(col(i, j), col(i + 1, j), s.r_wire_col)
        wire(col(r - 1, j), sense(j), s.r_sink)
    for i in range(r):
        for j in range(c):
            branches.append((row(i, j), col(i, j), 0.0, i * c + j))

    roots = np.array([find(x) for x in range(n_raw)])
    uniq, merged = np.unique(roots, return_inverse=True)
    kind = np.zeros(len(uniq), dtype=np.int64)
    index = np.full(len(uniq), -1, dtype=np.int64)
    for i in range(r):
        kind[merged[i]], index[merged[i]] = 1, i
    for j in range(c):
        m = merged[sense(j)]
        if kind[m] == 1:
            raise ValueError("an input is shorted to a sense node")
        kind[m], index[m] = 2, j
    unknown = np.flatnonzero(kind == 0)
    index[unknown] = np.arange(len(unknown))
    br = np.array(branches, dtype=np.float64).reshape(-1, 4)
    a, b = merged[br[:, 0].astype(np.int64)], merged[br[:, 1].astype(np.int64)]
    keep = a != b
    return _Topology(len(unknown), kind, index, a[keep], b[keep], br[keep, 2],
                     br[keep, 3].astype(np.int64))


def effective_conductance_sparse(spec: CrossbarSpec, g: np.ndarray) -> np.ndarray:
    """``G_eff`` (T, R, C) float64 for tiles ``g`` (T, R, C) by sparse nodal analysis.

    Works for any parasitics, zero included (a zero resistance merges its nodes).
    The nodal system ``A x = B v`` over the unknown nodes is factored once per tile
    (SuperLU) and solved for the R inputs; column currents are ``I = S x + D v``.
    """
    topo = _topology(spec)
    g = np.asarray(g, dtype=np.float64)
    t_count, rows, cols = g.shape
    out = np.empty_like(g)
    ka, kb = topo.kind[topo.a], topo.kind[topo.b]
    ia, ib = topo.index[topo.a], topo.index[topo.b]
    n = topo.n_unknown
    for t in range(t_count):
        gt = g[t].reshape(-1)
        cond = np.where(topo.device >= 0, gt[np.maximum(topo.device, 0)], topo.cond)
        rr, cc, vals = [], [], []          # A entries
        br, bc, bv = [], [], []            # B entries (unknown x input)
        sr, sc, sv = [], [], []            # S entries (sense x unknown)
        d = np.zeros((cols, rows))         # D (sense x input)
        for end, other, k_end, k_oth, i_end, i_oth in (
                (topo.a, topo.b, ka, kb, ia, ib), (topo.b, topo.a, kb, ka, ib, ia)):
            m = k_end == 0                 # KCL rows of unknown nodes
            rr.append(i_end[m]); cc.append(i_end[m]); vals.append(cond[m])
            mu = m & (k_oth == 0)
            rr.append(i_end[mu]); cc.append(i_oth[mu]); vals.append(-cond[mu])
            mi = m & (k_oth == 1)
            br.append(i_end[mi]); bc.append(i_oth[mi]); bv.append(cond[mi])
            # current into sense node `end` from `other`
            ms = (k_end == 2) & (k_oth == 0)
            sr.append(i_end[ms]); sc.append(i_oth[ms]); sv.append(cond[ms])
            md = (k_end == 2) & (k_oth == 1)
            np.add.at(d, (i_end[md], i_oth[md]), cond[md])
        currents = d
        if n:
            a_mat = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rr), np.concatenate(cc))),
                                  shape=(n, n))
            b_mat = sp.csc_matrix((np.concatenate(bv), (np.concatenate(br), np.concatenate(bc))),
                                  shape=(n, rows)).toarray()
            s_mat = sp.csr_matrix((np.concatenate(sv), (np.concatenate(sr), np.concatenate(sc))),
                                  shape=(cols, n))
            x = spla.splu(a_mat).solve(b_mat)
            currents = d + s_mat @ x
        out[t] = currents.T
    return out


def effective_conductance(spec: CrossbarSpec, g: torch.Tensor) -> torch.Tensor:
    """``G_eff`` (..., R, C) float64 (on g's device) for tiles ``g`` (..., R, C).

    Uses the batched block solver when every parasitic is > 0, the ideal crossbar
    (``G_eff = G``) when every parasitic is 0, and the sparse solver otherwise.
    """
    s = spec
    lead = g.shape[:-2]
    flat = g.reshape(-1, s.rows, s.cols).to(torch.float64)
    parasitics = (s.r_source, s.r_sink, s.r_wire_row, s.r_wire_col)
    if min(parasitics) > 0:
        out = effective_conductance_blocks(s, flat)
    elif max(parasitics) == 0:
        out = flat.clone()
    else:
        out = torch.from_numpy(effective_conductance_sparse(s, flat.cpu().numpy())).to(g.device)
    return out.reshape(*lead, s.rows, s.cols)


class AnalyticalModel(CrossbarModel):
    """Exact linear-network model: ``prepare`` gives ``G_eff``, ``mvm`` is ``vᵀ·G_eff``.

    ``G_eff`` is computed in float64 and returned in ``g``'s dtype and device;
    ``prepare(g, g_eff=...)`` takes it precomputed (see :mod:`surrogate.base`).
    """

    name = "analytical"
    uses_g_eff = True

    def prepare(self, g: torch.Tensor, g_eff: torch.Tensor | None = None) -> torch.Tensor:
        if g_eff is None:
            g_eff = effective_conductance(self.spec, g)
        return g_eff.to(g.dtype)

    def mvm(self, prepared: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        dtype = torch.promote_types(v.dtype, prepared.dtype)
        return matvec(v.to(dtype), prepared.to(dtype))


class AnalyticalDeviceModel(AnalyticalModel):
    """The analytical network with each device's I–V applied to its input:
    ``I = CrossbarSpec.device_drive(v)ᵀ · G_eff``.

    ``G_eff`` is the analytical model's (devices linear, every parasitic kept); the
    inputs go through the device law first (sinh devices: ``sinh(a·v)/a``; linear and
    1T1R devices: ``v``, so there it equals :class:`AnalyticalModel`). On sinh crossbars
    a device's own nonlinearity dominates the analytical model's error, and this
    "device-aware" baseline removes most of it at the same per-MVM cost (R ``sinh``
    evaluations and one matvec). It is also the baseline GENIEx's residual and relative
    targets correct by default (``GeniexConfig.baseline: device``), so reports show how
    much of the surrogate's gain is physics and how much is learning.
    """

    name = "analytical_device"

    def mvm(self, prepared: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        dtype = torch.promote_types(v.dtype, prepared.dtype)
        return matvec(self.spec.device_drive(v.to(dtype)), prepared.to(dtype))
