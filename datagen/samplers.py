"""Samplers of (V, G) combinations for SPICE sweeps.

A sampler draws ``n`` samples for a spec with a numpy Generator and returns
``v`` (n, rows) volts in [0, v_read_max] and ``g`` (n, rows, cols) siemens in
[g_off, g_on]. Every sample gets its own sparsity, drawn uniformly in
[min_sparsity, max_sparsity] (the ``min_*`` knobs default to 0), so a dataset spans
sparse and dense inputs and weights (the non-ideality depends on how much current flows);
raising the ``min_*`` knobs makes a sparse set (e.g. bit-level reads at sparsity 0.6..0.95).

- ``uniform``: voltages and conductances uniform in their ranges.
- ``bitlevel``: what a bit-sliced accelerator applies: voltages on the levels of an
  ``input_bits``-bit DAC, conductances on the 2^``weight_bits`` levels of a weight slice.
- ``coverage``: a training sampler that covers the whole input space, sparse bit-level
  reads, dense high-conductance reads and everything between. Per sample it draws:

  * input and weight sparsity, each independently: exactly the minimum (fully dense when
    the ``min_*`` knobs are 0) with probability ``dense_fraction``, else uniform in
    [min, max];
  * the input values: binary {0, v_read_max} (what 1-bit DAC streams apply, the
    functional simulator's default) with probability ``binary_input_fraction``; else on
    the 2^``input_bits`` DAC levels with probability ``level_fraction``; else continuous
    in [0, v_read_max];
  * the "on" devices' conductances: their position between g_off (0) and g_on (1) from a
    Beta distribution of the sample's own mean, drawn uniform in
    [``g_mean_low``, ``g_mean_high``], and concentration ``g_concentration``, so one
    sample's devices are mostly low and another's mostly high; then, with probability
    ``level_fraction``, put on the 2^``weight_bits`` slice levels (levels 1..2^bits-1,
    level 0 being g_off, what sparsity gives), else used as they are.

  A dense set is the coverage sampler with both ``max_*_sparsity`` at 0 and
  ``g_mean_low`` raised (conductances biased high).
- ``workload``: samples drawn from a pool recorded from a real network's tiles (an .npz
  with arrays ``v`` and ``g``, see :mod:`functional_sim.studies.workload`, or one registered
  with :func:`register_workload_pool`). A chunk draws distinct pool entries while the
  pool has enough of them (with replacement otherwise); a pool that stores the spec it
  was recorded for (``spec``, YAML) is refused for a spec of another size, conductance
  range or read voltage.
- ``structured``: tiles with spatial structure, built to break a surrogate (corner
  blocks, column blocks, two-state devices, one-hot inputs, …): ``pattern`` names one of
  :data:`datagen.structured.PATTERNS`, whose docstring says what each draws.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable

import numpy as np
import yaml

from datagen.fields import SweepFieldError
from datagen.structured import PATTERNS, draw_pattern
from spice_netlists import CrossbarSpec
from spice_netlists.config import check_choice, check_int, check_number, check_str
from spice_netlists.validation import CheckedSection

SAMPLERS = ("uniform", "bitlevel", "coverage", "workload", "structured")

#: sampler fields added after datasets were first stamped: left out of a sweep's identity
#: while at their defaults, so that datasets made before them stay valid
_LATER_FIELDS = ("min_input_sparsity", "min_weight_sparsity", "dense_fraction",
                 "binary_input_fraction", "level_fraction", "g_mean_low", "g_mean_high",
                 "g_concentration", "pattern")


@dataclass(frozen=True)
class SamplerConfig(CheckedSection):
    """Which sampler, and its knobs (see the module docstring); a bad value raises
    :class:`datagen.fields.SweepFieldError` naming the field (``datagen.train.sampler.<field>``
    through :meth:`from_dict`).

    Attributes:
        name: the sampler, one of ``uniform``, ``bitlevel``, ``coverage``, ``workload``.
        input_bits: DAC bits of the bitlevel sampler and of the coverage sampler's
            level-valued inputs (integer, 1..16).
        weight_bits: bits per weight slice of the bitlevel sampler and of the coverage
            sampler's level-valued conductances (integer, 1..16).
        min_input_sparsity: smallest fraction of zero inputs (0 V), drawn per sample in
            [min, max]; a number in [0, max_input_sparsity] (default 0).
        max_input_sparsity: largest fraction of zero inputs (0 V), drawn per sample in
            [min, max]; a number in [0, 1).
        min_weight_sparsity: smallest fraction of devices left at g_off, drawn per sample
            in [min, max]; a number in [0, max_weight_sparsity] (default 0).
        max_weight_sparsity: largest fraction of devices left at g_off, drawn per sample;
            a number in [0, 1).
        dense_fraction: coverage: the probability that a sample's input (and, drawn
            apart, its weight) sparsity is exactly the minimum (fully dense when the
            ``min_*`` knobs are 0) rather than uniform in [min, max]; a number in [0, 1].
        binary_input_fraction: coverage: the probability that a sample's inputs are
            binary {0, v_read_max}, as 1-bit DAC streams apply them; a number in [0, 1].
        level_fraction: coverage: the probability that a non-binary sample's inputs lie
            on the 2^input_bits DAC levels (else continuous), and, drawn apart, that a
            sample's conductances lie on the 2^weight_bits slice levels (else
            continuous); a number in [0, 1].
        g_mean_low: coverage: lowest per-sample mean position of the "on" devices'
            conductances between g_off (0) and g_on (1); a number in (0, g_mean_high].
        g_mean_high: coverage: highest per-sample mean position; a number in
            [g_mean_low, 1).
        g_concentration: coverage: concentration (a + b) of the per-sample Beta the
            positions are drawn from; larger keeps a sample's devices closer to its mean
            (a number > 0).
        workload_pool: path of the .npz (arrays v in V, g in S) the workload sampler draws
            from, or a key registered with :func:`register_workload_pool`; required for
            ``workload``.
        pattern: structured: which structured family to draw, a name of
            :data:`datagen.structured.PATTERNS`; required for ``structured``.
    """

    error = SweepFieldError

    name: str = "uniform"
    input_bits: int = 1
    weight_bits: int = 2
    min_input_sparsity: float = 0.0
    max_input_sparsity: float = 0.9
    min_weight_sparsity: float = 0.0
    max_weight_sparsity: float = 0.9
    dense_fraction: float = 0.2
    binary_input_fraction: float = 0.5
    level_fraction: float = 0.5
    g_mean_low: float = 0.05
    g_mean_high: float = 0.95
    g_concentration: float = 4.0
    workload_pool: str = ""
    pattern: str = ""

    def check(self) -> None:
        check_choice("name", self.name, SAMPLERS)
        for f in ("input_bits", "weight_bits"):
            check_int(f, getattr(self, f), low=1, high=16)
        for kind in ("input", "weight"):
            low, high = f"min_{kind}_sparsity", f"max_{kind}_sparsity"
            for f in (low, high):
                val = getattr(self, f)
                if check_number(f, val, nonnegative=True) >= 1:
                    raise SweepFieldError(f, f"must be a number in [0, 1), got {val!r}")
            if getattr(self, low) > getattr(self, high):
                raise SweepFieldError(low, f"must be <= {high} ({getattr(self, high)!r}), "
                                           f"got {getattr(self, low)!r}")
        for f in ("dense_fraction", "binary_input_fraction", "level_fraction"):
            check_number(f, getattr(self, f), low=0, high=1)
        for f in ("g_mean_low", "g_mean_high"):
            val = getattr(self, f)
            if not 0 < check_number(f, val) < 1:
                raise SweepFieldError(f, f"must be a number in (0, 1), got {val!r}")
        if self.g_mean_low > self.g_mean_high:
            raise SweepFieldError("g_mean_low", f"must be <= g_mean_high "
                                                f"({self.g_mean_high!r}), got {self.g_mean_low!r}")
        check_number("g_concentration", self.g_concentration, positive=True)
        check_str("workload_pool", self.workload_pool)
        if self.name == "workload" and not self.workload_pool:
            raise SweepFieldError("workload_pool", "must name an .npz pool for the workload "
                                                   "sampler")
        check_str("pattern", self.pattern)
        if self.name == "structured":
            check_choice("pattern", self.pattern, tuple(PATTERNS))
        elif self.pattern:
            raise SweepFieldError("pattern", f"is only read by the structured sampler, got "
                                             f"{self.pattern!r} for {self.name!r}")

    def identity(self) -> dict[str, Any]:
        """What decides the samples, as a sweep stamps it: every field, except, for the
        samplers older than them, the fields added later (:data:`_LATER_FIELDS`) while
        they keep their defaults, so a dataset stamped before they existed is still
        recognised as the same sweep."""
        if self.name == "coverage":
            return asdict(self)
        defaults = {f.name: f.default for f in fields(self)}
        return {k: v for k, v in asdict(self).items()
                if not (k in _LATER_FIELDS and v == defaults[k])}


def _sparsities(rng: np.random.Generator, n: int, low: float, high: float,
                dense_fraction: float = 0.0) -> np.ndarray:
    """Per-sample sparsities (n,): uniform in [low, high]; with ``dense_fraction`` > 0, a
    share drawn to be exactly ``low`` (one more draw from ``rng``)."""
    sparsity = rng.uniform(low, high, size=n)
    if dense_fraction > 0:
        sparsity = np.where(rng.random(n) < dense_fraction, low, sparsity)
    return sparsity


def _masks(rng: np.random.Generator, shape: tuple[int, ...], sparsity: np.ndarray) -> np.ndarray:
    """Boolean masks (True = keep) of ``shape``, sample k with sparsity ``sparsity[k]``
    (a sparsity of 0 keeps every entry)."""
    return rng.random(shape) >= sparsity.reshape((shape[0],) + (1,) * (len(shape) - 1))


def _sparsity_masks(rng: np.random.Generator, shape: tuple[int, ...], low: float,
                    high: float) -> np.ndarray:
    """Boolean masks (True = keep) with a per-sample sparsity uniform in [low, high]."""
    return _masks(rng, shape, _sparsities(rng, shape[0], low, high))


def sample_uniform(spec: CrossbarSpec, n: int, rng: np.random.Generator,
                   cfg: SamplerConfig) -> tuple[np.ndarray, np.ndarray]:
    """Voltages uniform in [0, v_read_max], conductances uniform in [g_off, g_on], each
    sample with its own input and weight sparsity (zero inputs, g_off devices)."""
    r, c = spec.rows, spec.cols
    v = rng.uniform(0.0, spec.v_read_max, (n, r)) * _sparsity_masks(
        rng, (n, r), cfg.min_input_sparsity, cfg.max_input_sparsity)
    g = rng.uniform(spec.g_off, spec.g_on, (n, r, c))
    g = np.where(_sparsity_masks(rng, (n, r, c), cfg.min_weight_sparsity,
                                 cfg.max_weight_sparsity), g, spec.g_off)
    return v, g


def sample_bitlevel(spec: CrossbarSpec, n: int, rng: np.random.Generator,
                    cfg: SamplerConfig) -> tuple[np.ndarray, np.ndarray]:
    """Voltages on the 2^input_bits DAC levels of [0, v_read_max], conductances on the
    2^weight_bits slice levels of [g_off, g_on], with per-sample sparsity."""
    r, c = spec.rows, spec.cols
    v_levels = 2 ** cfg.input_bits - 1
    g_levels = 2 ** cfg.weight_bits - 1
    v = rng.integers(1, v_levels + 1, (n, r)) * _sparsity_masks(
        rng, (n, r), cfg.min_input_sparsity, cfg.max_input_sparsity)
    w = rng.integers(1, g_levels + 1, (n, r, c)) * _sparsity_masks(
        rng, (n, r, c), cfg.min_weight_sparsity, cfg.max_weight_sparsity)
    return (v / v_levels * spec.v_read_max,
            spec.g_off + w / g_levels * (spec.g_on - spec.g_off))


def _on_levels(position: np.ndarray, levels: int) -> np.ndarray:
    """Positions in [0, 1] put on levels 1..``levels`` (of ``levels``): the level whose
    bin of width 1/levels holds the position; returned as level / levels."""
    return np.clip(np.floor(position * levels) + 1, 1, levels) / levels


def sample_coverage(spec: CrossbarSpec, n: int, rng: np.random.Generator,
                    cfg: SamplerConfig) -> tuple[np.ndarray, np.ndarray]:
    """Samples over the whole input space (see the module docstring): per sample, input
    and weight sparsity with a share exactly at the minimum (dense), binary,
    DAC-level or continuous inputs, and on-device conductances from a Beta of the
    sample's own mean (mostly low to mostly high), on the slice levels or continuous."""
    r, c = spec.rows, spec.cols
    # inputs: sparsity, then binary / on DAC levels / continuous, per sample
    v_keep = _masks(rng, (n, r), _sparsities(rng, n, cfg.min_input_sparsity,
                                             cfg.max_input_sparsity, cfg.dense_fraction))
    v_mode = rng.random(n)
    binary = v_mode < cfg.binary_input_fraction
    on_levels = ~binary & (rng.random(n) < cfg.level_fraction)
    v_pos = rng.random((n, r))
    dac = 2 ** cfg.input_bits - 1
    v_pos = np.where(on_levels[:, None], _on_levels(v_pos, dac), v_pos)
    v_pos = np.where(binary[:, None], 1.0, v_pos)
    v = v_pos * v_keep * spec.v_read_max
    # weights: sparsity, then on-device positions from the sample's Beta
    g_keep = _masks(rng, (n, r, c), _sparsities(rng, n, cfg.min_weight_sparsity,
                                                cfg.max_weight_sparsity, cfg.dense_fraction))
    mean = rng.uniform(cfg.g_mean_low, cfg.g_mean_high, n)[:, None, None]
    g_pos = rng.beta(mean * cfg.g_concentration, (1.0 - mean) * cfg.g_concentration, (n, r, c))
    slices = rng.random(n) < cfg.level_fraction
    g_pos = np.where(slices[:, None, None], _on_levels(g_pos, 2 ** cfg.weight_bits - 1), g_pos)
    g = spec.g_off + np.where(g_keep, g_pos, 0.0) * (spec.g_on - spec.g_off)
    return v, g


