"""Stage CLI: RMSE of every crossbar model against SPICE on the held-out test sets.

``python -m surrogate.stages.evaluate --params params.yaml`` evaluates ``ideal``,
``analytical``, ``analytical_device`` (the analytical network with the device I–V on
its inputs), ``analytical_cell`` (the device law at each cell's own voltage, with one
correction through the wires) and every GENIEx variant of params (checkpoints
``<models_dir>/<variant>/<tag>.pt``) on ``<data_dir>/<tag>/test`` for each tag, and on
``<dir>/<tag>/test`` for each entry ``<name>: <dir>`` of ``extra_test_sets`` and on
``<data_dir>/<tag>/<name>`` for each held-out set ``<name>`` of ``datagen.held_out``
(``surrogate.held_out``), and writes

* ``<reports_dir>/rmse.md``: the same as a Markdown table (:func:`rmse_table`);
* ``<reports_dir>/rmse.json``::

      {"<model>": {"<rows>x<cols>/<device>/<v>V": {"rmse_uA": …, "rmse_pct_fs": …},
                   "<rows>x<cols>/<device>/<v>V/<name>": {…}},      # extra and held-out sets
       "analytical_over_geniex": {"<label>": analytical RMSE / geniex RMSE},
       "geniex_over_analytical_device": {"<label>": geniex RMSE / analytical_device RMSE},
       "best_physics": {"<label>": the best of PHYSICS_MODELS there},
       "geniex_over_best_physics": {"<label>": geniex RMSE / that model's RMSE}}

  A ``geniex_over_analytical_device`` ratio below 1 says the learned surrogate beats the
  physics it is built on, on that test set; above 1 it does worse there.
  ``geniex_over_best_physics`` holds it to the best cheap physics model of the set
  (``analytical``, ``analytical_device`` or ``analytical_cell``): above 1, a physics
  model without learning is better there.

* plot data and PNGs under ``<reports_dir>/plots/`` (see :mod:`surrogate.stages.plots`).

The analytical ``G_eff`` of the test tiles is solved once per test set and shared by
every model that builds on it (analytical, analytical_device, residual and relative
GENIEx variants): see :func:`predict_all`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from datagen.dataset import CrossbarDataset, load_dataset
from surrogate.analytical import AnalyticalDeviceModel, AnalyticalModel, effective_conductance
from surrogate.analytical_cell import AnalyticalCellModel
from surrogate.base import CrossbarModel
from surrogate.checkpoint import load_geniex
from surrogate.ideal import IdealModel
from surrogate.stages.config import (MAIN_VARIANT, SurrogateParams, load_params, parse_args,
                               require_dataset)
from surrogate.stages.plots import write_plots

#: samples per prepare/mvm call (each sample is its own tile)
CHUNK = 1024


def predict_all(models: Mapping[str, CrossbarModel], ds: CrossbarDataset) -> dict[str, np.ndarray]:
    """Column currents (M, C) A of every model on every sample (float64 inputs).

    The analytical ``G_eff`` of each chunk of tiles, the costly per-tile step, is
    computed once and handed to every model that uses it
    (:meth:`CrossbarModel.prepare_with`), not once per model."""
    out: dict[str, list[np.ndarray]] = {name: [] for name in models}
    shared = any(model.uses_g_eff for model in models.values())
    for lo in range(0, len(ds), CHUNK):
        g = torch.from_numpy(np.ascontiguousarray(ds.g[lo:lo + CHUNK]))
        v = torch.from_numpy(np.ascontiguousarray(ds.v[lo:lo + CHUNK]))
        g_eff = effective_conductance(ds.spec, g) if shared else None
        for name, model in models.items():
            out[name].append(model.mvm(model.prepare_with(g, g_eff), v).double().cpu().numpy())
    return {name: np.concatenate(parts) if parts else np.zeros((0, ds.spec.cols))
            for name, parts in out.items()}


def predict(model: CrossbarModel, ds: CrossbarDataset) -> np.ndarray:
    """Column currents (M, C) A of ``model`` on every sample (float64 inputs)."""
    return predict_all({"model": model}, ds)["model"]


def rmse_entry(pred: np.ndarray, spice: np.ndarray, full_scale: float) -> dict[str, float]:
    """``{"rmse_uA", "rmse_pct_fs"}`` of predicted vs SPICE column currents."""
    rmse = float(np.sqrt(np.mean((pred - spice) ** 2)))
    return {"rmse_uA": rmse * 1e6, "rmse_pct_fs": rmse / full_scale * 100.0}


#: the cheap physics models (no learning) GENIEx is held to
PHYSICS_MODELS = ("analytical", "analytical_device", "analytical_cell")

#: the floor of a ratio's denominator (µA): a model that is exact gives a large, finite ratio
RATIO_FLOOR_UA = 1e-30


def rmse_ratios(report: Mapping[str, Mapping[str, Mapping[str, float]]], numerator: str,
                denominator: str) -> dict[str, float]:
    """``{label: RMSE of numerator / RMSE of denominator}`` for every test-set label of
    ``numerator`` in the report (µA RMSEs; the denominator floored at
    :data:`RATIO_FLOOR_UA`)."""
    return {label: report[numerator][label]["rmse_uA"]
            / max(report[denominator][label]["rmse_uA"], RATIO_FLOOR_UA)
            for label in report[numerator]}


def best_physics(report: Mapping[str, Mapping[str, Mapping[str, float]]]) -> dict[str, str]:
    """``{label: the physics model of PHYSICS_MODELS with the lowest RMSE there}`` (the
    models the report has; ties go to the earlier one)."""
    present = [m for m in PHYSICS_MODELS if m in report]
    labels = report[present[0]] if present else {}
    return {label: min(present, key=lambda m: report[m][label]["rmse_uA"]) for label in labels}


def over_best_physics(report: Mapping[str, Any], numerator: str,
                      best: Mapping[str, str]) -> dict[str, float]:
    """``{label: RMSE of numerator / RMSE of best[label]}`` (floored as
    :func:`rmse_ratios`)."""
    return {label: report[numerator][label]["rmse_uA"]
            / max(report[best[label]][label]["rmse_uA"], RATIO_FLOOR_UA)
            for label in report[numerator] if label in best}


def rmse_table(report: Mapping[str, Any]) -> str:
    """The report as a Markdown table: one row per test set (``<label>`` is the
    in-distribution set, ``<label>/<name>`` a held-out one), one column per model, RMSE in
    % of full scale; then geniex's RMSE over analytical_device's and, where the report
    has it, over the best physics model's (below 1: geniex is better)."""
    models = [m for m, v in report.items() if isinstance(v, Mapping)
              and all(isinstance(e, Mapping) for e in v.values())]
    labels = list(report[models[0]]) if models else []
    ratios = [("geniex / analytical_device", report.get("geniex_over_analytical_device", {}))]
    if "geniex_over_best_physics" in report:
        ratios.append(("geniex / best physics", report["geniex_over_best_physics"]))
    head = ["test set", *models, *(name for name, _ in ratios)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label in labels:
        cells = [f"{report[m][label]['rmse_pct_fs']:.4f}" for m in models]
        cells += [f"{ratio[label]:.2f}" if label in ratio else "–" for _, ratio in ratios]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n\nRMSE of column currents, % of full scale (rows·g_on·v_read_max).\n"
    if "geniex_loses_to_physics" in report:
        losses = report["geniex_loses_to_physics"]
        text += (f"\ngeniex is worse than the best physics model on {len(losses)} of "
                 f"{len(labels)} sets" + (f": {', '.join(losses)}" if losses else "") + ".\n")
    return text


def models_for(params: SurrogateParams, tag: str, ds: CrossbarDataset) -> dict[str, CrossbarModel]:
    """ideal, analytical, analytical_device, analytical_cell and every GENIEx variant,
    for the test set's spec."""
    models: dict[str, CrossbarModel] = {"ideal": IdealModel(ds.spec),
                                        "analytical": AnalyticalModel(ds.spec),
                                        "analytical_device": AnalyticalDeviceModel(ds.spec),
                                        "analytical_cell": AnalyticalCellModel(ds.spec)}
    for variant in params.variants:
        models[variant] = load_geniex(params.checkpoint(variant, tag), ds.spec)
    return models


def run(params: SurrogateParams) -> dict[str, dict[str, object]]:
    """Evaluate everything; write rmse.json and the plots; return the report."""
    if not params.datasets:
        raise ValueError("params surrogate.datasets lists no dataset tags to evaluate")
    sets = [(tag, suffix, directory) for tag in params.datasets
            for suffix, directory in params.test_sets(tag)]
    for tag, suffix, directory in sets:       # every directory checked before evaluating
        require_dataset(directory, f"test ({tag}{suffix})")
    report: dict[str, dict[str, object]] = {}
    predictions: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    specs = {}
    for tag, suffix, directory in sets:
        ds = load_dataset(directory).converged()
        if len(ds) == 0:
            raise ValueError(f"test set {directory} has no converged samples")
        label, fs = ds.spec.label + suffix, ds.spec.full_scale_current
        specs[label] = ds.spec
        for name, pred in predict_all(models_for(params, tag, ds), ds).items():
            report.setdefault(name, {})[label] = rmse_entry(pred, ds.i, fs)
            predictions.setdefault(name, {})[label] = (pred, ds.i)
            print(f"{label:>24} {name:>18}: RMSE {report[name][label]['rmse_uA']:.4g} uA "
                  f"= {report[name][label]['rmse_pct_fs']:.4g} % FS")
    report["analytical_over_geniex"] = rmse_ratios(report, "analytical", MAIN_VARIANT)
    report["geniex_over_analytical_device"] = rmse_ratios(report, MAIN_VARIANT,
                                                          "analytical_device")
    report["best_physics"] = best_physics(report)
    report["geniex_over_best_physics"] = over_best_physics(report, MAIN_VARIANT,
                                                           report["best_physics"])
    report["geniex_loses_to_physics"] = sorted(
        label for label, ratio in report["geniex_over_best_physics"].items() if ratio > 1)
    reports = Path(params.reports_dir)
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "rmse.json").write_text(json.dumps(report, indent=2) + "\n")
    table = rmse_table(report)
    (reports / "rmse.md").write_text(table)
    print(table)
    write_plots(reports / "plots", predictions, specs, report, params.evaluate)
    return report


def main(argv: list[str] | None = None) -> None:
    args = parse_args("RMSE of every crossbar model against SPICE on the test sets", argv)
    run(load_params(args.params))


if __name__ == "__main__":
    main()
