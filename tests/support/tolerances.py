"""Tolerances for comparing column currents computed two different ways.

Two different computations of the same currents (another solver, another batching,
another CPU's vector width) agree only to rounding, so tests compare them with an
absolute tolerance scaled to the crossbar's full-scale current (``rows·g_on·v_read_max``,
the largest current a column can carry) rather than bit for bit.
"""

from __future__ import annotations

from spice_netlists import CrossbarSpec


def fs_atol(spec: CrossbarSpec, fraction: float) -> float:
    """``fraction`` of ``spec``'s full-scale column current, in amperes."""
    return fraction * spec.full_scale_current
