"""What the study stages share: ``--params`` and ``--device``, reading the study (its
config and tile settings) from the params file, and building a crossbar model from the
name a config gives it (a GENIEx variant loads its checkpoint), after checking that
every checkpoint a stage needs exists."""

from __future__ import annotations

import argparse
from typing import Iterable

import torch

from functional_sim.studies.config import (StudyConfig, geniex_checkpoint, read_params,
                                           study_config, study_specs)
from spice_netlists import CrossbarSpec
from surrogate import make_model
from surrogate.base import CrossbarModel

__all__ = ["add_study_arguments", "resolve_device", "read_study", "require_checkpoints",
           "study_model"]


def add_study_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--params`` (params.yaml) and ``--device`` (cpu, cuda or auto)."""
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")


def resolve_device(name: str) -> str:
    """``auto``: cuda where torch sees a GPU, else cpu; any other name as given."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def read_study(args: argparse.Namespace) -> tuple[StudyConfig, tuple[CrossbarSpec, ...], str]:
    """(the ``functional_sim`` config, its tile settings, the device) of parsed arguments."""
    params = read_params(args.params)
    cfg = study_config(params)
    return cfg, study_specs(params, cfg), resolve_device(args.device)


def require_checkpoints(cfg: StudyConfig, specs: Iterable[CrossbarSpec],
                        models: Iterable[str]) -> None:
    """Raise :class:`FileNotFoundError` naming every checkpoint that ``models`` (the
    GENIEx variants among them) need at the tile ``specs`` and that does not exist, so
    that a missing one stops a stage before anything expensive runs."""
    needed = [m for m in dict.fromkeys(models) if m in cfg.variants]
    paths = [geniex_checkpoint(cfg, spec, variant) for variant in needed for spec in specs]
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise FileNotFoundError(f"missing GENIEx checkpoint(s) for model(s) {needed}: "
                                f"{', '.join(missing)} (train them with the surrogate stage "
                                f"for these settings, or drop them from the functional_sim "
                                f"models)")


def study_model(cfg: StudyConfig, name: str, spec: CrossbarSpec) -> CrossbarModel:
    """The crossbar model a study names ``name`` at tile ``spec``: a factory of
    ``surrogate.MODEL_NAMES``, or, for a GENIEx variant, the ``geniex`` model with the
    variant's checkpoint (``<models_dir>/<variant>/<tag>.pt``, checked first)."""
    if name not in cfg.variants:
        return make_model(name, spec)
    require_checkpoints(cfg, [spec], [name])
    return make_model("geniex", spec, geniex_checkpoint(cfg, spec, name))
