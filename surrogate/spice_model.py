"""The SPICE crossbar model: ngspice itself, through ``datagen.simulate``.

Ground truth for small cases: ``prepare`` keeps the conductances, ``mvm`` broadcasts
them against the inputs, flattens the batch and runs every (v, g) sample in ngspice.
Samples ngspice cannot solve come back as NaN currents.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from spice_netlists import CrossbarSpec
from surrogate.base import CrossbarModel


class SpiceModel(CrossbarModel):
    """Column currents from ngspice; ``simulate_kwargs`` go to ``datagen.simulate``
    (e.g. ``workers``)."""

    name = "spice"

    def __init__(self, spec: CrossbarSpec, **simulate_kwargs: Any) -> None:
        super().__init__(spec)
        self.simulate_kwargs = simulate_kwargs

    def prepare(self, g: torch.Tensor) -> torch.Tensor:
        return g

    def mvm(self, prepared: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        from datagen import simulate  # datagen sits above surrogate only at run time

        r, c = self.spec.rows, self.spec.cols
        lead = torch.broadcast_shapes(v.shape[:-1], prepared.shape[:-2])
        vb = v.expand(*lead, r).reshape(-1, r).detach().cpu().numpy().astype(np.float64)
        gb = prepared.expand(*lead, r, c).reshape(-1, r, c).detach().cpu().numpy().astype(np.float64)
        if len(vb) == 0:
            return torch.zeros(*lead, c, dtype=v.dtype, device=v.device)
        i = simulate(self.spec, vb, gb, **self.simulate_kwargs)
        dtype = torch.promote_types(v.dtype, prepared.dtype)
        return torch.from_numpy(i).reshape(*lead, c).to(device=v.device, dtype=dtype)
