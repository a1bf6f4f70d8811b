"""The surrogate's data-scaling and architecture study: RMSE against training-set size,
per tile size and GENIEx variant, beside what each variant costs.

For one severe tile setting (``surrogate.scaling.setting``, overrides of ``crossbar``) at
each tile size, the study makes, with the exact ``circuit`` engine (a share checked in
ngspice):

* one training sweep of the largest size asked for (the ``datagen.train`` sampler and
  seed); smaller training sets are its first samples, so the curves are nested;
* the in-distribution test set (the ``datagen.test`` sampler) and every held-out set of
  ``datagen.held_out`` (``test_samples`` each).

Then, for every (tile size, training-set size, variant), it trains the variant
(``surrogate.scaling.variants``: overrides of ``surrogate.variants.geniex``) and records
its RMSE (% of full scale) on every test set, its weights, its multiply-adds per MVM
(network and baseline), its measured MVMs/s (``bench_vectors`` inputs through each of
``bench_tiles`` tiles, the best of ``bench_repeats``, ``threads`` torch threads), its
training time and epochs. The cheap physics models are scored on the same sets. Each
trained unit is kept as it finishes, so a killed study resumes
(:class:`functional_sim.studies.resume.UnitStore`).

The report (:func:`write_report`): ``scaling.json``, a Markdown table and a plot of RMSE
against training samples per tile size (in distribution, and the worst held-out set).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch

from spice_netlists import CrossbarSpec
from spice_netlists.config import (ConfigError, ConfigSection, check_bool, check_int,
                                   check_number, check_str)
from surrogate import make_model
from surrogate.geniex import GeniexConfig, GeniexModel

__all__ = ["ScalingParams", "baseline_macs", "physics_scores", "train_unit", "bench_mvms"]

#: the cheap physics models every unit's RMSE is held against
PHYSICS = ("analytical", "analytical_device", "analytical_cell")


def _mapping(name: str, value: Any) -> None:
    if not isinstance(value, Mapping):
        raise ConfigError(name, f"must be a mapping, got {value!r}")


def _size_key(key: Any) -> int:
    """A ``max_train_samples`` key: a tile size, as an integer or its digits (``dvc exp
    run -S …max_train_samples.128=…`` writes the key as a string)."""
    if isinstance(key, str) and key.isdigit():
        key = int(key)
    return check_int(f"max_train_samples key {key!r}", key, low=1)


def _ints(name: str, value: Any) -> tuple[int, ...]:
    if not isinstance(value, (list, tuple)) or not value:
        raise ConfigError(name, f"must be a non-empty list of integers, got {value!r}")
    return tuple(check_int(f"{name}[{k}]", v, low=1) for k, v in enumerate(value))


@dataclass(frozen=True)
class ScalingParams(ConfigSection):
    """``surrogate.scaling``: the data-scaling and architecture study (module docstring).

    Attributes:
        enabled: run the study; when false the stage writes ``{"enabled": false}`` only.
        setting: overrides of ``crossbar`` for the study's tiles (``rows``/``cols`` are
            set per size), e.g. ``{g_on: 4.0e-05, g_off: 6.67e-06, v_read_max: 0.5}``.
        sizes: square tile sizes (rows = cols), e.g. ``[32, 64, 128]``.
        train_samples: training-set sizes, each a prefix of one sweep per tile size.
        max_train_samples: tile size -> the largest training set made there (memory
            and time: 64,000 samples of 128×128 are 8.4 GB of float64 conductances);
            sizes not listed take every ``train_samples`` entry.
        test_samples: samples of each test set (in distribution and held out).
        check_fraction: share of each sweep re-run in ngspice (must agree to 1e-6).
        variants: name -> overrides of ``surrogate.variants.geniex`` (e.g.
            ``{baseline: cell, target: excess}``, ``{arch: column, hidden: [128]}``).
        threads: torch threads for training and the MVMs/s measurement (training stays
            deterministic for a given count).
        bench_tiles: tiles in the MVMs/s measurement.
        bench_vectors: inputs through each tile there.
        bench_repeats: timed repeats (the best is reported).
        data_dir: where the sweeps are written (``<data_dir>/<tag>/<set>``).
        out_dir: where the report, table and plot go.
    """

    enabled: bool = False
    setting: dict[str, Any] = field(default_factory=dict)
    sizes: tuple[int, ...] = (32, 64, 128)
    train_samples: tuple[int, ...] = (4000, 16000, 64000)
    max_train_samples: dict[int, int] = field(default_factory=dict)
    test_samples: int = 500
    check_fraction: float = 0.002
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)
    threads: int = 2
    bench_tiles: int = 64
    bench_vectors: int = 256
    bench_repeats: int = 5
    data_dir: str = "data/scaling"
    out_dir: str = "reports/scaling"

    def __post_init__(self) -> None:
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        check_bool("enabled", self.enabled)
        _mapping("setting", self.setting)
        for key in ("rows", "cols"):
            if key in self.setting:
                raise ConfigError(f"setting.{key}", "is set per tile size by `sizes`; "
                                                    "leave it out of the setting")
        set_("sizes", _ints("sizes", self.sizes))
        set_("train_samples", tuple(sorted(set(_ints("train_samples", self.train_samples)))))
        _mapping("max_train_samples", self.max_train_samples)
        set_("max_train_samples", {_size_key(k): check_int(f"max_train_samples.{k}", v, low=1)
                                   for k, v in self.max_train_samples.items()})
        for name in ("test_samples", "threads", "bench_tiles", "bench_vectors", "bench_repeats"):
            set_(name, check_int(name, getattr(self, name), low=1))
        check_number("check_fraction", self.check_fraction, low=0, high=1)
        _mapping("variants", self.variants)
        if self.enabled and not self.variants:
            raise ConfigError("variants", "must name at least one variant to train")
        for name, overrides in self.variants.items():
            check_str(f"variants key {name!r}", name, nonempty=True)
            _mapping(f"variants.{name}", overrides)
        for name in ("data_dir", "out_dir"):
            check_str(name, getattr(self, name), nonempty=True)

    def train_sizes(self, size: int) -> tuple[int, ...]:
        """The training-set sizes made at tile size ``size`` (capped there)."""
        cap = self.max_train_samples.get(size)
        return tuple(n for n in self.train_samples if cap is None or n <= cap)

    def variant_configs(self, main: GeniexConfig, path: str = "surrogate.scaling.variants"
                        ) -> dict[str, GeniexConfig]:
        """Each variant as a full :class:`GeniexConfig`: the main one with its overrides
        (checked, errors naming ``<path>.<variant>.<field>``)."""
        return {name: main.with_overrides(overrides, f"{path}.{name}")
                for name, overrides in self.variants.items()}


# ----------------------------------------------------------------------------- costs
def baseline_macs(config: GeniexConfig, rows: int, cols: int) -> int:
    """Multiply-adds per MVM of the physics a variant corrects: one R×C matvec for the
    analytical and device baselines, the two transfers (R·R·C + R·C·C) for ``cell``, and
    one more R×C matvec for a target that needs the linear network's current."""
    base = rows * rows * cols + rows * cols * cols if config.baseline == "cell" else rows * cols
    return base + (rows * cols if config.target_obj.needs_linear else 0)


