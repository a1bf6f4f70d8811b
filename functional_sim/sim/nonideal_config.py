"""Configuration of the non-idealities beyond the wires: ``functional_sim.sim.nonideal``.

Every transform of :mod:`functional_sim.sim.nonideal` has a section here; a strength of zero
(or its neutral value, named per field) is exactly no transform. Conductances are in
siemens, times in seconds, rates and relative σ as fractions (0.05 = 5 %).

Conventions, and how they relate to the peer tools:

* **Programming error** (once per tile, at programming). ``proportional``:
  ``G' = G·(1 + σ·ξ)``, CrossSim's ``NormalProportionalDevice``; ``independent``:
  ``G' = G + σ·g_on·ξ``, CrossSim's ``NormalIndependentDevice`` (CrossSim normalises G
  by G_max = g_on, so its σ is in units of g_on as here); ``lognormal`` (proportional
  only): ``G' = G·exp(s·ξ − s²/2)`` with ``s² = ln(1 + σ²)``, so that the mean is G and
  the standard deviation σ·G, as for the normal law. ξ ~ N(0, 1) per device. The result
  is clipped to the physical range [g_off, g_on], as CrossSim clips to [G_min, G_max]
  (this biases devices programmed near either end).
* **Read noise** (every MVM). CrossSim redraws the matrix error on every read; here
  the same statistics are applied to the output: the column current gains
  ``ξ_j·sqrt(Σ_i v_i²·σ_ij²)`` with ``σ_ij = σ·G_ij`` (``proportional``) or ``σ·g_on``
  (``independent``), which is the exact distribution of ``Σ_i v_i·δG_ij`` for
  independent ``δG_ij ~ N(0, σ_ij²)`` (aihwkit's ``w_noise`` is output-referred in the
  same way). It is the device noise seen through an ideal crossbar: the wires'
  attenuation of the noise (a second-order effect) is left out.
* **Stuck-at faults** (once per tile): each device is independently stuck at g_on with
  probability ``on_rate`` and at g_off with probability ``off_rate``; a stuck device
  ignores programming and drift (MemTorch's ``DeviceFaults`` with its
  ``lrs_proportion`` and ``hrs_proportion``).
* **Drift** (once per tile, at read time t): ``G(t) = G·(t/t0)^(−ν)``, with ν drawn per
  device from N(nu_mean, nu_std²) and clipped at 0, as aihwkit's PCM model writes it
  (aihwkit takes t0 = 20 s and a conductance-dependent ν; here ν is one distribution).
  ``compensation``: aihwkit's global drift compensation: the digital output of each
  tile is multiplied by α = Σ G(t0) / Σ G(t), the ratio of its all-ones reads before
  and after the drift (here the ideal reads, without noise).
* **Device-to-device spread of the nonlinearity** (once per tile, sinh devices): each
  device has its own ``a_ij = a·exp(s·ξ − s²/2)``, ``s² = ln(1 + σ²)`` (mean a, standard
  deviation σ·a, always > 0), passing ``G·sinh(a_ij·V)/a_ij``. The models that solve
  each device's I–V (``circuit``, ``spice``: ngspice gets one ``a`` per device) compute
  with it; the others (``analytical_device``, ``geniex``; ``ideal`` and ``analytical``
  take devices as linear anyway) keep the spec's one ``a``, which is their blind spot.
  CrossSim and aihwkit model no I–V nonlinearity, so have no counterpart.
* **Finite levels**: target conductances rounded to ``levels`` equally spaced values in
  [g_off, g_on] before programming (CrossSim's ``cell_bits``, as a count).
* **ADC and sense amplifier** (static, per tile column): the column current saturates
  at ``clip_fraction``·FS (FS = rows·g_on·v_read_max, the ADC's range; 1 is the ADC's own
  clamp, i.e. no extra clipping), then the ADC sees ``(1 + gain_sigma·ξ)·I +
  offset_sigma_lsb·LSB·ξ'`` (gain and offset drawn once per ADC).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from spice_netlists.config import (ConfigError, ConfigSection, check_bool, check_choice,
                                   check_int, check_number)

#: how a conductance error scales with the device's conductance
ERROR_SCALES = ("proportional", "independent")
#: the laws of the programming error
ERROR_DISTRIBUTIONS = ("normal", "lognormal")


@dataclass(frozen=True)
class ProgrammingErrorConfig(ConfigSection):
    """``programming``: the error of writing a target conductance (once per tile).

    Attributes:
        sigma: the error's standard deviation: a fraction of G (``proportional``) or of
            g_on (``independent``); 0: no error.
        scale: ``proportional`` (σ·G) or ``independent`` (σ·g_on, whatever G).
        distribution: ``normal`` or ``lognormal`` (mean G, standard deviation σ·G;
            proportional only).
    """

    sigma: float = 0.0
    scale: str = "proportional"
    distribution: str = "normal"

    def __post_init__(self) -> None:
        object.__setattr__(self, "sigma", check_number("sigma", self.sigma, nonnegative=True))
        check_choice("scale", self.scale, ERROR_SCALES)
        check_choice("distribution", self.distribution, ERROR_DISTRIBUTIONS)
        if self.distribution == "lognormal" and self.scale != "proportional":
            raise ConfigError("distribution", f"lognormal errors are multiplicative: set "
                                              f"scale to proportional, got {self.scale!r}")

    @property
    def active(self) -> bool:
        """Whether the transform changes anything."""
        return self.sigma > 0


@dataclass(frozen=True)
class ReadNoiseConfig(ConfigSection):
    """``read_noise``: device noise redrawn on every MVM (output-referred, see the
    module docstring).

    Attributes:
        sigma: standard deviation of each device's conductance on one read: a fraction
            of G (``proportional``) or of g_on (``independent``); 0: no noise.
        scale: ``proportional`` or ``independent``.
    """

    sigma: float = 0.0
    scale: str = "proportional"

    def __post_init__(self) -> None:
        object.__setattr__(self, "sigma", check_number("sigma", self.sigma, nonnegative=True))
        check_choice("scale", self.scale, ERROR_SCALES)

    @property
    def active(self) -> bool:
        """Whether the transform changes anything."""
        return self.sigma > 0


@dataclass(frozen=True)
class StuckConfig(ConfigSection):
    """``stuck``: devices stuck at one conductance (once per tile).

    Attributes:
        on_rate: probability that a device is stuck at g_on (stuck-at-on, a short-like
            low resistance), in [0, 1].
        off_rate: probability that a device is stuck at g_off (stuck-at-off), in [0, 1];
            on_rate + off_rate <= 1.
    """

    on_rate: float = 0.0
    off_rate: float = 0.0

    def __post_init__(self) -> None:
        for name in ("on_rate", "off_rate"):
            object.__setattr__(self, name, check_number(name, getattr(self, name), low=0.0, high=1.0))
        if self.on_rate + self.off_rate > 1:
            raise ConfigError("off_rate", f"on_rate + off_rate must be <= 1, got "
                                          f"{self.on_rate!r} + {self.off_rate!r}")

    @property
    def active(self) -> bool:
        """Whether the transform changes anything."""
        return self.on_rate > 0 or self.off_rate > 0


@dataclass(frozen=True)
class DriftConfig(ConfigSection):
    """``drift``: conductance decay G(t) = G·(t/t0)^(−ν) (once per tile, at read time).

    Attributes:
        t_s: seconds since programming at which the network is read (>= t0_s);
            t_s == t0_s: no drift.
        t0_s: seconds since programming at which the programmed values hold (> 0).
        nu_mean: mean drift exponent ν (dimensionless, >= 0).
        nu_std: device-to-device standard deviation of ν (>= 0); ν is clipped at 0.
        compensation: aihwkit's global drift compensation: each tile's digital output
            scaled by Σ G(t0) / Σ G(t).
    """

    t_s: float = 1.0
    t0_s: float = 1.0
    nu_mean: float = 0.05
    nu_std: float = 0.02
    compensation: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "t0_s", check_number("t0_s", self.t0_s, positive=True))
        object.__setattr__(self, "t_s", check_number("t_s", self.t_s, positive=True))
        if self.t_s < self.t0_s:
            raise ConfigError("t_s", f"must be >= t0_s ({self.t0_s!r} s), got {self.t_s!r}")
        for name in ("nu_mean", "nu_std"):
            object.__setattr__(self, name, check_number(name, getattr(self, name), nonnegative=True))
        check_bool("compensation", self.compensation)

    @property
    def active(self) -> bool:
        """Whether the transform changes anything."""
        return self.t_s > self.t0_s and (self.nu_mean > 0 or self.nu_std > 0)


@dataclass(frozen=True)
class AdcErrorConfig(ConfigSection):
    """``adc``: sense-amplifier saturation and ADC gain and offset errors (static).

    Attributes:
        gain_sigma: standard deviation of each ADC's relative gain error (0.01 = 1 %).
        offset_sigma_lsb: standard deviation of each ADC's offset, in ADC LSBs.
        clip_fraction: the column current saturates at this fraction of the ADC's full
            scale (0, 1]; 1: no saturation below the ADC's own range.
    """

    gain_sigma: float = 0.0
    offset_sigma_lsb: float = 0.0
    clip_fraction: float = 1.0

    def __post_init__(self) -> None:
        for name in ("gain_sigma", "offset_sigma_lsb"):
            object.__setattr__(self, name, check_number(name, getattr(self, name), nonnegative=True))
        object.__setattr__(self, "clip_fraction",
                           check_number("clip_fraction", self.clip_fraction, positive=True, high=1.0))

    @property
    def active(self) -> bool:
        """Whether the transform changes anything."""
        return self.gain_sigma > 0 or self.offset_sigma_lsb > 0 or self.clip_fraction < 1


@dataclass(frozen=True)
class NonidealConfig(ConfigSection):
    """``functional_sim.sim.nonideal``: the non-idealities beyond the wires, applied to
    every tile before any crossbar model sees it (see the module docstring for the
    formulas). Everything at its default is exactly the ideal device.

    Attributes:
        seed: seeds every draw. Each layer and each transform has its own stream (from
            the seed, the layer's name and the transform's name), so turning one
            transform on does not move another's draws.
        levels: conductance levels a device can hold, equally spaced in [g_off, g_on];
            0: continuous.
        sinh_a_spread: device-to-device relative standard deviation of the sinh
            nonlinearity a (lognormal, mean ``crossbar.sinh_a``); 0: every device has
            the spec's a. Only for sinh devices.
        programming: the programming error.
        read_noise: the read noise of every MVM.
        stuck: the stuck-at faults.
        drift: the conductance drift.
        adc: sense-amplifier saturation and ADC gain/offset errors.
    """

    seed: int = 0
    levels: int = 0
    sinh_a_spread: float = 0.0
    programming: ProgrammingErrorConfig = field(default_factory=ProgrammingErrorConfig)
    read_noise: ReadNoiseConfig = field(default_factory=ReadNoiseConfig)
    stuck: StuckConfig = field(default_factory=StuckConfig)
    drift: DriftConfig = field(default_factory=DriftConfig)
    adc: AdcErrorConfig = field(default_factory=AdcErrorConfig)

    def __post_init__(self) -> None:
        check_int("seed", self.seed, 0)
        check_int("levels", self.levels)
        if self.levels < 0 or self.levels == 1:
            raise ConfigError("levels", f"must be 0 (continuous) or >= 2, got {self.levels!r}")
        object.__setattr__(self, "sinh_a_spread",
                           check_number("sinh_a_spread", self.sinh_a_spread, nonnegative=True))
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, dict):
                object.__setattr__(self, f.name, _SUBSECTIONS[f.name].from_dict(value, f.name))

    @property
    def active(self) -> bool:
        """Whether any transform changes anything."""
        return (self.levels > 0 or self.sinh_a_spread > 0
                or any(getattr(self, name).active for name in _SUBSECTIONS))

    @property
    def programs_tiles(self) -> bool:
        """Whether a device transform (levels, programming, stuck, drift, the spread of
        the nonlinearity) is on."""
        return (self.levels > 0 or self.programming.active or self.stuck.active
                or self.drift.active or self.sinh_a_spread > 0)


_SUBSECTIONS = {"programming": ProgrammingErrorConfig, "read_noise": ReadNoiseConfig,
                "stuck": StuckConfig, "drift": DriftConfig, "adc": AdcErrorConfig}
