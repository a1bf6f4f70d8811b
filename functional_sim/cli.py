"""What the functional simulator's stage CLIs share: ``--params`` and ``--device``, and
reading the study (its config and tile settings) from the params file."""

from __future__ import annotations

import argparse

import torch

from functional_sim.config import StudyConfig, read_params, study_config, study_specs
from spice_netlists import CrossbarSpec

__all__ = ["add_study_arguments", "resolve_device", "read_study"]


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
