"""Stage ``study``: DNN accuracy on simulated crossbars, per crossbar model and tile setting.

``python -m functional_sim.studies.accuracy_study --params params.yaml`` scores every trained network of
``functional_sim.train.nets`` on ``test_subset`` seeded test images:

* in float (``float``), and
* converted onto crossbars with each model of ``functional_sim.models`` (plus ``ideal``
  and the headline ``crossbar_model``) at each tile setting of ``functional_sim.settings``
  (:func:`functional_sim.studies.config.study_specs`; by default one per ``datagen.configs``
  entry). GENIEx variants load ``<surrogate.models_dir>/<variant>/<tag>.pt``.

Writes ``reports/accuracy.json``::

    {"float": {"mnist_cnn": {"top1": …}},
     "ideal": {"mnist_cnn": {"32x32/sinh/Ron100k/0.25V": {"top1": …}}},
     "analytical": {…}, "geniex": {…}, "headline": {…}, "test_images": {"mnist_cnn": 500}}

``headline`` repeats the figures of ``crossbar_model``, so that swapping the headline
model shows in ``dvc metrics diff``.

(top-1 as a fraction in [0, 1]), ``reports/plots/accuracy.csv`` + ``reports/plots/accuracy.png`` (all
models) and ``reports/plots/accuracy_headline.csv`` + ``.png`` (float, ideal and the headline
model). The SPICE-in-the-loop check is its own stage, :mod:`functional_sim.studies.ground_truth`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from functional_sim.studies import plots
from functional_sim.studies.config import StudyConfig, net_path
from functional_sim.sim.convert import convert
from functional_sim.studies.data import Split, load_images, pick_test_images
from functional_sim.studies.inference import load_net, predict, top1
from functional_sim.studies.nets import net_info
from functional_sim.studies.resume import UnitStore
from functional_sim.studies.shards import Unit, image_shards, run_units
from functional_sim.studies.stage import (add_study_arguments, model_inputs, net_inputs,
                                          read_study, require_checkpoints, stage_main,
                                          study_model, study_run, write_output)
from spice_netlists import CrossbarSpec


def load_study_nets(cfg: StudyConfig) -> dict[str, tuple[nn.Module, torch.Tensor, torch.Tensor]]:
    """Each trained network with its (subset of) test images and labels."""
    splits: dict[str, Split] = {}
    out = {}
    for name in cfg.train.nets:
        dataset = net_info(name).dataset
        if dataset not in splits:
            splits[dataset] = load_images(dataset, seed=cfg.seed, datasets=cfg.datasets)
        net, _ = load_net(net_path(cfg, name))
        x, y = pick_test_images(splits[dataset], cfg.test_subset, cfg.seed)
        out[name] = (net, x, y)
    return out


def shard_predictions(cfg: StudyConfig, model_name: str, tile: CrossbarSpec, net: nn.Module,
                      x: torch.Tensor, device: str = "cpu", log: bool = False,
                      label: str = "") -> torch.Tensor:
    """The classes ``net`` predicts for the images ``x`` (one shard) on crossbars of
    ``tile`` computed by the study's model ``model_name``, ``cfg.batch_size`` at a time."""
    start = time.perf_counter()
    model = study_model(cfg, model_name, tile)
    pred = predict(convert(net, cfg.sim.with_(spec=tile), model), x, cfg.batch_size, device)
    if log:
        print(f"{model_name:>17} {tile.label:>26} {label:>13}: {len(x)} images, "
              f"{time.perf_counter() - start:.1f} s", flush=True)
    return pred


def run_study(cfg: StudyConfig, specs: Sequence[CrossbarSpec], device: str = "cpu",
              log: bool = True, store: UnitStore | None = None) -> dict[str, Any]:
    """The accuracy report at every tile spec of ``specs`` (see the module docstring).
    Every checkpoint the models need is checked first (:func:`require_checkpoints`).
    Each shard of a network's images (``cfg.shard_images``) under a (model, setting) is
    a unit of ``store`` (none kept where ``None``), run where ``cfg.scheduler`` says
    (:func:`functional_sim.studies.shards.run_units`)."""
    store = UnitStore(None) if store is None else store
    require_checkpoints(cfg, specs, cfg.all_models)
    nets = load_study_nets(cfg)
    report: dict[str, Any] = {"float": {}}
    for name, (net, x, y) in nets.items():
        report["float"][name] = {"top1": top1(net, x, y, cfg.batch_size, device)}
    units, cells = [], []
    for model_name in cfg.all_models:
        report[model_name] = {name: {} for name in nets}
        for tile in specs:
            sim = cfg.sim.with_(spec=tile)
            for name, (net, x, y) in nets.items():
                shards = image_shards(len(y), cfg.shard_images)
                cells.append((model_name, tile, name, len(shards)))
                units += [Unit("accuracy_study.shard",
                               {"model": model_inputs(cfg, model_name, tile), "sim": sim,
                                "net": net_inputs(cfg, name), "x": x[sl],
                                "batch_size": cfg.batch_size, "device": device},
                               shard_predictions,
                               (cfg, model_name, tile, net, x[sl], device, log, name))
                          for sl in shards]
    results = iter(run_units(units, store, cfg.scheduler))
    for model_name, tile, name, n_shards in cells:
        pred = torch.cat([next(results) for _ in range(n_shards)])
        y = nets[name][2]
        acc = float((pred == y).double().mean())
        report[model_name][name][tile.label] = {"top1": acc}
        if log:
            print(f"{model_name:>17} {tile.label:>26} {name:>13}: top-1 {acc:.4f} "
                  f"({len(y)} images)", flush=True)
    report["test_images"] = {name: len(y) for name, (_, _, y) in nets.items()}
    return report


def write_outputs(report: dict[str, Any], cfg: StudyConfig, reports_dir: Path, plots_dir: Path) -> None:
    """accuracy.json, the all-model and the headline plots (CSV + PNG)."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    # "headline": the figures of functional_sim.crossbar_model, so that swapping the model
    # (dvc exp run -S functional_sim.crossbar_model=...) shows in `dvc metrics diff`
    payload = {**report, "headline": report[cfg.crossbar_model]}
    write_output(reports_dir / "accuracy.json", json.dumps(payload, indent=2) + "\n")
    rows = plots.accuracy_rows(report)
    plots.write_csv(rows, plots_dir / "accuracy.csv")
    plots.bar_chart(rows, plots_dir / "accuracy.png", "Top-1 accuracy per crossbar model")
    head = plots.accuracy_rows(report, ["ideal", cfg.crossbar_model])
    plots.write_csv(head, plots_dir / "accuracy_headline.csv")
    plots.bar_chart(head, plots_dir / "accuracy_headline.png",
                    f"Top-1 accuracy: float, ideal and {cfg.crossbar_model} crossbars")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_study_arguments(parser)
    parser.add_argument("--reports", default="reports")
    parser.add_argument("--plots", default="reports/plots")
    stage_main("accuracy_study", parser, _stage, argv, ("reports", "plots"))


def _stage(args: argparse.Namespace) -> None:
    cfg, specs, device = read_study(args)
    reports, plots_dir = Path(args.reports), Path(args.plots)
    outputs = [reports / "accuracy.json"] + [plots_dir / f"{name}.{ext}" for name in
                                              ("accuracy", "accuracy_headline")
                                              for ext in ("csv", "png")]
    with study_run("accuracy_study", args, outputs) as store:
        report = run_study(cfg, specs, device, store=store)
        write_outputs(report, cfg, reports, plots_dir)


if __name__ == "__main__":
    main()
