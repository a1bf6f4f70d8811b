"""The one interface every crossbar model implements.

``currents = model(v, g)``: v (..., rows) volts, g (..., rows, cols) siemens ->
(..., cols) amperes, as torch tensors on CPU or CUDA.

Because a tile's conductances are fixed while many input vectors stream through it,
the work is split in two: :meth:`CrossbarModel.prepare` does everything that depends on
G alone, once per tile, and :meth:`CrossbarModel.mvm` does the per-input work. For a
stack of tiles ``g`` of shape (T, rows, cols), ``prepare(g)`` returns the prepared tiles
and ``mvm(prepared, v)`` takes ``v`` of shape (..., T, rows) and returns (..., T, cols)
(leading dimensions broadcast).

Models whose per-tile work is the analytical effective conductance ``G_eff`` (the
costly step: a linear-network solve per tile) say so with :attr:`CrossbarModel.uses_g_eff`
and accept it precomputed, ``prepare(g, g_eff=effective_conductance(spec, g))``, so a
caller running several models on the same tiles (``surrogate.evaluate``) solves each
tile once. :meth:`CrossbarModel.prepare_with` does that dispatch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch

from spice_netlists import CrossbarSpec


class CrossbarModel(ABC):
    """Base class: a crossbar model bound to one :class:`CrossbarSpec`."""

    #: the name ``make_model`` knows this model by
    name: str = "base"

    #: whether :meth:`prepare` accepts ``g_eff=``, the tiles' precomputed
    #: :func:`surrogate.analytical.effective_conductance` (float64, same shape as g)
    uses_g_eff: bool = False

    def __init__(self, spec: CrossbarSpec) -> None:
        self.spec = spec

    # ------------------------------------------------------------------ per tile
    @abstractmethod
    def prepare(self, g: torch.Tensor) -> Any:
        """Per-tile work on conductances ``g`` (..., rows, cols) in siemens."""

    def prepare_with(self, g: torch.Tensor, g_eff: torch.Tensor | None) -> Any:
        """``prepare(g)``, handing over ``g_eff`` (``effective_conductance(spec, g)``,
        computed once by the caller) where the model uses it; ``None``: computed here."""
        if self.uses_g_eff and g_eff is not None:
            return self.prepare(g, g_eff=g_eff)
        return self.prepare(g)

    # ------------------------------------------------------------------ per MVM
    @abstractmethod
    def mvm(self, prepared: Any, v: torch.Tensor) -> torch.Tensor:
        """Column currents (A) for inputs ``v`` (..., rows) volts on prepared tiles."""

    def __call__(self, v: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """Column currents (A) for ``v`` (..., rows) V and ``g`` (..., rows, cols) S."""
        self.check_shapes(v, g)
        return self.mvm(self.prepare(g), v)

    # ------------------------------------------------------------------ helpers
    def check_shapes(self, v: torch.Tensor, g: torch.Tensor) -> None:
        """Raise a clear error when ``v`` or ``g`` do not fit the spec's size."""
        r, c = self.spec.rows, self.spec.cols
        if g.shape[-2:] != (r, c):
            raise ValueError(f"{self.name}: g has shape {tuple(g.shape)}, expected "
                             f"(..., {r}, {c}) for a {r}x{c} crossbar")
        if v.shape[-1] != r:
            raise ValueError(f"{self.name}: v has shape {tuple(v.shape)}, expected "
                             f"(..., {r}) for a {r}-row crossbar")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec.label})"


def matvec(v: torch.Tensor, g_eff: torch.Tensor) -> torch.Tensor:
    """Iᵀ = vᵀ·G for ``v`` (..., rows) and ``g_eff`` (..., rows, cols), broadcasting.

    The common shapes avoid materialising a broadcast copy of G (which made the
    batched matvec tens of times slower): one matrix (rows, cols), or a stack of tiles
    (T, rows, cols) against inputs (..., T, rows) as one batched matmul per tile.
    """
    if g_eff.dim() == 2:
        return torch.matmul(v, g_eff)
    if g_eff.dim() == 3 and v.dim() >= 2 and v.shape[-2] == g_eff.shape[0]:
        return torch.einsum("...tr,trc->...tc", v, g_eff)
    return torch.matmul(v.unsqueeze(-2), g_eff).squeeze(-2)
