"""What a crossbar's inputs may hold: finite voltages, finite non-negative conductances.

A NaN, an infinity or a negative conductance given to a solver does not fail where it
enters: it comes back as "did not converge, residual nan", or as currents that are
silently wrong. :func:`input_problems` names each bad argument and how many of its
values are bad; :func:`check_input_values` raises :class:`InputValueError` with them.
Conductances far outside the programmed range ``[g_off, g_on]`` of the spec are legal
physics (a shorted device, a mistyped unit) but rarely meant: :func:`warn_far_conductances`
warns, naming the factor.

Every crossbar model checks through these on its checked entry (``model(v, g)``); the
circuit solver names the cause this way when a solve fails, so that its hot path pays
nothing for the check.
"""

from __future__ import annotations

import warnings

import torch

from spice_netlists.spec import CrossbarSpec

__all__ = ["FAR_OUTSIDE_FACTOR", "InputValueError", "check_input_values", "input_problems",
           "warn_far_conductances"]

#: conductances above ``FAR_OUTSIDE_FACTOR · g_on`` or (non-zero) below
#: ``g_off / FAR_OUTSIDE_FACTOR`` are warned about
FAR_OUTSIDE_FACTOR = 10.0


class InputValueError(ValueError):
    """Voltages or conductances a crossbar cannot take: non-finite values, or negative
    conductances. The message names the argument and the count."""


def _count(mask: torch.Tensor) -> int:
    return int(mask.sum())


def input_problems(v: torch.Tensor | None, g: torch.Tensor | None,
                   sinh_a: torch.Tensor | None = None) -> list[str]:
    """One phrase per bad argument (``"g: 3 of 4096 values are NaN"``); empty when the
    inputs are fine. ``None`` arguments are not checked."""
    problems: list[str] = []
    for arg, value in (("v", v), ("g", g), ("sinh_a", sinh_a)):
        if value is None or value.numel() == 0 or not value.dtype.is_floating_point:
            continue
        value = value.detach()
        n = value.numel()
        nan, inf = _count(torch.isnan(value)), _count(torch.isinf(value))
        if nan:
            problems.append(f"{arg}: {nan} of {n} values are NaN")
        if inf:
            problems.append(f"{arg}: {inf} of {n} values are infinite")
        if arg != "v":
            negative = _count(value < 0)
            if negative:
                problems.append(f"{arg}: {negative} of {n} values are negative "
                                f"(smallest {float(value.min()):.3g})")
    return problems


def check_input_values(name: str, v: torch.Tensor | None, g: torch.Tensor | None,
                       sinh_a: torch.Tensor | None = None) -> None:
    """Raise :class:`InputValueError`, naming model ``name``, each bad argument and its
    count, when :func:`input_problems` finds any."""
    problems = input_problems(v, g, sinh_a)
    if problems:
        raise InputValueError(f"{name}: " + "; ".join(problems) + " (voltages must be finite, "
                              "conductances finite and >= 0 S)")


def warn_far_conductances(name: str, spec: CrossbarSpec, g: torch.Tensor) -> None:
    """Warn (``UserWarning``) where ``g`` reaches more than :data:`FAR_OUTSIDE_FACTOR` times
    above ``spec.g_on`` or below ``spec.g_off`` (zero, an open device, is not warned
    about), naming the factor."""
    if g.numel() == 0:
        return
    g = g.detach()
    top = float(g.max())
    if top > FAR_OUTSIDE_FACTOR * spec.g_on:
        warnings.warn(f"{name}: g reaches {top:.3g} S, {top / spec.g_on:.3g}x the spec's "
                      f"g_on {spec.g_on:.3g} S (conductances are in siemens; the devices "
                      f"are programmed within [g_off, g_on])", stacklevel=3)
    positive = g[g > 0]
    if positive.numel():
        low = float(positive.min())
        if low * FAR_OUTSIDE_FACTOR < spec.g_off:
            warnings.warn(f"{name}: g goes down to {low:.3g} S, {spec.g_off / low:.3g}x below "
                          f"the spec's g_off {spec.g_off:.3g} S (conductances are in "
                          f"siemens; the devices are programmed within [g_off, g_on])",
                          stacklevel=3)
