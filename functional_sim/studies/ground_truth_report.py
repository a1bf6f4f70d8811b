"""The ground-truth report read by people: its headline, a Markdown table and a plot.

:func:`headline` sums up ``ground_truth.json``'s settings (in percentage points):

* per cheap model: the mean and the largest |predicted top-1 − true top-1| over every
  (setting, network) cell, where the largest is, in how many cells the model is
  ``best_model`` and in how many it is within :data:`CLOSE_PTS` of the truth;
* the truth's largest accuracy loss against float, and where;
* the cells where the analytical model misses by :data:`ANALYTICAL_OFF_PTS` or more, and
  per model in how many of those it comes within :data:`CLOSE_PTS` (the GENIEx claim:
  the analytical model misjudges the loss, the learned surrogate does not);
* ``best_model``: the model with the smallest mean miss, and, where the per-image
  results are given, ``runner_up``: the next model, the gap between their mean misses
  with its paired 95 % interval (each cell's images pair the two models' misses against
  the same truth, :func:`miss_gap`) and whether the gap is inside that interval (not
  resolved by these images).

:func:`markdown_table` writes one row per cell: float and true top-1 (with its 95 %
interval), then each model's miss in points and its per-image agreement.
:func:`write_plot` draws each model's miss with its paired 95 % interval per setting,
one panel per network (``ground_truth.png``), and writes the same as long-format CSV
for ``dvc plots`` (``ground_truth.csv``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch

from functional_sim.studies import plots
from functional_sim.studies.accuracy_stats import pooled_paired_mean
from functional_sim.studies.plots import plt

#: points: a prediction this close to the true top-1 counts as right (the issue's target)
CLOSE_PTS = 0.5
#: points: an analytical miss this large is one the GENIEx claim is about
ANALYTICAL_OFF_PTS = 2.0
#: the model whose misses the headline singles out
ANALYTICAL = "analytical"


def _pts(fraction: float) -> float:
    return round(100.0 * fraction, 3)


def _cells(settings: Mapping[str, Any]) -> list[tuple[str, str, Mapping[str, Any]]]:
    return [(label, net, entry) for label, per_net in settings.items()
            for net, entry in per_net.items()]


#: per cell ("<setting> <network>"), per model and the reference: which images it got right
Correct = Mapping[str, Mapping[str, torch.Tensor]]


def miss_gap(correct: Correct, settings: Mapping[str, Any], reference: str, better: str,
             worse: str) -> tuple[float, float, float]:
    """(gap, low, high): mean |miss| of ``worse`` − mean |miss| of ``better`` over every
    cell, with its paired 95 % interval, as fractions.

    In a cell with misses m_b and m_w (each model's top-1 − the truth's), the per-image
    term ``sign(m_w)·(c_w − c_t) − sign(m_b)·(c_b − c_t)`` (c: right or not) has mean
    |m_w| − |m_b| exactly; :func:`pooled_paired_mean` pools the cells.
    """
    diffs = []
    for label, net, e in _cells(settings):
        c = correct[f"{label} {net}"]
        truth = c[reference].double()
        s_w = float(torch.sign(torch.tensor(e[worse]["degradation_error"])))
        s_b = float(torch.sign(torch.tensor(e[better]["degradation_error"])))
        diffs.append(s_w * (c[worse].double() - truth) - s_b * (c[better].double() - truth))
    return pooled_paired_mean(diffs)


def headline(settings: Mapping[str, Any], reference: str, models: list[str],
             correct: Correct | None = None) -> dict[str, Any]:
    """The summary of the ``settings`` section of a ground-truth report (module
    docstring); misses in percentage points. ``correct`` (per cell, per model and the
    reference, the per-image right/wrong) adds ``runner_up``."""
    cells = _cells(settings)
    out: dict[str, Any] = {"cells": len(cells), "close_pts": CLOSE_PTS,
                           "analytical_off_pts": ANALYTICAL_OFF_PTS}
    if not cells:
        return out
    drops = [(e[reference].get("degradation", 0.0), f"{label} {net}") for label, net, e in cells]
    worst_drop = max(drops)
    out["truth_max_loss_pts"] = {"pts": _pts(worst_drop[0]), "at": worst_drop[1]}
    per_model: dict[str, Any] = {}
    for m in models:
        misses = [(abs(e[m]["degradation_error"]), f"{label} {net}") for label, net, e in cells]
        worst = max(misses)
        per_model[m] = {
            "mean_abs_miss_pts": _pts(sum(x for x, _ in misses) / len(misses)),
            "max_abs_miss_pts": _pts(worst[0]), "max_at": worst[1],
            "mean_agreement": round(sum(e[m]["agreement"] for _, _, e in cells) / len(cells), 5),
            "best_in": sum(e["best_model"] == m for _, _, e in cells),
            "within_close": sum(100 * x <= CLOSE_PTS + 1e-9 for x, _ in misses)}
    out["models"] = per_model
    ranked = sorted(models, key=lambda m: per_model[m]["mean_abs_miss_pts"])
    out["best_model"] = ranked[0]
    if correct is not None and len(ranked) > 1:
        gap, low, high = miss_gap(correct, settings, reference, ranked[0], ranked[1])
        out["runner_up"] = {"model": ranked[1], "gap_pts": _pts(gap),
                            "gap_ci95_pts": [_pts(low), _pts(high)],
                            "inside_interval": bool(low <= 0.0)}
    if ANALYTICAL in models:
        off = [(label, net, e) for label, net, e in cells
               if 100 * abs(e[ANALYTICAL]["degradation_error"]) >= ANALYTICAL_OFF_PTS - 1e-9]
        out["analytical_off"] = {
            "cells": [f"{label} {net}" for label, net, _ in off],
            "within_close": {m: sum(100 * abs(e[m]["degradation_error"]) <= CLOSE_PTS + 1e-9
                                    for _, _, e in off) for m in models}}
    return out


def _fmt_pts(x: float) -> str:
    return f"{100 * x:+.1f}"


def markdown_table(report: Mapping[str, Any]) -> str:
    """The report as a Markdown table (module docstring), with its headline under it."""
    ref = report["reference"]
    settings = report["settings"]
    cells = _cells(settings)
    if not cells:
        return "(no settings)\n"
    models = [m for m in cells[0][2] if m not in (ref, "best_model")]
    head = ["setting", "network", "float", f"truth ({ref}) [95% CI]", *models, "best"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, net, e in cells:
        t = e[ref]
        row = [label, net, f"{100 * report['nets'][net]['float_top1']:.1f}",
               f"{100 * t['top1']:.1f} [{100 * t['ci95'][0]:.1f}, {100 * t['ci95'][1]:.1f}]"]
        row += [f"{_fmt_pts(e[m]['degradation_error'])} ({100 * e[m]['agreement']:.1f}%)"
                for m in models]
        row.append(str(e["best_model"]))
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append(f"Each model: predicted top-1 − true top-1 in points (its per-image "
                 f"agreement with the truth); {sum(report['nets'][n]['images'] for n in report['nets'])} "
                 f"test images over {len(report['nets'])} network(s).")
    h = report.get("headline", {})
    if "models" in h:
        lines.append("")
        lines.append("| model | mean miss (pts) | largest miss (pts) | where | best in | "
                     f"within {CLOSE_PTS} pts |")
        lines.append("|---|---|---|---|---|---|")
        for m, s in h["models"].items():
            lines.append(f"| {m} | {s['mean_abs_miss_pts']:.2f} | {s['max_abs_miss_pts']:.2f} | "
                         f"{s['max_at']} | {s['best_in']}/{h['cells']} | "
                         f"{s['within_close']}/{h['cells']} |")
        lines.append("")
        lines.append(f"The truth loses up to {h['truth_max_loss_pts']['pts']:.1f} points "
                     f"against float ({h['truth_max_loss_pts']['at']}). Best predictor: "
                     f"{h['best_model']}.")
        if "runner_up" in h:
            r = h["runner_up"]
            verdict = ("inside the paired 95 % interval: these images do not tell the two "
                       "apart" if r["inside_interval"] else "outside the paired 95 % interval")
            lines.append(f"Runner-up: {r['model']}, {r['gap_pts']:.2f} points more mean miss "
                         f"[{r['gap_ci95_pts'][0]:.2f}, {r['gap_ci95_pts'][1]:.2f}]: {verdict}.")
        if "analytical_off" in h:
            off = h["analytical_off"]
            if off["cells"]:
                within = ", ".join(f"{m} {k}/{len(off['cells'])}"
                                   for m, k in off["within_close"].items())
                lines.append(f"The analytical model misses by ≥ {ANALYTICAL_OFF_PTS:g} points "
                             f"in {len(off['cells'])} cell(s); within {CLOSE_PTS} points "
                             f"there: {within}.")
            else:
                lines.append(f"The analytical model never misses by {ANALYTICAL_OFF_PTS:g} "
                             f"points or more here.")
    return "\n".join(lines) + "\n"


def plot_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Long-format rows: setting, network, model, miss and its interval (points)."""
    ref = report["reference"]
    rows = []
    for label, net, e in _cells(report["settings"]):
        for m, s in e.items():
            if m in (ref, "best_model"):
                continue
            low, high = s["degradation_error_ci95"]
            rows.append({"setting": label, "network": net, "model": m,
                         "miss_pts": _pts(s["degradation_error"]),
                         "low_pts": _pts(low), "high_pts": _pts(high),
                         "truth_top1": e[ref]["top1"], "top1": s["top1"]})
    return rows


