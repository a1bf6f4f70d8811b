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
caller running several models on the same tiles (``surrogate.stages.evaluate``) solves each
tile once. :meth:`CrossbarModel.prepare_with` does that dispatch.

Models that solve each device's own I–V (``circuit``, ``spice``) also take a
device-to-device spread of the sinh nonlinearity, ``prepare(g, sinh_a=a)`` with ``a``
shaped like ``g`` (1/V); they say so with :attr:`CrossbarModel.uses_sinh_a`. The other
models compute with the spec's one ``sinh_a`` (:meth:`CrossbarModel.prepare_devices`
does that dispatch).

``model(v, g)`` checks its inputs (:meth:`CrossbarModel.check_shapes`) and promotes them
to one dtype for every model alike: torch tensors only (numpy arrays are refused with
the fix), leading dimensions that broadcast, one device, and currents in
``torch.promote_types(v.dtype, g.dtype)``; it refuses non-finite voltages or
conductances and negative conductances (:mod:`spice_netlists.circuit.inputs`), and warns
where conductances lie far outside ``[g_off, g_on]``. ``prepare``/``mvm`` are the hot path of the
functional simulator and check nothing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch

from spice_netlists import CrossbarSpec
from spice_netlists.circuit.inputs import check_input_values, warn_far_conductances


class CrossbarModel(ABC):
    """Base class: a crossbar model bound to one :class:`CrossbarSpec`."""

    #: the name ``make_model`` knows this model by
    name: str = "base"

    #: whether :meth:`prepare` accepts ``g_eff=``, the tiles' precomputed
    #: :func:`surrogate.analytical.effective_conductance` (float64, same shape as g)
    uses_g_eff: bool = False

    #: whether :meth:`prepare` accepts ``sinh_a=``, each sinh device's own nonlinearity
    uses_sinh_a: bool = False

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

    def prepare_devices(self, g: torch.Tensor, sinh_a: torch.Tensor | None) -> Any:
        """``prepare(g)``, handing over per-device ``sinh_a`` (shaped like ``g``) where the
        model uses it; models that do not compute with the spec's ``sinh_a``."""
        if self.uses_sinh_a and sinh_a is not None:
            return self.prepare(g, sinh_a=sinh_a)
        return self.prepare(g)

    # ------------------------------------------------------------------ per MVM
    @abstractmethod
    def mvm(self, prepared: Any, v: torch.Tensor) -> torch.Tensor:
        """Column currents (A) for inputs ``v`` (..., rows) volts on prepared tiles."""

    def __call__(self, v: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """Column currents (A) for ``v`` (..., rows) V and ``g`` (..., rows, cols) S.

        The leading dimensions of ``v`` and ``g`` broadcast. Both are brought to their
        promoted dtype first (:meth:`check_inputs`), so every model gives currents in
        ``torch.promote_types(v.dtype, g.dtype)``, the same as for inputs already in it.

        Raises:
            TypeError: ``v`` or ``g`` is not a torch tensor (e.g. a numpy array), or
                their promoted dtype is not a real floating-point one.
            ValueError: shapes that do not fit the spec or do not broadcast, or tensors
                on two devices; the message names the model, the argument and the shapes.
            InputValueError: NaN or infinite values in ``v`` or ``g``, or negative
                conductances; the message names the argument and the count.
        """
        v, g = self.check_inputs(v, g)
        return self.mvm(self.prepare(g), v)

    # ------------------------------------------------------------------ helpers
    def check_shapes(self, v: torch.Tensor, g: torch.Tensor) -> None:
        """Raise a clear error, naming the model, the argument and what it got, unless
        ``v`` (..., rows) and ``g`` (..., rows, cols) are torch tensors that fit the
        spec's size, whose leading dimensions broadcast, on one device, with a real
        floating-point promoted dtype (see :meth:`__call__` for the error types)."""
        for arg, value in (("v", v), ("g", g)):
            if not isinstance(value, torch.Tensor):
                kind, package = type(value).__qualname__, type(value).__module__.split(".")[0]
                kind = kind if package == "builtins" else f"{package}.{kind}"  # numpy.ndarray
                raise TypeError(f"{self.name}: {arg} is a {kind}; crossbar models take "
                                f"torch tensors: pass torch.from_numpy({arg}) (or "
                                f"torch.as_tensor({arg}))")
        r, c = self.spec.rows, self.spec.cols
        if g.dim() < 2 or g.shape[-2:] != (r, c):
            raise ValueError(f"{self.name}: g has shape {tuple(g.shape)}, expected "
                             f"(..., {r}, {c}) for a {r}x{c} crossbar")
        if v.dim() < 1 or v.shape[-1] != r:
            raise ValueError(f"{self.name}: v has shape {tuple(v.shape)}, expected "
                             f"(..., {r}) for a {r}-row crossbar")
        if v.device != g.device:
            raise ValueError(f"{self.name}: v is on {v.device} and g on {g.device}; "
                             f"put both on one device")
        self.result_dtype(v, g)
        if v.shape[:-1] == g.shape[:-2]:             # broadcasts (torch's check costs ~15 µs)
            return
        try:
            torch.broadcast_shapes(v.shape[:-1], g.shape[:-2])
        except RuntimeError:
            raise ValueError(f"{self.name}: the leading dimensions of v {tuple(v.shape)} and "
                             f"g {tuple(g.shape)} do not broadcast ({tuple(v.shape[:-1])} "
                             f"against {tuple(g.shape[:-2])}); give both the same batch "
                             f"size, or 1") from None

    def result_dtype(self, v: torch.Tensor, g: torch.Tensor) -> torch.dtype:
        """The dtype of the currents for ``v`` and ``g``: torch's promotion of theirs
        (float32 with float64 gives float64; an integer tensor takes the other's float
        dtype). A promoted dtype that is not real floating point is a TypeError."""
        dtype = torch.promote_types(v.dtype, g.dtype)
        if not dtype.is_floating_point:
            raise TypeError(f"{self.name}: v ({v.dtype}) and g ({g.dtype}) promote to "
                            f"{dtype}; crossbar models need a real floating-point dtype "
                            f"(pass float32 or float64 tensors)")
        return dtype

    def check_inputs(self, v: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``v`` and ``g`` checked (:meth:`check_shapes`; finite voltages, finite
        non-negative conductances: :func:`spice_netlists.circuit.inputs.check_input_values`,
        with a warning for conductances far outside ``[g_off, g_on]``) and converted to
        their promoted dtype (:meth:`result_dtype`); tensors already in it are returned as
        they are."""
        self.check_shapes(v, g)
        check_input_values(self.name, v, g)
        warn_far_conductances(self.name, self.spec, g)
        dtype = self.result_dtype(v, g)
        return v.to(dtype), g.to(dtype)

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
