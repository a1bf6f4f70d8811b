"""Saving, loading and scoring the study's networks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from functional_sim.studies.nets import build


def save_net(path: str | Path, name: str, net: nn.Module, **meta: Any) -> None:
    """Write a network's name, state dict and metadata (e.g. its float accuracy)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"name": name, "state_dict": net.state_dict(), "meta": meta}, path)


def load_net(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """A network saved by :func:`save_net`, in eval mode, and its metadata."""
    blob = torch.load(Path(path), map_location="cpu", weights_only=True)
    net = build(blob["name"])
    net.load_state_dict(blob["state_dict"])
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
