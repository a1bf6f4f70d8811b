"""The crossbar models the benchmarks time: every model by name, with GENIEx from the
spec's checkpoint where one exists, else an untrained network of the same shape (it
costs the same; the note says which)."""

from __future__ import annotations

from functional_sim.studies.config import StudyConfig, geniex_checkpoint
from spice_netlists import CrossbarSpec
from surrogate import make_model
from surrogate.base import CrossbarModel
from surrogate.geniex import GeniexConfig, GeniexModel, GeniexNet, Normalisation

__all__ = ["timing_model"]


def timing_model(cfg: StudyConfig, name: str, spec: CrossbarSpec) -> tuple[CrossbarModel, str]:
    """(the model ``name`` at ``spec``, a note on what it is; empty but for GENIEx)."""
    if name != "geniex":
        return make_model(name, spec), ""
    path = geniex_checkpoint(cfg, spec)
    if path.exists():
        return make_model("geniex", spec, path), f"checkpoint {path}"
    gcfg = GeniexConfig()
    net = GeniexNet(spec.rows, spec.cols, gcfg.hidden)
    return (GeniexModel(spec, gcfg, net, Normalisation()),
            f"UNTRAINED GENIEx {gcfg.hidden} ({gcfg.target}), no checkpoint at {path}: timing only")
