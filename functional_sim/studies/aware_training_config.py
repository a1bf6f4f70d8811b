"""Configuration of non-ideality-aware fine-tuning: ``functional_sim.aware_training``
(stage ``aware_training``, :mod:`functional_sim.studies.aware_training`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from functional_sim.sim.nonideal_config import NonidealConfig
from functional_sim.studies.nets import check_net_name
from spice_netlists.config import (ConfigError, ConfigSection, check_bool,
                                   check_int, check_number, check_str, check_str_list)

__all__ = ["AwareTrainingConfig", "merge_nonideal"]


def merge_nonideal(base: NonidealConfig, overrides: Mapping[str, Any], path: str = "") -> NonidealConfig:
    """``base`` with the nested ``overrides`` (``{stuck: {on_rate: 0.01}}``) laid over it,
    checked; an unknown key or a bad value is a :class:`ConfigError` at ``path``."""
    data = base.to_dict()

    def lay(node: dict, over: Mapping[str, Any], where: str) -> None:
        for key, value in over.items():
            if key not in node:
                raise ConfigError(f"{where}.{key}" if where else key,
                                  f": no such field of functional_sim.sim.nonideal; known: "
                                  f"{sorted(node)}")
            if isinstance(value, Mapping) and isinstance(node[key], dict):
                lay(node[key], value, f"{where}.{key}" if where else key)
            else:
                node[key] = value

    try:
        lay(data, overrides, "")
        return NonidealConfig.from_dict(data)
    except ConfigError as err:
        raise err.under(path) from None


@dataclass(frozen=True)
class AwareTrainingConfig(ConfigSection):
    """``functional_sim.aware_training``: fine-tune a trained network through the
    bit-sliced simulator with a crossbar model in the forward pass, and judge it by the
    exact model.

    Attributes:
        enabled: run the stage; when false it writes ``{"enabled": false}`` only.
        net: the network fine-tuned (``functional_sim.studies.nets.NETS``), loaded from
            ``functional_sim.nets_dir``.
        setting: the label of the study setting it runs at (one of
            ``functional_sim.settings``); empty: the last setting.
        models: the crossbar models put in the forward pass, one fine-tuning each
            (``analytical_device``, ``geniex``, ``circuit``, … : names the study accepts).
        reference: the exact model every network is judged by (``circuit``), on the
            study's whole test subset, before and after every epoch.
        nonideal: overrides of ``functional_sim.sim.nonideal`` (nested, e.g.
            ``{stuck: {on_rate: 0.01}}``): the hardware the network is judged on, seeded
            as there, so every model sees the same devices.
        train_nonideal: whether the fine-tuning forward passes see those non-idealities
            too (the same devices); false: only the crossbar model's own.
        epochs: fine-tuning epochs per model.
        train_images: training images used (the first of the seeded training split;
            0: all).
        batch_size: images per optimiser step.
        lr: Adam's learning rate (> 0).
        seed: seeds the batch order.
        out_dir: where the fine-tuned networks go: ``<out_dir>/<net>__<model>.pt``.
    """

    enabled: bool = True
    net: str = "digits_mlp"
    setting: str = ""
    models: tuple[str, ...] = ("analytical_device", "geniex")
    reference: str = "circuit"
    nonideal: dict = field(default_factory=lambda: {"stuck": {"on_rate": 0.01}})
    train_nonideal: bool = True
    epochs: int = 4
    train_images: int = 1000
    batch_size: int = 50
    lr: float = 5e-4
    seed: int = 0
    out_dir: str = "models/aware"

    def __post_init__(self) -> None:
        check_bool("enabled", self.enabled)
        check_net_name("net", self.net)
        check_str("setting", self.setting)
        object.__setattr__(self, "models", check_str_list("models", self.models))
        if not self.models:
            raise ConfigError("models", "must name at least one crossbar model")
        check_str("reference", self.reference, nonempty=True)
        if not isinstance(self.nonideal, Mapping):
            raise ConfigError("nonideal", f"must be a mapping of functional_sim.sim.nonideal "
                                          f"overrides, got {self.nonideal!r}")
        merge_nonideal(NonidealConfig(), self.nonideal, "nonideal")
        object.__setattr__(self, "nonideal", dict(self.nonideal))
        check_bool("train_nonideal", self.train_nonideal)
        check_int("epochs", self.epochs, 1)
        check_int("train_images", self.train_images, 0)
        check_int("batch_size", self.batch_size, 1)
        object.__setattr__(self, "lr", check_number("lr", self.lr, positive=True))
        check_int("seed", self.seed, 0)
        check_str("out_dir", self.out_dir, nonempty=True)
