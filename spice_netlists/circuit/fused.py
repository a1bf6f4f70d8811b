"""The circuit-exact solver's fused CPU kernels: one compiled Newton–CG loop per sample.

The same physics, iteration and tolerance as the torch solver
(:mod:`spice_netlists.circuit.solver`, whose docstring derives them), written as
per-sample loops compiled by numba: each sample's tile stays in the core's cache
through all its Newton steps, every pass over it does the work of several torch ops
(a wire product is two passes, a CG iteration four), and no pass allocates. Samples
are spread over the calling thread and a pool of worker threads in small chunks taken
in turn, so a core slowed by another process takes fewer chunks instead of holding the
others at a barrier (numba's kernels release the GIL).

What differs from the torch solver, none of it in the answer's accuracy:

* Newton works on the node voltages and their true residual, and CG accumulates the
  wire products of the step it solves for (it forms them anyway), so each Newton step
  costs one float64 wire product where the torch solver's costs two;
* sinh/cosh and the 1T1R junctions' exponentials are polynomials after range reduction
  (no library call, so the loops vectorise), within 3 ulp for sinh and 1e-9 for the
  junctions' ~1e-14 A;
* 1T1R cells take two branch-free Newton steps of their internal node per pass over the
  tile, from its value at the last evaluation; cells a pass does not settle are solved
  as :mod:`spice_netlists.circuit.devices` does;
* the CG dot products accumulate in float64 (the vectors stay float32);
* ``newton_iterations`` and ``cg_iterations`` are the largest over samples (the torch
  solver reports them per chunk of samples).

Both skip samples with no drive. Every kernel uses numpy's error model: a division by
zero gives inf rather than raising, and the loops are free of the checks that would
stop them vectorising.

The kernels are compiled on first use and cached on disk by numba (``cache=True``), so
only a fresh checkout pays the compilation (about 10 s, once for every device law).
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

#: device laws, as the kernels number them
LINEAR, SINH, SINH_PER_DEVICE, ONE_T_ONE_R = 0, 1, 2, 3

#: most inner Newton steps of a 1T1R cell's internal node (as devices.py)
_INNER_MAX = 100


# ------------------------------------------------------------------ wire products
@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _row_block(t, out, accumulate, rs, rw, i0):
    """:func:`_row_drop` for rows ``i0 … i0+3``: four independent scans side by side
    (one row's prefix sums are a chain of dependent adds; four chains fill the adder)."""
    n_c = t.shape[1]
    z = t.dtype.type(0.0)
    t0 = t1 = t2 = t3 = z
    for j in range(n_c):
        t0 += t[i0, j]
        t1 += t[i0 + 1, j]
        t2 += t[i0 + 2, j]
        t3 += t[i0 + 3, j]
    d0, d1, d2, d3 = rs * t0, rs * t1, rs * t2, rs * t3
    b0, b1, b2, b3 = t0, t1, t2, t3                # current beyond the segment
    for j in range(n_c):
        if j > 0:
            d0 += rw * b0
            d1 += rw * b1
            d2 += rw * b2
            d3 += rw * b3
        if accumulate:
            out[i0, j] += d0
            out[i0 + 1, j] += d1
            out[i0 + 2, j] += d2
            out[i0 + 3, j] += d3
        else:
            out[i0, j] = d0
            out[i0 + 1, j] = d1
            out[i0 + 2, j] = d2
            out[i0 + 3, j] = d3
        b0 -= t[i0, j]
        b1 -= t[i0 + 1, j]
        b2 -= t[i0 + 2, j]
        b3 -= t[i0 + 3, j]


@njit(cache=True, nogil=True, error_model="numpy")
def _row_drop(t, out, accumulate, rs, rw):
    """``out (+)= t·G_row``: each row node's drop below its input (R×C). The drop at
    column m is ``rs·Σ_j t_j + rw·Σ_{k=1..m} b_k`` with ``b_k = Σ_{j≥k} t_j`` the current
    in the wire segment before column k."""
    n_r, n_c = t.shape
    i0 = 0
    while i0 + 4 <= n_r:
        _row_block(t, out, accumulate, rs, rw, i0)
        i0 += 4
    for i in range(i0, n_r):
        tot = t.dtype.type(0.0)
        for j in range(n_c):
            tot += t[i, j]
        drop = rs * tot
        beyond = tot
        for j in range(n_c):
            if j > 0:
                drop += rw * beyond
            if accumulate:
                out[i, j] += drop
            else:
                out[i, j] = drop
            beyond -= t[i, j]


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _col_block(t, out, accumulate, rk, rw, j0):
    """:func:`_col_rise` for columns ``j0 … j0+3``, four scans side by side."""
    n_r = t.shape[0]
    z = t.dtype.type(0.0)
    t0 = t1 = t2 = t3 = z
    for i in range(n_r):
        t0 += t[i, j0]
        t1 += t[i, j0 + 1]
        t2 += t[i, j0 + 2]
        t3 += t[i, j0 + 3]
    a0 = a1 = a2 = a3 = z
    last = n_r - 1
    s0, s1, s2, s3 = t[last, j0], t[last, j0 + 1], t[last, j0 + 2], t[last, j0 + 3]
    if accumulate:
        out[last, j0] += rk * t0
        out[last, j0 + 1] += rk * t1
        out[last, j0 + 2] += rk * t2
        out[last, j0 + 3] += rk * t3
    else:
        out[last, j0] = rk * t0
        out[last, j0 + 1] = rk * t1
        out[last, j0 + 2] = rk * t2
        out[last, j0 + 3] = rk * t3
    k0, k1, k2, k3 = rk * t0, rk * t1, rk * t2, rk * t3
    for i in range(n_r - 2, -1, -1):
        a0 += t0 - s0
        a1 += t1 - s1
        a2 += t2 - s2
        a3 += t3 - s3
        if accumulate:
            out[i, j0] += k0 + rw * a0
            out[i, j0 + 1] += k1 + rw * a1
            out[i, j0 + 2] += k2 + rw * a2
            out[i, j0 + 3] += k3 + rw * a3
        else:
            out[i, j0] = k0 + rw * a0
            out[i, j0 + 1] = k1 + rw * a1
            out[i, j0 + 2] = k2 + rw * a2
            out[i, j0 + 3] = k3 + rw * a3
        s0 += t[i, j0]
        s1 += t[i, j0 + 1]
        s2 += t[i, j0 + 2]
        s3 += t[i, j0 + 3]

@njit(cache=True, nogil=True, error_model="numpy")
def _col_rise(t, out, accumulate, rk, rw):
    """``out (+)= G_col·t``: each column node's rise above its sense node, scanning
    each column from the sense end: ``rk·Σ_i t_i + rw·Σ_{R−1>k≥i} p_k`` with
    ``p_k = Σ_{i≤k} t_i`` the current in the segment below row k."""
    n_r, n_c = t.shape
    j0 = 0
    while j0 + 4 <= n_c:
        _col_block(t, out, accumulate, rk, rw, j0)
        j0 += 4
    last = n_r - 1
    for j in range(j0, n_c):
        tot = t.dtype.type(0.0)
        for i in range(n_r):
            tot += t[i, j]
        acc = t.dtype.type(0.0)
        suf = t[last, j]
        if accumulate:
            out[last, j] += rk * tot
        else:
            out[last, j] = rk * tot
        for i in range(n_r - 2, -1, -1):
            acc += tot - suf
            if accumulate:
                out[i, j] += rk * tot + rw * acc
            else:
                out[i, j] = rk * tot + rw * acc
            suf += t[i, j]


@njit(cache=True, nogil=True, error_model="numpy")
def _dot(a, b, acc):
    """Σ a·b over a tile, accumulated in float64 column by column (vectorisable)."""
    n_r, n_c = a.shape
    for j in range(n_c):
        acc[j] = 0.0
    for i in range(n_r):
        for j in range(n_c):
            acc[j] += np.float64(a[i, j]) * np.float64(b[i, j])
    total = 0.0
    for j in range(n_c):
        total += acc[j]
    return total


# ------------------------------------------------------------ sinh and cosh
# exp(±t) = 2^±k·exp(±r), t = k·ln2 + r, |r| ≤ ln2/2, with exp(±r) by its Taylor series
# to r^13 (remainder < 4e-18) and 2^±k written into the exponent bits: no library call,
# so the loops over a tile vectorise (libm's exp does not). Within 2 ulp of numpy's.
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01          # ln 2 split so that k·_LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10
_ROUND = 6755399441055744.0                   # 1.5·2^52: x + _ROUND rounds x to an integer
_ROUND_BITS = int(np.float64(_ROUND).view(np.int64))
_T_MAX = 700.0                                # |a·u| beyond this overflows cosh anyway


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _exp_even_odd(r2):
    """(E, O) with exp(±r) = E ± r·O for |r| ≤ ln2/2, given r² (the Taylor series to
    r^13 split into its even and odd parts: one evaluation serves both signs)."""
    even = 1 + r2 * (1 / 2 + r2 * (1 / 24 + r2 * (1 / 720 + r2 * (1 / 40320 + r2 * (
        1 / 3628800 + r2 * (1 / 479001600))))))
    odd = 1 + r2 * (1 / 6 + r2 * (1 / 120 + r2 * (1 / 5040 + r2 * (1 / 362880 + r2 * (
        1 / 39916800 + r2 * (1 / 6227020800))))))
    return even, odd


@njit(cache=True, nogil=True, error_model="numpy")
def _sinh_row(t, sh, ch, w):
    """sinh and cosh of ``t`` (clamped to ±_T_MAX) into ``sh``, ``ch``; ``w`` (3, len)
    float64 work space. Where k = 0 (|t| ≤ ln2/2) t is r itself and sinh t = r·O has no
    cancellation; elsewhere e^-t ≤ e^t/2 and (e^t − e^-t)/2 loses at most one bit."""
    n = t.shape[0]
    q, up, down = w[0], w[1], w[2]
    qi, ui, di = q.view(np.int64), up.view(np.int64), down.view(np.int64)
    for j in range(n):
        q[j] = min(max(t[j], -_T_MAX), _T_MAX) * _LOG2E + _ROUND
    for j in range(n):
        k = qi[j] - _ROUND_BITS
        ui[j] = (k + 1023) << 52                  # 2^k
        di[j] = (1023 - k) << 52                  # 2^-k
    for j in range(n):
        tt = min(max(t[j], -_T_MAX), _T_MAX)
        kf = q[j] - _ROUND
        r = (tt - kf * _LN2_HI) - kf * _LN2_LO
        even, odd = _exp_even_odd(r * r)
        e = (even + r * odd) * up[j]
        inv = (even - r * odd) * down[j]
        sh[j] = r * odd if kf == 0.0 else 0.5 * (e - inv)
        ch[j] = 0.5 * (e + inv)


# ----------------------------------------------------------------------- 1T1R cell
@njit(cache=True, nogil=True, error_model="numpy")
def _junction(v_b, vt, i_s, gmin):
    """MOS1 bulk junction current (A) and conductance (S) at ``v_b`` V."""
    if v_b > -3.0 * vt:
        expo = math.exp(min(v_b / vt, 80.0))
        return i_s * (expo - 1.0) + gmin * v_b, i_s * expo / vt + gmin
    return gmin * v_b - i_s, gmin


@njit(cache=True, nogil=True, error_model="numpy")
def _channel(m, y, v_gate, beta, vto, lam):
    """MOS1 channel current from ``m`` (drain side) to ``y`` (source side), A, and its
    derivative in ``m``, S; either direction."""
    fwd = m >= y
    vgs = v_gate - y if fwd else v_gate - m
    vds = abs(m - y)
    vgst = vgs - vto
    i_d = gm = gds = 0.0
    if vgst > 0:
        betap = beta * (1.0 + lam * vds)
        if vgst <= vds:
            i_d = betap * vgst * vgst * 0.5
            gm = betap * vgst
            gds = lam * beta * vgst * vgst * 0.5
        else:
            i_d = betap * vds * (vgst - 0.5 * vds)
            gm = betap * vds
            gds = betap * (vgst - vds) + lam * beta * vds * (vgst - 0.5 * vds)
    if fwd:
        return i_d, gds
    return -i_d, gm + gds


@njit(cache=True, nogil=True, error_model="numpy")
def _one_t_one_r(x, y, g, m_prev, warm, mos):
    """One 1T1R cell: (internal node m, i_row, j_col, d), as
    :func:`spice_netlists.circuit.devices.one_t_one_r_cell`."""
    v_gate, beta, vto, lam, vt, i_s, gmin = mos[0], mos[1], mos[2], mos[3], mos[4], mos[5], mos[6]
    lo = min(x, y) - 1e-3
    hi = max(x, y) + 1e-3
    if warm and lo < m_prev < hi:
        m = m_prev
    else:
        u = x - y
        b = beta * max(v_gate - y - vto, 0.0) + g
        disc = b * b - 2.0 * beta * g * u
        if u >= 0 and disc >= 0:
            m = y + 2.0 * g * u / (b + math.sqrt(max(disc, 0.0)) + gmin)
        else:
            m = y + u * g / (b + gmin)
    # devices.py's test (stop where the step is below 1e-15 of m, then evaluate the
    # cell there) without its extra evaluation: the last step is taken to first order
    # (the channel current moves by gch·step). That step may be larger where Newton's
    # own error bound, curvature/(2|h'|)·step², is below the same tolerance: the
    # curvature of h is at most 2β(1 + λ(|vds| + v_gate + 1)) from the channel (MOS1)
    # plus the junction's (g_bd − gmin)/v_t.
    i_ch = gch = gbd = step = 0.0
    for _ in range(_INNER_MAX):
        i_ch, gch = _channel(m, y, v_gate, beta, vto, lam)
        i_bd, gbd = _junction(-m, vt, i_s, gmin)
        h = g * (x - m) + i_bd - i_ch
        dh = -(g + gbd + gch)
        step = -h / dh
        goal = 1e-16 + 1e-15 * abs(m)
        curv = 2.0 * beta * (1.0 + lam * (abs(m - y) + abs(v_gate) + 1.0)) + (gbd - gmin) / vt
        if abs(step) <= goal or (curv / (-2.0 * dh) * step * step <= goal
                                 and lo < m + step < hi):
            m += step
            i_ch += gch * step
            break
        if h > 0:
            lo = m
        else:
            hi = m
        new = m + step
        if new < lo or new > hi:
            new = 0.5 * (lo + hi)
        m = new
    i_bs, _ = _junction(-y, vt, i_s, gmin)
    series = gbd + gch
    d = g * series / (g + series) if g > 0 else 0.0
    return m, g * (x - m), i_ch + i_bs, d


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _exp_small_range(t):
    """exp(t) for t in [−3, 80] (a junction's range of v/v_t where it conducts), without
    a library call: exp(t/128)^128 by its Taylor series to the 11th power and seven
    squarings, relative error below 1e-9: plenty for junctions that pass ~1e-14 A
    (an error of 1e-23 A) at the voltages of a crossbar."""
    q = t * (1.0 / 128.0)
    e = 1 + q * (1 + q * (1 / 2 + q * (1 / 6 + q * (1 / 24 + q * (1 / 120 + q * (1 / 720 + q * (
        1 / 5040 + q * (1 / 40320 + q * (1 / 362880 + q * (1 / 3628800 + q / 39916800))))))))))
    e = e * e                      # seven squarings, written out: a loop here would stop
    e = e * e                      # the caller's loop from vectorising
    e = e * e
    e = e * e
    e = e * e
    e = e * e
    return e * e


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _junction_vec(v_b, vt, i_s, gmin):
    """:func:`_junction` without branches (both sides computed, one kept)."""
    inv_vt = 1.0 / vt                    # a constant: divisions are the loop's costliest ops
    t = min(max(v_b * inv_vt, -3.0), 80.0)
    expo = _exp_small_range(t)
    on = v_b > -3.0 * vt
    # both sides first (a select, not a branch)
    cur_on, cond_on = i_s * (expo - 1.0) + gmin * v_b, i_s * expo * inv_vt + gmin
    return (cur_on if on else gmin * v_b - i_s), (cond_on if on else gmin)


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _channel_vec(m, y, v_gate, beta, vto, lam):
    """:func:`_channel` without branches."""
    fwd = m >= y
    vgs = v_gate - y if fwd else v_gate - m
    vds = abs(m - y)
    vgst = vgs - vto
    betap = beta * (1.0 + lam * vds)
    sat = vgst <= vds
    on = vgst > 0
    i_sat = betap * vgst * vgst * 0.5
    i_lin = betap * vds * (vgst - 0.5 * vds)
    gm = (betap * vgst if sat else betap * vds) if on else 0.0
    gds = ((lam * beta * vgst * vgst * 0.5) if sat else
           (betap * (vgst - vds) + lam * beta * vds * (vgst - 0.5 * vds))) if on else 0.0
    i_d = (i_sat if sat else i_lin) if on else 0.0
    return (i_d if fwd else -i_d), (gds if fwd else gm + gds)


#: rows of the packed array of :func:`_one_t_one_r_tile`
_X, _Y, _G, _M, _I, _J, _D, _DONE = range(8)


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _series_start(xk, yk, gk, v_gate, beta, vto, gmin):
    """devices.py's cold start of the internal node: the series solution without leaks
    and channel-length modulation (linear region), else a linear estimate."""
    u = xk - yk
    b = beta * max(v_gate - yk - vto, 0.0) + gk
    disc = b * b - 2.0 * beta * gk * u
    quad = (u >= 0) & (disc >= 0)
    num = 2.0 * gk * u if quad else u * gk            # one division for both
    den = (b + math.sqrt(max(disc, 0.0)) + gmin) if quad else (b + gmin)
    return yk + num / den


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _cell_two_steps(xk, yk, gk, m, v_gate, beta, vto, lam, vt, i_s, gmin):
    """Two Newton steps of one 1T1R cell's internal node from ``m``: (m, i_row, j_col,
    d, passed :func:`_one_t_one_r`'s test). Scalars only: an array argument would cost
    reference counting inside the caller's loop and stop it vectorising."""
    lo = min(xk, yk) - 1e-3
    hi = max(xk, yk) + 1e-3
    m = min(max(m, lo), hi)
    # step 1 without the junction (its ~1e-14 A moves m by ~1e-11 V, which step 2 takes)
    i_ch, gch = _channel_vec(m, yk, v_gate, beta, vto, lam)
    m = min(max(m + (gk * (xk - m) - i_ch) / (gk + gch + gmin), lo), hi)
    # step 2, exact, and the test of :func:`_one_t_one_r` (h' = −(g + g_bd + g_ch) < 0)
    i_ch, gch = _channel_vec(m, yk, v_gate, beta, vto, lam)
    i_bd, gbd = _junction_vec(-m, vt, i_s, gmin)
    inv_slope = 1.0 / (gk + gbd + gch)
    step = (gk * (xk - m) + i_bd - i_ch) * inv_slope
    goal = 1e-16 + 1e-15 * abs(m)
    curv = (2.0 * beta * (1.0 + lam * (abs(m - yk) + abs(v_gate) + 1.0))
            + (gbd - gmin) * (1.0 / vt))
    ok = (abs(step) <= goal) | ((0.5 * curv * inv_slope * step * step <= goal)
                                & (lo < m + step) & (m + step < hi))
    m = m + step
    i_bs, _ = _junction_vec(-yk, vt, i_s, gmin)
    ser = gbd + gch
    # ser ≥ gmin > 0, so d is 0 where g = 0
    return m, gk * (xk - m), i_ch + gch * step + i_bs, gk * ser / (gk + ser), ok


@njit(cache=True, nogil=True, error_model="numpy")
def _one_t_one_r_tile(cells, warm, mos):
    """Every 1T1R cell of a tile by two Newton steps from its internal node at the last
    evaluation (``warm``) or, cold, the series solution, in branch-free loops that
    vectorise. ``cells`` (8, R·C) packs x, y, g, m (read and written), i_row, j_col,
    d (written) and done: 1 where the second step passed :func:`_one_t_one_r`'s test,
    0 where the caller must solve the cell by it. (One packed array rather than eight
    keeps the loop free of overlap checks.)"""
    v_gate, beta, vto, lam, vt, i_s, gmin = mos[0], mos[1], mos[2], mos[3], mos[4], mos[5], mos[6]
    if not warm:                              # its own loop: no branch inside the next one
        for k in range(cells.shape[1]):
            cells[_M, k] = _series_start(cells[_X, k], cells[_Y, k], cells[_G, k], v_gate,
                                         beta, vto, gmin)
    for k in range(cells.shape[1]):
        xk, yk, gk = cells[_X, k], cells[_Y, k], cells[_G, k]
        m, c_i, c_j, dd, ok = _cell_two_steps(xk, yk, gk, cells[_M, k], v_gate, beta, vto,
                                              lam, vt, i_s, gmin)
        cells[_M, k] = m
        cells[_I, k] = c_i
        cells[_J, k] = c_j
        cells[_D, k] = dd
        cells[_DONE, k] = 1.0 if ok else 0.0


# ------------------------------------------------------------------ one sample
@njit(cache=True, nogil=True, error_model="numpy")
def _cell_laws(law, x, y, g, a_tile, a, mos, m_int, warm, cur_i, cur_j, d, w):
    """Every cell's currents and small-signal conductance (see devices.py); ``w``
    (8, R·C) float64 work space."""
    n_r, n_c = x.shape
    if law == LINEAR:
        for i in range(n_r):
            for j in range(n_c):
                c = g[i, j] * (x[i, j] - y[i, j])
                cur_i[i, j] = c
                cur_j[i, j] = c
                d[i, j] = g[i, j]
    elif law == SINH or law == SINH_PER_DEVICE:
        # over the whole tile as one row: cur_j holds a·u, cur_i and d sinh and cosh
        n = n_r * n_c
        xf, yf, gf = x.reshape(n), y.reshape(n), g.reshape(n)
        ci, cj, df = cur_i.reshape(n), cur_j.reshape(n), d.reshape(n)
        if law == SINH_PER_DEVICE:
            af = a_tile.reshape(n)
            for k in range(n):
                cj[k] = af[k] * (xf[k] - yf[k])
        else:
            for k in range(n):
                cj[k] = a * (xf[k] - yf[k])
        _sinh_row(cj, ci, df, w)
        if law == SINH_PER_DEVICE:
            for k in range(n):
                ci[k] = gf[k] * ci[k] / af[k]
        else:
            inv_a = 1.0 / a
            for k in range(n):
                ci[k] = gf[k] * ci[k] * inv_a
        for k in range(n):
            cj[k] = ci[k]
            df[k] = gf[k] * df[k]
    else:
        n = n_r * n_c
        xf, yf, gf, mf = x.reshape(n), y.reshape(n), g.reshape(n), m_int.reshape(n)
        ci, cj, df = cur_i.reshape(n), cur_j.reshape(n), d.reshape(n)
        cells = w
        for k in range(n):
            cells[_X, k] = xf[k]
            cells[_Y, k] = yf[k]
            cells[_G, k] = gf[k]
            cells[_M, k] = mf[k]
        _one_t_one_r_tile(cells, warm, mos)
        for _ in range(2):                        # where many did not settle (after a
            unsettled = 0.0                       # large Newton step), two more steps each
            for k in range(n):
                unsettled += 1.0 - cells[_DONE, k]
            if unsettled * 8 <= n:
                break
            _one_t_one_r_tile(cells, True, mos)
        for k in range(n):
            if cells[_DONE, k] == 0.0:           # the few cells two steps did not settle
                m, c_i, c_j, dd = _one_t_one_r(xf[k], yf[k], gf[k], 0.0, False, mos)
                cells[_M, k], cells[_I, k], cells[_J, k], cells[_D, k] = m, c_i, c_j, dd
            mf[k] = cells[_M, k]
            ci[k] = cells[_I, k]
            cj[k] = cells[_J, k]
            df[k] = cells[_D, k]


#: float64 (R, C) work tiles of :func:`_solve_chunk`, and those of its CG
WORK_TILES, CG_TILES = 8, 10


@njit(cache=True, nogil=True, error_model="numpy")
def _solve_chunk(law, v, vi, g, gi, a_arr, ai, a, wires, kdiag, mos, tol, max_newton, max_cg,
                 cg_rtol, work, work_cg, work_exp, keep, start, stop, currents, residual,
                 newton_out, cg_out, xs, ys, irs, jcs):
    """Newton–CG for samples ``start:stop``: sample k solves inputs ``v[vi[k]]`` on
    conductances ``g[gi[k]]`` (and ``a_arr[ai[k]]`` for per-device sinh; an empty index
    array means entry k); ``kdiag`` (R, C) is the diagonal of K, the wire network's. Writes its column currents, residual and iteration counts,
    and with ``keep`` its state (an undriven sample, every input 0 V, is not iterated:
    its Newton count is −1). ``work`` (WORK_TILES, R, C) float64, ``work_cg``
    (CG_TILES, R, C) in the CG's float type (float32 or float64) and ``work_exp``
    (8, R·C) float64 are work space (see :func:`workspace`)."""
    n_r, n_c = g.shape[1], g.shape[2]
    rs, rwr, rk, rwc = wires[0], wires[1], wires[2], wires[3]
    f8 = np.float64
    f4 = work_cg.dtype.type                   # the CG's float type
    x, y, cur_i, cur_j, d = work[0], work[1], work[2], work[3], work[4]
    rx, ry, m_int = work[5], work[6], work[7]
    s4, inv_diag, k_row, k_col, r = work_cg[0], work_cg[1], work_cg[2], work_cg[3], work_cg[4]
    direction, a_dir, a_row, a_col, t1 = (work_cg[5], work_cg[6], work_cg[7], work_cg[8],
                                          work_cg[9])
    w8 = work_exp
    acc = np.empty(n_c, f8)
    acc2 = np.empty(n_c, f8)
    dummy = np.empty((1, 1), f8)
    for k in range(start, stop):
        vk = v[vi[k] if vi.size else k]
        gk = g[gi[k] if gi.size else k]
        ak = a_arr[ai[k] if ai.size else k] if law == SINH_PER_DEVICE else dummy
        idle = True
        for i in range(n_r):
            if vk[i] != 0.0:
                idle = False
        if idle:                                  # x = y = 0 solves it exactly
            for j in range(n_c):
                currents[k, j] = 0.0
            residual[k] = 0.0
            newton_out[k] = -1                    # not solved (no drive)
            cg_out[k] = 0
            if keep:
                xs[k] = 0.0
                ys[k] = 0.0
                irs[k] = 0.0
                jcs[k] = 0.0
            continue
        for i in range(n_r):
            for j in range(n_c):
                x[i, j] = vk[i]
                y[i, j] = 0.0
        cg_total = 0
        newton = 0
        res = 0.0
        for newton in range(max_newton + 1):
            _cell_laws(law, x, y, gk, ak, a, mos, m_int, newton > 0, cur_i, cur_j, d, w8)
            # the residual of the network equations at (x, y), V:
            # F_x = x − v·1ᵀ + I·G_row,  F_y = y − G_col·J
            _row_drop(cur_i, rx, False, rs, rwr)
            _col_rise(cur_j, ry, False, rk, rwc)
            res = 0.0
            for i in range(n_r):
                for j in range(n_c):
                    fx = x[i, j] - vk[i] + rx[i, j]
                    fy = y[i, j] - ry[i, j]
                    rx[i, j] = fx
                    ry[i, j] = fy
                    res = max(res, abs(fx), abs(fy))
            if res <= tol or newton == max_newton:
                break
            # scaled Newton system (I + S K S) p = S b, b = −(F_x − F_y), in the CG type
            for i in range(n_r):
                for j in range(n_c):
                    sq = math.sqrt(d[i, j])
                    s4[i, j] = f4(sq)
                    rhs = f4(-sq * (rx[i, j] - ry[i, j]))
                    r[i, j] = rhs
                    k_row[i, j] = 0.0
                    k_col[i, j] = 0.0
                    inv_diag[i, j] = f4(1.0 / (1.0 + d[i, j] * kdiag[i, j]))
                    direction[i, j] = rhs * inv_diag[i, j]
            rz = _dot(r, direction, acc)
            goal = cg_rtol * cg_rtol * _dot(r, r, acc)
            its = 0
            # each iteration: t1 = S·p; its row and column wire products; then three
            # passes that also form the dot products (per-column float64 sums, so the
            # loops vectorise). Instead of the solution p itself, CG accumulates the wire
            # products of D·w = S·p, which is all the node update needs.
            for its in range(1, max_cg + 1):
                for i in range(n_r):
                    for j in range(n_c):
                        t1[i, j] = s4[i, j] * direction[i, j]
                _row_drop(t1, a_row, False, f4(rs), f4(rwr))
                _col_rise(t1, a_col, False, f4(rk), f4(rwc))
                for j in range(n_c):
                    acc[j] = 0.0
                for i in range(n_r):
                    for j in range(n_c):
                        # (I + S K S) p
                        ad = direction[i, j] + s4[i, j] * (a_row[i, j] + a_col[i, j])
                        a_dir[i, j] = ad
                        acc[j] += f8(direction[i, j]) * f8(ad)
                curv = 0.0
                for j in range(n_c):
                    curv += acc[j]
                alpha = f4(rz / curv) if curv > 0 else f4(0.0)
                for j in range(n_c):
                    acc[j] = 0.0
                    acc2[j] = 0.0
                for i in range(n_r):
                    for j in range(n_c):
                        k_row[i, j] += alpha * a_row[i, j]
                        k_col[i, j] += alpha * a_col[i, j]
                        rr = r[i, j] - alpha * a_dir[i, j]
                        r[i, j] = rr
                        acc[j] += f8(rr) * f8(rr)
                        acc2[j] += f8(rr) * f8(rr * inv_diag[i, j])
                rr_sum = 0.0
                rz_new = 0.0
                for j in range(n_c):
                    rr_sum += acc[j]
                    rz_new += acc2[j]
                if rr_sum <= goal:
                    break
                beta = f4(rz_new / rz) if rz > 0 else f4(0.0)
                for i in range(n_r):
                    for j in range(n_c):
                        direction[i, j] = r[i, j] * inv_diag[i, j] + beta * direction[i, j]
                rz = rz_new
            cg_total += its
            # the Newton step: δx = −F_x − (D·w)·G_row,  δy = −F_y + G_col·(D·w)
            for i in range(n_r):
                for j in range(n_c):
                    x[i, j] -= rx[i, j] + f8(k_row[i, j])
                    y[i, j] += f8(k_col[i, j]) - ry[i, j]
        for j in range(n_c):
            acc[j] = 0.0
        for i in range(n_r):
            for j in range(n_c):
                acc[j] += cur_j[i, j]
        for j in range(n_c):
            currents[k, j] = acc[j]
        residual[k] = res
        newton_out[k] = newton
        cg_out[k] = cg_total
        if keep:
            xs[k] = x
            ys[k] = y
            irs[k] = cur_i
            jcs[k] = cur_j


# ------------------------------------------------------------------ threads
_POOL: ThreadPoolExecutor | None = None
_POOL_SIZE = 0
_POOL_LOCK = threading.Lock()


def _pool(workers: int) -> ThreadPoolExecutor:
    """A shared pool of ``workers`` threads (rebuilt when the count changes)."""
    global _POOL, _POOL_SIZE
    with _POOL_LOCK:
        if _POOL is None or _POOL_SIZE != workers:
            if _POOL is not None:
                _POOL.shutdown(wait=False)
            _POOL = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="circuit")
            _POOL_SIZE = workers
        return _POOL


