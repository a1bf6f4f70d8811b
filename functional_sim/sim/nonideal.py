"""The non-idealities beyond the wires, defined once: transforms of a tile stack's
conductances and of its readout.

:func:`program_tiles` turns target conductances (what the mapping asks for) into the
conductances the devices hold when they are read: finite levels, programming error,
drift, stuck-at faults, in that order; and draws each sinh device's own nonlinearity. :class:`Readout` perturbs the column currents
each crossbar model returns: read noise (every MVM), sense-amplifier saturation, ADC
gain and offset; and gives the digital drift compensation. The functional simulator's
engine (:class:`functional_sim.sim.engine.CrossbarMatmul`) applies both around whichever
crossbar model it runs, so ngspice, circuit, analytical and geniex all compute on the
same perturbed G and see the same readout. Formulas, units and the peer tools'
conventions: :mod:`functional_sim.sim.nonideal_config`.

Every draw is seeded: a layer's programmed tiles depend only on the seed, the layer's
name and the transform (each transform has its own stream), and are drawn on the CPU in
float64, so CPU and CUDA runs see the same devices. Read noise is drawn on the compute
device from a stream that restarts whenever the layer is prepared for a model, so two
models fed the same inputs in the same order get the same noise. A transform at zero
strength is skipped: the tensors are then exactly the inputs.
"""

from __future__ import annotations

import zlib
from typing import NamedTuple

import numpy as np
import torch

from functional_sim.sim.nonideal_config import (DriftConfig, NonidealConfig,
                                            ProgrammingErrorConfig, StuckConfig)
from spice_netlists import CrossbarSpec
from surrogate.base import matvec

__all__ = ["stream_seed", "cpu_generator", "quantize_levels", "apply_programming_error",
           "apply_drift", "apply_stuck_faults", "draw_sinh_a", "ProgrammedTiles",
           "program_tiles", "Readout"]


def stream_seed(seed: int, layer: str, transform: str) -> int:
    """A 63-bit seed for one transform of one layer (stable across runs and machines)."""
    words = [seed, zlib.crc32(layer.encode()), zlib.crc32(transform.encode())]
    return int(np.random.SeedSequence(words).generate_state(2, np.uint32).astype(np.uint64)
               .view(np.uint64)[0] >> np.uint64(1))


def cpu_generator(seed: int, layer: str, transform: str) -> torch.Generator:
    """A CPU generator for one transform of one layer."""
    return torch.Generator().manual_seed(stream_seed(seed, layer, transform))


def _normal(shape: torch.Size, gen: torch.Generator) -> torch.Tensor:
    return torch.randn(shape, generator=gen, dtype=torch.float64)


def quantize_levels(g: torch.Tensor, spec: CrossbarSpec, levels: int) -> torch.Tensor:
    """``g`` rounded to ``levels`` equally spaced conductances in [g_off, g_on]."""
    step = (spec.g_on - spec.g_off) / (levels - 1)
    idx = ((g - spec.g_off) / step).round().clamp(0, levels - 1)
    return spec.g_off + idx * step


def apply_programming_error(g: torch.Tensor, spec: CrossbarSpec, cfg: ProgrammingErrorConfig,
                            gen: torch.Generator) -> torch.Tensor:
    """Programmed conductances: ``g`` with the programming error, clipped to [g_off, g_on]."""
    xi = _normal(g.shape, gen)
    if cfg.distribution == "lognormal":
        s2 = float(np.log1p(cfg.sigma ** 2))
        out = g * torch.exp(xi * s2 ** 0.5 - s2 / 2)
    elif cfg.scale == "proportional":
        out = g * (1 + cfg.sigma * xi)
    else:
        out = g + cfg.sigma * spec.g_on * xi
    return out.clamp(spec.g_off, spec.g_on)


def apply_drift(g: torch.Tensor, cfg: DriftConfig, gen: torch.Generator) -> torch.Tensor:
    """``g·(t/t0)^(−ν)``, ν ~ N(nu_mean, nu_std²) per device, clipped at 0."""
    nu = (cfg.nu_mean + cfg.nu_std * _normal(g.shape, gen)).clamp(min=0.0)
    return g * torch.exp(-nu * float(np.log(cfg.t_s / cfg.t0_s)))


def apply_stuck_faults(g: torch.Tensor, spec: CrossbarSpec, cfg: StuckConfig,
                       gen: torch.Generator) -> torch.Tensor:
    """Each device stuck at g_on with probability on_rate, at g_off with off_rate."""
    u = torch.rand(g.shape, generator=gen, dtype=torch.float64)
    out = torch.where(u < cfg.on_rate, torch.full_like(g, spec.g_on), g)
    off = (u >= cfg.on_rate) & (u < cfg.on_rate + cfg.off_rate)
    return torch.where(off, torch.full_like(g, spec.g_off), out)


def draw_sinh_a(shape: torch.Size, spec: CrossbarSpec, spread: float,
                gen: torch.Generator) -> torch.Tensor:
    """Per-device sinh nonlinearity: lognormal with mean ``spec.sinh_a`` and relative
    standard deviation ``spread``."""
    s2 = float(np.log1p(spread ** 2))
    return spec.sinh_a * torch.exp(_normal(shape, gen) * s2 ** 0.5 - s2 / 2)


