"""Mapping integers onto crossbars and back: tiles, slices, DAC, ADC, partial sums.

Conventions (one tile is a ``spec.rows × spec.cols`` crossbar):

* Layer weights ``q`` (N outputs × K inputs) are stored transposed: crossbar row ``i``
  carries input ``i``, column ``j`` senses output ``j``. ``K`` is cut into row tiles of
  ``rows``, ``N`` into column tiles of :attr:`SimConfig.cols_per_tile`; the edges are
  padded with level 0 (a cell at ``g_off``; padded rows are driven at 0 V, padded
  columns are never read back).
* Negative weights: ``differential`` stores ``max(q, 0)`` and ``max(-q, 0)`` on two
  crossbars (``weight_bits - 1`` magnitude bits); ``offset`` stores ``q + 2^(b-1)``
  (``weight_bits`` bits) and puts the constant ``2^(b-1)`` into the last column of every
  tile (the reference column), whose decoded output is subtracted from every column.
* Each stored integer is cut into ``bits_per_slice``-bit slices, one crossbar per slice;
  level ``l`` in 0..2^k-1 maps linearly to ``g = g_off + l·Δg``, ``Δg = (g_on-g_off)/(2^k-1)``.
* Inputs (non-negative integers) stream ``bits_per_stream`` bits at a time; digit ``d`` in
  0..2^m-1 becomes ``v = d·Δv``, ``Δv = v_read_max/(2^m-1)``.
* The ADC digitises the raw column current over ``[0, FS]``, ``FS = rows·g_on·v_read_max``
  (:attr:`CrossbarSpec.full_scale_current`, the largest ideal current), with
  ``2^adc_bits`` codes: ``code = clamp(round(I/LSB), 0, 2^b-1)``, ``LSB = FS/(2^b-1)``.
* The ``g_off`` baseline is removed digitally after the ADC: for digits ``d_i`` the ideal
  current is ``Δv·Δg·Σ d_i l_i + Δv·g_off·Σ d_i``, so the partial sum is
  ``p = round(code·LSB/(Δv·Δg) - (g_off/Δg)·Σ d_i)``. This is exact for the ideal model
  when ``LSB < Δv·Δg`` (:func:`lossless_adc_bits`).
"""

from __future__ import annotations

import math

import torch

from functional_sim.sim.config import SimConfig
from spice_netlists import CrossbarSpec


def n_slices(cfg: SimConfig) -> int:
    """Crossbars (slices) per stored weight."""
    return math.ceil(stored_weight_bits(cfg) / cfg.bits_per_slice)


def stored_weight_bits(cfg: SimConfig) -> int:
    """Bits of the non-negative integers stored on crossbars."""
    return cfg.weight_bits - 1 if cfg.negative_weights == "differential" else cfg.weight_bits


def n_streams(cfg: SimConfig) -> int:
    """DAC steps per input vector."""
    return math.ceil(cfg.input_bits / cfg.bits_per_stream)


def conductance_step(spec: CrossbarSpec, bits_per_slice: int) -> float:
    """Δg (S): conductance per slice level."""
    return (spec.g_on - spec.g_off) / ((1 << bits_per_slice) - 1)


def voltage_step(spec: CrossbarSpec, bits_per_stream: int) -> float:
    """Δv (V): voltage per DAC digit."""
    return spec.v_read_max / ((1 << bits_per_stream) - 1)


def lossless_adc_bits(spec: CrossbarSpec, bits_per_slice: int, bits_per_stream: int) -> int:
    """Smallest ADC width whose LSB is below one partial-sum unit Δv·Δg (exact for ideal)."""
    ratio = spec.full_scale_current / (voltage_step(spec, bits_per_stream)
                                       * conductance_step(spec, bits_per_slice))
    bits = 1
    while (1 << bits) - 1 <= ratio * (1 + 1e-9):
        bits += 1
    return bits


