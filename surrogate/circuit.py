"""The ``circuit`` crossbar model: the exact operating point of the whole nonlinear network.

Every parasitic of the :class:`CrossbarSpec` and each device's I–V (linear, sinh, or
1T1R with its MOS1 access transistor) are solved together by
:func:`surrogate.circuit_solver.solve_operating_point`: batched over tiles and inputs,
float64, on CPU or CUDA, differentiable in ``v`` and ``g``. It agrees with ngspice to
~1e-11 of the largest column current (tests/test_circuit_model.py) and is the ground
truth at scale, where ngspice is too slow.

The network is nonlinear, so no per-tile reduction exists as for ``analytical``: the
per-tile work is only the wire operators, shared by every tile of the spec, and each
MVM is one solve. ``model.last_solve`` holds the last solve's Newton and CG iteration
counts and its worst residual; :meth:`CircuitModel.solve` returns the full solution
(node voltages, cell currents), and :func:`plot_ir_drop` draws a tile's IR-drop map.

``python -m surrogate.circuit --out reports/plots/ir_drop.png`` draws that map for the
params.yaml crossbar in its worst case: every device at ``g_on``, every input at
``v_read_max``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from spice_netlists import CrossbarSpec
from surrogate.base import CrossbarModel
from surrogate.circuit_network import WireNetwork
from surrogate.circuit_solver import OperatingPoint, SolverSettings, solve_operating_point


@dataclass(frozen=True)
class SolveStats:
    """What the last solve took: Newton steps and CG iterations (worst chunk), and the
    largest residual over its samples (V)."""

    newton_iterations: int
    cg_iterations: int
    max_residual: float
    samples: int


class CircuitModel(CrossbarModel):
    """Exact nonlinear crossbar: ``mvm`` solves the operating point for every input.

    Currents come back in the promoted dtype of ``v`` and ``g`` (computed in float64).
    ``settings`` set the solver's tolerance and limits; a sample that does not
    converge raises :class:`surrogate.circuit_solver.CircuitSolveError`.
    """

    name = "circuit"
    uses_sinh_a = True

    def __init__(self, spec: CrossbarSpec, settings: SolverSettings = SolverSettings()) -> None:
        super().__init__(spec)
        self.settings = settings
        self.last_solve: SolveStats | None = None
        self._networks: dict[torch.device, WireNetwork] = {}

    def network(self, device: torch.device) -> WireNetwork:
        """The spec's wire operators on ``device`` (built once per device)."""
        if device not in self._networks:
            self._networks[device] = WireNetwork(self.spec, device)
        return self._networks[device]

    def prepare(self, g: torch.Tensor, sinh_a: torch.Tensor | None = None
                ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``g`` (or ``(g, sinh_a)`` with each sinh device's own nonlinearity)."""
        self.network(g.device)
        return g if sinh_a is None else (g, sinh_a)

    def solve(self, v: torch.Tensor, g: torch.Tensor, keep_state: bool = True,
              sinh_a: torch.Tensor | None = None) -> OperatingPoint:
        """The full solution for ``v`` (…, R) V and ``g`` (…, R, C) S (broadcast);
        ``keep_state=False`` keeps the column currents only; ``sinh_a`` (shaped like
        ``g``) gives each sinh device its own nonlinearity."""
        self.check_shapes(v, g)
        op = solve_operating_point(self.spec, v, g, self.settings, self.network(g.device),
                                   keep_state, sinh_a)
        self.last_solve = SolveStats(op.newton_iterations, op.cg_iterations,
                                     float(op.residual.max()) if op.residual.numel() else 0.0,
                                     op.residual.numel())
        return op

    def mvm(self, prepared: torch.Tensor | tuple[torch.Tensor, torch.Tensor],
            v: torch.Tensor) -> torch.Tensor:
        g, sinh_a = prepared if isinstance(prepared, tuple) else (prepared, None)
        dtype = torch.promote_types(v.dtype, g.dtype)
        return self.solve(v.to(g.device), g, keep_state=False, sinh_a=sinh_a).currents.to(dtype)


# ----------------------------------------------------------------------------- plot
def ir_drop(op: OperatingPoint, v: torch.Tensor) -> torch.Tensor:
    """(…, R, C) voltage each cell loses to the wires, ``v_i − (x_ij − y_ij)``, V."""
    return v.to(op.x).unsqueeze(-1) - op.device_voltage


def plot_ir_drop(spec: CrossbarSpec, v: torch.Tensor, g: torch.Tensor, path: str | Path,
                 settings: SolverSettings = SolverSettings()) -> Path:
    """Draw one tile's IR-drop map (mV lost per cell, and as % of its input) to ``path``.

    ``v`` (R,) V, ``g`` (R, C) S.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model = CircuitModel(spec, settings)
    op = model.solve(v, g)
    drop = ir_drop(op, v).detach().cpu().numpy()
    vin = v.detach().cpu().numpy()
    share = np.divide(drop, vin[:, None], out=np.zeros_like(drop), where=vin[:, None] > 0)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    for ax, data, title, unit in ((axes[0], drop * 1e3, "voltage lost to the wires", "mV"),
                                  (axes[1], share * 100, "share of the row's input", "%")):
        im = ax.imshow(data, cmap="magma", aspect="auto", origin="upper")
        ax.set_xlabel("column j (input enters at j = 0)")
        ax.set_ylabel("row i (sensed after row R−1)")
        ax.set_title(title)
        fig.colorbar(im, ax=ax, label=unit)
    i_ideal = (v.double() @ g.double()).cpu().numpy()
    i_col = op.currents.detach().cpu().numpy()
    loss = 100 * np.max(np.abs(i_ideal - i_col)) / spec.full_scale_current
    fig.suptitle(f"IR drop, {spec.label}: the worst column reads {loss:.2f} % of full scale "
                 f"below ideal (circuit-exact solve)")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> None:
    """Draw the worst-case IR-drop map of the params.yaml crossbar."""
    from spice_netlists.config import read_params
    from spice_netlists.spec import load_spec_from_params

    parser = argparse.ArgumentParser(description="IR-drop map of one tile (circuit-exact).")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", default="reports/plots/ir_drop.png")
    args = parser.parse_args(argv)
    spec = load_spec_from_params(read_params(args.params))
    v = torch.full((spec.rows,), spec.v_read_max, dtype=torch.float64)
    g = torch.full((spec.rows, spec.cols), spec.g_on, dtype=torch.float64)
    print(plot_ir_drop(spec, v, g, args.out))


if __name__ == "__main__":
    main()
