"""Saving, loading and scoring the study's networks.

A net file carries the SHA-256 of its weights and is refused, naming the file and the
fix, when it is damaged (torch reads overwritten weight bytes back without a word).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from functional_sim.studies.nets import build
from surrogate.checkpoint import state_checksum


#: the format tag of a net file (files without one, written before it existed, load
#: without the checksum check)
NET_FORMAT = "study-net/1"

_RETRAIN = ("retrain it with `dvc repro train_nets` (or `python -m "
            "functional_sim.studies.train_nets --params params.yaml`)")


class NetFileError(ValueError):
    """A saved network cannot be used: the file is empty, truncated, damaged or
    tampered with, or not a network file. The message names the file and the fix."""


def save_net(path: str | Path, name: str, net: nn.Module, **meta: Any) -> None:
    """Write a network's name, state dict, metadata (e.g. its float accuracy) and the
    SHA-256 of its weights (:func:`surrogate.checkpoint.state_checksum`); the file
    appears whole or not at all (written beside it, then renamed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    payload = {"format": NET_FORMAT, "name": name, "state_dict": state, "meta": meta,
               "state_sha256": state_checksum(state)}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def _read_net_file(path: Path) -> dict[str, Any]:
    """The checked contents of a net file (see :func:`load_net`)."""
    if not path.exists():
        raise FileNotFoundError(f"network file {path} does not exist; train it with "
                                f"`dvc repro train_nets` (functional_sim.train.nets names "
                                f"the networks, functional_sim.nets_dir where they go)")
    if not path.is_file() or path.stat().st_size == 0:
        raise NetFileError(f"network file {path} is {'empty' if path.is_file() else 'not a file'}; "
                           f"{_RETRAIN}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:            # torch raises a different type per kind of damage
        cause = (str(exc).strip().splitlines() or [""])[0][:160]
        raise NetFileError(f"network file {path} cannot be read: it is truncated or damaged, "
                           f"or not a torch file ({type(exc).__name__}: {cause}); "
                           f"{_RETRAIN}") from exc
    if not isinstance(blob, dict) or not isinstance(blob.get("name"), str) \
            or not isinstance(blob.get("state_dict"), dict):
        raise NetFileError(f"network file {path} is not a saved study network (no name or "
                           f"state dict): it is damaged; {_RETRAIN}")
    if "state_sha256" in blob and state_checksum(blob["state_dict"]) != blob["state_sha256"]:
        raise NetFileError(f"network file {path}: its weights do not match their checksum: it "
                           f"is damaged or was changed after training; {_RETRAIN}")
    return blob


def load_net(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """A network saved by :func:`save_net`, in eval mode, and its metadata.

    Raises:
        FileNotFoundError: nothing at ``path``.
        NetFileError: the file is empty, truncated, damaged, its weights do not match
            their checksum, or they do not fit the named network; the message names the
            file and how to make a good one.
    """
    path = Path(path)
    blob = _read_net_file(path)
    try:
        net = build(blob["name"])
    except (KeyError, ValueError) as exc:
        raise NetFileError(f"network file {path} names an unknown network "
                           f"{blob['name']!r}: it is damaged; {_RETRAIN}") from exc
    try:
        net.load_state_dict(blob["state_dict"])
    except (RuntimeError, KeyError, TypeError) as exc:
        raise NetFileError(f"network file {path}: its weights do not fit {blob['name']} "
                           f"({' '.join(str(exc).split())[:200]}); {_RETRAIN}") from exc
    return net.eval(), dict(blob.get("meta", {}))


@torch.no_grad()
def predict(net: nn.Module, x: torch.Tensor, batch_size: int = 256,
            device: str | torch.device = "cpu") -> torch.Tensor:
    """Predicted classes for images ``x``, batch by batch, on ``device``."""
    net = net.to(device).eval()
    preds = [net(x[i:i + batch_size].to(device)).argmax(dim=1).cpu()
             for i in range(0, len(x), batch_size)]
    return torch.cat(preds) if preds else torch.zeros(0, dtype=torch.int64)


def top1(net: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 256,
         device: str | torch.device = "cpu") -> float:
    """Top-1 accuracy (fraction in [0, 1])."""
    return float((predict(net, x, batch_size, device) == y).double().mean())
