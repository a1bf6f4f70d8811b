"""Reading the study's parameters: the ``functional_sim`` and ``crossbar`` sections of
params.yaml, and the paths of trained networks and GENIEx checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import yaml

from functional_sim.config import StudyConfig
from spice_netlists import CrossbarSpec, load_spec_from_params


def read_params(path: str | Path) -> dict[str, Any]:
    """The parsed params file."""
    return yaml.safe_load(Path(path).read_text()) or {}


def study_config(params: Mapping[str, Any]) -> StudyConfig:
    """The ``functional_sim`` section (defaults where it is absent)."""
    return StudyConfig.from_dict(params.get("functional_sim", {}))


def base_spec(params: Mapping[str, Any]) -> CrossbarSpec:
    """The tile spec of the ``crossbar`` section (the default spec where it is absent)."""
    return load_spec_from_params(params) if "crossbar" in params else CrossbarSpec()


def net_path(cfg: StudyConfig, name: str) -> Path:
    """Where network ``name`` is saved: <nets_dir>/<name>.pt."""
    return Path(cfg.nets_dir) / f"{name}.pt"


def geniex_checkpoint(cfg: StudyConfig, spec: CrossbarSpec) -> Path:
    """The GENIEx checkpoint of a tile spec: ``<geniex_dir>/<spec.tag>.pt``, e.g.
    ``models/geniex/32x32_sinh_0.25V.pt`` (the tag of its training datasets too)."""
    return Path(cfg.geniex_dir) / f"{spec.tag}.pt"
