"""Plots of the RMSE evaluation: parity, error histograms, RMSE vs crossbar size.

Each plot is written twice under the plots folder: as data for ``dvc plots`` (one CSV
per model in ``parity/``, ``error_hist/`` and ``rmse_vs_size/``, so that ``dvc plots``
overlays models file by file) and as a PNG drawn with matplotlib.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from spice_netlists import CrossbarSpec  # noqa: E402
from surrogate.stages.config import EvaluateParams  # noqa: E402

Predictions = Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]]


def _write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def _subsample(n: int, k: int, seed: int = 0) -> np.ndarray:
    if n <= k:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False))


def parity(out: Path, predictions: Predictions, points: int) -> None:
    """Predicted vs SPICE column currents (µA), one panel per dataset and model."""
    models = list(predictions)
    labels = list(next(iter(predictions.values())))
    fig, axes = plt.subplots(len(labels), len(models), squeeze=False,
                             figsize=(2.8 * len(models), 2.8 * len(labels)))
    for m, model in enumerate(models):
        rows: list[list[object]] = []
        for k, label in enumerate(labels):
            pred, spice = (a.reshape(-1) * 1e6 for a in predictions[model][label])
            sel = _subsample(len(pred), points)
            rows += [[label, float(s), float(p)] for s, p in zip(spice[sel], pred[sel])]
            ax = axes[k, m]
            ax.scatter(spice[sel], pred[sel], s=2, alpha=0.4, color=f"C{m}", rasterized=True)
            lo, hi = float(spice.min()), float(spice.max())
            ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
            ax.set_title(f"{model}\n{label}", fontsize=8)
            ax.tick_params(labelsize=7)
            if k == len(labels) - 1:
                ax.set_xlabel("SPICE current (µA)", fontsize=8)
            if m == 0:
                ax.set_ylabel("predicted (µA)", fontsize=8)
        _write_csv(out / "parity" / f"{model}.csv", ["label", "spice_uA", "predicted_uA"], rows)
    fig.tight_layout()
    fig.savefig(out / "parity.png", dpi=110)
    plt.close(fig)


def error_histograms(out: Path, predictions: Predictions, specs: Mapping[str, CrossbarSpec],
                     bins: int) -> None:
    """Histograms of column-current error in % of full scale, models overlaid; the
    range is ±(99.5th percentile of |error|), errors beyond it count in the end bins."""
    labels = list(specs)
    fig, axes = plt.subplots(1, len(labels), squeeze=False, figsize=(4.2 * len(labels), 3.4))
    rows: dict[str, list[list[object]]] = {m: [] for m in predictions}
    for k, label in enumerate(labels):
        fs = specs[label].full_scale_current
        errs = {m: ((p[label][0] - p[label][1]) / fs * 100).reshape(-1)
                for m, p in predictions.items()}
        span = max(float(np.percentile(np.abs(e), 99.5)) for e in errs.values()) or 1e-9
        edges = np.linspace(-span, span, bins + 1)
        centres = 0.5 * (edges[1:] + edges[:-1])
        ax = axes[0, k]
        for m, (model, e) in enumerate(errs.items()):
            counts, _ = np.histogram(np.clip(e, -span, span), bins=edges)
            rows[model] += [[label, float(c), int(n)] for c, n in zip(centres, counts)]
            ax.step(centres, counts, where="mid", color=f"C{m}", label=model)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("error (% of full scale)", fontsize=8)
        ax.set_ylabel("columns", fontsize=8)
        ax.set_yscale("log")
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    for model, r in rows.items():
        _write_csv(out / "error_hist" / f"{model}.csv", ["label", "error_pct_fs", "count"], r)
    fig.tight_layout()
    fig.savefig(out / "error_hist.png", dpi=110)
    plt.close(fig)


def rmse_vs_size(out: Path, report: Mapping[str, Mapping[str, object]],
                 specs: Mapping[str, CrossbarSpec], models: list[str]) -> None:
    """RMSE (% FS) against crossbar size, one panel per device, read voltage and test
    set (labels ``<spec label><suffix>``: the main sets have no suffix, extra and
    held-out test sets ``/<name>``)."""
    suffix = {label: label[len(s.label):] for label, s in specs.items()}
    groups = sorted({(s.device, s.v_read_max, suffix[label]) for label, s in specs.items()})
    fig, axes = plt.subplots(1, len(groups), squeeze=False, figsize=(4.2 * len(groups), 3.4))
    for m, model in enumerate(models):
        rows = []
        for k, (device, v, extra) in enumerate(groups):
            pts = sorted((s.rows * s.cols, s.rows, label) for label, s in specs.items()
                         if (s.device, s.v_read_max, suffix[label]) == (device, v, extra))
            xs = [p[0] for p in pts]
            ys = [report[model][p[2]]["rmse_pct_fs"] for p in pts]
            rows += [[p[2], p[0], device, v, y] for p, y in zip(pts, ys)]
            ax = axes[0, k]
            ax.plot(xs, ys, "o-", color=f"C{m}", label=model)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xticks(xs, [f"{p[1]}x{p[0] // p[1]}" for p in pts])
            ax.set_title(f"{device}, {v:g} V{extra}", fontsize=9)
            ax.set_xlabel("crossbar size", fontsize=8)
            ax.set_ylabel("RMSE (% of full scale)", fontsize=8)
            ax.legend(fontsize=7)
        _write_csv(out / "rmse_vs_size" / f"{model}.csv",
                   ["label", "cells", "device", "v_read_max", "rmse_pct_fs"], rows)
    fig.tight_layout()
    fig.savefig(out / "rmse_vs_size.png", dpi=110)
    plt.close(fig)


def write_plots(out: Path, predictions: Predictions, specs: Mapping[str, CrossbarSpec],
                report: Mapping[str, Mapping[str, object]], cfg: EvaluateParams) -> None:
    """All three plots, data and PNG, under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    parity(out, predictions, cfg.parity_points)
    error_histograms(out, predictions, specs, cfg.hist_bins)
    rmse_vs_size(out, report, specs, list(predictions))
