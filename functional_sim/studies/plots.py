"""Accuracy plots: PNG figures and the long-format CSV data ``dvc plots`` reads. Every
file is written whole or not at all, so a killed stage leaves the previous one."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from datagen.dataset import atomic_write_bytes, atomic_write_text  # noqa: E402


def accuracy_rows(report: Mapping[str, Any], models: list[str] | None = None) -> list[dict[str, Any]]:
    """Flatten ``accuracy.json`` into rows: network, model, voltage, config, top1."""
    rows = []
    for model, per_net in report.items():
        if model == "test_images" or (models is not None and model not in models + ["float"]):
            continue
        for net, entry in per_net.items():
            if "top1" in entry:
                rows.append({"network": net, "model": model, "voltage": "",
                             "config": f"{net} {model}", "top1": entry["top1"]})
                continue
            for volts, acc in entry.items():
                rows.append({"network": net, "model": model, "voltage": volts,
                             "config": f"{net} {model} {volts}", "top1": acc["top1"]})
    return rows


def write_rows(rows: list[dict[str, Any]], path: str | Path, fieldnames: list[str]) -> None:
    """The rows as CSV with these columns (the data ``dvc plots`` reads)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=fieldnames)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, text.getvalue())


def write_csv(rows: list[dict[str, Any]], path: str | Path) -> None:
    """The rows as CSV (the data of a ``dvc plots`` bar chart: x=top1, y=config)."""
    write_rows(rows, path, ["network", "model", "voltage", "config", "top1"])


def save_figure(fig: Any, path: str | Path) -> None:
    """Lay out, write (PNG, 120 dpi; parent folders made) and close a figure."""
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    png = io.BytesIO()
    fig.savefig(png, dpi=120, format="png")
    plt.close(fig)
    atomic_write_bytes(path, png.getvalue())


def bar_chart(rows: list[dict[str, Any]], path: str | Path, title: str) -> None:
    """Grouped bars: one group per network, one bar per model (and voltage)."""
    nets = list(dict.fromkeys(r["network"] for r in rows))
    series = list(dict.fromkeys((r["model"], r["voltage"]) for r in rows))
    value = {(r["network"], r["model"], r["voltage"]): r["top1"] for r in rows}
    width = 0.8 / max(len(series), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(nets) + 0.3 * len(series)), 4.0))
    for i, (model, volts) in enumerate(series):
        xs = [n + (i - (len(series) - 1) / 2) * width for n in range(len(nets))]
        ys = [100 * value.get((net, model, volts), float("nan")) for net in nets]
        ax.bar(xs, ys, width, label=f"{model} {volts}".strip())
    ax.set_xticks(range(len(nets)))
    ax.set_xticklabels(nets)
    ax.set_ylabel("top-1 accuracy (%)")
    low = min((100 * r["top1"] for r in rows), default=0.0)
    ax.set_ylim(max(0.0, low - 10.0), 100.0)
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2, loc="lower right")
    ax.grid(axis="y", alpha=0.3)
    save_figure(fig, path)
