"""The ideal crossbar: no parasitics, linear devices, I = Vᵀ·G."""

from __future__ import annotations

import torch

from surrogate.base import CrossbarModel, matvec


class IdealModel(CrossbarModel):
    """I_j = Σ_i v_i · g_ij. Preparation is the identity."""

    name = "ideal"

    def prepare(self, g: torch.Tensor) -> torch.Tensor:
        """The conductances themselves: the ideal model has no per-tile work."""
        return g

    def mvm(self, prepared: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """``vᵀ·G`` in the promoted dtype of ``v`` and the tiles (as the analytical
        models do)."""
        dtype = torch.promote_types(v.dtype, prepared.dtype)
        return matvec(v.to(dtype), prepared.to(dtype))
