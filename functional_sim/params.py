"""Reading the study's parameters: the ``functional_sim`` and ``crossbar`` sections of
params.yaml, and the paths of trained networks and GENIEx checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from functional_sim.config import StudyConfig
from spice_netlists import CrossbarSpec, load_spec_from_params
from spice_netlists.config import ConfigError, section
from spice_netlists.config import read_params as _read_params_file


def read_params(path: str | Path) -> dict[str, Any]:
    """The parsed params file: a non-empty mapping of sections.

    Raises:
        spice_netlists.config.ConfigError: the file is missing, not YAML, empty or not
            a mapping; the message names it.
    """
    return _read_params_file(path)


def study_config(params: Mapping[str, Any]) -> StudyConfig:
    """The ``functional_sim`` section (defaults where it is absent or empty).

    Raises:
        spice_netlists.config.ConfigError: the section is not a mapping (named).
        functional_sim.config.ConfigError: a value of the section is bad.
    """
    data = section(params, "functional_sim")
    if not isinstance(data, Mapping):
        raise ConfigError("functional_sim", f"must be a mapping of settings, got {data!r}")
    return StudyConfig.from_dict(data)


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


def geniex_checkpoint(cfg: StudyConfig, spec: CrossbarSpec) -> Path:
    """The GENIEx checkpoint of a tile spec: ``<geniex_dir>/<spec.tag>.pt``, e.g.
    ``models/geniex/32x32_sinh_0.25V.pt`` (the tag of its training datasets too)."""
    return Path(cfg.geniex_dir) / f"{spec.tag}.pt"
