"""Configuration of the studies: the ``functional_sim`` section of params.yaml.

Every section is a :class:`spice_netlists.config.ConfigSection` (one conversion, one
error naming the dotted params.yaml path, round trip, dotted overrides, a docstring per
field). The ``functional_sim.sim`` section is the core's
:class:`~functional_sim.sim.config.SimConfig` (the mapping fields only,
:data:`~functional_sim.sim.config.SIM_PARAM_KEYS`); its tile spec comes from the
``crossbar`` section, and the crossbar models are named here (``crossbar_model``,
``models``) and built by the stages, so that physics and names each live in one place.

This module is also the stages' one reader of params.yaml: :func:`read_params`,
:func:`study_config`, :func:`study_specs`, :func:`pick_setting`, :func:`base_spec`,
:func:`net_path`,
:func:`geniex_checkpoint`.
The dataclass defaults are params.yaml's values.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from functional_sim.sim.config import SIM_PARAM_KEYS, SimConfig
from functional_sim.studies.aware_training_config import AwareTrainingConfig
from functional_sim.studies.data import DATASETS
from functional_sim.studies.disk_data import DiskDatasetConfig
from functional_sim.studies.nets import check_net_name, check_net_names, net_info
from functional_sim.studies.sensitivity_config import SensitivityConfig
from spice_netlists import CrossbarSpec, load_spec_from_params
from spice_netlists.config import (ConfigError, ConfigSection, check_bool, check_choice,
                                   check_int, check_mapping, check_names, check_number,
                                   check_str, check_str_list, join_path, section)
from spice_netlists.config import read_params as _read_params_file

__all__ = ["ConfigError", "TrainConfig", "GroundTruthConfig", "WorkloadConfig",
           "StudyConfig", "read_params", "study_config", "study_specs", "pick_setting", "unique_by_tag",
           "variant_names",
           "models_dir", "base_spec",
           "net_path", "geniex_checkpoint"]


def _model_names() -> tuple[str, ...]:
    from surrogate import MODEL_NAMES

    return tuple(MODEL_NAMES)


#: the GENIEx variant the study loads as ``geniex`` (``make_model("geniex")``)
GENIEX_VARIANT = "geniex"


@dataclass(frozen=True)
class TrainConfig(ConfigSection):
    """The ``functional_sim.train`` section: how the study's networks are trained.

    Attributes:
        nets: the networks trained (names of ``functional_sim.studies.nets.NETS``, each
            optionally with a training seed offset: ``mnist_resnet@1`` is trained from
            ``seed`` + 1, a second network of that architecture).
        epochs: training epochs per network.
        batch_size: training images per optimiser step.
        lr: the optimiser's learning rate (>= 0).
        weight_decay: the optimiser's weight decay (>= 0).
        seed: seeds the initial weights and the batch order (plus the offset of a
            ``name@k`` network).
    """

    nets: tuple[str, ...] = ("mnist_mlp", "mnist_cnn", "mnist_resnet", "digits_mlp", "digits_cnn")
    epochs: int = 12
    batch_size: int = 64
    lr: float = 4e-3
    weight_decay: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "nets", check_net_names("nets", self.nets))
        check_int("epochs", self.epochs, 1)
        check_int("batch_size", self.batch_size, 1)
        check_int("seed", self.seed, 0)
        for name in ("lr", "weight_decay"):
            object.__setattr__(self, name, check_number(name, getattr(self, name),
                                                        nonnegative=True))


@dataclass(frozen=True)
class GroundTruthConfig(ConfigSection):
    """The ``functional_sim.ground_truth`` section (stage ``accuracy_ground_truth``):
    which cheap crossbar model predicts a network's accuracy, against an exact
    reference run on every crossbar read of the whole test subset, itself checked
    against SPICE on some of those images.

    It runs at every tile setting of the study (``functional_sim.settings``) on the
    study's own images: ``functional_sim.test_subset`` seeded test images (the whole
    test split where that is smaller), so no second count lives here.

    Attributes:
        enabled: run the stage; when false it writes ``{"enabled": false}`` only.
        nets: the networks run (names of ``functional_sim.studies.nets.NETS``, or
            ``name@k`` seed variants), loaded from
            ``functional_sim.nets_dir``.
        models: the cheap crossbar models scored against the reference: names of
            ``surrogate.MODEL_NAMES`` or GENIEx variants of ``surrogate.variants``
            (``geniex_workload``), each variant loading its checkpoint
            ``<surrogate.models_dir>/<variant>/<tag>.pt``.
        reference: the model every crossbar read of the whole test subset is run
            through, the truth the cheap models are scored against (``circuit``: the
            exact nonlinear network).
        max_images: network -> the most test images it runs on (the first ones of the
            seeded choice); a network not named runs on the whole test subset, and a cap
            on a network that ``nets`` leaves out has no effect. The exact
            solve of a deep network's every read costs seconds per image on a CPU, so a
            study on many settings may cap it.
        spice_check_net: the network (one of ``nets`` or not) whose images run in
            ngspice beside the reference.
        spice_check_images: test images of ``spice_check_net`` (the first ones of the
            seeded choice, as ``pick_test_images`` draws them) on which ``spice``
            (ngspice on every tile read) runs in the loop beside the reference, to show
            that the reference gives SPICE's layer outputs and predictions; 0 disables
            the SPICE cross-check. Must be 0 when ``reference`` is ``spice`` itself, and
            at most the number of test images (checked by the stage, which knows the
            test split's size).
        spice_check_settings: the labels of the settings (``64x64/sinh/Ron25k/0.5V``,
            as the report names them) at which the SPICE check runs; empty: every
            setting. ngspice costs ~8x more per doubling of the tile side, so a study of
            128x128 tiles checks the smaller ones.

    Every name is checked before any SPICE run.
    """

    enabled: bool = True
    nets: tuple[str, ...] = ("digits_mlp", "mnist_resnet")
    models: tuple[str, ...] = ("ideal", "analytical", "analytical_device", "analytical_cell",
                               "geniex", "geniex_fast")
    reference: str = "circuit"
    max_images: dict[str, int] = field(default_factory=lambda: {"mnist_resnet": 200})
    spice_check_net: str = "digits_mlp"
    spice_check_images: int = 16
    spice_check_settings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_bool("enabled", self.enabled)
        object.__setattr__(self, "nets", check_net_names("nets", self.nets))
        if not self.nets:
            raise ConfigError("nets", "must name at least one network")
        object.__setattr__(self, "models", check_str_list("models", self.models))
        check_str("reference", self.reference, nonempty=True)
        if not self.models:
            raise ConfigError("models", f"is empty: name at least one crossbar model to "
                                        f"judge against the {self.reference} reference")
        if self.max_images is None:
            object.__setattr__(self, "max_images", {})
        if not isinstance(self.max_images, Mapping):
            raise ConfigError("max_images", f"must be a mapping of network -> image count, "
                                            f"got {self.max_images!r}")
        for net, count in self.max_images.items():
            check_net_name("max_images", net)     # a cap on a net not run: no effect
            check_int(f"max_images.{net}", count, 1)
        object.__setattr__(self, "max_images", dict(self.max_images))
        check_net_name("spice_check_net", self.spice_check_net)
        check_int("spice_check_images", self.spice_check_images, 0)
        object.__setattr__(self, "spice_check_settings",
                           check_str_list("spice_check_settings", self.spice_check_settings))
        if self.reference == "spice" and self.spice_check_images:
            raise ConfigError("spice_check_images", f"must be 0 when reference is 'spice' "
                              f"(the reference is ngspice already), got "
                              f"{self.spice_check_images!r}")

    @classmethod
    def from_dict(cls, data: Any, path: str = "") -> "GroundTruthConfig":
        if isinstance(data, Mapping):
            for key, why in (("n_images", "the reference runs on functional_sim.test_subset "
                                          "images and SPICE on spice_check_images of them"),
                             ("net", "list the networks in nets (e.g. [digits_mlp]); the "
                                     "SPICE check runs on spice_check_net")):
                if key in data:
                    raise ConfigError(join_path(path, key), f"is no longer a key: {why}")
        return super().from_dict(data, path)


@dataclass(frozen=True)
class WorkloadConfig(ConfigSection):
    """The ``functional_sim.workload`` section: SPICE datasets of the reads a trained
    network actually puts on its tiles (stage ``workload_data``).

    For every read voltage of the study, ``pool_size`` reads are drawn uniformly from
    all the (V, G) reads that network ``net`` (``ideal`` crossbars) makes on ``images``
    of its training images. The pool is split by content into a train and a test pool
    (a read's exact (V, G) lies in one of them only, in the proportion of
    ``train_samples`` to ``test_samples``); the two SPICE sweeps draw from them.

    Attributes:
        net: a study network (``functional_sim.studies.nets.NETS``), loaded from ``nets_dir``.
        images: training images run through the network.
        pool_size: reads recorded per read voltage (at least train + test samples).
        train_samples, test_samples: SPICE samples of the two datasets.
        seed: seeds the choice of images and reads, the split and the sweeps.
        chunk_size, workers: the sweeps' chunking and parallelism (0: automatic).
        pool_dir: where the pools go: ``<pool_dir>/<tag>.npz`` (and ``.train.npz``,
            ``.test.npz``).
        out_dir: where the datasets go: ``<out_dir>/<tag>/{train,test}``.
    """

    net: str = "mnist_cnn"
    images: int = 64
    pool_size: int = 6000
    train_samples: int = 2000
    test_samples: int = 400
    seed: int = 0
    chunk_size: int = 0
    workers: int = 0
    pool_dir: str = "data/workload"
    out_dir: str = "data/spice_workload"

    def __post_init__(self) -> None:
        check_net_name("net", self.net)
        for name in ("images", "pool_size", "train_samples", "test_samples"):
            check_int(name, getattr(self, name), 1)
        for name in ("seed", "chunk_size", "workers"):
            check_int(name, getattr(self, name), 0)
        if self.pool_size < self.train_samples + self.test_samples:
            raise ConfigError("pool_size", f"must be >= train_samples + test_samples "
                              f"({self.train_samples + self.test_samples}), got {self.pool_size!r}")
        for name in ("pool_dir", "out_dir"):
            check_str(name, getattr(self, name), nonempty=True)


_SECTIONS = {"sim": SimConfig, "train": TrainConfig, "ground_truth": GroundTruthConfig,
             "workload": WorkloadConfig, "sensitivity": SensitivityConfig,
             "aware_training": AwareTrainingConfig}


@dataclass(frozen=True)
class StudyConfig(ConfigSection):
    """The whole ``functional_sim`` section of params.yaml.

    Attributes:
        crossbar_model: the model of the headline figure.
        models: the crossbar models compared (``ideal`` is always added): names of
            ``surrogate.MODEL_NAMES`` or GENIEx variants of ``surrogate.variants``.
        settings: the tile settings the study and the ground truth run at, each a
            mapping of overrides of the ``crossbar`` section, as ``datagen.configs``
            entries are (``{rows: 64, cols: 64, g_on: 4.0e-05, v_read_max: 0.5}``).
            Empty: one setting per ``datagen.configs`` entry, so that every setting has
            its datasets and GENIEx checkpoints.
        test_subset: test images scored per network (0 = the whole test split).
        batch_size: images per forward pass in the study.
        nets_dir: where trained networks live (``<nets_dir>/<net>.pt``).
        models_dir: the surrogate's ``surrogate.models_dir`` (not a key of this
            section: :func:`study_config` reads it there); GENIEx checkpoints are
            ``<models_dir>/<variant>/<tag>.pt``, where the ``surrogate`` stage writes them.
        variants: the GENIEx variants of ``surrogate.variants`` (not a key of this
            section: :func:`study_config` reads them there); each is a model name the
            study accepts.
        seed: seeds the train/test splits and the test subset.
        sim: the mapping (bit widths, schemes; only :data:`SIM_PARAM_KEYS` in
            params.yaml); its spec comes from ``crossbar``.
        train: how the networks are trained.
        ground_truth: the ground-truth stage (reference model over the test
            subset, SPICE cross-check on some images).
        workload: the ``workload_data`` stage's section.
        sensitivity: the ``sensitivity`` stage: accuracy against the strength of each
            non-ideality, and MDM against identity mapping.
        aware_training: the ``aware_training`` stage: fine-tuning through a crossbar
            model, judged by the exact one.
        datasets: data sets read from disk, by name: each a
            :class:`~functional_sim.studies.disk_data.DiskDatasetConfig` (``format``,
            ``root``, splits, normalisation, subsets), e.g. ``cifar10: {format: cifar10,
            root: data/cifar10}``, for the networks that classify them
            (``cifar10_resnet20``). The bundled ``mnist`` and ``digits`` need no entry and
            cannot be renamed here.
        shard_images: images per shard in the accuracy study and the ground truth (0:
            all of a network's images in one shard). A shard is a unit of work: kept
            when it is finished (a killed stage loses at most one) and one task where
            ``scheduler`` names a cluster. The accuracy study runs its batches within a
            shard, so a multiple of ``batch_size`` gives exactly the unsharded figures;
            the ground truth runs a shard as one batch, so its layer errors move in the
            last digits with it (and a prediction on the edge may flip).
        scheduler: address of a Dask distributed scheduler (``tcp://host:8786``) whose
            workers run the shards; empty: this process runs them. The workers must see
            the networks and checkpoints at the same paths. Where a shard runs does not
            change its result.
    """

    crossbar_model: str = "geniex_fast"
    models: tuple[str, ...] = ("analytical", "analytical_device", "geniex_fast")
    settings: tuple[dict, ...] = ()
    test_subset: int = 500
    batch_size: int = 100
    nets_dir: str = "models/nets"
    models_dir: str = "models"
    variants: tuple[str, ...] = (GENIEX_VARIANT, "geniex_published", "geniex_workload",
                                 "geniex_fast")
    seed: int = 0
    sim: SimConfig = field(default_factory=SimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    ground_truth: GroundTruthConfig = field(default_factory=GroundTruthConfig)
    workload: WorkloadConfig = field(default_factory=WorkloadConfig)
    sensitivity: SensitivityConfig = field(default_factory=SensitivityConfig)
    aware_training: AwareTrainingConfig = field(default_factory=AwareTrainingConfig)
    datasets: dict[str, DiskDatasetConfig] = field(default_factory=dict)
    shard_images: int = 0
    scheduler: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "variants", check_str_list("variants", self.variants))
        models = self.model_names
        check_choice("crossbar_model", self.crossbar_model, models)
        object.__setattr__(self, "models", check_names("models", self.models, models, "model names"))
        if isinstance(self.settings, (str, Mapping)) or not isinstance(self.settings, (list, tuple)):
            raise ConfigError("settings", f"must be a list of mappings of crossbar overrides "
                                          f"(empty: one per datagen.configs entry), got "
                                          f"{self.settings!r}")
        known = [f.name for f in fields(CrossbarSpec)]
        for k, overrides in enumerate(self.settings):
            check_mapping(f"settings[{k}]", overrides, known, "crossbar overrides")
        object.__setattr__(self, "settings", tuple(dict(o) for o in self.settings))
        check_int("test_subset", self.test_subset, 0)
        check_int("batch_size", self.batch_size, 1)
        check_int("seed", self.seed, 0)
        check_int("shard_images", self.shard_images, 0)
        check_str("scheduler", self.scheduler)
        check_str("nets_dir", self.nets_dir, nonempty=True)
        check_str("models_dir", self.models_dir, nonempty=True)
        for name, cls in _SECTIONS.items():
            value = getattr(self, name)
            if name == "sim" and isinstance(value, Mapping):
                check_mapping(name, value, SIM_PARAM_KEYS)
            if isinstance(value, Mapping):
                object.__setattr__(self, name, cls.from_dict(value, name))
            elif not isinstance(value, cls):
                raise ConfigError(name, f"must be a mapping of settings, got {value!r}")
        object.__setattr__(self, "datasets", _disk_datasets(self.datasets))
        self._check_datasets()
        gt = self.ground_truth
        check_names("ground_truth.models", gt.models, models, "model names")
        check_choice("ground_truth.reference", gt.reference, models)
        sens = self.sensitivity
        check_names("sensitivity.models", sens.models, models, "model names")
        check_choice("sensitivity.reference", sens.reference, models)
        aware = self.aware_training
        check_names("aware_training.models", aware.models, models, "model names")
        check_choice("aware_training.reference", aware.reference, models)

    def _check_datasets(self) -> None:
        """Every network named anywhere classifies a bundled or a configured data set."""
        named = [("train.nets", n) for n in self.train.nets]
        named += [("ground_truth.nets", n) for n in self.ground_truth.nets]
        named += [("ground_truth.spice_check_net", self.ground_truth.spice_check_net)]
        named += [("workload.net", self.workload.net), ("sensitivity.net", self.sensitivity.net),
                  ("aware_training.net", self.aware_training.net)]
        for where, net in named:
            dataset = net_info(net).dataset
            if dataset not in DATASETS and dataset not in self.datasets:
                raise ConfigError(where, f"names {net}, which classifies {dataset}: that data "
                                         f"set is not bundled, so give it as "
                                         f"functional_sim.datasets.{dataset} (its format and "
                                         f"root), or leave {net} out")

    @property
    def model_names(self) -> tuple[str, ...]:
        """Every model name the study accepts: the factories of ``surrogate.MODEL_NAMES``
        and the GENIEx variants."""
        return tuple(dict.fromkeys((*_model_names(), *self.variants)))

    @classmethod
    def from_dict(cls, data: Any, path: str = "", **derived: Any) -> "StudyConfig":
        """Build the section at ``path`` (``functional_sim``); ``sim`` holds the
        :data:`SIM_PARAM_KEYS` only. ``derived`` sets the fields read elsewhere in
        params.yaml (``models_dir``, ``variants``)."""
        if isinstance(data, Mapping):
            for key, why in (("geniex_dir", "GENIEx checkpoints are "
                                            "<surrogate.models_dir>/<variant>/<tag>.pt"),
                             ("voltages", "list the tile settings in functional_sim.settings "
                                          "(e.g. [{v_read_max: 0.25}, {v_read_max: 0.5}]); "
                                          "empty: one per datagen.configs entry")):
                if key in data:
                    raise ConfigError(join_path(path, key), f"is no longer a key: {why}")
            check_mapping(path or cls.__name__, data, STUDY_PARAM_KEYS)
            if isinstance(data.get("sim"), Mapping):
                check_mapping(join_path(path, "sim"), data["sim"], SIM_PARAM_KEYS)
            data = {**data, **derived}
        return super().from_dict(data, path)

    def _rebuild(self, data: dict[str, Any], path: str) -> "StudyConfig":
        """:meth:`with_overrides`' rebuild: ``models_dir`` and ``variants`` kept."""
        return type(self).from_dict(data, path, models_dir=self.models_dir,
                                    variants=list(self.variants))

    @property
    def workload_config(self) -> WorkloadConfig:
        """The ``workload`` section (kept for the callers that read it by this name)."""
        return self.workload

    @property
    def all_models(self) -> tuple[str, ...]:
        """``ideal``, the listed models and the headline model, each once, in order."""
        out: list[str] = []
        for name in ("ideal", *self.models, self.crossbar_model):
            if name not in out:
                out.append(name)
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        """The params.yaml section; inverse of :meth:`from_dict` (``sim``: the
        :data:`SIM_PARAM_KEYS` only; ``models_dir`` and ``variants`` live in
        ``surrogate``)."""
        data = super().to_dict()
        del data["models_dir"], data["variants"]
        data["sim"] = self.sim.param_dict()
        return data


def _disk_datasets(value: Any) -> dict[str, DiskDatasetConfig]:
    """``functional_sim.datasets``: name -> :class:`DiskDatasetConfig` (from mappings),
    else :class:`ConfigError` at ``datasets`` or ``datasets.<name>``."""
    if not isinstance(value, Mapping):
        raise ConfigError("datasets", f"must be a mapping of data set names to their "
                                      f"settings, got {value!r}")
    out: dict[str, DiskDatasetConfig] = {}
    for name, cfg in value.items():
        check_str(f"datasets key {name!r}", name, nonempty=True)
        if name in DATASETS:
            raise ConfigError(f"datasets.{name}", f"is a bundled data set ({', '.join(DATASETS)}); "
                                                  f"give a data set from disk another name")
        if isinstance(cfg, Mapping):
            cfg = DiskDatasetConfig.from_dict(cfg, f"datasets.{name}")
        elif not isinstance(cfg, DiskDatasetConfig):
            raise ConfigError(f"datasets.{name}", f"must be a mapping (format, root, …), got {cfg!r}")
        out[name] = cfg
    return out


#: the keys of params.yaml's ``functional_sim`` section
STUDY_PARAM_KEYS = tuple(f.name for f in fields(StudyConfig) if f.name not in ("models_dir", "variants"))


# ----------------------------------------------------------------------------- reading
def read_params(path: str | Path) -> dict[str, Any]:
    """The parsed params file: a non-empty mapping of sections.

    Raises:
        ConfigError: the file is missing, not YAML, empty or not a mapping; the message
            names it.
    """
    return _read_params_file(path)




def models_dir(params: Mapping[str, Any]) -> str:
    """``surrogate.models_dir`` (``models`` where absent), where checkpoints live."""
    value = section(params, "surrogate.models_dir")
    return check_str("surrogate.models_dir", "models" if value == {} else value, nonempty=True)


def study_config(params: Mapping[str, Any]) -> StudyConfig:
    """The ``functional_sim`` section (defaults where it is absent or empty), with the
    checkpoints' ``models_dir`` and the GENIEx ``variants`` from the ``surrogate``
    section.

    Raises:
        ConfigError: the section is not a mapping, or a value of it is bad; the message
            names the dotted path (``functional_sim.sim.adc_bits``).
    """
    return StudyConfig.from_dict(section(params, "functional_sim"), "functional_sim",
                                 models_dir=models_dir(params),
                                 variants=list(variant_names(params)))


def variant_names(params: Mapping[str, Any]) -> tuple[str, ...]:
    """The GENIEx variants of ``surrogate.variants`` (params.yaml's, the
    :class:`StudyConfig` default, where the section is absent or empty)."""
    value = section(params, "surrogate.variants")
    if not isinstance(value, Mapping):
        raise ConfigError("surrogate.variants", f"must be a mapping of variants, got {value!r}")
    if not value:
        return StudyConfig.__dataclass_fields__["variants"].default
    return tuple(dict.fromkeys((GENIEX_VARIANT, *value)))


def study_specs(params: Mapping[str, Any], cfg: StudyConfig | None = None) -> tuple[CrossbarSpec, ...]:
    """The tile spec of every study setting: the ``crossbar`` section with each entry of
    ``functional_sim.settings`` laid over it, or, where that list is empty, the spec of
    every ``datagen.configs`` entry (each once).

    Raises:
        ConfigError: an override makes an invalid spec (named
            ``functional_sim.settings[k]``), or two different settings share a tag.
    """
    from datagen.config import DatagenParams

    cfg = study_config(params) if cfg is None else cfg
    if cfg.settings:
        base = base_spec(params)
        specs = [base.with_overrides(overrides, f"functional_sim.settings[{k}]")
                 for k, overrides in enumerate(cfg.settings)]
    else:
        specs = DatagenParams.from_dict(params.get("datagen") or {}).specs(params)
    return unique_by_tag(specs, "functional_sim.settings" if cfg.settings else "datagen.configs")


def pick_setting(label: str, specs: Sequence[CrossbarSpec], path: str) -> CrossbarSpec:
    """The study setting whose label (``32x32/sinh/Ron100k/0.5V``) is ``label``; the last
    setting where ``label`` is empty.

    Raises:
        ConfigError: no setting has that label; ``path`` names the params key.
    """
    if not label:
        return specs[-1]
    for spec in specs:
        if spec.label == label:
            return spec
    raise ConfigError(path, f"{label!r} is not a study setting; the settings are "
                            f"{[s.label for s in specs]}")


def unique_by_tag(specs: Iterable[CrossbarSpec], path: str) -> tuple[CrossbarSpec, ...]:
    """``specs`` with repeats dropped, in order; two *different* specs with one tag (their
    datasets and checkpoints would share a name) raise :class:`ConfigError` at ``path``."""
    out: dict[str, CrossbarSpec] = {}
    for spec in specs:
        if spec.tag in out and out[spec.tag] != spec:
            raise ConfigError(path, f"two different tile specs share the tag {spec.tag!r} "
                                    f"(its datasets and checkpoints): make them differ in "
                                    f"size, device, g_on or read voltage")
        out.setdefault(spec.tag, spec)
    return tuple(out.values())


def base_spec(params: Mapping[str, Any]) -> CrossbarSpec:
    """The tile spec of the ``crossbar`` section (the default spec where it is absent).

    Raises:
        spice_netlists.SpecError: the section is not a mapping (named), or a value of it
            is bad.
    """
    return load_spec_from_params(params) if "crossbar" in params else CrossbarSpec()


def net_path(cfg: StudyConfig, name: str) -> Path:
    """Where network ``name`` is saved: <nets_dir>/<name>.pt."""
    return Path(cfg.nets_dir) / f"{name}.pt"


def geniex_checkpoint(cfg: StudyConfig, spec: CrossbarSpec, variant: str = GENIEX_VARIANT) -> Path:
    """The checkpoint of a GENIEx variant at a tile spec: ``<models_dir>/<variant>/<spec.tag>.pt``,
    e.g. ``models/geniex/32x32_sinh_Ron100k_0.25V.pt`` (the tag of its training datasets too)."""
    return Path(cfg.models_dir) / variant / f"{spec.tag}.pt"
