"""GENIEx checkpoints: weights, normalisation, config, spec and data identity.

A checkpoint is one ``torch.save`` file holding only tensors and plain types (dict,
list, str, float, int), read back with ``torch.load(weights_only=True)``: loading never
unpickles arbitrary objects. Loading compares the checkpoint's :class:`CrossbarSpec`
with the spec in use and refuses a mismatch, naming the differing fields. A checkpoint
whose config has no ``baseline`` (written before the option existed) loads with
``baseline: analytical``, the baseline it was trained on.

Every checkpoint carries a SHA-256 of its weights (``state_sha256``), checked on
reading: torch reads overwritten tensor bytes back without a word (as NaN or any other
number), while damage to the small pickled part (config, spec, normalisation) makes
torch's reader fail. A file that is empty, truncated, overwritten, not a torch file,
missing entries or holding weights that do not fit its network raises
:class:`CheckpointError` naming its path and how to make a good one (checkpoints
written before the checksum existed load without that check).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Mapping

import torch

from spice_netlists import CrossbarSpec
from surrogate.geniex import GeniexConfig, GeniexModel, Normalisation, make_net

FORMAT = "geniex-checkpoint/1"

#: the entries a checkpoint cannot do without (``data_identity``, ``metrics`` and the
#: weights' ``state_sha256`` are read where present)
REQUIRED = ("format", "state", "config", "normalisation", "spec")

_RETRAIN = "retrain it with `python -m surrogate.stages.train` (or `dvc repro surrogate_train`)"


class CheckpointError(ValueError):
    """A GENIEx checkpoint cannot be used: it is empty, truncated or damaged, not a
    GENIEx checkpoint, or inconsistent. The message names its path."""


class SpecMismatchError(CheckpointError):
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


def state_checksum(state: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 (hex) of a network's weights: each tensor by name, dtype, shape and
    bytes, in name order."""
    h = hashlib.sha256()
    for key, value in sorted(state.items()):
        t = value.detach().cpu().contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def save_geniex(model: GeniexModel, path: str | Path, metrics: Mapping[str, float] | None = None) -> None:
    """Write ``model`` to ``path`` (parent folders are created), with its weights'
    :func:`state_checksum`; the file appears whole or not at all (written beside it,
    then renamed)."""
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
    payload["state_sha256"] = state_checksum(payload["state"])
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint's contents as plain types and tensors (safe load), checked.

    Raises:
        FileNotFoundError: nothing at ``path``.
        CheckpointError: ``path`` is a directory, an empty file, a file torch cannot
            read (truncated, damaged, not a torch file), not a GENIEx checkpoint,
            missing entries, or weights that do not match their checksum; the message
            names the path.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"GENIEx checkpoint {path} does not exist "
                                f"(train one with `python -m surrogate.stages.train`)")
    if not path.is_file():
        raise CheckpointError(f"GENIEx checkpoint {path} is not a file; pass the .pt file "
                              f"of one crossbar, e.g. models/geniex/<tag>.pt")
    if path.stat().st_size == 0:
        raise CheckpointError(f"GENIEx checkpoint {path} is empty (0 bytes), perhaps from an "
                              f"interrupted copy; {_RETRAIN}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:            # torch raises a different type per kind of damage
        cause = (str(exc).strip().splitlines() or [""])[0][:160]
        raise CheckpointError(f"GENIEx checkpoint {path} cannot be read: it is truncated or "
                              f"damaged, or not a torch file ({type(exc).__name__}: "
                              f"{cause}); {_RETRAIN}") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a GENIEx checkpoint ({FORMAT}); {_RETRAIN}")
    missing = [key for key in REQUIRED if key not in payload]
    if missing:
        raise CheckpointError(f"GENIEx checkpoint {path} lacks {', '.join(sorted(missing))}: "
                              f"it is damaged; {_RETRAIN}")
    state = payload["state"]
    if not isinstance(state, Mapping) or not all(isinstance(t, torch.Tensor)
                                                 for t in state.values()):
        raise CheckpointError(f"GENIEx checkpoint {path}: its state is not a mapping of "
                              f"tensors: it is damaged; {_RETRAIN}")
    if "state_sha256" in payload and state_checksum(state) != payload["state_sha256"]:
        raise CheckpointError(f"GENIEx checkpoint {path}: its weights do not match their "
                              f"checksum: it is damaged (overwritten bytes); {_RETRAIN}")
    return payload


def load_geniex(path: str | Path, spec: CrossbarSpec | None = None) -> GeniexModel:
    """The model saved at ``path``.

    If ``spec`` is given it must equal the checkpoint's spec; otherwise
    :class:`SpecMismatchError` names the differing fields. A damaged or inconsistent
    file raises :class:`CheckpointError` naming ``path`` (see :func:`read_checkpoint`).
    """
    payload = read_checkpoint(path)
    try:
        saved = CrossbarSpec.from_dict(payload["spec"])
        # checkpoints written before GeniexConfig.baseline existed used the linear baseline
        config = GeniexConfig.from_dict({"baseline": "analytical", **payload["config"]})
        norm = Normalisation.from_dict(payload["normalisation"])
    except (ValueError, TypeError, KeyError) as exc:
        raise CheckpointError(f"GENIEx checkpoint {path} holds an invalid spec, config or "
                              f"normalisation ({exc}); {_RETRAIN}") from exc
    if spec is not None:
        diffs = spec_differences(saved.to_dict(), spec.to_dict())
        if diffs:
            raise SpecMismatchError(f"GENIEx checkpoint {path} was trained for a different "
                                    f"crossbar; differing fields: " + "; ".join(diffs))
    net = make_net(config, saved.rows, saved.cols)
    try:
        net.load_state_dict(payload["state"])
    except (RuntimeError, KeyError, TypeError) as exc:
        raise CheckpointError(f"GENIEx checkpoint {path}: its weights do not fit a "
                              f"{saved.rows}x{saved.cols} {config.arch} network with hidden layers "
                              f"{config.hidden} ({' '.join(str(exc).split())[:300]}); "
                              f"{_RETRAIN}") from exc
    return GeniexModel(saved, config, net, norm,
                       data_identity=str(payload.get("data_identity", "")))
