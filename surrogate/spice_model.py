"""The SPICE crossbar model: ngspice itself, through ``datagen.simulate``.

Ground truth for small cases: ``prepare`` keeps the conductances, ``mvm`` broadcasts
them against the inputs, flattens the batch and runs every (v, g) sample in ngspice,
but for inputs with no drive (every row 0 V), whose currents are 0 without asking.
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
    uses_sinh_a = True

    def __init__(self, spec: CrossbarSpec, **simulate_kwargs: Any) -> None:
        super().__init__(spec)
        self.simulate_kwargs = simulate_kwargs

    def prepare(self, g: torch.Tensor, sinh_a: torch.Tensor | None = None
                ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``g`` (or ``(g, sinh_a)`` with each sinh device's own nonlinearity, 1/V)."""
        return g if sinh_a is None else (g, sinh_a)

    def mvm(self, prepared: torch.Tensor | tuple[torch.Tensor, torch.Tensor],
            v: torch.Tensor) -> torch.Tensor:
        from datagen import simulate  # datagen sits above surrogate only at run time

        g, sinh_a = prepared if isinstance(prepared, tuple) else (prepared, None)
        r, c = self.spec.rows, self.spec.cols
        lead = torch.broadcast_shapes(v.shape[:-1], g.shape[:-2])

        def flat(t: torch.Tensor) -> np.ndarray:
            return t.expand(*lead, r, c).reshape(-1, r, c).detach().cpu().numpy().astype(np.float64)

        vb = v.expand(*lead, r).reshape(-1, r).detach().cpu().numpy().astype(np.float64)
        if len(vb) == 0:
            return torch.zeros(*lead, c, dtype=v.dtype, device=v.device)
        kwargs = dict(self.simulate_kwargs)
        gb = flat(g)
        # an input vector with no drive (every row 0 V) carries no current: not simulated
        busy = np.flatnonzero(np.any(vb != 0, axis=1))
        if sinh_a is not None:
            kwargs["sinh_a"] = flat(sinh_a)[busy]
        i = np.zeros((len(vb), c))
        if len(busy):
            i[busy] = simulate(self.spec, vb[busy], gb[busy], **kwargs)
        dtype = torch.promote_types(v.dtype, g.dtype)
        return torch.from_numpy(i).reshape(*lead, c).to(device=v.device, dtype=dtype)