_WORKLOAD_POOLS: dict[str, tuple[np.ndarray, np.ndarray]] = {}
_POOL_FILES: dict[str, tuple[tuple[int, int], np.ndarray, np.ndarray, dict | None]] = {}
#: the spec fields that decide which (V, G) a pool may hold
POOL_SPEC_FIELDS = ("rows", "cols", "g_on", "g_off", "v_read_max")


def register_workload_pool(key: str, v: np.ndarray, g: np.ndarray) -> None:
    """Make (v, g) samples recorded from a network available to the workload sampler
    under ``key`` (otherwise ``key`` is read as an .npz file with arrays v and g)."""
    _WORKLOAD_POOLS[key] = (np.asarray(v, dtype=np.float64), np.asarray(g, dtype=np.float64))


def _pool(key: str) -> tuple[np.ndarray, np.ndarray, dict | None]:
    """(v, g, recorded spec or None) of a registered pool or an .npz file; a file is
    read again when it changed on disk."""
    if key in _WORKLOAD_POOLS:
        return (*_WORKLOAD_POOLS[key], None)
    st = Path(key).stat()
    stamp = (st.st_mtime_ns, st.st_size)
    cached = _POOL_FILES.get(key)
    if cached is None or cached[0] != stamp:
        with np.load(key) as pool:
            spec = yaml.safe_load(str(pool["spec"])) if "spec" in pool.files else None
            cached = (stamp, np.asarray(pool["v"], dtype=np.float64),
                      np.asarray(pool["g"], dtype=np.float64), spec)
        _POOL_FILES[key] = cached
    return cached[1], cached[2], cached[3]


