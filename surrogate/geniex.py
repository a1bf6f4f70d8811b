"""The GENIEx surrogate: a small MLP that learns what the linear models miss.

The network follows GENIEx (Chakraborty et al., DAC 2020): its inputs are the
conductances scaled to [0, 1], ``(g − g_off)/(g_on − g_off)`` (R·C values), and the
voltages scaled by ``v_read_max`` (R values); hidden layers of ReLU units (the paper: one
layer of 500); C outputs. Three targets are available (:attr:`GeniexConfig.target`), each a
:class:`Target` object in :data:`TARGET_TABLE` that owns its label (forward), its
inverse (network output -> currents), its linear model and its zero-input offset:

``ratio`` (the published one)
    the per-column ratio ``I_ideal / I_nonideal``; the prediction is
    ``I = I_ideal / ratio``. Columns whose ideal or SPICE current is below
    ``ratio_min_current`` × full scale carry no usable ratio (0/0 at zero input) and are
    masked out of the loss; at prediction time the ratio is floored at
    ``ratio_floor`` so that it never divides by ~0.
``residual``
    the correction on top of the analytical model,
    ``(I_spice − I_analytical) / full_scale_current``; the prediction is
    ``I = I_analytical + full_scale · (f(g, v) − f(g, 0))``. Subtracting the network at
    zero input makes zero input give exactly the analytical current (zero), and costs
    nothing per MVM since ``f(g, 0)`` depends on G alone.
``excess``
    the correction as a multiple of the baseline's own nonlinear part: with ``e = I_base
    − I_analytical`` (what the device law adds to the linear network, per column), the
    label is ``(I_spice − I_base) / e`` and the prediction ``I = I_base + e·f(g, v)``.
    The loss weighs each column by ``e²``, so it fits the current error itself.
    Where the devices are nearly linear (low read voltages, small currents) ``e`` → 0
    and the prediction → the baseline: the network cannot add error where physics is
    already exact. Baselines ``device`` and ``cell`` only (for ``analytical``, e = 0);
    columns with ``|e|`` below ``ratio_min_current`` × full scale are left out of the loss.
``excess2``
    the same with the scale ``e·|e / I_analytical|``: a correction second order in the
    device law's share of the current, as the cell baseline's own error is.
``relative``
    the relative correction to the analytical model, ``I_spice / I_analytical − 1``;
    the prediction is ``I = I_analytical · (1 + δ)``: zero input gives zero current, and
    a correction proportional to the current suits device nonlinearity (sinh: each
    cell's current grows by ~``(a·V)²/6``). Columns with analytical or SPICE current below
    ``ratio_min_current`` × full scale are masked out of the loss, as for ``ratio``.

The linear model a target is built on is chosen by :attr:`GeniexConfig.baseline`:

``analytical``
    the model as GENIEx defines it, devices linear: ``I_base = vᵀ·M`` with ``M = G_eff``
    (the analytical model; residual and relative targets) or ``M = G`` (the ideal model;
    ratio target).
``device`` (default for residual and relative)
    the same matrix with each device's own I–V applied to the inputs,
    ``I_base = CrossbarSpec.device_drive(v)ᵀ·M`` (sinh devices: ``sinh(a·v)/a``; linear
    and 1T1R devices: ``v``, the same as ``analytical``). For residual and relative this
    is the :class:`surrogate.analytical.AnalyticalDeviceModel`: it removes most of the
    analytical model's error on sinh crossbars (each device's nonlinearity) at no extra
    per-MVM cost, so the network only learns what the physics misses (the interplay of
    nonlinear devices and wire drops). Zero input still gives exactly zero current.

Checkpoints written before the option existed load as ``analytical``.

Per tile, everything that depends on G alone is computed once in
:meth:`GeniexModel.prepare`: the first layer's G part ``W1_G·g_scaled + b1``, the
analytical ``G_eff`` (or G for the ratio target; it may be handed in precomputed, see
:mod:`surrogate.base`) and ``f(g, 0)``. Each MVM then costs
``W1_V·v`` plus the later layers and one matvec for the baseline (plus R ``sinh`` for
baseline ``device``): about ``h·(R + C)`` multiply-adds for one hidden layer of ``h`` units, instead of ``h·(R·C + R + C)`` for the published full evaluation
(:meth:`GeniexModel.full_forward`, kept as the reference and for benchmarks).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from spice_netlists import CrossbarSpec
from spice_netlists.config import (ConfigError, ConfigSection, check_choice, check_int,
                                   check_number)
from surrogate.analytical import effective_conductance
from surrogate.analytical_cell import AnalyticalCellModel
from surrogate.base import CrossbarModel, matvec


class Target(ABC):
    """One GENIEx target: what the network learns and how its output becomes currents.

    Looked up once by name (:func:`target_for`, :attr:`GeniexConfig.target_obj`); every
    place that used to switch on the target's name asks this object instead.

    Attributes:
        name: the ``GeniexConfig.target`` string.
        linear: the linear model the target builds on: ``ideal`` (``vᵀ·G``) or
            ``analytical`` (``vᵀ·G_eff``).
        default_baseline: the ``baseline`` a config that leaves it out gets.
        zero_offset: the network's output at zero input is subtracted
            (``f(g, v) − f(g, 0)``), so that zero input gives the baseline exactly.
        masked: near-zero currents are left out of the loss.
        needs_linear: the labels and the prediction also use the linear network's
            current ``I_analytical`` (``i_linear``, ``linear_current``).
    """

    name = ""
    linear = "analytical"
    default_baseline = "device"
    zero_offset = False
    masked = True
    needs_linear = False

    @property
    def uses_g_eff(self) -> bool:
        """Whether the baseline matrix is the analytical ``G_eff`` (else G)."""
        return self.linear == "analytical"

    def baseline_model(self, baseline: str) -> str:
        """The baseline's name (see :attr:`GeniexConfig.baseline_model`)."""
        return self.linear + {"device": "_device", "cell": "_cell"}.get(baseline, "")

    def _valid(self, i_spice: np.ndarray, i_base: np.ndarray, full_scale: float,
               min_current: float) -> np.ndarray:
        thr = min_current * full_scale
        return (np.abs(i_base) >= thr) & (np.abs(i_spice) >= thr)

    @abstractmethod
    def forward(self, i_spice: np.ndarray, i_base: np.ndarray, full_scale: float,
                min_current: float, i_linear: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
        """Un-normalised training labels (M, C) and loss weights (M, C) from SPICE and
        baseline currents (and the linear network's, for :attr:`needs_linear`)."""

    def norm_mean(self, labels: np.ndarray) -> float:
        """The normalisation mean of the counted training labels."""
        return float(labels.mean())

    @abstractmethod
    def inverse(self, base_current: torch.Tensor, out: torch.Tensor, norm: "Normalisation",
                full_scale: float, floor: float,
                linear_current: torch.Tensor | None = None) -> torch.Tensor:
        """Currents from baseline currents and (normalised) network outputs; for a
        ``zero_offset`` target ``out`` is already ``f(g, v) − f(g, 0)``."""

    def currents(self, base_current: torch.Tensor, out: torch.Tensor,
                 out0: torch.Tensor | None, norm: "Normalisation", full_scale: float,
                 floor: float, linear_current: torch.Tensor | None = None) -> torch.Tensor:
        """The model's currents from its raw network outputs ``out`` and, for a
        ``zero_offset`` target, the zero-input outputs ``out0``."""
        return self.inverse(base_current, out, norm, full_scale, floor, linear_current)


class RatioTarget(Target):
    """``ratio`` (published): label ``I_ideal / I_nonideal``; ``I = I_ideal / ratio``."""

    name = "ratio"
    linear = "ideal"
    default_baseline = "analytical"

    def forward(self, i_spice, i_base, full_scale, min_current, i_linear=None):
        valid = self._valid(i_spice, i_base, full_scale, min_current)
        ratio = np.where(valid, i_base / np.where(valid, i_spice, 1.0), 1.0)
        return ratio, valid.astype(np.float64)

    def inverse(self, base_current, out, norm, full_scale, floor, linear_current=None):
        ratio = (out * norm.scale + norm.mean).clamp_min(floor)
        return base_current / ratio.to(base_current.dtype)


class RelativeTarget(Target):
    """``relative``: label ``I_spice / I_base − 1``; ``I = I_base · (1 + δ)``."""

    name = "relative"

    def forward(self, i_spice, i_base, full_scale, min_current, i_linear=None):
        valid = self._valid(i_spice, i_base, full_scale, min_current)
        rel = np.where(valid, i_spice / np.where(valid, i_base, 1.0) - 1.0, 0.0)
        return rel, valid.astype(np.float64)

    def inverse(self, base_current, out, norm, full_scale, floor, linear_current=None):
        factor = (1.0 + out * norm.scale + norm.mean).clamp_min(floor)
        return base_current * factor.to(base_current.dtype)


class ResidualTarget(Target):
    """``residual``: label ``(I_spice − I_base) / full_scale``;
    ``I = I_base + full_scale · (f(g, v) − f(g, 0))``. Normalised with mean 0."""

    name = "residual"
    zero_offset = True
    masked = False

    def forward(self, i_spice, i_base, full_scale, min_current, i_linear=None):
        return (i_spice - i_base) / full_scale, np.ones_like(i_spice)

    def norm_mean(self, labels):
        return 0.0

    def inverse(self, base_current, out, norm, full_scale, floor, linear_current=None):
        return base_current + (out * norm.scale + norm.mean) * full_scale

    def currents(self, base_current, out, out0, norm, full_scale, floor, linear_current=None):
        corr = (out - out0) * (norm.scale * full_scale)
        return base_current + corr.to(base_current.dtype)


class ExcessTarget(Target):
    """``excess``: label ``(I_spice − I_base) / m`` with the scale ``m = e`` (``e =
    I_base − I_analytical``), loss weight ``(m / full_scale)²``; ``I = I_base + m·f``.

    ``excess2`` (:class:`Excess2Target`) scales by ``m = e·|e / I_analytical|``
    instead: the cell baseline's own error is second order in the device law's share
    of the current (the law's slope at the cell, ~(a·u)²/2 above linear, times the drop
    its excess causes), so its correction should vanish that fast at low voltages."""

    name = "excess"
    default_baseline = "cell"
    needs_linear = True
    power = 1

    def scale(self, base, linear):
        """The correction's scale ``m`` (numpy or torch, same shapes)."""
        excess = base - linear
        if self.power == 1:
            return excess
        if isinstance(excess, np.ndarray):
            share = np.abs(excess) / np.maximum(np.abs(linear), np.finfo(float).tiny)
            return excess * np.minimum(share, 1.0) ** (self.power - 1)
        share = excess.abs() / linear.abs().clamp_min(torch.finfo(linear.dtype).tiny)
        return excess * share.clamp_max(1.0) ** (self.power - 1)

    def forward(self, i_spice, i_base, full_scale, min_current, i_linear=None):
        if i_linear is None:
            raise ValueError(f"the {self.name} target needs the linear network's currents")
        valid = np.abs(i_base - i_linear) >= min_current * full_scale
        m = np.where(valid, self.scale(i_base, i_linear), 1.0)
        valid &= m != 0
        label = np.where(valid, (i_spice - i_base) / np.where(valid, m, 1.0), 0.0)
        return label, np.where(valid, (m / full_scale) ** 2, 0.0)

    def inverse(self, base_current, out, norm, full_scale, floor, linear_current=None):
        if linear_current is None:
            raise ValueError(f"the {self.name} target needs the linear network's currents")
        factor = (out * norm.scale + norm.mean).to(base_current.dtype)
        return base_current + self.scale(base_current,
                                         linear_current.to(base_current.dtype)) * factor


class Excess2Target(ExcessTarget):
    """``excess2``: :class:`ExcessTarget` with ``m = e·|e / I_analytical|``."""

    name = "excess2"
    power = 2


#: the targets by name (``GeniexConfig.target``)
TARGET_TABLE: dict[str, Target] = {t.name: t for t in (RatioTarget(), ResidualTarget(),
                                                        RelativeTarget(), ExcessTarget(),
                                                        Excess2Target())}
TARGETS = tuple(TARGET_TABLE)
BASELINES = ("analytical", "device", "cell")


def target_for(name: str) -> Target:
    """The :class:`Target` named ``name``."""
    try:
        return TARGET_TABLE[name]
    except KeyError:
        raise ValueError(f"GeniexConfig.target must be one of {TARGETS}, got {name!r}") from None


@dataclass(frozen=True)
class GeniexConfig(ConfigSection):
    """Network shape, target and training settings of one GENIEx variant
    (``surrogate.variants.<name>`` in params.yaml). The defaults are the main variant's
    (``surrogate.variants.geniex``).

    Attributes:
        target: ``ratio`` (published: I_ideal/I_nonideal), ``residual`` (additive
            correction to the analytical model in units of full-scale current),
            ``relative`` (multiplicative correction to the analytical model) or
            ``excess`` (a multiple of the baseline's device-law part, which vanishes
            where the devices are linear); see :class:`Target`.
        baseline: the linear model the target corrects: ``analytical`` (devices linear,
            as GENIEx), ``device`` (device I–V applied to the inputs, see the module
            docstring) or ``cell`` (residual and relative only: the
            :class:`~surrogate.analytical_cell.AnalyticalCellModel`, each device's law at
            its own cell's voltage plus one correction through the wires; R·R·C + R·C·C
            multiply-adds more per MVM). Left out (``None``): the target's default,
            ``device`` for residual and relative, ``analytical`` (the published ideal
            baseline) for ratio.
        arch: the network: ``mlp`` (published: one MLP on ``[G, V]`` of the whole tile,
            :class:`GeniexNet`) or ``column`` (one small network per column, weights
            shared by the columns, fed with the column's conductances, the row loads,
            the inputs and the baseline's column current:
            :class:`surrogate.column_net.ColumnNet`).
        hidden: hidden layer widths, e.g. ``[500]`` (published) or ``[1024, 1024]``.
        epochs: most training epochs.
        batch_size: samples per Adam step.
        lr: Adam learning rate.
        weight_decay: Adam weight decay.
        patience: epochs without validation improvement before stopping early.
        val_fraction: share of the training samples held out for validation.
        seed: seeds the split, the initialisation and the batch order.
        ratio_min_current: ratio and relative targets; columns whose linear-model
            (ideal or analytical) or SPICE current is below this fraction of full scale
            are left out of the loss (excess: columns whose device-law part ``|e|`` is).
        ratio_floor: ratio and relative targets; the predicted ratio
            (I_ideal/I, or I/I_analytical) is floored here.
        device: ``auto`` (CUDA when available), ``cpu`` or ``cuda``.
    """

    target: str = "relative"
    baseline: str | None = None
    arch: str = "mlp"
    hidden: tuple[int, ...] = (500,)
    epochs: int = 200
    batch_size: int = 256
    lr: float = 3e-4
    weight_decay: float = 0.0
    patience: int = 20
    val_fraction: float = 0.2
    seed: int = 0
    ratio_min_current: float = 1e-3
    ratio_floor: float = 1e-3
    device: str = "auto"

    def __post_init__(self) -> None:
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        check_choice("target", self.target, TARGETS)
        set_("baseline", check_choice("baseline", self.baseline
                                      if self.baseline is not None
                                      else target_for(self.target).default_baseline, BASELINES))
        if target_for(self.target).needs_linear and self.baseline == "analytical":
            raise ConfigError("baseline", f"{self.target} corrects the device law's part of the "
                                          f"baseline, so it needs baseline device or cell, not "
                                          f"'analytical' (which has none)")
        if self.baseline == "cell" and not target_for(self.target).uses_g_eff:
            raise ConfigError("baseline", f"cell corrects the analytical network, so it needs "
                                          f"the residual or relative target, not "
                                          f"{self.target!r} (which corrects the ideal model)")
        check_choice("arch", self.arch, tuple(ARCHS))
        hidden = self.hidden
        if not isinstance(hidden, (list, tuple)) or not hidden:
            raise ConfigError("hidden", f"must list positive widths, got {hidden!r}")
        set_("hidden", tuple(check_int(f"hidden[{k}]", h, low=1) for k, h in enumerate(hidden)))
        for name in ("epochs", "batch_size", "patience"):
            set_(name, check_int(name, getattr(self, name), low=1))
        set_("seed", check_int("seed", self.seed))
        set_("lr", check_number("lr", self.lr, positive=True))
        set_("weight_decay", check_number("weight_decay", self.weight_decay, nonnegative=True))
        val = check_number("val_fraction", self.val_fraction)
        if not 0 < val < 1:
            raise ConfigError("val_fraction", f"must be in (0, 1), got {self.val_fraction!r}")
        set_("val_fraction", val)
        set_("ratio_min_current", check_number("ratio_min_current", self.ratio_min_current,
                                               nonnegative=True))
        set_("ratio_floor", check_number("ratio_floor", self.ratio_floor, positive=True))
        check_choice("device", self.device, ("auto", "cpu", "cuda"))

    @property
    def baseline_model(self) -> str:
        """The baseline's name, for logs and reports: ``ideal`` or ``analytical`` (the
        target's linear model), with ``_device`` appended for baseline ``device``.

        It is a :data:`surrogate.MODEL_NAMES` entry (``ideal``, ``analytical``,
        ``analytical_device``) except ``ideal_device``, the ratio target on the device
        baseline (``drive(v)ᵀ·G``: the ideal crossbar with the device I–V on its inputs),
        which has no crossbar model of its own: do not pass it to ``make_model``."""
        return self.target_obj.baseline_model(self.baseline)

    @property
    def target_obj(self) -> Target:
        """The :class:`Target` this config names."""
        return target_for(self.target)


class GeniexNet(nn.Module):
    """The MLP, with its first layer split into a G part and a V part (``arch: mlp``).

    ``W1 = [W1_G | W1_V]`` acts on ``[g_scaled (R·C), v_scaled (R)]``; :meth:`g_part`
    is the per-tile half, :meth:`per_input` (or :meth:`head`) the per-MVM rest. Every
    architecture (:data:`ARCHS`) has ``g_part``, ``per_input``, ``forward``, ``full``,
    ``macs_per_mvm`` and ``uses_base`` (whether it reads the baseline's currents).
    """

    uses_base = False

    def __init__(self, rows: int, cols: int, hidden: "list[int] | tuple[int, ...]") -> None:
        super().__init__()
        first = nn.Linear(rows * cols + rows, hidden[0])   # PyTorch's default init
        self.w_g = nn.Parameter(first.weight.detach()[:, : rows * cols].clone())
        self.w_v = nn.Parameter(first.weight.detach()[:, rows * cols:].clone())
        self.b1 = nn.Parameter(first.bias.detach().clone())
        layers: list[nn.Module] = []
        for a, b in zip(hidden[:-1], hidden[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.later = nn.Sequential(*layers)
        self.out = nn.Linear(hidden[-1], cols)

    def g_part(self, g_scaled: torch.Tensor) -> torch.Tensor:
        """``W1_G·g_scaled + b1`` for ``g_scaled`` (..., R·C)."""
        return torch.nn.functional.linear(g_scaled, self.w_g, self.b1)

    def head(self, pre: torch.Tensor) -> torch.Tensor:
        """Outputs (..., C) from first-layer pre-activations (..., hidden[0])."""
        return self.tail(torch.relu(pre))

    def tail(self, hidden: torch.Tensor) -> torch.Tensor:
        """Outputs (..., C) from first-layer activations (after the ReLU)."""
        return self.out(self.later(hidden))

    def per_input(self, h_g: torch.Tensor, v_scaled: torch.Tensor,
                  base_scaled: torch.Tensor | None = None) -> torch.Tensor:
        """Outputs (..., C) from the tiles' :meth:`g_part` and the scaled inputs
        (``base_scaled`` is not read). Without autograd the first layer is summed in
        place (no extra copy of the batch's hidden activations)."""
        hidden = torch.nn.functional.linear(v_scaled, self.w_v)
        if torch.is_grad_enabled():
            return self.tail(torch.relu(hidden + h_g))
        if torch.broadcast_shapes(hidden.shape, h_g.shape) == hidden.shape:
            hidden.add_(h_g)               # the common case, in place
        else:
            hidden = hidden + h_g          # v has fewer leading dims than the tiles
        return self.tail(hidden.relu_())

    def forward(self, g_scaled: torch.Tensor, v_scaled: torch.Tensor,
                base_scaled: torch.Tensor | None = None) -> torch.Tensor:
        """Outputs (..., C) with the first layer applied per tile then per input."""
        return self.head(self.g_part(g_scaled) + torch.nn.functional.linear(v_scaled, self.w_v))

    def full(self, g_scaled: torch.Tensor, v_scaled: torch.Tensor,
             base_scaled: torch.Tensor | None = None) -> torch.Tensor:
        """Outputs the published way: the whole ``(R·C + R)×h`` first layer on the
        concatenated input."""
        w1 = torch.cat([self.w_g, self.w_v], dim=1)
        x = torch.cat([g_scaled, v_scaled], dim=-1)
        return self.head(torch.nn.functional.linear(x, w1, self.b1))

    def macs_per_mvm(self) -> int:
        """Multiply-adds of one MVM beyond the per-tile part: the first layer's V half
        and the later layers."""
        later = sum(m.in_features * m.out_features for m in self.later
                    if isinstance(m, nn.Linear))
        return self.w_v.numel() + later + self.out.in_features * self.out.out_features


def _column_net(rows: int, cols: int, hidden: "list[int] | tuple[int, ...]") -> nn.Module:
    from surrogate.column_net import ColumnNet      # a module of its own; imports this one's peers only
    return ColumnNet(rows, cols, hidden)


#: architecture name (``GeniexConfig.arch``) -> builder (rows, cols, hidden) -> network
ARCHS = {"mlp": GeniexNet, "column": _column_net}


def make_net(config: "GeniexConfig", rows: int, cols: int) -> nn.Module:
    """A freshly initialised network of ``config.arch`` for an R×C tile."""
    return ARCHS[config.arch](rows, cols, config.hidden)


@dataclass
class Normalisation:
    """Target normalisation: ``target = net_output · scale + mean``."""

    mean: float = 0.0
    scale: float = 1.0

    def to_dict(self) -> dict[str, float]:
        return {"mean": float(self.mean), "scale": float(self.scale)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Normalisation":
        return cls(mean=float(data["mean"]), scale=float(data["scale"]))


@dataclass
class GeniexPrepared:
    """Per-tile state: first-layer G part (T, h), the linear base matrix (T, R, C)
    (G for ``ratio``, else G_eff) and, for ``residual``, f(g, 0) (T, C). The baseline
    current is ``drive(v)ᵀ·base`` (:meth:`GeniexModel.base_current`)."""

    h_g: torch.Tensor
    base: torch.Tensor
    out0: torch.Tensor | None
    cell: Any = None     # baseline ``cell``: the tiles prepared for the cell-voltage model


class GeniexModel(CrossbarModel):
    """GENIEx crossbar model: a trained :class:`GeniexNet` plus its target and
    normalisation. Build with :func:`surrogate.checkpoint.load_geniex` or from training."""

    name = "geniex"

    def __init__(self, spec: CrossbarSpec, config: GeniexConfig, net: nn.Module,
                 norm: Normalisation, data_identity: str = "") -> None:
        super().__init__(spec)
        self.config = config
        self.target = config.target_obj
        self.net = net.eval()
        self.norm = norm
        self.data_identity = data_identity
        self._cell = AnalyticalCellModel(spec) if config.baseline == "cell" else None

    # --------------------------------------------------------------- scaling
    def scale_g(self, g: torch.Tensor) -> torch.Tensor:
        """Conductances (..., R, C) S -> network inputs (..., R·C) in [0, 1]."""
        s = self.spec
        return ((g - s.g_off) / (s.g_on - s.g_off)).flatten(-2)

    def scale_v(self, v: torch.Tensor) -> torch.Tensor:
        """Voltages (..., R) V -> network inputs (..., R)."""
        return v / self.spec.v_read_max

    def scale_base(self, base_current: torch.Tensor) -> torch.Tensor | None:
        """Baseline currents (..., C) A -> network inputs in units of full scale
        (float32), for the architectures that read them (else None)."""
        if not self.net.uses_base:
            return None
        return (base_current / self.spec.full_scale_current).to(torch.float32)

    def _net_on(self, device: torch.device) -> nn.Module:
        if next(self.net.parameters()).device != device:
            self.net = self.net.to(device)
        return self.net

    @property
    def uses_g_eff(self) -> bool:  # type: ignore[override]
        """Residual and relative targets build on ``G_eff``; ratio on G alone; baseline
        ``cell`` solves its own network."""
        return self.target.uses_g_eff and (self._cell is None or self.target.needs_linear)

    def base_matrix(self, g: torch.Tensor, g_eff: torch.Tensor | None = None) -> torch.Tensor:
        """G_eff (residual and relative targets; ``g_eff`` if given precomputed) or G
        (ratio target), in g's dtype."""
        if self.target.uses_g_eff:
            if g_eff is None:
                g_eff = effective_conductance(self.spec, g)
            return g_eff.to(g.dtype)
        return g

    def base_current(self, v: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
        """The baseline current ``drive(v)ᵀ·base`` in the promoted dtype of v and base:
        ``drive`` is the spec's device I–V for baseline ``device``, the identity for
        ``analytical``."""
        dtype = torch.promote_types(v.dtype, base.dtype)
        v = v.to(dtype)
        if self.config.baseline == "device":
            v = self.spec.device_drive(v)
        return matvec(v, base.to(dtype))

    # --------------------------------------------------------------- combination
    def linear_current(self, v: torch.Tensor, g_eff: torch.Tensor) -> torch.Tensor | None:
        """``vᵀ·G_eff``, the linear network's current, for targets that need it (else
        None)."""
        if not self.target.needs_linear:
            return None
        dtype = torch.promote_types(v.dtype, g_eff.dtype)
        return matvec(v.to(dtype), g_eff.to(dtype))

    def _currents(self, base_current: torch.Tensor, out: torch.Tensor,
                  out0: torch.Tensor | None,
                  linear_current: torch.Tensor | None = None) -> torch.Tensor:
        """Physical currents from the baseline current and network outputs."""
        return self.target.currents(base_current, out, out0, self.norm,
                                    self.spec.full_scale_current, self.config.ratio_floor,
                                    linear_current)

    # --------------------------------------------------------------- interface
    @torch.no_grad()
    def prepare(self, g: torch.Tensor, g_eff: torch.Tensor | None = None) -> GeniexPrepared:
        """Per-tile state for ``g`` (T, R, C); ``g_eff``: the tiles' precomputed
        ``effective_conductance(spec, g)`` (used by residual and relative targets)."""
        net = self._net_on(g.device)
        h_g = net.g_part(self.scale_g(g).to(torch.float32))
        out0 = None
        if self.target.zero_offset:          # f(g, 0): zero input, zero baseline current
            zeros_v = torch.zeros(*g.shape[:-2], self.spec.rows,
                                  dtype=torch.float32, device=g.device)
            zeros_b = torch.zeros(*zeros_v.shape[:-1], self.spec.cols,
                                  dtype=torch.float32, device=g.device)
            out0 = net.per_input(h_g, zeros_v, zeros_b if net.uses_base else None)
        if self._cell is not None:        # base: G_eff where the target needs the linear current
            base = self.base_matrix(g, g_eff) if self.target.needs_linear else g
            return GeniexPrepared(h_g=h_g, base=base, out0=out0, cell=self._cell.prepare(g))
        return GeniexPrepared(h_g=h_g, base=self.base_matrix(g, g_eff), out0=out0)

    @torch.no_grad()
    def mvm(self, prepared: GeniexPrepared, v: torch.Tensor) -> torch.Tensor:
        """Currents for ``v`` (..., T, R) or (R,) on tiles prepared from g (T, R, C)
        (leading dimensions broadcast, as :func:`surrogate.base.matvec` does)."""
        net = self._net_on(v.device)
        if prepared.cell is not None:
            base = self._cell.mvm(prepared.cell, v)
        else:
            base = self.base_current(v, prepared.base)
        out = net.per_input(prepared.h_g, self.scale_v(v).to(torch.float32),
                            self.scale_base(base))
        return self._currents(base, out, prepared.out0, self.linear_current(v, prepared.base))

    @torch.no_grad()
    def full_forward(self, v: torch.Tensor, g: torch.Tensor, base: torch.Tensor | None = None) -> torch.Tensor:
        """Currents the published way: the whole first layer on ``[g, v]`` for every
        input vector (no per-tile caching). ``v`` (..., R) and ``g`` (..., R, C) must
        have equal leading shapes; ``base`` (G_eff or G) may be passed precomputed."""
        net = self._net_on(g.device)
        gs = self.scale_g(g).to(torch.float32)
        vs = self.scale_v(v).to(torch.float32)
        if base is None and self.target.uses_g_eff:
            base = self.base_matrix(g)
        elif base is None:
            base = g
        if self._cell is not None:
            current = self._cell.mvm(self._cell.prepare(g), v)
        else:
            current = self.base_current(v, base)
        bs = self.scale_base(current)
        out = net.full(gs, vs, bs)
        out0 = (net.full(gs, torch.zeros_like(vs), None if bs is None else torch.zeros_like(bs))
                if self.target.zero_offset else None)
        return self._currents(current, out, out0, self.linear_current(v, base))