def bench_mvms(model: Any, g: torch.Tensor, v: torch.Tensor, repeats: int) -> float:
    """MVMs/s of ``model`` on tiles ``g`` (T, R, C) and inputs ``v`` (N, T, R): prepared
    once (not timed), one untimed call (lazy per-tile work), then the best of
    ``repeats`` timed calls."""
    prepared = model.prepare(g)
    model.mvm(prepared, v)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        model.mvm(prepared, v)
        best = min(best, time.perf_counter() - start)
    return v.shape[0] * v.shape[1] / best


# ----------------------------------------------------------------------------- scoring
def rmse_pct(pred: np.ndarray, truth: np.ndarray, spec: CrossbarSpec) -> float:
    """RMSE of column currents, % of full scale."""
    return float(np.sqrt(np.mean((pred - truth) ** 2)) / spec.full_scale_current * 100.0)


def predict(model: Any, v: np.ndarray, g: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Column currents (M, C) of ``model`` on samples, each its own tile (float64)."""
    out = []
    for lo in range(0, len(v), chunk):
        gt = torch.from_numpy(np.ascontiguousarray(g[lo:lo + chunk]))
        vt = torch.from_numpy(np.ascontiguousarray(v[lo:lo + chunk]))
        out.append(model.mvm(model.prepare(gt), vt).double().numpy())
    return np.concatenate(out)


def physics_scores(spec: CrossbarSpec, tests: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """RMSE (% FS) of every :data:`PHYSICS` model on every test set (name -> dataset)."""
    return {name: {set_name: rmse_pct(predict(make_model(name, spec), ds.v, ds.g), ds.i, spec)
                   for set_name, ds in tests.items()} for name in PHYSICS}


def train_unit(train: Any, config: GeniexConfig, tests: Mapping[str, Any],
               bench: tuple[torch.Tensor, torch.Tensor], repeats: int, threads: int,
               train_fn: Callable[..., tuple[GeniexModel, list, dict]]) -> dict[str, Any]:
    """Train ``config`` on dataset ``train`` and score it: RMSE on every test set, its
    weights, multiply-adds per MVM (network, baseline), MVMs/s on ``bench`` (tiles,
    inputs), training seconds and epochs."""
    spec = train.spec
    start = time.perf_counter()
    model, _, metrics = train_fn(train, config, threads=threads)
    seconds = time.perf_counter() - start
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        rmse = {name: rmse_pct(predict(model, ds.v, ds.g), ds.i, spec) for name, ds in tests.items()}
        mvms = bench_mvms(model, *bench, repeats)
    finally:
        torch.set_num_threads(old)
    return {"rmse_pct_fs": rmse, "val_rmse_pct_fs": metrics["val_rmse_pct_fs"],
            "best_epoch": int(metrics["best_epoch"]), "epochs_run": int(metrics["epochs_run"]),
            "train_seconds": round(seconds, 1),
            "weights": int(sum(p.numel() for p in model.net.parameters())),
            "net_macs_per_mvm": int(model.net.macs_per_mvm()),
            "baseline_macs_per_mvm": baseline_macs(config, spec.rows, spec.cols),
            "mvms_per_s": round(mvms, 1)}


def tag_dir(data_dir: str | Path, spec: CrossbarSpec, name: str) -> Path:
    """``<data_dir>/<spec.tag>/<name>``: where the study's sweep ``name`` goes."""
    return Path(data_dir) / spec.tag / name
