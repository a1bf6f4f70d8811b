"""Configuration of the sensitivity study: ``functional_sim.sensitivity`` (stage
``sensitivity``, :mod:`functional_sim.studies.sensitivity`).

Each sweep varies one field of ``functional_sim.sim.nonideal`` (a dotted path such as
``programming.sigma``) over a list of values, the other fields as params.yaml sets
them; every value is checked as that field would be, before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from functional_sim.sim.nonideal_config import NonidealConfig
from functional_sim.sim.tile_layout import MAPPINGS
from functional_sim.studies.nets import check_net_name
from spice_netlists.config import (ConfigError, ConfigSection, check_bool,
                                   check_int, check_names, check_str, check_str_list,
                                   join_path)

__all__ = ["SweepConfig", "SensitivityConfig", "DEFAULT_SWEEPS"]


@dataclass(frozen=True)
class SweepConfig(ConfigSection):
    """One axis of the sensitivity study.

    Attributes:
        path: the field of ``functional_sim.sim.nonideal`` it varies, dotted
            (``programming.sigma``, ``stuck.on_rate``, ``drift.t_s``).
        values: the values the field takes, in plot order (at least one).
        log_x: plot the values on a logarithmic axis (e.g. drift times).
    """

    path: str = "programming.sigma"
    values: tuple[float, ...] = (0.0,)
    log_x: bool = False

    def __post_init__(self) -> None:
        check_str("path", self.path, nonempty=True)
        if isinstance(self.values, (str, Mapping)) or not isinstance(self.values, (list, tuple)) \
                or not self.values:
            raise ConfigError("values", f"must be a non-empty list of values, got {self.values!r}")
        object.__setattr__(self, "values", tuple(self.values))
        check_bool("log_x", self.log_x)
        fields_ = NonidealConfig().to_dict()
        node: Any = fields_
        for key in self.path.split("."):
            if not isinstance(node, dict) or key not in node:
                raise ConfigError("path", f"must name a field of functional_sim.sim.nonideal "
                                          f"(e.g. programming.sigma), got {self.path!r}")
            node = node[key]
        if isinstance(node, dict):
            raise ConfigError("path", f"names a section, not a field: {self.path!r}")
        base = NonidealConfig()
        for k, value in enumerate(self.values):
            try:
                base.with_overrides({self.path: value})
            except ConfigError as err:
                raise ConfigError(f"values[{k}]", f"is not a valid {self.path}: {err}") from None

    def nonideal(self, base: NonidealConfig, value: Any) -> NonidealConfig:
        """``base`` with this sweep's field at ``value``."""
        return base.with_overrides({self.path: value})


#: params.yaml's default sweeps: programming σ 0–20 %, stuck-at faults 0–5 %, the spread of
#: the sinh nonlinearity 0–40 %, drift 1 s–1 year
DEFAULT_SWEEPS: dict[str, dict[str, Any]] = {
    "programming_sigma": {"path": "programming.sigma", "values": [0.0, 0.025, 0.05, 0.1, 0.2]},
    "stuck_on_rate": {"path": "stuck.on_rate", "values": [0.0, 0.005, 0.01, 0.02, 0.05]},
    "stuck_off_rate": {"path": "stuck.off_rate", "values": [0.0, 0.005, 0.01, 0.02, 0.05]},
    "sinh_a_spread": {"path": "sinh_a_spread", "values": [0.0, 0.1, 0.2, 0.4]},
    "drift_t_s": {"path": "drift.t_s", "values": [1.0, 3600.0, 86400.0, 2592000.0, 31536000.0],
                  "log_x": True},
}


@dataclass(frozen=True)
class SensitivityConfig(ConfigSection):
    """``functional_sim.sensitivity``: accuracy against the strength of each
    non-ideality, under exact truth and the cheap models, and MDM against identity.

    Attributes:
        enabled: run the stage; when false it writes ``{"enabled": false}`` only.
        net: the network (``functional_sim.studies.nets.NETS``), loaded from
            ``functional_sim.nets_dir``.
        images: test images (the first of the study's seeded test subset).
        setting: the label of the study setting it runs at (``32x32/sinh/Ron100k/0.5V``,
            one of ``functional_sim.settings``); empty: the last setting.
        reference: the exact model every point is run through (``circuit``).
        models: the cheap models run beside it (names the study accepts).
        seeds: the ``nonideal.seed`` of each draw; each point's accuracy is the mean
            over them (and their spread is reported when there are several).
        sweeps: name -> one axis (:class:`SweepConfig`).
        mappings: the tile layouts compared at params.yaml's non-idealities, with the
            NF of every layer (:mod:`functional_sim.sim.nf`); the first is the baseline.
    """

    enabled: bool = True
    net: str = "digits_mlp"
    images: int = 120
    setting: str = ""
    reference: str = "circuit"
    models: tuple[str, ...] = ("ideal", "analytical", "analytical_device", "analytical_cell",
                               "geniex")
    seeds: tuple[int, ...] = (0,)
    sweeps: dict = field(  # name -> SweepConfig (a plain dict hint: built here)
        default_factory=lambda: {k: SweepConfig.from_dict(v) for k, v in DEFAULT_SWEEPS.items()})
    mappings: tuple[str, ...] = ("identity", "mdm", "mdm_activity")

    def __post_init__(self) -> None:
        check_bool("enabled", self.enabled)
        check_net_name("net", self.net)
        check_int("images", self.images, 1)
        check_str("setting", self.setting)
        check_str("reference", self.reference, nonempty=True)
        object.__setattr__(self, "models", check_str_list("models", self.models))
        if isinstance(self.seeds, (str, Mapping)) or not isinstance(self.seeds, (list, tuple)) \
                or not self.seeds:
            raise ConfigError("seeds", f"must be a non-empty list of seeds, got {self.seeds!r}")
        object.__setattr__(self, "seeds", tuple(check_int(f"seeds[{k}]", s, 0)
                                                for k, s in enumerate(self.seeds)))
        if not isinstance(self.sweeps, Mapping):
            raise ConfigError("sweeps", f"must be a mapping of name -> sweep, got {self.sweeps!r}")
        sweeps = {}
        for name, sweep in self.sweeps.items():
            check_str("sweeps", name, nonempty=True)
            sweeps[name] = sweep if isinstance(sweep, SweepConfig) else \
                SweepConfig.from_dict(sweep, join_path("sweeps", name))
        object.__setattr__(self, "sweeps", sweeps)
        object.__setattr__(self, "mappings", check_names("mappings", self.mappings, tuple(MAPPINGS),
                                                    "tile layouts"))
        if not self.mappings:
            raise ConfigError("mappings", "must name at least one tile layout (identity)")
