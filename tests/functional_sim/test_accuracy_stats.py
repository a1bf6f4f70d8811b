"""Confidence intervals of the accuracy reports, against independent computations."""

from __future__ import annotations

import math

import pytest
import torch

from functional_sim.studies.accuracy_stats import (Z_95, paired_difference, pooled_paired_mean,
                                                   wilson_interval)


def test_wilson_interval_matches_its_closed_form_and_holds_the_estimate() -> None:
    # 45 of 50: Wilson's interval, written out from the textbook formula
    k, n, z = 45, 50, 1.959963984540054
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    assert wilson_interval(k, n) == pytest.approx((centre - half, centre + half), abs=1e-12)
    assert Z_95 == pytest.approx(1.959963984540054)
    for k in range(0, 11):
        low, high = wilson_interval(k, 10)
        assert 0.0 <= low <= k / 10 <= high <= 1.0
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0
    # more images, a narrower interval
    assert (lambda a, b: b - a)(*wilson_interval(450, 500)) < (lambda a, b: b - a)(*wilson_interval(45, 50))


@pytest.mark.parametrize("k, n", [(-1, 10), (11, 10), (0, 0)])
def test_wilson_interval_refuses_impossible_counts(k: int, n: int) -> None:
    with pytest.raises(ValueError, match=f"{k} of {n}"):
        wilson_interval(k, n)


def test_paired_difference_is_the_mean_per_image_difference_with_its_normal_interval() -> None:
    a = torch.tensor([1, 1, 0, 1, 0, 1, 1, 1], dtype=torch.bool)
    b = torch.tensor([1, 0, 0, 1, 1, 1, 0, 1], dtype=torch.bool)
    d = [1 - 1, 1 - 0, 0, 0, 0 - 1, 0, 1 - 0, 0]
    mean = sum(d) / 8
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / 7)
    got = paired_difference(a, b)
    assert got == pytest.approx((mean, mean - Z_95 * sd / math.sqrt(8),
                                 mean + Z_95 * sd / math.sqrt(8)))
    # the same images right: no difference and no width, whatever the accuracy
    assert paired_difference(a, a) == (0.0, 0.0, 0.0)


def test_paired_difference_refuses_unpaired_vectors() -> None:
    with pytest.raises(ValueError, match="equal"):
        paired_difference(torch.ones(3), torch.ones(4))
    with pytest.raises(ValueError, match="non-empty"):
        paired_difference(torch.ones(0), torch.ones(0))


def test_pooled_paired_mean_sums_the_cells_variances() -> None:
    # cell 1: differences [1, 0, 0, 0] (mean 0.25, var 0.25); cell 2: [0, 0] (mean 0, var 0)
    mean, low, high = pooled_paired_mean([torch.tensor([1.0, 0, 0, 0]), torch.zeros(2)])
    assert mean == pytest.approx(0.125)
    half = Z_95 * math.sqrt(0.25 / 4) / 2
    assert (low, high) == (pytest.approx(0.125 - half), pytest.approx(0.125 + half))
    with pytest.raises(ValueError):
        pooled_paired_mean([])
