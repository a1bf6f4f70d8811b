"""Samplers of (V, G) combinations for SPICE sweeps.

A sampler draws ``n`` samples for a spec with a numpy Generator and returns
``v`` (n, rows) volts in [0, v_read_max] and ``g`` (n, rows, cols) siemens in
[g_off, g_on]. Every sample gets its own sparsity, drawn uniformly in
[0, max_sparsity], so a dataset spans sparse and dense inputs and weights (the
non-ideality depends on how much current flows).

- ``uniform``: voltages and conductances uniform in their ranges.
- ``bitlevel``: what a bit-sliced accelerator applies: voltages on the levels of an
  ``input_bits``-bit DAC, conductances on the 2^``weight_bits`` levels of a weight slice.
- ``workload``: samples drawn from a pool recorded from a real network's tiles (an .npz
  with arrays ``v`` and ``g``, see :mod:`functional_sim.workload`, or one registered
  with :func:`register_workload_pool`). A chunk draws distinct pool entries while the
  pool has enough of them (with replacement otherwise); a pool that stores the spec it
  was recorded for (``spec``, YAML) is refused for a spec of another size, conductance
  range or read voltage.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import yaml

from datagen.fields import SweepFieldError
from spice_netlists import CrossbarSpec
from spice_netlists.config import check_choice, check_int, check_number, check_str
from spice_netlists.validation import CheckedSection

SAMPLERS = ("uniform", "bitlevel", "workload")


@dataclass(frozen=True)
class SamplerConfig(CheckedSection):
    """Which sampler, and its knobs (see the module docstring); a bad value raises
    :class:`datagen.fields.SweepFieldError` naming the field (``datagen.train.sampler.<field>``
    through :meth:`from_dict`).

    Attributes:
        name: the sampler, one of ``uniform``, ``bitlevel``, ``workload``.
        input_bits: DAC bits of the bitlevel sampler (integer, 1..16).
        weight_bits: bits per weight slice of the bitlevel sampler (integer, 1..16).
        max_input_sparsity: largest fraction of zero inputs (0 V), drawn per sample in
            [0, max]; a number in [0, 1).
        max_weight_sparsity: largest fraction of devices left at g_off, drawn per sample;
            a number in [0, 1).
        workload_pool: path of the .npz (arrays v in V, g in S) the workload sampler draws
            from, or a key registered with :func:`register_workload_pool`; required for
            ``workload``.
    """

    error = SweepFieldError

    name: str = "uniform"
    input_bits: int = 1
    weight_bits: int = 2
    max_input_sparsity: float = 0.9
    max_weight_sparsity: float = 0.9
    workload_pool: str = ""

    def check(self) -> None:
        check_choice("name", self.name, SAMPLERS)
        for f in ("input_bits", "weight_bits"):
            check_int(f, getattr(self, f), low=1, high=16)
        for f in ("max_input_sparsity", "max_weight_sparsity"):
            val = getattr(self, f)
            if check_number(f, val, nonnegative=True) >= 1:
                raise SweepFieldError(f, f"must be a number in [0, 1), got {val!r}")
        check_str("workload_pool", self.workload_pool)
        if self.name == "workload" and not self.workload_pool:
            raise SweepFieldError("workload_pool", "must name an .npz pool for the workload "
                                                   "sampler")


def _sparsity_masks(rng: np.random.Generator, shape: tuple[int, ...], max_sparsity: float) -> np.ndarray:
    """Boolean masks (True = keep) with a per-sample sparsity in [0, max_sparsity]."""
    n = shape[0]
    sparsity = rng.uniform(0.0, max_sparsity, size=(n,) + (1,) * (len(shape) - 1))
    return rng.random(shape) >= sparsity


def sample_uniform(spec: CrossbarSpec, n: int, rng: np.random.Generator,
                   cfg: SamplerConfig) -> tuple[np.ndarray, np.ndarray]:
    """Voltages uniform in [0, v_read_max], conductances uniform in [g_off, g_on], each
    sample with its own input and weight sparsity (zero inputs, g_off devices)."""
    r, c = spec.rows, spec.cols
    v = rng.uniform(0.0, spec.v_read_max, (n, r)) * _sparsity_masks(rng, (n, r), cfg.max_input_sparsity)
    g = rng.uniform(spec.g_off, spec.g_on, (n, r, c))
    g = np.where(_sparsity_masks(rng, (n, r, c), cfg.max_weight_sparsity), g, spec.g_off)
    return v, g


def sample_bitlevel(spec: CrossbarSpec, n: int, rng: np.random.Generator,
                    cfg: SamplerConfig) -> tuple[np.ndarray, np.ndarray]:
    """Voltages on the 2^input_bits DAC levels of [0, v_read_max], conductances on the
    2^weight_bits slice levels of [g_off, g_on], with per-sample sparsity."""
    r, c = spec.rows, spec.cols
    v_levels = 2 ** cfg.input_bits - 1
    g_levels = 2 ** cfg.weight_bits - 1
    v = rng.integers(1, v_levels + 1, (n, r)) * _sparsity_masks(rng, (n, r), cfg.max_input_sparsity)
    w = rng.integers(1, g_levels + 1, (n, r, c)) * _sparsity_masks(rng, (n, r, c), cfg.max_weight_sparsity)
    return (v / v_levels * spec.v_read_max,
            spec.g_off + w / g_levels * (spec.g_on - spec.g_off))


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


_SAMPLER_FUNCS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "uniform": sample_uniform, "bitlevel": sample_bitlevel, "workload": sample_workload,
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
