"""The ``surrogate`` section of params.yaml, validated, for the stage CLIs.

::

    surrogate:
      datasets: [16x16_sinh_0.25V, ...]   # tags under data_dir: <tag>/train, <tag>/test
      data_dir: data/spice
      models_dir: models                   # checkpoints: <models_dir>/<variant>/<tag>.pt
      reports_dir: reports
      variants:                            # GENIEx networks to train; "geniex" is the one
        geniex: {target: relative, ...}    # make_model("geniex") users pick by default
        geniex_published: {target: ratio, hidden: [500]}
        geniex_workload: {target: relative, ...}
      train_data_dirs:                     # variant -> data dir it trains on instead of
        geniex_workload: data/spice_workload   # data_dir (<dir>/<tag>/train)
      extra_test_sets:                     # name -> data dir: every model is also scored on
        workload: data/spice_workload      # <dir>/<tag>/test, labelled "<label>/<name>"
      evaluate: {parity_points: 2000, hist_bins: 60}
      bench: {sizes: [32, 64], tiles: 64, vectors: 256, repeats: 5, hidden: [500], threads: 1}

Every key has a default; unknown keys are errors naming the key. ``train_data_dirs``
may only name variants; ``extra_test_sets`` names must be non-empty and contain no
``/``. A dataset directory that does not exist is an error naming its path
(:func:`require_dataset`), raised before any training or evaluation starts.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from spice_netlists.config import read_params, section
from spice_netlists.validation import reject_unknown_keys
from surrogate.geniex import GeniexConfig

MAIN_VARIANT = "geniex"


def _only_known(cls: type, data: Mapping[str, Any], where: str) -> dict[str, Any]:
    reject_unknown_keys(f"params {where}", data, cls)
    return dict(data)


@dataclass
class EvaluateParams:
    """``surrogate.evaluate``: plot sizes."""

    parity_points: int = 2000     # points per model and dataset in the parity plot data
    hist_bins: int = 60           # bins of the error histograms


@dataclass
class BenchParams:
    """``surrogate.bench``: MVM throughput settings."""

    sizes: list[int] = field(default_factory=lambda: [32, 64])
    tiles: int = 64
    vectors: int = 256
    repeats: int = 7
    hidden: list[int] = field(default_factory=lambda: [500])
    threads: int = 1              # torch CPU threads (0: torch's default)
    device: str = "cpu"


@dataclass
class SurrogateParams:
    """The whole ``surrogate`` section."""

    datasets: list[str] = field(default_factory=list)
    data_dir: str = "data/spice"
    models_dir: str = "models"
    reports_dir: str = "reports"
    variants: dict[str, GeniexConfig] = field(default_factory=lambda: {
        # best of a short search on 64x64 sinh crossbars (4000 ngspice samples at 0.5 V):
        # device-aware baseline, lr 3e-4 (val RMSE 0.038 % FS vs 0.043 at lr 1e-3)
        MAIN_VARIANT: GeniexConfig(target="relative", baseline="device", lr=3e-4),
        "geniex_published": GeniexConfig(target="ratio"),
    })
    train_data_dirs: dict[str, str] = field(default_factory=dict)
    extra_test_sets: dict[str, str] = field(default_factory=dict)
    evaluate: EvaluateParams = field(default_factory=EvaluateParams)
    bench: BenchParams = field(default_factory=BenchParams)

    def __post_init__(self) -> None:
        for key in ("train_data_dirs", "extra_test_sets"):
            value = getattr(self, key)
            if not isinstance(value, Mapping):
                raise ValueError(f"params surrogate.{key} must be a mapping, got {value!r}")
            for name, directory in value.items():
                if not isinstance(directory, (str, Path)) or not str(directory):
                    raise ValueError(f"params surrogate.{key}.{name} must be a directory, "
                                     f"got {directory!r}")
            setattr(self, key, {str(k): str(v) for k, v in value.items()})
        unknown = sorted(set(self.train_data_dirs) - set(self.variants))
        if unknown:
            raise ValueError(f"params surrogate.train_data_dirs names unknown variant(s) "
                             f"{unknown}; variants: {sorted(self.variants)}")
        for name in self.extra_test_sets:
            if not name or "/" in name:
                raise ValueError(f"params surrogate.extra_test_sets: bad name {name!r} "
                                 f"(non-empty, no '/': it ends the report labels)")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SurrogateParams":
        data = _only_known(cls, data or {}, "surrogate")
        if "variants" in data:
            variants = data["variants"] or {}
            if MAIN_VARIANT not in variants:
                raise ValueError(f"params surrogate.variants must define {MAIN_VARIANT!r} "
                                 f"(the model make_model('geniex') users load)")
            data["variants"] = {name: GeniexConfig.from_dict(cfg or {})
                                for name, cfg in variants.items()}
        if "evaluate" in data:
            data["evaluate"] = EvaluateParams(**_only_known(EvaluateParams, data["evaluate"] or {},
                                                            "surrogate.evaluate"))
        if "bench" in data:
            data["bench"] = BenchParams(**_only_known(BenchParams, data["bench"] or {},
                                                      "surrogate.bench"))
        for key in ("train_data_dirs", "extra_test_sets"):
            if key in data and data[key] is None:
                data[key] = {}
        data["datasets"] = [str(t) for t in data.get("datasets", [])]
        return cls(**data)

    # ---------------------------------------------------------------- paths
    def train_dir(self, tag: str, variant: str | None = None) -> Path:
        """``<dir>/<tag>/train``: ``dir`` is the variant's ``train_data_dirs`` entry,
        else ``data_dir``."""
        return Path(self.train_data_dirs.get(variant or "", self.data_dir)) / tag / "train"

    def test_dir(self, tag: str, test_set: str | None = None) -> Path:
        """``<data_dir>/<tag>/test``, or ``<dir>/<tag>/test`` for the extra test set
        named ``test_set``."""
        root = self.data_dir if test_set is None else self.extra_test_sets[test_set]
        return Path(root) / tag / "test"

    def test_sets(self, tag: str) -> list[tuple[str, Path]]:
        """``(label suffix, directory)`` of every test set of ``tag``: the main one
        (suffix ``""``), then each extra set (suffix ``"/<name>"``)."""
        return [("", self.test_dir(tag))] + [(f"/{name}", self.test_dir(tag, name))
                                             for name in self.extra_test_sets]

    def checkpoint(self, variant: str, tag: str) -> Path:
        return Path(self.models_dir) / variant / f"{tag}.pt"


def require_dataset(directory: str | Path, role: str) -> Path:
    """``directory`` as a Path; a clear error naming it (and its role) if it does not
    exist."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{role} dataset directory {directory} does not exist "
                                f"(generate it with `python -m datagen.sweep`, or fix the "
                                f"path in params surrogate)")
    return directory


def load_params(path: str | Path) -> SurrogateParams:
    """The ``surrogate`` section of the params file at ``path`` (defaults where it is
    absent or empty).

    Raises:
        spice_netlists.config.ConfigError: the file is missing, not YAML, empty or not
            a mapping (the message names it).
        ValueError: the section or one of its values is bad (the message names it).
    """
    return SurrogateParams.from_dict(section(read_params(path), "surrogate"))


def parse_args(description: str, argv: list[str] | None = None) -> argparse.Namespace:
    """``--params PATH`` (default params.yaml), shared by the stage CLIs."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    return parser.parse_args(argv)