def write_plot(report: Mapping[str, Any], plots_dir: Path) -> None:
    """``ground_truth.png`` and ``ground_truth.csv`` in ``plots_dir`` (module docstring)."""
    rows = plot_rows(report)
    plots.write_rows(rows, plots_dir / "ground_truth.csv",
                     list(rows[0]) if rows else ["setting"])
    nets = list(dict.fromkeys(r["network"] for r in rows))
    settings = list(dict.fromkeys(r["setting"] for r in rows))
    models = list(dict.fromkeys(r["model"] for r in rows))
    fig, axes = plt.subplots(len(nets) or 1, 1, squeeze=False,
                             figsize=(max(7.0, 0.9 * len(settings) + 3), 2.8 * max(len(nets), 1)))
    width = 0.8 / max(len(models), 1)
    for ax, net in zip(axes[:, 0], nets):
        for k, m in enumerate(models):
            pts = [r for r in rows if r["network"] == net and r["model"] == m]
            xs = [settings.index(r["setting"]) + (k - (len(models) - 1) / 2) * width for r in pts]
            ys = [r["miss_pts"] for r in pts]
            err = [[r["miss_pts"] - r["low_pts"] for r in pts],
                   [r["high_pts"] - r["miss_pts"] for r in pts]]
            ax.errorbar(xs, ys, yerr=err, fmt="o", ms=4, capsize=2, label=m)
        ax.axhspan(-CLOSE_PTS, CLOSE_PTS, color="green", alpha=0.12, lw=0)
        ax.axhline(0.0, color="black", lw=0.8)
        ax.set_title(f"{net}: predicted − true top-1 (points), 95 % paired interval")
        ax.set_ylabel("points")
        ax.set_xticks(range(len(settings)))
        ax.set_xticklabels(settings, rotation=20, ha="right", fontsize=7)
        ax.grid(axis="y", alpha=0.3)
    axes[0, 0].legend(fontsize=7, ncol=min(len(models), 5), loc="best")
    plots.save_figure(fig, plots_dir / "ground_truth.png")
