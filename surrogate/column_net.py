"""A GENIEx network that uses the crossbar's structure: one small network per column,
its weights shared by every column.

The published GENIEx MLP reads the whole tile, ``[G (R·C), V (R)]``, into one hidden
layer and emits all C column corrections at once: ``h·(R·C + R)`` first-layer weights
(2.1 M at 64×64 with 500 units), learned from one sample per tile. A column's current,
though, is decided mostly by that column's own devices, the inputs and how heavily each
row wire is loaded. :class:`ColumnNet` reads exactly that for column j:

* the column's conductances ``g_:j`` (R values, scaled to [0, 1]);
* the row loads ``l_i = mean_j g_ij`` (R values): how much current shares each row wire;
* the column's position (a learned vector per column: its distance from the drivers);
* the inputs ``v`` (R values, scaled by ``v_read_max``);
* the baseline's current of the column, in units of full scale (what physics already
  predicts; the network corrects it);

and returns that column's correction. Every column is a training example for the same
weights, so a dataset of M tiles teaches it with M·C examples.

Cost. Per tile (:meth:`ColumnNet.g_part`): ``h·R`` multiply-adds per column plus ``h·R``
for the row loads. Per MVM (:meth:`ColumnNet.per_input`): ``h·R`` for the inputs, shared
by all columns, then per column the later layers (``h`` for one hidden layer), so about
``h·(R + C)``: the same as the published MLP's per-MVM cost at equal width, with
``3·h·R + h·C`` weights instead of ``h·(R·C + R)``. Inference on the CPU runs the head
in a compiled kernel (:mod:`surrogate.column_kernel`): in torch its (inputs, tiles, C,
h) intermediates made it 18× slower than the MLP.
"""

from __future__ import annotations

import torch
from torch import nn

from surrogate import column_kernel
from surrogate.column_kernel import column_head

__all__ = ["ColumnNet"]


class ColumnNet(nn.Module):
    """Per-column network with shared weights (module docstring); the same interface as
    :class:`surrogate.geniex.GeniexNet` (``g_part``, ``per_input``, ``forward``,
    ``full``, ``macs_per_mvm``)."""

    uses_base = True

    def __init__(self, rows: int, cols: int, hidden: "list[int] | tuple[int, ...]") -> None:
        super().__init__()
        self.rows, self.cols = rows, cols
        h = hidden[0]
        first = nn.Linear(3 * rows + 1, h)               # PyTorch's default init
        w = first.weight.detach()
        self.w_g = nn.Parameter(w[:, :rows].clone())             # the column's conductances
        self.w_l = nn.Parameter(w[:, rows:2 * rows].clone())     # the row loads
        self.w_v = nn.Parameter(w[:, 2 * rows:3 * rows].clone())  # the inputs
        self.w_b = nn.Parameter(w[:, 3 * rows].clone())           # the baseline current
        self.b1 = nn.Parameter(first.bias.detach().clone())
        self.position = nn.Parameter(torch.zeros(cols, h))        # per column, learned
        layers: list[nn.Module] = []
        for a, b in zip(hidden[:-1], hidden[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.later = nn.Sequential(*layers)
        self.out = nn.Linear(hidden[-1], 1)

    def g_part(self, g_scaled: torch.Tensor) -> torch.Tensor:
        """Per-tile pre-activations (..., C, h) from ``g_scaled`` (..., R·C)."""
        g = g_scaled.unflatten(-1, (self.rows, self.cols))
        per_column = torch.matmul(g.transpose(-1, -2), self.w_g.t())          # (..., C, h)
        loads = torch.nn.functional.linear(g.mean(dim=-1), self.w_l, self.b1)  # (..., h)
        return per_column + loads.unsqueeze(-2) + self.position

    def per_input(self, h_g: torch.Tensor, v_scaled: torch.Tensor,
                  base_scaled: torch.Tensor) -> torch.Tensor:
        """Outputs (..., C) from the tiles' :meth:`g_part`, the scaled inputs (..., R)
        and the baseline currents in units of full scale (..., C)."""
        hv = torch.nn.functional.linear(v_scaled, self.w_v)
        if column_kernel.usable(self, h_g, hv):     # inference on CPU: the compiled head
            return column_head(h_g, hv, base_scaled, self.w_b, self.out.weight, self.out.bias)
        pre = h_g + hv.unsqueeze(-2) + base_scaled.unsqueeze(-1) * self.w_b   # (..., C, h)
        return self.out(self.later(torch.relu(pre))).squeeze(-1)

    def forward(self, g_scaled: torch.Tensor, v_scaled: torch.Tensor,
                base_scaled: torch.Tensor) -> torch.Tensor:
        """Outputs (..., C): :meth:`g_part` then :meth:`per_input`."""
        return self.per_input(self.g_part(g_scaled), v_scaled, base_scaled)

    def full(self, g_scaled: torch.Tensor, v_scaled: torch.Tensor,
             base_scaled: torch.Tensor) -> torch.Tensor:
        """The whole evaluation per input (the same as :meth:`forward`)."""
        return self.forward(g_scaled, v_scaled, base_scaled)

    def macs_per_mvm(self) -> int:
        """Multiply-adds of one MVM beyond the per-tile part: the inputs' layer (shared
        by the columns), the baseline feature and the later layers of every column."""
        h = self.w_v.shape[0]
        later = sum(m.in_features * m.out_features for m in self.later
                    if isinstance(m, nn.Linear))
        return self.rows * h + self.cols * (h + later + self.out.in_features)