class ProgrammedTiles(NamedTuple):
    """What the devices of a tile stack hold when read.

    Attributes:
        g: (T, rows, cols) conductances, S, float64 on the CPU.
        digital_scale: (T,) drift compensation factor per tile, or None.
        sinh_a: (T, rows, cols) each sinh device's nonlinearity (1/V), or None (the
            spec's one a).
    """

    g: torch.Tensor
    digital_scale: torch.Tensor | None
    sinh_a: torch.Tensor | None = None


def program_tiles(g_target: torch.Tensor, spec: CrossbarSpec, cfg: NonidealConfig,
                  layer: str) -> ProgrammedTiles:
    """The conductances a stack of tiles ``g_target`` (T, rows, cols) S holds when read:
    finite levels, programming error, drift (with its compensation factor), stuck-at
    faults; and each sinh device's nonlinearity where ``sinh_a_spread`` is set. With
    every transform off, ``g`` is ``g_target`` in float64, unchanged.

    Raises:
        ValueError: ``sinh_a_spread`` is set for devices other than sinh.
    """
    g = g_target.detach().to("cpu", torch.float64)
    sinh_a = None
    if cfg.sinh_a_spread > 0:
        if spec.device != "sinh":
            raise ValueError(f"functional_sim.sim.nonideal.sinh_a_spread is "
                             f"{cfg.sinh_a_spread!r}, but {spec.label} has {spec.device} "
                             f"devices: only sinh devices have a nonlinearity a (set it to 0)")
        sinh_a = draw_sinh_a(g.shape, spec, cfg.sinh_a_spread,
                             cpu_generator(cfg.seed, layer, "sinh_a"))
    if cfg.levels:
        g = quantize_levels(g, spec, cfg.levels)
    if cfg.programming.active:
        g = apply_programming_error(g, spec, cfg.programming,
                                    cpu_generator(cfg.seed, layer, "programming"))
    scale = None
    if cfg.drift.active:
        before = g.sum(dim=(-2, -1))
        g = apply_drift(g, cfg.drift, cpu_generator(cfg.seed, layer, "drift"))
        if cfg.drift.compensation:
            scale = before / g.sum(dim=(-2, -1))
    if cfg.stuck.active:
        g = apply_stuck_faults(g, spec, cfg.stuck, cpu_generator(cfg.seed, layer, "stuck"))
    return ProgrammedTiles(g, scale, sinh_a)


class Readout:
    """The readout non-idealities of one layer's tile stack on one device and dtype.

    Args:
        cfg: the non-idealities.
        spec: the tile physics.
        g: (T, rows, cols) the conductances the devices hold (as the model sees them).
        adc_lsb: the ADC's LSB in amperes (offsets are drawn in LSBs).
        layer: the layer's name (seeds its streams).
        digital_scale: (T,) drift compensation per tile, or None.
    """

    def __init__(self, cfg: NonidealConfig, spec: CrossbarSpec, g: torch.Tensor,
                 adc_lsb: float, layer: str, digital_scale: torch.Tensor | None = None) -> None:
        self.cfg = cfg
        dev, dtype = g.device, g.dtype
        noise = cfg.read_noise
        self.noise_sigma = noise.sigma
        self.noise_scale = noise.scale
        self.g_squared = g * g if noise.active and noise.scale == "proportional" else None
        self.noise_gen: torch.Generator | None = None
        if noise.active:
            self.noise_gen = torch.Generator(device=dev)
            self.noise_gen.manual_seed(stream_seed(cfg.seed, layer, "read_noise"))
        self.g_on = spec.g_on
        adc = cfg.adc
        self.clip = adc.clip_fraction * spec.full_scale_current if adc.clip_fraction < 1 else None
        t, _, c = g.shape
        self.gain = self.offset = None
        if adc.gain_sigma > 0:
            xi = _normal(torch.Size((t, c)), cpu_generator(cfg.seed, layer, "adc_gain"))
            self.gain = (1 + adc.gain_sigma * xi).to(dev, dtype)
        if adc.offset_sigma_lsb > 0:
            xi = _normal(torch.Size((t, c)), cpu_generator(cfg.seed, layer, "adc_offset"))
            self.offset = (adc.offset_sigma_lsb * adc_lsb * xi).to(dev, dtype)
        self.digital_scale = None if digital_scale is None else digital_scale.to(dev, dtype)

    @property
    def analog_active(self) -> bool:
        """Whether :meth:`analog` changes the currents."""
        return (self.noise_gen is not None or self.clip is not None or self.gain is not None
                or self.offset is not None)

    def read_noise_std(self, v: torch.Tensor) -> torch.Tensor:
        """Standard deviation (A) of each column's read noise for inputs ``v`` (N, T, rows):
        ``sqrt(Σ_i v_i²·σ_ij²)``, (N, T, cols) or (N, T, 1) for ``independent``."""
        if self.g_squared is not None:
            return matvec(v * v, self.g_squared).sqrt_().mul_(self.noise_sigma)
        return v.norm(dim=-1, keepdim=True).mul_(self.noise_sigma * self.g_on)

    def analog(self, currents: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """The currents the ADC converts, for model currents (N, T, cols) at inputs ``v``
        (N, T, rows): read noise, then saturation, then gain and offset (in place)."""
        if self.noise_gen is not None:
            xi = torch.randn(currents.shape, generator=self.noise_gen, device=currents.device,
                             dtype=currents.dtype)
            currents.addcmul_(xi, self.read_noise_std(v))
        if self.clip is not None:
            currents.clamp_(max=self.clip)
        if self.gain is not None:
            currents.mul_(self.gain)
        if self.offset is not None:
            currents.add_(self.offset)
        return currents