def _forget_pool() -> None:
    """In a forked child: the parent's pool has no threads here, and its lock may have
    been held at the fork."""
    global _POOL, _POOL_LOCK
    _POOL, _POOL_LOCK = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


def chunk_bounds(n: int, threads: int, cells: int) -> list[tuple[int, int]]:
    """Sample ranges handed out in turn: several per thread so that a slowed core takes
    fewer, each at least ~64k cells of work (a 64×64 tile: 16 samples) so that handing
    one out costs little beside solving it."""
    if threads <= 1 or n <= 1:
        return [(0, n)]
    least = max(1, (1 << 16) // max(cells, 1))
    size = max(least, -(-n // (8 * threads)))
    size = min(size, -(-n // threads))
    return [(k, min(n, k + size)) for k in range(0, n, size)]


def run_chunks(kernel, n: int, threads: int, cells: int) -> None:
    """Runs ``kernel(start, stop)`` over ``range(n)`` on ``threads`` threads (the caller
    one of them), chunks taken in turn; re-raises the first error."""
    bounds = chunk_bounds(n, threads, cells)
    if len(bounds) == 1:
        kernel(*bounds[0])
        return
    queue = iter(bounds)
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                part = next(queue, None)
            if part is None:
                return
            kernel(*part)

    helpers = [_pool(threads - 1).submit(worker) for _ in range(min(threads, len(bounds)) - 1)]
    worker()
    for h in helpers:
        h.result()


_WORKSPACE = threading.local()


def workspace(rows: int, cols: int, cg_dtype: type) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """This thread's work space for :func:`_solve_chunk` on R×C tiles, kept between
    calls (a fresh one per call costs page faults comparable to a small solve)."""
    cache = getattr(_WORKSPACE, "arrays", None)
    if cache is None:
        cache = _WORKSPACE.arrays = {}
    key = (rows, cols, np.dtype(cg_dtype).str)
    if key not in cache:
        cache.clear()                                   # one tile shape at a time
        cache[key] = (np.zeros((WORK_TILES, rows, cols)),
                      np.zeros((CG_TILES, rows, cols), dtype=cg_dtype),
                      np.zeros((8, rows * cols)))
    return cache[key]


def default_threads() -> int:
    """Threads the fused kernels use: torch's intra-op count (which follows
    ``OMP_NUM_THREADS`` and ``torch.set_num_threads``), else the CPUs this process may use."""
    try:
        import torch
        return max(1, torch.get_num_threads())
    except ImportError:                                  # pragma: no cover - torch is a dependency
        return max(1, len(os.sched_getaffinity(0)))
