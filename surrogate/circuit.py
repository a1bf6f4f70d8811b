"""The ``circuit`` crossbar model: the exact operating point of the whole nonlinear network.

Every parasitic of the :class:`CrossbarSpec` and each device's I–V (linear, sinh, or
1T1R with its MOS1 access transistor) are solved together by
:func:`spice_netlists.circuit.solver.solve_operating_point`: batched over tiles and inputs,
float64, on CPU or CUDA, differentiable in ``v`` and ``g``. It agrees with ngspice to
~1e-11 of the largest column current (tests/test_circuit_model.py) and is the ground
truth at scale, where ngspice is too slow.

The network is nonlinear, so no per-tile reduction exists as for ``analytical``: the
per-tile work is only the wire operators, shared by every tile of the spec, and each
MVM is one solve. ``model.last_solve`` holds the last solve's Newton and CG iteration
counts and its worst residual; :meth:`CircuitModel.solve` returns the full solution
(node voltages, cell currents), and :func:`ir_drop` the voltage each cell loses to the
wires (drawn by :mod:`surrogate.stages.ir_drop_map`).
"""

from __future__ import annotations

from dataclasses import dataclass
import torch

from spice_netlists import CrossbarSpec
from spice_netlists.circuit.inputs import check_input_values
from spice_netlists.circuit.network import WireNetwork
from spice_netlists.circuit.solver import OperatingPoint, SolverSettings, solve_operating_point
from surrogate.base import CrossbarModel


@dataclass(frozen=True)
class SolveStats:
    """What the last solve took: Newton steps and CG iterations (worst sample, or worst
    chunk on the torch backend), the largest residual over its samples (V), and how
    many samples it had and iterated (the others had no drive)."""

    newton_iterations: int
    cg_iterations: int
    max_residual: float
    samples: int
    solved: int


class CircuitModel(CrossbarModel):
    """Exact nonlinear crossbar: ``mvm`` solves the operating point for every input.

    Currents come back in the promoted dtype of ``v`` and ``g`` (computed in float64).
    ``settings`` set the solver's tolerance and limits; a sample that does not
    converge raises :class:`spice_netlists.circuit.solver.CircuitSolveError`.
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
        """``g`` (or ``(g, sinh_a)`` with each sinh device's own nonlinearity), checked
        once per tile: finite and non-negative (:class:`InputValueError` otherwise)."""
        check_input_values(self.name, None, g, sinh_a)
        self.network(g.device)
        return g if sinh_a is None else (g, sinh_a)

    def solve(self, v: torch.Tensor, g: torch.Tensor, keep_state: bool = True,
              sinh_a: torch.Tensor | None = None) -> OperatingPoint:
        """The full solution for ``v`` (…, R) V and ``g`` (…, R, C) S (broadcast);
        ``keep_state=False`` keeps the column currents only; ``sinh_a`` (shaped like
        ``g``) gives each sinh device its own nonlinearity."""
        self.check_shapes(v, g)
        check_input_values(self.name, v, g, sinh_a)
        return self._solve(v, g, keep_state, sinh_a)

    def _solve(self, v: torch.Tensor, g: torch.Tensor, keep_state: bool,
               sinh_a: torch.Tensor | None) -> OperatingPoint:
        op = solve_operating_point(self.spec, v, g, self.settings, self.network(g.device),
                                   keep_state, sinh_a)
        res = op.residual.detach()
        if res.device.type == "cpu":                 # numpy: cheaper on small batches
            res = res.numpy()
            count = res.size
        else:
            count = res.numel()
        self.last_solve = SolveStats(op.newton_iterations, op.cg_iterations,
                                     float(res.max()) if count else 0.0, count, op.solved)
        return op

    def mvm(self, prepared: torch.Tensor | tuple[torch.Tensor, torch.Tensor],
            v: torch.Tensor) -> torch.Tensor:
        g, sinh_a = prepared if isinstance(prepared, tuple) else (prepared, None)
        dtype = torch.promote_types(v.dtype, g.dtype)
        # the shapes were checked by __call__ or fit a prepared tile stack by construction
        return self._solve(v.to(g.device), g, False, sinh_a).currents.to(dtype)


# ----------------------------------------------------------------------------- IR drop
def ir_drop(op: OperatingPoint, v: torch.Tensor) -> torch.Tensor:
    """(…, R, C) voltage each cell loses to the wires, ``v_i − (x_ij − y_ij)``, V."""
    return v.to(op.x).unsqueeze(-1) - op.device_voltage
