"""Convert a ``torch.nn.Module`` to run its Linear and Conv2d layers on crossbars.

``convert(module, config, model)`` returns a copy of ``module`` in which every ``nn.Linear`` and
every ``nn.Conv2d`` (groups=1, zero padding) is replaced by its crossbar counterpart
sharing the same parameters; every other module (activations, pooling, batch norm, …)
stays digital and untouched. Conv2d layers that cannot be lowered (grouped, non-zero
padding modes) stay digital too, with a warning. The model is not rewritten: its
``forward`` is unchanged and its state dict keys are the same.
"""

from __future__ import annotations

import copy
import warnings
from typing import Iterator

from torch import nn

from functional_sim.sim.config import SimConfig
from functional_sim.sim.layers import SimConv2d, SimLayer, SimLinear
from surrogate.base import CrossbarModel


def convert(module: nn.Module, config: SimConfig, model: CrossbarModel, *,
            inplace: bool = False) -> nn.Module:
    """``module`` with its Linear/Conv2d layers on simulated crossbars.

    Args:
        module: any network.
        config: the mapping and the tile spec.
        model: the crossbar model every layer computes with (built once, e.g.
            ``surrogate.make_model("analytical", config.spec)``; its spec must be
            ``config.spec``). The layers share it.
        inplace: modify ``module`` itself instead of a deep copy.

    Raises:
        ValueError: the model's spec is not the config's.
    """
    if model.spec != config.spec:
        raise ValueError(f"crossbar model spec {model.spec.label} differs from the config's "
                         f"tile spec {config.spec.label}")
    root = module if inplace else copy.deepcopy(module)
    for name, child in list(root.named_modules()):
        new: nn.Module | None = None
        if isinstance(child, SimLayer):
            continue
        if isinstance(child, nn.Linear):
            new = SimLinear(child, config, model, name)
        elif isinstance(child, nn.Conv2d):
            if child.groups != 1 or child.padding_mode != "zeros" or isinstance(child.padding, str):
                warnings.warn(f"functional_sim.sim.convert: {name} ({child}) stays digital: only "
                              f"groups=1 Conv2d with numeric zero padding is mapped", stacklevel=2)
                continue
            new = SimConv2d(child, config, model, name)
        if new is not None:
            new.train(child.training)
            _replace(root, name, new)
    if isinstance(root, (nn.Linear, nn.Conv2d)) and not isinstance(root, SimLayer):
        root = SimLinear(root, config, model) if isinstance(root, nn.Linear) \
            else SimConv2d(root, config, model)
    return root


def _replace(root: nn.Module, dotted: str, new: nn.Module) -> None:
    if not dotted:
        return
    parent_name, _, leaf = dotted.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, leaf, new)


def sim_layers(module: nn.Module) -> Iterator[tuple[str, SimLayer]]:
    """The crossbar layers of a converted module, with their names."""
    for name, child in module.named_modules():
        if isinstance(child, SimLayer):
            yield name, child


def set_crossbar_model(module: nn.Module, model: CrossbarModel) -> None:
    """Switch every crossbar layer of ``module`` to ``model`` (same tile spec)."""
    for _, layer in sim_layers(module):
        layer.set_model(model)
