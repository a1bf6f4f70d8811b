"""Fixed-point quantisation of weights and activations (symmetric, integer codes).

Weights: ``q = clamp(round(w / s), -L, L)`` with ``L = 2^(weight_bits-1) - 1`` and
``s = max|w| / L`` over the whole layer (``per_layer``) or over each output channel
(``per_channel``); an all-zero group gets ``s = 1``.

Activations: one scale per sample (over all of a sample's values, so results never
depend on the other samples of a batch). A sample with no negative value is unsigned,
``L = 2^input_bits - 1``; a sample with a negative value (e.g. normalised images) is
signed, ``L = 2^(input_bits-1) - 1``; ``s = max|x| / L``; ``x_int = round(x / s)``.
"""

from __future__ import annotations

import torch


def weight_levels(bits: int) -> int:
    """Largest weight magnitude code: 2^(bits-1) - 1."""
    return (1 << (bits - 1)) - 1


def quantize_weights(w: torch.Tensor, bits: int, per_channel: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer codes (int64, same shape) and scales (one per row of ``w``, shape (N,)).

    ``w`` is (N, K): one row per output channel.
    """
    levels = weight_levels(bits)
    w = w.detach()
    if per_channel:
        peak = w.abs().amax(dim=1)
    else:
        peak = w.abs().amax().expand(w.shape[0])
    scale = torch.where(peak > 0, peak / levels, torch.ones_like(peak))
    q = torch.clamp(torch.round(w / scale[:, None]), -levels, levels).to(torch.int64)
    return q, scale


def quantize_inputs(x: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample integer codes (int64, same shape as ``x``) and scales (shape (B,)).

    Dimension 0 of ``x`` is the sample.
    """
    x = x.detach()
    flat = x.reshape(x.shape[0], -1)
    peak = flat.abs().amax(dim=1) if flat.shape[1] else torch.zeros(x.shape[0], dtype=x.dtype,
                                                                     device=x.device)
    signed = (flat < 0).any(dim=1) if flat.shape[1] else torch.zeros_like(peak, dtype=torch.bool)
    levels = torch.where(signed, torch.full_like(peak, (1 << (bits - 1)) - 1),
                         torch.full_like(peak, (1 << bits) - 1))
    scale = torch.where(peak > 0, peak / levels, torch.ones_like(peak))
    shape = (-1,) + (1,) * (x.dim() - 1)
    xi = torch.round(x / scale.reshape(shape))
    xi = torch.minimum(torch.maximum(xi, -levels.reshape(shape)), levels.reshape(shape))
    return xi.to(torch.int64), scale
