"""GENIEx checkpoints: weights, normalisation, config, spec and data identity.

A checkpoint is one ``torch.save`` file holding only tensors and plain types (dict,
list, str, float, int), read back with ``torch.load(weights_only=True)``: loading never
unpickles arbitrary objects. Loading compares the checkpoint's :class:`CrossbarSpec`
with the spec in use and refuses a mismatch, naming the differing fields. A checkpoint
whose config has no ``baseline`` (written before the option existed) loads with
``baseline: analytical``, the baseline it was trained on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch

from spice_netlists import CrossbarSpec
from surrogate.geniex import GeniexConfig, GeniexModel, GeniexNet, Normalisation

FORMAT = "geniex-checkpoint/1"


class SpecMismatchError(ValueError):
    """A checkpoint was trained for different crossbar physics than the spec in use."""


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def spec_differences(saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """``field: saved != current`` for every field where two spec dicts differ."""
    a, b = _flatten(saved), _flatten(current)
    return [f"{k}: checkpoint {a.get(k)!r} != current {b.get(k)!r}"
            for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def save_geniex(model: GeniexModel, path: str | Path, metrics: Mapping[str, float] | None = None) -> None:
    """Write ``model`` to ``path`` (parent folders are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "state": {k: v.detach().cpu().clone() for k, v in model.net.state_dict().items()},
        "config": model.config.to_dict(),
        "normalisation": model.norm.to_dict(),
        "spec": model.spec.to_dict(),
        "data_identity": model.data_identity,
        "metrics": {k: float(v) for k, v in (metrics or {}).items()},
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint's contents as plain types and tensors (safe load)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"GENIEx checkpoint {path} does not exist "
                                f"(train one with `python -m surrogate.train`)")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path} is not a GENIEx checkpoint ({FORMAT})")
    return payload


def load_geniex(path: str | Path, spec: CrossbarSpec | None = None) -> GeniexModel:
    """The model saved at ``path``.

    If ``spec`` is given it must equal the checkpoint's spec; otherwise
    :class:`SpecMismatchError` names the differing fields.
    """
    payload = read_checkpoint(path)
    saved = CrossbarSpec.from_dict(payload["spec"])
    if spec is not None:
        diffs = spec_differences(saved.to_dict(), spec.to_dict())
        if diffs:
            raise SpecMismatchError(f"GENIEx checkpoint {path} was trained for a different "
                                    f"crossbar; differing fields: " + "; ".join(diffs))
    # checkpoints written before GeniexConfig.baseline existed used the linear baseline
    config = GeniexConfig.from_dict({"baseline": "analytical", **payload["config"]})
    net = GeniexNet(saved.rows, saved.cols, config.hidden)
    net.load_state_dict(payload["state"])
    return GeniexModel(saved, config, net, Normalisation.from_dict(payload["normalisation"]),
                       data_identity=str(payload.get("data_identity", "")))
