"""Configuration of the functional simulator, as dataclasses that round-trip to params.yaml.

:class:`SimConfig` describes how one network is mapped onto crossbars (bit widths,
slicing, streaming, ADC, negative-weight scheme, crossbar model and the tile's
:class:`~spice_netlists.CrossbarSpec`). The ``functional_sim.sim`` section of params.yaml
holds the mapping fields only (:data:`SIM_PARAM_KEYS`); the physics comes from the
``crossbar`` section and the model from the study, so that physics lives in one place.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Mapping

from spice_netlists import CrossbarSpec
from spice_netlists.validation import reject_unknown_keys

NEGATIVE_WEIGHT_SCHEMES = ("differential", "offset")
WEIGHT_SCALES = ("per_layer", "per_channel")

#: the SimConfig fields that live in params.yaml's ``functional_sim.sim`` section
SIM_PARAM_KEYS = ("weight_bits", "input_bits", "bits_per_slice", "bits_per_stream",
                  "adc_bits", "negative_weights", "weight_scale")


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the field and the value."""


def _check_int(owner: str, name: str, value: Any, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{owner}.{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ConfigError(f"{owner}.{name} must be {bound}, got {value!r}")
    return value


def _check_choice(owner: str, name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(f"{owner}.{name} must be one of {choices}, got {value!r}")
    return value


def _reject_unknown(owner: str, data: Mapping[str, Any], known: set[str]) -> None:
    reject_unknown_keys(owner, data, known, ConfigError)


@dataclass(frozen=True)
class SimConfig:
    """How a network's layers are mapped onto simulated crossbars.

    Attributes:
        weight_bits: signed weight width; weights are quantised symmetrically to
            integers in [-(2^(b-1)-1), 2^(b-1)-1].
        input_bits: activation width. A sample with no negative value uses all bits
            for its magnitude (0..2^b-1); a sample with negative values is signed
            (magnitude 0..2^(b-1)-1) and is run in two passes, x = x⁺ - x⁻.
        bits_per_slice: bits stored per crossbar cell (one crossbar per slice).
        bits_per_stream: bits per DAC step (inputs streamed this many bits at a time).
        adc_bits: ADC resolution over the spec's full-scale current
            (rows·g_on·v_read_max). :func:`functional_sim.mapping.lossless_adc_bits`
            gives the smallest width that is exact for the ideal crossbar.
        negative_weights: ``differential`` (a W⁺ and a W⁻ crossbar per slice) or
            ``offset`` (weights stored as q + 2^(b-1); the last column of every tile
            is a reference column holding 2^(b-1), subtracted digitally after the ADC).
        weight_scale: ``per_layer`` or ``per_channel`` (one scale per output).
        crossbar_model: name for :func:`surrogate.make_model`.
        checkpoint: checkpoint path for learned crossbar models (``geniex``).
        spec: the physics of one tile.
        chunk_elements: memory bound: crossbar inputs are sent to the model in chunks
            of at most about this many voltage elements.
    """

    weight_bits: int = 8
    input_bits: int = 8
    bits_per_slice: int = 2
    bits_per_stream: int = 1
    adc_bits: int = 8
    negative_weights: str = "differential"
    weight_scale: str = "per_channel"
    crossbar_model: str = "ideal"
    checkpoint: str | None = None
    spec: CrossbarSpec = field(default_factory=CrossbarSpec)
    chunk_elements: int = 1 << 22

    def __post_init__(self) -> None:
        own = "SimConfig"
        _check_int(own, "weight_bits", self.weight_bits, 2, 16)
        _check_int(own, "input_bits", self.input_bits, 2, 16)
        _check_int(own, "bits_per_slice", self.bits_per_slice, 1, 8)
        _check_int(own, "bits_per_stream", self.bits_per_stream, 1, 8)
        _check_int(own, "adc_bits", self.adc_bits, 1, 32)
        _check_int(own, "chunk_elements", self.chunk_elements, 1)
        _check_choice(own, "negative_weights", self.negative_weights, NEGATIVE_WEIGHT_SCHEMES)
        _check_choice(own, "weight_scale", self.weight_scale, WEIGHT_SCALES)
        if not isinstance(self.crossbar_model, str) or not self.crossbar_model:
            raise ConfigError(f"{own}.crossbar_model must be a model name, got "
                              f"{self.crossbar_model!r}")
        if self.checkpoint is not None and not isinstance(self.checkpoint, str):
            object.__setattr__(self, "checkpoint", str(self.checkpoint))
        if isinstance(self.spec, Mapping):
            object.__setattr__(self, "spec", CrossbarSpec.from_dict(self.spec))
        elif not isinstance(self.spec, CrossbarSpec):
            raise ConfigError(f"{own}.spec must be a CrossbarSpec, got {self.spec!r}")
        if self.negative_weights == "offset" and self.spec.cols < 2:
            raise ConfigError(f"{own}: the offset scheme needs a reference column, so "
                              f"spec.cols must be >= 2, got {self.spec.cols}")

    @property
    def cols_per_tile(self) -> int:
        """Weight columns (layer outputs) per tile: all columns, less the reference
        column of the offset scheme."""
        return self.spec.cols - (1 if self.negative_weights == "offset" else 0)

    def with_(self, **changes: Any) -> "SimConfig":
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain types only; inverse of :meth:`from_dict`."""
        data = asdict(self)
        data["spec"] = self.spec.to_dict()
        return data

    def param_dict(self) -> dict[str, Any]:
        """The fields stored in params.yaml's ``functional_sim.sim`` section."""
        return {k: getattr(self, k) for k in SIM_PARAM_KEYS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SimConfig":
        """Build from a mapping; ``spec`` may be a mapping; unknown keys are errors."""
        _reject_unknown("SimConfig", data, {f.name for f in fields(cls)})
        data = dict(data)
        if isinstance(data.get("spec"), Mapping):
            data["spec"] = CrossbarSpec.from_dict(data["spec"])
        return cls(**data)


@dataclass(frozen=True)
class TrainConfig:
    """The ``functional_sim.train`` section: how the study's networks are trained."""

    nets: tuple[str, ...] = ("mnist_mlp", "mnist_cnn", "digits_mlp", "digits_cnn")
    epochs: int = 12
    batch_size: int = 64
    lr: float = 4e-3
    weight_decay: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        from functional_sim.nets import NETS

        own = "TrainConfig"
        object.__setattr__(self, "nets", tuple(self.nets))
        for net in self.nets:
            _check_choice(own, "nets", net, tuple(sorted(NETS)))
        _check_int(own, "epochs", self.epochs, 1)
        _check_int(own, "batch_size", self.batch_size, 1)
        _check_int(own, "seed", self.seed, 0)
        for name in ("lr", "weight_decay"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or value < 0:
                raise ConfigError(f"{own}.{name} must be a finite number >= 0, got {value!r}")
            object.__setattr__(self, name, float(value))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["nets"] = list(self.nets)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrainConfig":
        _reject_unknown("TrainConfig", data, {f.name for f in fields(cls)})
        return cls(**data)


@dataclass(frozen=True)
class GroundTruthConfig:
    """The ``functional_sim.ground_truth`` section (stage ``accuracy_ground_truth``):
    which cheap crossbar model predicts a network's accuracy best, against an exact
    reference, itself checked against SPICE on a few images.

    The images are the study's own: ``functional_sim.test_subset`` seeded test images
    (the whole test split where that is larger), so no second count lives here.

    Attributes:
        enabled: run the stage; when false it writes ``{"enabled": false}`` only.
        net: the network run (one of ``functional_sim.nets.NETS``), loaded from
            ``functional_sim.nets_dir``.
        models: the cheap crossbar models scored against the reference (names of
            ``surrogate.MODEL_NAMES``).
        reference: the model every MVM of the whole test subset is run through, the
            truth the cheap models are scored against (a name of
            ``surrogate.MODEL_NAMES``; ``circuit``: the exact nonlinear network).
        spice_check_images: test images (the first ones of the seeded choice, as
            ``pick_test_images`` draws them) on which ``spice`` (ngspice on every tile
            read) runs in the loop beside the reference, to show that the reference
            gives SPICE's layer outputs and predictions; 0 disables the SPICE
            cross-check. Must be 0 when ``reference`` is ``spice`` itself, and at most
            the number of test images the reference runs on (checked by the stage, which
            knows the test split's size, so that other stages are not held to it).

    Every name is checked here, before any SPICE run.
    """

    enabled: bool = True
    net: str = "digits_mlp"
    models: tuple[str, ...] = ("ideal", "analytical", "analytical_device", "geniex")
    reference: str = "circuit"
    spice_check_images: int = 8

    def __post_init__(self) -> None:
        from functional_sim.nets import NETS
        from surrogate import MODEL_NAMES

        own = "GroundTruthConfig"
        if not isinstance(self.enabled, bool):
            raise ConfigError(f"{own}.enabled must be true/false, got {self.enabled!r}")
        if isinstance(self.models, str) or not isinstance(self.models, (list, tuple)):
            raise ConfigError(f"{own}.models must be a list of model names, got {self.models!r}")
        object.__setattr__(self, "models", tuple(self.models))
        for model in self.models:
            _check_choice(own, "models", model, MODEL_NAMES)
        _check_choice(own, "reference", self.reference, MODEL_NAMES)
        _check_choice(own, "net", self.net, tuple(sorted(NETS)))
        _check_int(own, "spice_check_images", self.spice_check_images, 0)
        if self.reference == "spice" and self.spice_check_images:
            raise ConfigError(f"{own}.spice_check_images must be 0 when reference is 'spice' "
                              f"(the reference is ngspice already), got "
                              f"{self.spice_check_images!r}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["models"] = list(self.models)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "GroundTruthConfig":
        if isinstance(data, Mapping) and "n_images" in data:
            raise ConfigError("GroundTruthConfig.n_images is no longer a key: the reference "
                              "runs on functional_sim.test_subset images and SPICE on "
                              "spice_check_images of them")
        _reject_unknown("GroundTruthConfig", data, {f.name for f in fields(cls)})
        return cls(**data)


@dataclass(frozen=True)
class WorkloadConfig:
    """The ``functional_sim.workload`` section: SPICE datasets of the reads a trained
    network actually puts on its tiles (stage ``workload_data``).

    For every read voltage of the study, ``pool_size`` reads are drawn uniformly from
    all the (V, G) reads that network ``net`` (``ideal`` crossbars) makes on ``images``
    of its training images. The pool is split by content into a train and a test pool
    (a read's exact (V, G) lies in one of them only, in the proportion of
    ``train_samples`` to ``test_samples``); the two SPICE sweeps draw from them.

    Attributes:
        net: a study network (``functional_sim.nets.NETS``), loaded from ``nets_dir``.
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
        from functional_sim.nets import NETS

        own = "WorkloadConfig"
        _check_choice(own, "net", self.net, tuple(sorted(NETS)))
        for name in ("images", "pool_size", "train_samples", "test_samples"):
            _check_int(own, name, getattr(self, name), 1)
        for name in ("seed", "chunk_size", "workers"):
            _check_int(own, name, getattr(self, name), 0)
        if self.pool_size < self.train_samples + self.test_samples:
            raise ConfigError(f"{own}.pool_size must be >= train_samples + test_samples "
                              f"({self.train_samples + self.test_samples}), got {self.pool_size!r}")
        for name in ("pool_dir", "out_dir"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{own}.{name} must be a directory path, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "WorkloadConfig":
        _reject_unknown("WorkloadConfig", data, {f.name for f in fields(cls)})
        return cls(**data)


@dataclass(frozen=True)
class StudyConfig:
    """The whole ``functional_sim`` section of params.yaml.

    Attributes:
        crossbar_model: the model of the headline figure.
        models: the crossbar models compared (``ideal`` is always added).
        voltages: read voltages (V); each sets the tile spec's ``v_read_max``.
        test_subset: test images scored per network (0 = the whole test split).
        batch_size: images per forward pass in the study.
        nets_dir, geniex_dir: where trained networks and GENIEx checkpoints live.
        sim: the mapping (bit widths, schemes); its spec comes from ``crossbar``.
        train: how the networks are trained.
        ground_truth: the ground-truth stage (reference model over the test
            subset, SPICE cross-check on a few images).
        workload: the ``workload_data`` stage's section; ``None`` where params.yaml has
            none (:attr:`workload_config` then gives the defaults).
        seed: seeds the train/test splits and the test subset.
    """

    crossbar_model: str = "analytical"
    models: tuple[str, ...] = ("analytical", "geniex")
    voltages: tuple[float, ...] = (0.25, 0.5)
    test_subset: int = 500
    batch_size: int = 100
    nets_dir: str = "models/nets"
    geniex_dir: str = "models/geniex"
    seed: int = 0
    sim: SimConfig = field(default_factory=SimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    ground_truth: GroundTruthConfig = field(default_factory=GroundTruthConfig)
    workload: WorkloadConfig | None = None

    def __post_init__(self) -> None:
        from surrogate import MODEL_NAMES

        own = "StudyConfig"
        object.__setattr__(self, "models", tuple(self.models))
        for model in (self.crossbar_model, *self.models):
            _check_choice(own, "crossbar_model" if model == self.crossbar_model else "models",
                          model, MODEL_NAMES)
        volts = []
        for v in self.voltages:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
                raise ConfigError(f"{own}.voltages must be positive numbers, got {v!r}")
            volts.append(float(v))
        object.__setattr__(self, "voltages", tuple(volts))
        _check_int(own, "test_subset", self.test_subset, 0)
        _check_int(own, "batch_size", self.batch_size, 1)
        _check_int(own, "seed", self.seed, 0)
        if isinstance(self.sim, Mapping):
            _reject_unknown(f"{own}.sim", self.sim, set(SIM_PARAM_KEYS))
            object.__setattr__(self, "sim", SimConfig(**self.sim))
        if isinstance(self.train, Mapping):
            object.__setattr__(self, "train", TrainConfig.from_dict(self.train))
        if isinstance(self.ground_truth, Mapping):
            object.__setattr__(self, "ground_truth", GroundTruthConfig.from_dict(self.ground_truth))
        if isinstance(self.workload, Mapping):
            object.__setattr__(self, "workload", WorkloadConfig.from_dict(self.workload))
        elif self.workload is not None and not isinstance(self.workload, WorkloadConfig):
            raise ConfigError(f"{own}.workload needs a mapping, got {self.workload!r}")

    @property
    def workload_config(self) -> WorkloadConfig:
        """The ``workload`` section, or its defaults where params.yaml has none."""
        return self.workload if self.workload is not None else WorkloadConfig()

    @property
    def all_models(self) -> tuple[str, ...]:
        """``ideal``, the listed models and the headline model, each once, in order."""
        out: list[str] = []
        for name in ("ideal", *self.models, self.crossbar_model):
            if name not in out:
                out.append(name)
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        """The params.yaml section; inverse of :meth:`from_dict` (``workload`` only
        where it was given)."""
        data = {
            "crossbar_model": self.crossbar_model,
            "models": list(self.models),
            "voltages": list(self.voltages),
            "test_subset": self.test_subset,
            "batch_size": self.batch_size,
            "nets_dir": self.nets_dir,
            "geniex_dir": self.geniex_dir,
            "seed": self.seed,
            "sim": self.sim.param_dict(),
            "train": self.train.to_dict(),
            "ground_truth": self.ground_truth.to_dict(),
        }
        if self.workload is not None:
            data["workload"] = self.workload.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "StudyConfig":
        _reject_unknown("StudyConfig", data, {f.name for f in fields(cls)})
        return cls(**data)
