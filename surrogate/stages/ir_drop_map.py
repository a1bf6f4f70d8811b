"""Stage ``ir_drop_map``: a tile's IR-drop map from the circuit-exact solve.

``python -m surrogate.stages.ir_drop_map --out reports/plots/ir_drop.png`` draws the map
for the params.yaml crossbar in its worst case: every device at ``g_on``, every input at
``v_read_max`` (mV lost per cell, and as % of its input).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from spice_netlists import CrossbarSpec
from spice_netlists.circuit.solver import SolverSettings
from surrogate.circuit import CircuitModel, ir_drop

__all__ = ["plot_ir_drop", "main"]


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
