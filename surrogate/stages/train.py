"""Stage CLI: train every GENIEx variant on every dataset listed in params.

``python -m surrogate.stages.train --params params.yaml`` reads the ``surrogate`` section and,
for each tag in ``datasets`` and each network in ``variants``, trains on
``<data_dir>/<tag>/train`` (or ``<dir>/<tag>/train`` for a variant listed in
``train_data_dirs``, e.g. one trained on workload-derived samples) and writes

* ``<models_dir>/<variant>/<tag>.pt``: the checkpoint;
* ``<reports_dir>/train/<variant>/<tag>.csv``: the per-epoch curve
  (``epoch, train_loss, val_loss, val_rmse_pct_fs``) for ``dvc plots``;
* ``<reports_dir>/train_metrics.json``: per variant and tag, the best epoch and its
  validation RMSE beside the linear baseline's.

The analytical ``G_eff`` of a dataset's samples (the costly step of the analytical
baselines) is computed once per dataset and shared by every variant training on it.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from datagen.dataset import CrossbarDataset, load_dataset
from surrogate.checkpoint import save_geniex
from surrogate.stages.config import SurrogateParams, load_params, parse_args, require_dataset
from surrogate.training import sample_g_eff, train_geniex


def write_curve(path: Path, history: list[dict[str, float]]) -> None:
    """The training curve as CSV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)


def run(params: SurrogateParams, progress: bool = True) -> dict[str, dict[str, dict[str, float]]]:
    """Train everything; return the metrics written to ``train_metrics.json``."""
    if not params.datasets:
        raise ValueError("params surrogate.datasets lists no dataset tags to train on")
    for tag in params.datasets:              # every directory checked before any training
        for variant in params.variants:
            require_dataset(params.train_dir(tag, variant), f"training ({variant}, {tag})")
    reports = Path(params.reports_dir)
    metrics: dict[str, dict[str, dict[str, float]]] = {}
    for tag in params.datasets:
        loaded: dict[Path, CrossbarDataset] = {}
        g_effs: dict[Path, np.ndarray] = {}   # analytical G_eff, once per dataset
        for variant, config in params.variants.items():
            directory = params.train_dir(tag, variant)
            if directory not in loaded:
                loaded[directory] = load_dataset(directory)
            dataset = loaded[directory]
            if config.target_obj.uses_g_eff and directory not in g_effs:
                g_effs[directory] = sample_g_eff(dataset.spec, dataset.converged().g)
            model, history, summary = train_geniex(dataset, config, progress=progress,
                                                   desc=f"{variant} {tag}",
                                                   g_eff=g_effs.get(directory))
            save_geniex(model, params.checkpoint(variant, tag), metrics=summary)
            write_curve(reports / "train" / variant / f"{tag}.csv", history)
            metrics.setdefault(variant, {})[dataset.spec.label] = summary
            print(f"{variant} {tag}: val RMSE {summary['val_rmse_pct_fs']:.4g} % FS "
                  f"(baseline {config.baseline_model} {summary['baseline_val_rmse_pct_fs']:.4g} % FS), "
                  f"best epoch {summary['best_epoch']:.0f}/{summary['epochs_run']:.0f}")
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "train_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def main(argv: list[str] | None = None) -> None:
    args = parse_args("Train the GENIEx surrogates listed in params.yaml", argv)
    run(load_params(args.params))


if __name__ == "__main__":
    main()
