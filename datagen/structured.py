"""Structured tiles: (V, G) distributions built to break a surrogate, for held-out sets.

The training samplers (:mod:`datagen.samplers`) draw every cell and input independently,
so a training set holds almost no tile with spatial structure, although real tiles have
plenty: weights laid out by output channel, positive and negative parts in paired
columns, activity in the corner of the tile farthest from the drivers, a few rows of a
zero-padded patch, two-state devices, and inputs in corners of the input space. Each
pattern here draws one such family; the ``structured`` sampler
(``SamplerConfig(name="structured", pattern=...)``) serves them to sweeps, and the
default run scores every crossbar model on each (``datagen.held_out``).

A pattern returns *positions*: inputs in [0, 1] (× ``v_read_max``) and devices in [0, 1]
between g_off (0) and g_on (1). Orientation is the project's (``shared/DESIGN.md``): row
i's driver sits at column 0 and column j's sink after row R−1, so the cell farthest from
both is (0, C−1) and the nearest (R−1, 0).

Patterns (each sample draws its own sizes, positions and levels):

``all_on``
    every input and device within 10 % of its maximum: the largest IR drop a tile can see.
``far_corner``
    a block of active rows and high devices in the corner farthest from drivers and
    sink (rows from 0, columns up to C−1), a sparse background elsewhere.
``near_corner``
    the same block in the corner nearest to both (rows up to R−1, columns from 0).
``column_blocks``
    a random share of columns (10–50 %) at high conductance, the rest near g_off, dense
    inputs: weights laid out by output channel with a few large ones.
``row_blocks``
    one contiguous run of active rows (1/8 to 1/2 of them) over dense random devices,
    every other input 0: a zero-padded convolution patch.
``one_hot``
    exactly one input on (at 50–100 % of full scale), dense random devices: no current
    from other rows shares the wires.
``two_state``
    every device at g_off or g_on and every input 0 or full scale (at least one on),
    each sample with its own share of ones: a binary-mode tile.
``low_conductance``
    every device within 10 % of g_off above it, dense inputs: small currents, where a
    relative error is largest.
``gradient``
    devices on a smooth ramp across the tile in a random direction plus a little noise,
    dense inputs: the spatial gradients of process and drift.
``complementary_columns``
    differential weight pairs: a signed weight per (row, pair), its positive part in
    column 2k and its negative part in column 2k+1 (the other cell at g_off), binary
    sparse inputs.
``low_voltage``
    dense random devices, every input below 20 % of full scale: where the devices are
    nearly linear and a learned correction has least to add.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

#: a pattern: (rng, samples n, rows r, cols c) -> (input positions (n, r), device positions (n, r, c))
Pattern = Callable[[np.random.Generator, int, int, int], tuple[np.ndarray, np.ndarray]]


def _near_max(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Positions within 10 % of the maximum."""
    return 1.0 - 0.1 * rng.random(shape)


def _binary_inputs(rng: np.random.Generator, p_on: np.ndarray, n: int, r: int) -> np.ndarray:
    """Inputs 0 or full scale, each on with its sample's probability ``p_on`` (n, 1), and
    at least one on per sample (a read with no input carries no current)."""
    on = rng.random((n, r)) < p_on
    on[np.arange(n), rng.integers(0, r, n)] = True
    return on.astype(float)


def _all_on(rng, n, r, c):
    return _near_max(rng, (n, r)), _near_max(rng, (n, r, c))


