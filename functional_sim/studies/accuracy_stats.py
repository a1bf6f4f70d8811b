"""Confidence intervals for accuracy figures measured on a finite set of test images.

* :func:`wilson_interval`: a top-1 accuracy (k of n images right) as a binomial
  proportion, Wilson's score interval (sound near 0 and 1, where the normal one is not).
* :func:`paired_difference`: the difference of two top-1 accuracies measured on the *same*
  images (a cheap model's and the truth's), with the normal interval of the mean of the
  per-image differences d_i = c_model,i − c_truth,i ∈ {−1, 0, 1}. Pairing matters: two
  models that fail on the same images differ far less than two independent proportions
  with the same n would.
* :func:`pooled_paired_mean`: the mean over several cells (settings × networks, each on
  its own images) of per-image paired differences, with the normal interval that sums
  each cell's variance of the mean.
"""

from __future__ import annotations

import math

import torch

#: the two-sided 95 % standard-normal quantile
Z_95 = 1.959963984540054


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """(low, high) of Wilson's score interval for ``successes`` out of ``n``.

    Raises:
        ValueError: ``n`` < 1 or ``successes`` outside [0, n].
    """
    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n >= 1, got {successes} of {n}")
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if successes == 0 else max(0.0, min(p, centre - half))   # exact at the ends,
    high = 1.0 if successes == n else min(1.0, max(p, centre + half))   # and round-off safe
    return low, high


def paired_difference(correct_a: torch.Tensor, correct_b: torch.Tensor,
                      z: float = Z_95) -> tuple[float, float, float]:
    """(mean, low, high) of ``mean(correct_a − correct_b)`` over the same images.

    ``correct_a`` and ``correct_b`` are per-image booleans (or 0/1) of equal length; the
    interval is mean ± z·s/√n with s the sample standard deviation of the per-image
    differences (zero width where the two are right on exactly the same images).

    Raises:
        ValueError: the two differ in length or are empty.
    """
    if correct_a.shape != correct_b.shape or correct_a.numel() == 0:
        raise ValueError(f"need two equal, non-empty per-image vectors, got "
                         f"{tuple(correct_a.shape)} and {tuple(correct_b.shape)}")
    d = correct_a.double().reshape(-1) - correct_b.double().reshape(-1)
    n = d.numel()
    mean = float(d.mean())
    sd = float(d.std(unbiased=True)) if n > 1 else 0.0
    half = z * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def pooled_paired_mean(cells: list[torch.Tensor], z: float = Z_95) -> tuple[float, float, float]:
    """(mean, low, high) of the mean over ``cells`` of each cell's mean per-image difference.

    Each entry of ``cells`` holds one cell's per-image differences (paired on that cell's
    images); cells are independent, so the variance of the mean of their means is
    Σ s_c²/n_c / C², with s_c the sample standard deviation of cell c.

    Raises:
        ValueError: no cells, or an empty one.
    """
    if not cells or any(c.numel() == 0 for c in cells):
        raise ValueError("need at least one cell, each with at least one image")
    means, variances = [], []
    for c in cells:
        d = c.double().reshape(-1)
        means.append(float(d.mean()))
        variances.append(float(d.var(unbiased=True)) / d.numel() if d.numel() > 1 else 0.0)
    mean = sum(means) / len(means)
    half = z * math.sqrt(sum(variances)) / len(means)
    return mean, mean - half, mean + half