def encode_weights(q: torch.Tensor, cfg: SimConfig) -> torch.Tensor:
    """Slice levels of every crossbar: int64 (P, S, RT, CT, rows, cols).

    ``q`` is (N, K) signed integer weights. P is 2 (W⁺, W⁻) for ``differential`` and 1
    for ``offset``; S slices (least significant first); RT row tiles; CT column tiles.
    """
    n_out, k_in = q.shape
    rows, cpt = cfg.spec.rows, cfg.cols_per_tile
    rt, ct = math.ceil(k_in / rows), math.ceil(n_out / cpt)
    wt = q.t()
    if cfg.negative_weights == "differential":
        stored = torch.stack([wt.clamp(min=0), (-wt).clamp(min=0)])
    else:
        stored = (wt + (1 << (cfg.weight_bits - 1)))[None]
    padded = torch.zeros(stored.shape[0], rt * rows, ct * cpt, dtype=torch.int64, device=q.device)
    padded[:, :k_in, :n_out] = stored
    padded = padded.reshape(-1, rt, rows, ct, cpt).permute(0, 1, 3, 2, 4)  # P, RT, CT, rows, cpt
    if cfg.negative_weights == "offset":
        ref = torch.zeros(padded.shape[:-1] + (1,), dtype=torch.int64, device=q.device)
        valid = (torch.arange(rt * rows, device=q.device) < k_in).reshape(rt, 1, rows, 1)
        ref[:] = valid * (1 << (cfg.weight_bits - 1))
        padded = torch.cat([padded, ref], dim=-1)
    k = cfg.bits_per_slice
    shifts = torch.arange(n_slices(cfg), device=q.device) * k
    levels = (padded[:, None] >> shifts.reshape(1, -1, 1, 1, 1, 1)) & ((1 << k) - 1)
    return levels


def levels_to_conductance(levels: torch.Tensor, spec: CrossbarSpec, bits_per_slice: int,
                          dtype: torch.dtype) -> torch.Tensor:
    """Siemens for slice levels: g_off + level·Δg."""
    return spec.g_off + levels.to(dtype) * conductance_step(spec, bits_per_slice)


def stream_digits(x: torch.Tensor, cfg: SimConfig) -> torch.Tensor:
    """Digits of non-negative integers ``x`` (..., K): int64 (NS, ..., K), least
    significant first."""
    m = cfg.bits_per_stream
    shifts = torch.arange(n_streams(cfg), device=x.device) * m
    return (x[None] >> shifts.reshape((-1,) + (1,) * x.dim())) & ((1 << m) - 1)


def adc_partial_sums(currents: torch.Tensor, digit_sums: torch.Tensor, cfg: SimConfig,
                     digital_scale: torch.Tensor | None = None) -> torch.Tensor:
    """Integer-valued partial sums (in the currents' float dtype) from column currents
    (..., T, cols) and the digit sum of each crossbar's input (..., T).

    The ADC: ``code = clamp(round(I/LSB), 0, 2^adc_bits - 1)``, ``LSB = FS/(2^adc_bits - 1)``;
    then the g_off baseline is removed digitally:
    ``p = round(α·code·LSB/(Δv·Δg) - (g_off/Δg)·Σ d_i)``, where ``α`` is the tile's
    ``digital_scale`` (T,) (drift compensation, :mod:`functional_sim.sim.nonideal`; 1 when
    None). Works in place on ``currents``.
    """
    spec = cfg.spec
    top = (1 << cfg.adc_bits) - 1
    lsb = spec.full_scale_current / top
    dg = conductance_step(spec, cfg.bits_per_slice)
    unit = voltage_step(spec, cfg.bits_per_stream) * dg
    codes = currents.div_(lsb).round_().clamp_(0, top)
    if digital_scale is not None:
        codes.mul_(digital_scale[:, None])
    return codes.mul_(lsb / unit).sub_(digit_sums[..., None] * (spec.g_off / dg)).round_()