def sample_workload(spec: CrossbarSpec, n: int, rng: np.random.Generator,
                    cfg: SamplerConfig, slot: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Samples from the pool ``cfg.workload_pool`` (see :func:`draw` for ``slot``);
    refuses a pool recorded for other physics."""
    v, g, recorded = _pool(cfg.workload_pool)
    if v.ndim != 2 or g.ndim != 3 or len(v) != len(g):
        raise ValueError(f"workload pool {cfg.workload_pool!r} must hold v (M, rows) and "
                         f"g (M, rows, cols), got v {v.shape} and g {g.shape}")
    if v.shape[1:] != (spec.rows,) or g.shape[1:] != (spec.rows, spec.cols):
        raise ValueError(f"workload pool {cfg.workload_pool!r} holds {g.shape[1:]} tiles, "
                         f"the spec is {spec.rows}x{spec.cols}")
    if recorded is not None:
        differ = [f"{f} {recorded.get(f)!r} != {getattr(spec, f)!r}"
                  for f in POOL_SPEC_FIELDS if recorded.get(f) != getattr(spec, f)]
        if differ:
            raise ValueError(f"workload pool {cfg.workload_pool!r} was recorded for another "
                             f"spec: {', '.join(differ)}")
    if len(v) == 0:
        raise ValueError(f"workload pool {cfg.workload_pool!r} is empty")
    if slot is None:
        k = rng.choice(len(v), n, replace=n > len(v))
    else:  # samples first..first+n-1 of one seeded walk through the whole pool
        seed, first = slot
        order = np.random.default_rng([seed, len(v)]).permutation(len(v))
        k = order[(first + np.arange(n)) % len(v)]
    return v[k], g[k]


def sample_structured(spec: CrossbarSpec, n: int, rng: np.random.Generator,
                      cfg: SamplerConfig) -> tuple[np.ndarray, np.ndarray]:
    """Samples of the structured family ``cfg.pattern`` (:mod:`datagen.structured`),
    positions scaled to [0, v_read_max] and [g_off, g_on]."""
    v_pos, g_pos = draw_pattern(cfg.pattern, rng, n, spec.rows, spec.cols)
    return v_pos * spec.v_read_max, spec.g_off + g_pos * (spec.g_on - spec.g_off)


_SAMPLER_FUNCS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "uniform": sample_uniform, "bitlevel": sample_bitlevel, "coverage": sample_coverage,
    "workload": sample_workload, "structured": sample_structured,
}


def draw(spec: CrossbarSpec, n: int, rng: np.random.Generator,
         cfg: SamplerConfig = SamplerConfig(), slot: tuple[int, int] | None = None
         ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` samples (v (n, rows) V, g (n, rows, cols) S) from the configured sampler.

    ``slot`` = (sweep seed, index of the first sample) places the samples in a sweep: the
    workload sampler then walks one seeded permutation of its pool, so a sweep repeats no
    pool entry before it has used them all (the other samplers ignore it)."""
    if cfg.name == "workload":
        return sample_workload(spec, n, rng, cfg, slot)
    return _SAMPLER_FUNCS[cfg.name](spec, n, rng, cfg)
