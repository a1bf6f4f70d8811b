"""The nonideality factor (NF) of a layer's crossbar reads.

``NF = mean over reads and columns of (I_ideal − I) / I_ideal``, where ``I`` is the
column current a crossbar model computes and ``I_ideal`` that of the same inputs on the
same (physical, perturbed) conductances without any wire, source or sink resistance:
``I_ideal = Σ_i f(v_i)·G_ij`` with ``f`` the device law at the applied voltage
(:meth:`spice_netlists.CrossbarSpec.device_drive`: ``v`` for linear devices, where this
is the MDM paper's ``Vᵀ·G``; ``sinh(a·v)/a`` for sinh devices, so that NF measures what
the parasitic resistances take and not the device's own nonlinearity; ``v`` for 1T1R,
whose access transistor therefore counts in NF). Columns whose ideal current is below
``min_fraction`` of the full-scale current are left out: their ratio is noise. NF > 0:
the crossbar delivers less current than without wires (IR drop).
"""

from __future__ import annotations

import torch

from spice_netlists import CrossbarSpec
from surrogate.base import matvec

__all__ = ["NFMeter"]


class NFMeter:
    """Accumulates NF per layer over every read it is shown.

    Args:
        spec: the tile physics (its full-scale current sets the cut-off).
        min_fraction: columns with ``I_ideal < min_fraction·FS`` are left out.
    """

    def __init__(self, spec: CrossbarSpec, min_fraction: float = 0.01) -> None:
        self.spec = spec
        self.cutoff = min_fraction * spec.full_scale_current
        self._g: tuple[torch.Tensor, torch.Tensor] | None = None
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def update(self, layer: str, v: torch.Tensor, g: torch.Tensor, currents: torch.Tensor) -> None:
        """Add the reads of inputs ``v`` (N, T, rows) on tiles ``g`` (T, rows, cols) whose
        model currents are ``currents`` (N, T, cols)."""
        ideal = matvec(self.spec.device_drive(v.to(torch.float64)), self._float64(g))
        keep = ideal >= self.cutoff
        ratio = (ideal - currents.to(torch.float64))[keep] / ideal[keep]
        self.sums[layer] = self.sums.get(layer, 0.0) + float(ratio.sum())
        self.counts[layer] = self.counts.get(layer, 0) + int(keep.sum())

    def _float64(self, g: torch.Tensor) -> torch.Tensor:
        """``g`` in float64, converted once per tile stack (a layer reads the same one)."""
        if self._g is None or self._g[0] is not g:
            self._g = (g, g.to(torch.float64))
        return self._g[1]

    def per_layer(self) -> dict[str, float]:
        """NF of each layer (NaN for a layer with no column above the cut-off)."""
        return {name: (self.sums[name] / n if n else float("nan"))
                for name, n in self.counts.items()}

    def overall(self) -> float:
        """NF over every counted column of every layer."""
        n = sum(self.counts.values())
        return sum(self.sums.values()) / n if n else float("nan")
