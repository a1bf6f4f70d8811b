"""The ``surrogate`` section of params.yaml as config sections, for the stage CLIs.

::

    surrogate:
      # datasets: derived from crossbar + datagen.configs (<tag> = spec.tag), or listed
      data_dir: data/spice
      models_dir: models                   # checkpoints: <models_dir>/<variant>/<tag>.pt
      reports_dir: reports
      variants:                            # GENIEx networks to train; "geniex" is the one
        geniex: {target: relative, ...}    # make_model("geniex") users pick by default
        geniex_published: {target: ratio, baseline: analytical, lr: 0.001}  # differences
        geniex_workload: {}                # the geniex network, on other training data
      train_data_dirs:                     # variant -> data dir it trains on instead of
        geniex_workload: data/spice_workload   # data_dir (<dir>/<tag>/train)
      extra_test_sets:                     # name -> data dir: every model is also scored on
        workload: data/spice_workload      # <dir>/<tag>/test, labelled "<label>/<name>"
      # held_out: the names of datagen.held_out (derived, or listed): every model is also
      #           scored on <data_dir>/<tag>/<name>, labelled "<label>/<name>"
      evaluate: {parity_points: 2000, hist_bins: 60}
      bench: {sizes: [32, 64], tiles: 64, vectors: 256, repeats: 7, hidden: [500], threads: 1}
      scaling: {enabled: false, ...}       # the data-scaling study (surrogate.scaling)

Every key has a default (:class:`SurrogateParams`, :class:`GeniexConfig`,
:class:`EvaluateParams`, :class:`BenchParams` are :class:`spice_netlists.config.ConfigSection`
subclasses); a bad or unknown key is a :class:`spice_netlists.config.ConfigError` naming
its dotted path, e.g. ``surrogate.variants.geniex.lr must be > 0, got -1``. ``train_data_dirs``
may only name variants; ``extra_test_sets`` and ``held_out`` names must be non-empty,
contain no ``/`` and not repeat each other. A dataset directory that does not exist is an error naming its path
(:func:`require_dataset`), raised before any training or evaluation starts.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from spice_netlists.config import (ConfigError, ConfigSection, check_int, check_mapping,
                                   check_str, join_path, read_params, section)
from surrogate.geniex import GeniexConfig
from surrogate.scaling import ScalingParams

MAIN_VARIANT = "geniex"
#: where the section sits in params.yaml (the prefix of every error's path)
SECTION = "surrogate"


def _int_list(name: str, value: Any, low: int = 1) -> tuple[int, ...]:
    if not isinstance(value, (list, tuple)) or not value:
        raise ConfigError(name, f"must be a non-empty list of integers, got {value!r}")
    return tuple(check_int(f"{name}[{k}]", v, low=low) for k, v in enumerate(value))


@dataclass(frozen=True)
class EvaluateParams(ConfigSection):
    """``surrogate.evaluate``: plot sizes.

    Attributes:
        parity_points: points per model and dataset in the parity plot data.
        hist_bins: bins of the error histograms.
    """

    parity_points: int = 2000
    hist_bins: int = 60

    def __post_init__(self) -> None:
        check_int("parity_points", self.parity_points, low=1)
        check_int("hist_bins", self.hist_bins, low=1)


@dataclass(frozen=True)
class BenchParams(ConfigSection):
    """``surrogate.bench``: MVM throughput settings.

    Attributes:
        sizes: crossbar sizes n (n×n) to time.
        tiles: tiles per batch.
        vectors: input vectors per tile and batch.
        repeats: timed repetitions; the best is reported.
        hidden: hidden layer widths of the (untrained) GENIEx networks timed.
        threads: torch CPU threads (0: torch's default).
        device: ``cpu`` or ``cuda``.
    """

    sizes: tuple[int, ...] = (32, 64)
    tiles: int = 64
    vectors: int = 256
    repeats: int = 7
    hidden: tuple[int, ...] = (500,)
    threads: int = 1
    device: str = "cpu"

    def __post_init__(self) -> None:
        object.__setattr__(self, "sizes", _int_list("sizes", self.sizes))
        object.__setattr__(self, "hidden", _int_list("hidden", self.hidden))
        for name in ("tiles", "vectors", "repeats"):
            check_int(name, getattr(self, name), low=1)
        check_int("threads", self.threads, low=0)
        check_str("device", self.device, nonempty=True)


def _default_variants() -> dict[str, GeniexConfig]:
    # best of a short search on 64x64 sinh crossbars (4000 ngspice samples at 0.5 V):
    # device-aware baseline, lr 3e-4 (val RMSE 0.038 % FS vs 0.043 at lr 1e-3)
    return {MAIN_VARIANT: GeniexConfig(),
            "geniex_published": GeniexConfig(target="ratio", baseline="analytical", lr=1e-3)}


def _dirs(name: str, value: Any) -> dict[str, str]:
    """A ``name -> directory`` mapping (``None``: empty), checked."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(name, f"must be a mapping, got {value!r}")
    out = {}
    for key, directory in value.items():
        if not isinstance(directory, (str, Path)) or not str(directory):
            raise ConfigError(f"{name}.{key}", f"must be a directory, got {directory!r}")
        out[str(key)] = str(directory)
    return out


def resolve_variants(variants: Mapping[str, Any], path: str = "surrogate.variants"
                     ) -> dict[str, GeniexConfig]:
    """Each variant's :class:`GeniexConfig` from params.yaml's ``surrogate.variants``.

    The main variant (``geniex``) is read as it is; every other one is the main
    variant's mapping with the variant's own keys laid over it (``geniex_workload: {}``
    is the main network; ``geniex_published: {target: ratio, lr: 0.001}`` differs in
    target and lr). ``baseline`` follows its target's default when a variant changes
    ``target`` without giving one. Errors name ``<path>.<variant>.<key>``."""
    main = variants.get(MAIN_VARIANT)
    main = {} if main is None else main
    check_mapping(join_path(path, MAIN_VARIANT), main,
                  GeniexConfig.__dataclass_fields__, "GENIEx settings")
    out = {}
    for name, own in variants.items():
        name, own = str(name), ({} if own is None else own)
        check_mapping(join_path(path, name), own, GeniexConfig.__dataclass_fields__,
                      "GENIEx settings")
        merged = dict(own) if name == MAIN_VARIANT else {**main, **own}
        if (name != MAIN_VARIANT and "target" in own and "baseline" not in own
                and own["target"] != main.get("target", GeniexConfig.target)):
            merged.pop("baseline", None)
        out[name] = GeniexConfig.from_dict(merged, join_path(path, name))
    return out


def held_out_names(params: Mapping[str, Any]) -> tuple[str, ...]:
    """The names of the ``datagen`` section's held-out sets (``datagen.held_out``, its
    defaults where the section does not give it), which datagen writes to
    ``<out_dir>/<tag>/<name>``; ``()`` where params has no ``datagen`` section."""
    if not section(params, "datagen"):
        return ()
    from datagen.config import DatagenParams    # datagen imports surrogate's solver
    return tuple(DatagenParams.from_dict(section(params, "datagen")).held_out)


def dataset_tags(params: Mapping[str, Any]) -> tuple[str, ...]:
    """The dataset tags datagen writes for a whole params mapping: the ``crossbar``
    section with each ``datagen.configs`` override, as ``spec.tag``
    (``32x32_sinh_Ron100k_0.25V``); ``()`` where params has no ``datagen`` section."""
    if not section(params, "datagen"):
        return ()
    from datagen.config import DatagenParams    # datagen imports surrogate's solver
    return tuple(spec.tag for spec in DatagenParams.from_dict(section(params, "datagen"))
                 .specs(params))


@dataclass(frozen=True)
class SurrogateParams(ConfigSection):
    """The whole ``surrogate`` section.

    Attributes:
        datasets: dataset tags under ``data_dir``: ``<tag>/train``, ``<tag>/test``.
            :func:`load_params` derives them from ``crossbar`` and ``datagen.configs``
            (:func:`dataset_tags`) unless the section lists them.
        data_dir: root of the SPICE datasets.
        models_dir: checkpoints go to ``<models_dir>/<variant>/<tag>.pt``.
        reports_dir: metrics, training curves and plots go here.
        variants: the GENIEx networks to train, by name (each a :class:`GeniexConfig`);
            ``geniex`` is the one ``make_model("geniex")`` users load; every other
            variant gives only what differs from it (:func:`resolve_variants`).
        train_data_dirs: variant -> data directory it trains on instead of ``data_dir``
            (``<dir>/<tag>/train``); names only variants.
        extra_test_sets: name -> data directory every model is also scored on
            (``<dir>/<tag>/test``, labelled ``<label>/<name>``); names are non-empty
            and have no ``/``.
        held_out: names of the held-out sets datagen writes beside ``train`` and
            ``test`` (``<data_dir>/<tag>/<name>``); every model is also scored on them,
            labelled ``<label>/<name>``. :func:`load_params` derives them from
            ``datagen.held_out`` (:func:`held_out_names`) unless the section lists
            them; names are non-empty, have no ``/`` and are not also extra test sets.
        evaluate: the evaluate stage's plot sizes (:class:`EvaluateParams`).
        bench: the bench stage's settings (:class:`BenchParams`).
        scaling: the data-scaling and architecture study (:class:`ScalingParams`;
            stage ``surrogate_scaling``, off unless enabled).
    """

    datasets: tuple[str, ...] = ()
    data_dir: str = "data/spice"
    models_dir: str = "models"
    reports_dir: str = "reports"
    variants: dict[str, GeniexConfig] = field(default_factory=_default_variants)
    train_data_dirs: dict[str, str] = field(default_factory=dict)
    extra_test_sets: dict[str, str] = field(default_factory=dict)
    held_out: tuple[str, ...] = ()
    evaluate: EvaluateParams = field(default_factory=EvaluateParams)
    bench: BenchParams = field(default_factory=BenchParams)
    scaling: ScalingParams = field(default_factory=ScalingParams)

    def __post_init__(self) -> None:
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        if not isinstance(self.datasets, (list, tuple)):
            raise ConfigError("datasets", f"must be a list of dataset tags, got {self.datasets!r}")
        set_("datasets", tuple(check_str(f"datasets[{k}]", t, nonempty=True)
                               for k, t in enumerate(self.datasets)))
        for name in ("data_dir", "models_dir", "reports_dir"):
            check_str(name, getattr(self, name), nonempty=True)
        if not isinstance(self.variants, Mapping):
            raise ConfigError("variants", f"must be a mapping of GENIEx variants, "
                                          f"got {self.variants!r}")
        if MAIN_VARIANT not in self.variants:
            raise ConfigError("variants", f"must define {MAIN_VARIANT!r} (the model "
                                          f"make_model('geniex') users load)")
        for name, cfg in self.variants.items():
            if not isinstance(cfg, GeniexConfig):
                raise ConfigError(f"variants.{name}", f"must be a GENIEx config, got {cfg!r}")
        set_("variants", dict(self.variants))
        for key in ("train_data_dirs", "extra_test_sets"):
            set_(key, _dirs(key, getattr(self, key)))
        unknown = sorted(set(self.train_data_dirs) - set(self.variants))
        if unknown:
            raise ConfigError("train_data_dirs", f"names unknown variant(s) {unknown}; "
                                                 f"variants: {sorted(self.variants)}")
        for name in self.extra_test_sets:
            if not name or "/" in name:
                raise ConfigError("extra_test_sets", f": bad name {name!r} (non-empty, no "
                                                     f"'/': it ends the report labels)")
        if not isinstance(self.held_out, (list, tuple)):
            raise ConfigError("held_out", f"must be a list of held-out set names, got "
                                          f"{self.held_out!r}")
        set_("held_out", tuple(check_str(f"held_out[{k}]", n, nonempty=True)
                               for k, n in enumerate(self.held_out)))
        for k, name in enumerate(self.held_out):
            if "/" in name or name in self.extra_test_sets:
                raise ConfigError(f"held_out[{k}]", f": bad name {name!r} (no '/', and not "
                                                    f"also an extra test set: it ends the "
                                                    f"report labels)")

    @classmethod
    def from_dict(cls, data: Any, path: str = SECTION) -> "SurrogateParams":
        """The section at ``path`` from its params.yaml mapping (``None``: defaults);
        each variant is a :class:`GeniexConfig` read at ``<path>.variants.<name>``."""
        data = {} if data is None else data
        check_mapping(path, data, [f.name for f in cls.__dataclass_fields__.values()])
        data = dict(data)
        if "variants" in data:
            variants = data["variants"]
            vpath = join_path(path, "variants")
            if variants is None:
                variants = {}
            if not isinstance(variants, Mapping):
                raise ConfigError(vpath, f"must be a mapping of GENIEx variants, got {variants!r}")
            data["variants"] = resolve_variants(variants, vpath)
        for key, sub in (("evaluate", EvaluateParams), ("bench", BenchParams),
                         ("scaling", ScalingParams)):
            if key in data:
                data[key] = sub.from_dict({} if data[key] is None else data[key],
                                          join_path(path, key))
        for key in ("datasets", "held_out"):
            if key in data and isinstance(data[key], list):
                data[key] = tuple(data[key])
        try:
            return cls(**data)
        except ConfigError as err:
            raise err.under(path) from None

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

    def held_out_dir(self, tag: str, name: str) -> Path:
        """``<data_dir>/<tag>/<name>``: the held-out set ``name`` datagen writes."""
        return Path(self.data_dir) / tag / name

    def test_sets(self, tag: str) -> list[tuple[str, Path]]:
        """``(label suffix, directory)`` of every test set of ``tag``: the main one
        (suffix ``""``), then each extra set, then each held-out set (suffix
        ``"/<name>"``)."""
        return ([("", self.test_dir(tag))]
                + [(f"/{name}", self.test_dir(tag, name)) for name in self.extra_test_sets]
                + [(f"/{name}", self.held_out_dir(tag, name)) for name in self.held_out])

    def checkpoint(self, variant: str, tag: str) -> Path:
        """``<models_dir>/<variant>/<tag>.pt``."""
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
    absent or empty); ``datasets``, unless the section lists them, are the tags of
    the ``datagen`` section's crossbars (:func:`dataset_tags`), and ``held_out`` the
    names of its held-out sets (:func:`held_out_names`).

    Raises:
        spice_netlists.config.ConfigError: the file is missing, not YAML, empty or not
            a mapping (the message names it); or the section or one of its values is bad
            (the message names its dotted path).
    """
    params = read_params(path)
    data = section(params, SECTION)
    if isinstance(data, Mapping) and "datasets" not in data:
        data = {**data, "datasets": list(dataset_tags(params))}
    if isinstance(data, Mapping) and "held_out" not in data:
        data = {**data, "held_out": list(held_out_names(params))}
    return SurrogateParams.from_dict(data, SECTION)


def parse_args(description: str, argv: list[str] | None = None) -> argparse.Namespace:
    """``--params PATH`` (default params.yaml), shared by the stage CLIs."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    return parser.parse_args(argv)