def _corner_block(rng, n, r, c, far: bool):
    """Active rows and high devices in one corner block; a sparse background."""
    h = rng.integers(max(1, r // 4), max(2, r // 2) + 1, n)
    w = rng.integers(max(1, c // 4), max(2, c // 2) + 1, n)
    rows, cols = np.arange(r)[None, :], np.arange(c)[None, :]
    if far:                                       # rows 0..h-1, columns c-w..c-1
        in_rows, in_cols = rows < h[:, None], cols >= (c - w)[:, None]
    else:                                         # rows r-h..r-1, columns 0..w-1
        in_rows, in_cols = rows >= (r - h)[:, None], cols < w[:, None]
    block = in_rows[:, :, None] & in_cols[:, None, :]
    v = np.where(in_rows, 0.5 + 0.5 * rng.random((n, r)),
                 rng.random((n, r)) * (rng.random((n, r)) < 0.2))
    background = rng.random((n, r, c)) * (rng.random((n, r, c)) < 0.2)
    g = np.where(block, 0.5 + 0.5 * rng.random((n, r, c)), background)
    return v, g


def _far_corner(rng, n, r, c):
    return _corner_block(rng, n, r, c, far=True)


def _near_corner(rng, n, r, c):
    return _corner_block(rng, n, r, c, far=False)


def _column_blocks(rng, n, r, c):
    share = rng.uniform(0.1, 0.5, n)[:, None]
    hot = rng.random((n, c)) < share
    hot[np.arange(n), rng.integers(0, c, n)] = True          # at least one per sample
    g = np.where(hot[:, None, :], 0.7 + 0.3 * rng.random((n, r, c)), 0.1 * rng.random((n, r, c)))
    binary = rng.random(n) < 0.5
    v = np.where(binary[:, None], 1.0, rng.random((n, r)))
    return v, g


def _row_blocks(rng, n, r, c):
    length = rng.integers(max(1, r // 8), max(2, r // 2) + 1, n)
    start = rng.integers(0, r - length + 1)
    rows = np.arange(r)[None, :]
    active = (rows >= start[:, None]) & (rows < (start + length)[:, None])
    v = np.where(active, 0.5 + 0.5 * rng.random((n, r)), 0.0)
    return v, rng.random((n, r, c))


def _one_hot(rng, n, r, c):
    v = np.zeros((n, r))
    v[np.arange(n), rng.integers(0, r, n)] = rng.uniform(0.5, 1.0, n)
    return v, rng.random((n, r, c))


def _two_state(rng, n, r, c):
    p_on = rng.uniform(0.2, 0.8, n)[:, None, None]
    p_in = rng.uniform(0.2, 1.0, n)[:, None]
    return _binary_inputs(rng, p_in, n, r), (rng.random((n, r, c)) < p_on).astype(float)


def _low_conductance(rng, n, r, c):
    return rng.random((n, r)), 0.1 * rng.random((n, r, c))


def _gradient(rng, n, r, c):
    theta = rng.uniform(0.0, 2.0 * np.pi, n)[:, None, None]
    i = np.linspace(-0.5, 0.5, r)[None, :, None]
    j = np.linspace(-0.5, 0.5, c)[None, None, :]
    ramp = 0.5 + rng.uniform(0.5, 1.0, n)[:, None, None] * (i * np.cos(theta) + j * np.sin(theta))
    g = np.clip(ramp + 0.05 * rng.standard_normal((n, r, c)), 0.0, 1.0)
    return rng.random((n, r)), g


def _complementary_columns(rng, n, r, c):
    w = rng.standard_normal((n, r, (c + 1) // 2))
    w /= np.abs(w).max(axis=(1, 2), keepdims=True)
    g = np.zeros((n, r, c))
    g[:, :, 0::2] = np.maximum(w, 0.0)
    g[:, :, 1::2] = np.maximum(-w, 0.0)[:, :, :c // 2]
    p_in = rng.uniform(0.1, 0.6, n)[:, None]
    return _binary_inputs(rng, p_in, n, r), g


def _low_voltage(rng, n, r, c):
    return 0.2 * rng.random((n, r)), rng.random((n, r, c))


#: pattern name -> its draw; the module docstring says what each is
PATTERNS: dict[str, Pattern] = {
    "all_on": _all_on,
    "far_corner": _far_corner,
    "near_corner": _near_corner,
    "column_blocks": _column_blocks,
    "row_blocks": _row_blocks,
    "one_hot": _one_hot,
    "two_state": _two_state,
    "low_conductance": _low_conductance,
    "gradient": _gradient,
    "complementary_columns": _complementary_columns,
    "low_voltage": _low_voltage,
}


def draw_pattern(pattern: str, rng: np.random.Generator, n: int, rows: int,
                 cols: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` samples of ``pattern``: input positions (n, rows) and device positions
    (n, rows, cols), each in [0, 1]; a name not in :data:`PATTERNS` raises KeyError."""
    v, g = PATTERNS[pattern](rng, n, rows, cols)
    return np.clip(v, 0.0, 1.0), np.clip(g, 0.0, 1.0)
