"""A compiled CPU kernel for the per-column network's per-MVM head.

Per MVM and column c, :class:`surrogate.column_net.ColumnNet` with one hidden layer
computes ``b_out + Σ_h w_out[h]·relu(hg[c, h] + hv[h] + base[c]·w_b[h])``. In torch that
is three elementwise passes and a clamp over an (inputs, tiles, C, h) tensor: at 32×32
tiles with 128 units, 64 tiles × 256 inputs make a 268 MB intermediate per pass, and
the head ran at 2.6e4 MVMs/s on one thread, 18× slower than the published MLP's. This
kernel does the same sum per (input, tile, column) in registers: ``C·h`` multiply-adds
per MVM and no intermediate array.

It is used for inference only (no autograd), on CPU float32 tensors, for a network with
one hidden layer; anything else takes the torch path. The sum over h is vectorised
(numba's ``reassoc`` and ``contract`` fast-math flags: the compiler may reorder and fuse
it), in an order fixed at compile time: the result does not depend on the thread
count, and differs from the torch path's, or another CPU's, only by float32 rounding. Inputs are split over ``torch.get_num_threads()``
threads (the kernel releases the GIL). Compiled on first use and cached on disk by
numba.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from numba import njit

__all__ = ["column_head", "usable"]

#: inputs (input, tile pairs) below which one thread does the work
_SPLIT_AFTER = 4096


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "nsz", "contract"})
def _head(hg: np.ndarray, hv: np.ndarray, base: np.ndarray, w_b: np.ndarray,
          w_out: np.ndarray, b_out: float, out: np.ndarray, lo: int, hi: int) -> None:
    """out[m, t, c] for m in lo..hi-1 (hg (T, C, H), hv (M, T, H), base (M, T, C))."""
    tiles, cols, hidden = hg.shape
    for m in range(lo, hi):
        for t in range(tiles):
            for c in range(cols):
                b = base[m, t, c]
                acc = np.float32(0.0)
                for h in range(hidden):
                    x = hg[t, c, h] + hv[m, t, h] + b * w_b[h]
                    acc += w_out[h] * max(x, np.float32(0.0))
                out[m, t, c] = acc + b_out


def usable(net: torch.nn.Module, h_g: torch.Tensor, hv: torch.Tensor) -> bool:
    """Whether :func:`column_head` can run this head: inference, CPU float32, one hidden
    layer, tiles prepared as (T, C, h)."""
    return (not torch.is_grad_enabled() and len(net.later) == 0 and h_g.dim() == 3
            and h_g.device.type == "cpu" and hv.device.type == "cpu"
            and h_g.dtype == torch.float32 and hv.dtype == torch.float32)


def column_head(h_g: torch.Tensor, hv: torch.Tensor, base: torch.Tensor, w_b: torch.Tensor,
                w_out: torch.Tensor, b_out: torch.Tensor) -> torch.Tensor:
    """Outputs (..., T, C) of the head for tiles ``h_g`` (T, C, h), the inputs' first
    layer ``hv`` (..., T, h) or (..., h) and the scaled baseline currents ``base``
    (..., T, C) (leading dimensions broadcast)."""
    tiles, cols, hidden = h_g.shape
    lead = torch.broadcast_shapes(hv.shape[:-1] if hv.dim() > 1 else (), base.shape[:-1])
    if len(lead) == 0 or lead[-1] != tiles:
        lead = torch.broadcast_shapes(lead, (tiles,))
    hv_m = hv.expand(*lead, hidden).reshape(-1, tiles, hidden).contiguous().numpy()
    base_m = base.expand(*lead, cols).reshape(-1, tiles, cols).contiguous().numpy()
    hg = h_g.contiguous().numpy()
    wb = w_b.detach().contiguous().numpy()
    wo = w_out.detach().reshape(-1).contiguous().numpy()
    bo = float(b_out.detach().reshape(-1)[0])
    m = hv_m.shape[0]
    out = np.empty((m, tiles, cols), dtype=np.float32)
    threads = max(1, torch.get_num_threads())
    if threads == 1 or m * tiles < _SPLIT_AFTER:
        _head(hg, hv_m, base_m, wb, wo, bo, out, 0, m)
    else:
        bounds = np.linspace(0, m, min(threads, m) + 1).astype(int)
        with ThreadPoolExecutor(len(bounds) - 1) as pool:
            list(pool.map(lambda k: _head(hg, hv_m, base_m, wb, wo, bo, out,
                                          int(bounds[k]), int(bounds[k + 1])),
                          range(len(bounds) - 1)))
    return torch.from_numpy(out).reshape(*lead, cols)
