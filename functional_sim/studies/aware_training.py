"""Stage ``aware_training``: fine-tune a network through the bit-sliced simulator with a
crossbar model in the forward pass, and judge it by the exact model.

``python -m functional_sim.studies.aware_training --params params.yaml`` takes the trained
network ``functional_sim.aware_training.net`` at one study setting and the hardware
``aware_training.nonideal`` (overrides of ``functional_sim.sim.nonideal``, seeded as
there). For each crossbar model of ``aware_training.models`` it fine-tunes a copy of
the float network on its crossbar-mapped form: every forward pass is the simulator's
(that model, its tiles, bit slices, DAC and ADC; the hardware's non-idealities too
where ``train_nonideal``), and the gradients pass straight through the quantisation,
the ADC and the crossbar (:func:`functional_sim.sim.layers.straight_through`), so the
network learns what the model says the hardware does to it. Training is seeded and
runs in :func:`surrogate.training.deterministic_torch`.

Before fine-tuning and after every epoch, the network is scored on the study's whole
test subset by the ``reference`` (``circuit``, the exact nonlinear crossbar) on the same
hardware, and by the model it is trained through. A net trained through a cheap model
and scored by the exact one is the honest test: its gain must survive the truth.

Writes ``<out_dir>/<net>__<model>.pt`` (the fine-tuned float networks, loadable with
:func:`functional_sim.studies.inference.load_net`), ``reports/aware_training.json``::

    {"enabled": true, "net": "digits_mlp", "setting": …, "reference": "circuit",
     "nonideal": {…}, "train_nonideal": true, "float_top1": …, "test_images": …,
     "train_images": …, "before": {"truth": …},
     "models": {"analytical_device": {
         "before": {"truth": …, "model": …}, "after": {"truth": …, "model": …},
         "epochs": [{"epoch": 1, "train_loss": …, "truth_top1": …, "model_top1": …}, …],
         "recovered_pts": …, "gap_to_float_pts": …}, …},
     "headline": {"truth_loss_pts": …, "best_model": …, "best_gap_to_float_pts": …}}

(top-1 as fractions, ``*_pts`` in points) and ``reports/plots/aware_training.png`` (top-1
under the truth against epochs) with its CSV for ``dvc plots``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn

from functional_sim.studies.aware_training_config import merge_nonideal
from functional_sim.studies import plots
from functional_sim.studies.plots import plt
from functional_sim.studies.resume import UnitStore
from functional_sim.studies.stage import (add_study_arguments, model_inputs, net_inputs,
                                          read_study, require_checkpoints, stage_main,
                                          study_model, study_run, write_output)
from functional_sim.sim.config import SimConfig
from functional_sim.studies.config import StudyConfig, net_path, pick_setting
from functional_sim.sim.convert import convert
from functional_sim.studies.data import Split, load_images, pick_test_images
from functional_sim.studies.inference import load_net, predict, save_net
from functional_sim.studies.nets import build, net_info
from spice_netlists import CrossbarSpec
from surrogate.base import CrossbarModel
from surrogate.training import deterministic_torch

__all__ = ["fine_tune", "score", "run_aware_training", "write_plot", "main"]


def _model(cfg: StudyConfig, spec: CrossbarSpec, name: str) -> tuple[SimConfig, CrossbarModel]:
    return cfg.sim.with_(spec=spec), study_model(cfg, name, spec)


def score(net_name: str, state: dict[str, torch.Tensor], sim: SimConfig, model: CrossbarModel,
          x: torch.Tensor, y: torch.Tensor, batch_size: int, device: str) -> float:
    """Top-1 of the network ``net_name`` with weights ``state`` on crossbars ``sim``
    computed by ``model``."""
    net = build(net_name)
    net.load_state_dict(state)
    pred = predict(convert(net.eval(), sim, model), x, batch_size, device)
    return float((pred == y).double().mean())


def fine_tune(net: nn.Module, sim: SimConfig, model: CrossbarModel, x: torch.Tensor,
              y: torch.Tensor, epochs: int, batch_size: int, lr: float, seed: int,
              after_epoch: Callable[[int, dict], Any] | None = None,
              store: UnitStore | None = None,
              unit: Mapping[str, Any] | None = None) -> tuple[list[float], list[Any]]:
    """Fine-tune ``net`` (its weights are changed in place) through crossbars ``sim``
    computed by ``model``; returns each epoch's mean training loss and what
    ``after_epoch(epoch, state_dict)`` (called after every epoch, outside the
    deterministic block) returned.

    With a ``store`` and ``unit`` (what the training depends on, for the keys), every
    finished epoch is kept: the weights, the optimiser's and the shuffling generator's
    state, the losses and ``after_epoch``'s results so far. A rerun starts after the
    last kept epoch and goes on exactly as the uninterrupted run would (the epoch count
    is not part of the key, so more epochs continue a shorter run)."""
    sim_net = convert(net, sim, model, inplace=True)
    gen = torch.Generator().manual_seed(seed)
    loss_fn = nn.CrossEntropyLoss()
    losses: list[float] = []
    results: list[Any] = []
    with deterministic_torch():
        torch.manual_seed(seed)
        opt = torch.optim.Adam(sim_net.parameters(), lr=lr)
    keep = store is not None and store.directory is not None and unit is not None

    def key(epoch: int) -> str:
        assert store is not None and unit is not None
        return store.key("aware_training.epoch", {**unit, "epoch": epoch})

    first = 1
    if keep:
        for epoch in range(epochs, 0, -1):
            found, kept = store.load(key(epoch))
            if found:
                sim_net.load_state_dict(kept["weights"])
                opt.load_state_dict(kept["optimizer"])
                gen.set_state(kept["shuffle"])
                torch.set_rng_state(kept["torch_rng"])
                losses, results = list(kept["losses"]), list(kept["results"])
                store.hits += epoch
                first = epoch + 1
                break
    for epoch in range(first, epochs + 1):
        with deterministic_torch():
            sim_net.train()
            order = torch.randperm(len(y), generator=gen)
            total, count = 0.0, 0
            for i in range(0, len(y), batch_size):
                idx = order[i:i + batch_size]
                opt.zero_grad()
                loss = loss_fn(sim_net(x[idx]), y[idx])
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
                count += len(idx)
            sim_net.eval()
        losses.append(total / count)
        state = {k: v.detach().clone() for k, v in sim_net.state_dict().items()}
        results.append(after_epoch(epoch, state) if after_epoch is not None else None)
        if keep:
            store.keep(key(epoch), {"weights": state, "optimizer": opt.state_dict(),
                                    "shuffle": gen.get_state(), "torch_rng": torch.get_rng_state(),
                                    "losses": losses, "results": results})
    return losses, results


def run_aware_training(cfg: StudyConfig, specs: Sequence[CrossbarSpec], device: str = "cpu",
                       log: bool = True, store: UnitStore | None = None
                       ) -> tuple[dict[str, Any], dict[str, dict]]:
    """(the report of the module docstring, the fine-tuned state dict per model). The
    scores before fine-tuning and every epoch of every model are units of ``store``
    (none kept where ``None``)."""
    aware = cfg.aware_training
    if not aware.enabled:
        return {"enabled": False}, {}
    store = UnitStore(None) if store is None else store
    spec = pick_setting(aware.setting, specs, "functional_sim.aware_training.setting")
    require_checkpoints(cfg, [spec], [aware.reference, *aware.models])
    hardware = merge_nonideal(cfg.sim.nonideal, aware.nonideal,
                              "functional_sim.aware_training.nonideal")
    net, _ = load_net(net_path(cfg, aware.net))
    split: Split = load_images(net_info(aware.net).dataset, seed=cfg.seed, datasets=cfg.datasets)
    x_test, y_test = pick_test_images(split, cfg.test_subset, cfg.seed)
    n_train = aware.train_images or len(split.y_train)
    x_train, y_train = split.x_train[:n_train], split.y_train[:n_train]
    ref_sim, ref_model = _model(cfg, spec, aware.reference)
    ref_sim = ref_sim.with_(nonideal=hardware)
    start_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    common = {"net": net_inputs(cfg, aware.net), "setting": spec, "x_test": x_test,
              "y_test": y_test, "eval_batch_size": cfg.batch_size, "device": device,
              "reference": model_inputs(cfg, aware.reference, spec), "judged_by": ref_sim}

    def truth(state: dict) -> float:
        return score(aware.net, state, ref_sim, ref_model, x_test, y_test, cfg.batch_size, device)

    float_top1 = float((predict(net, x_test, cfg.batch_size, device) == y_test).double().mean())
    before = store.get_or_compute("aware_training.before", common, lambda: truth(start_state))
    report: dict[str, Any] = {
        "enabled": True, "net": aware.net, "setting": spec.label, "reference": aware.reference,
        "nonideal": aware.nonideal, "train_nonideal": aware.train_nonideal,
        "float_top1": float_top1, "test_images": len(y_test), "train_images": len(y_train),
        "before": {"truth": before}, "models": {}}
    if log:
        print(f"{aware.net} at {spec.label}: float {float_top1:.4f}, {aware.reference} on the "
              f"hardware {before:.4f} ({len(y_test)} images)", flush=True)
    states = {}
    for name in aware.models:
        sim, model = _model(cfg, spec, name)
        judged = sim.with_(nonideal=hardware)
        trained = sim.with_(nonideal=hardware if aware.train_nonideal else cfg.sim.nonideal)
        unit = {**common, "model": model_inputs(cfg, name, spec), "judged": judged,
                "trained": trained, "x_train": x_train, "y_train": y_train,
                "batch_size": aware.batch_size, "lr": aware.lr, "seed": aware.seed}
        model_before = store.get_or_compute(
            "aware_training.model_before", unit,
            lambda judged=judged, model=model: score(aware.net, start_state, judged, model,
                                                     x_test, y_test, cfg.batch_size, device))
        entry: dict[str, Any] = {"before": {"truth": before, "model": model_before}}

        def after_epoch(epoch: int, state: dict, judged: SimConfig = judged,
                        model: CrossbarModel = model, name: str = name) -> dict[str, Any]:
            truth_top1 = truth(state)
            row = {"epoch": epoch, "truth_top1": truth_top1,
                   "model_top1": truth_top1 if name == aware.reference else
                   score(aware.net, state, judged, model, x_test, y_test, cfg.batch_size, device)}
            if log:
                print(f"{name:>17} epoch {epoch}: {aware.reference} {row['truth_top1']:.4f}, "
                      f"{name} {row['model_top1']:.4f}", flush=True)
            return row

        start = time.perf_counter()
        tuned = build(aware.net)
        tuned.load_state_dict(start_state)
        losses, rows = fine_tune(tuned, trained, model, x_train, y_train, aware.epochs,
                                 aware.batch_size, aware.lr, aware.seed, after_epoch,
                                 store=store, unit=unit)
        entry["epochs"] = [dict(row) for row in rows]
        for row, loss in zip(entry["epochs"], losses):
            row["train_loss"] = loss
        states[name] = {k: v.detach().clone() for k, v in tuned.state_dict().items()}
        last = entry["epochs"][-1]
        entry["after"] = {"truth": last["truth_top1"], "model": last["model_top1"]}
        entry["recovered_pts"] = 100 * (last["truth_top1"] - before)
        entry["gap_to_float_pts"] = 100 * (float_top1 - last["truth_top1"])
        report["models"][name] = entry
        if log:
            print(f"{name:>17}: fine-tuning and scoring took {time.perf_counter() - start:.1f} s",
                  flush=True)
    best = min(report["models"], key=lambda m: report["models"][m]["gap_to_float_pts"])
    report["headline"] = {"truth_loss_pts": 100 * (float_top1 - before), "best_model": best,
                          "best_gap_to_float_pts": report["models"][best]["gap_to_float_pts"]}
    return report, states


def write_plot(report: dict[str, Any], png: Path, csv_path: Path) -> None:
    """Top-1 under the truth against epochs, one line per training model (PNG), and its
    CSV (model, epoch, truth_top1, model_top1)."""
    rows = []
    for name, entry in report.get("models", {}).items():
        rows.append({"model": name, "epoch": 0, "truth_top1": entry["before"]["truth"],
                     "model_top1": entry["before"]["model"]})
        rows += [{"model": name, "epoch": r["epoch"], "truth_top1": r["truth_top1"],
                  "model_top1": r["model_top1"]} for r in entry["epochs"]]
    plots.write_rows(rows, csv_path, ["model", "epoch", "truth_top1", "model_top1"])
    fig, ax = plt.subplots(figsize=(6, 4))
    for name in report.get("models", {}):
        pts = [r for r in rows if r["model"] == name]
        ax.plot([r["epoch"] for r in pts], [100 * r["truth_top1"] for r in pts], marker="o",
                label=f"trained through {name}")
    if "float_top1" in report:
        ax.axhline(100 * report["float_top1"], color="black", linestyle="--", label="float")
    ax.set_xlabel("fine-tuning epoch")
    ax.set_ylabel(f"top-1 under {report.get('reference', '')} (%)")
    ax.set_title(f"{report.get('net', '')} at {report.get('setting', '')}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    plots.save_figure(fig, png)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_study_arguments(parser)
    parser.add_argument("--out", default="reports/aware_training.json")
    parser.add_argument("--plots", default="reports/plots")
    stage_main("aware_training", parser, _stage, argv, ("out", "plots"))


def save_tuned(out_dir: Path, report: dict[str, Any], states: dict[str, dict]) -> None:
    """The fine-tuned networks into ``out_dir``, swapped in whole: they are written to a
    sibling folder first, which then replaces ``out_dir`` (a killed stage leaves the old
    folder, never a mix)."""
    out_dir = Path(out_dir)
    fresh = out_dir.with_name(f".{out_dir.name}.new")
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(parents=True)
    net = report["net"]
    for name, state in states.items():
        tuned = build(net)
        tuned.load_state_dict(state)
        entry = report["models"][name]
        save_net(fresh / f"{net}__{name}.pt", net, tuned, trained_through=name,
                 setting=report["setting"], nonideal=report["nonideal"],
                 truth_top1=entry["after"]["truth"])
    old = out_dir.with_name(f".{out_dir.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if out_dir.exists():
        out_dir.rename(old)
    fresh.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)


def _stage(args: argparse.Namespace) -> None:
    cfg, specs, device = read_study(args)
    plot_dir = Path(args.plots)
    outputs = [args.out, plot_dir / "aware_training.png", plot_dir / "aware_training.csv",
               *(Path(cfg.aware_training.out_dir) / f"{cfg.aware_training.net}__{m}.pt"
                 for m in cfg.aware_training.models)]
    with study_run("aware_training", args, outputs) as store:
        report, states = run_aware_training(cfg, specs, device, store=store)
        if states:
            save_tuned(Path(cfg.aware_training.out_dir), report, states)
        write_output(args.out, json.dumps(report, indent=2) + "\n")
        write_plot(report, plot_dir / "aware_training.png", plot_dir / "aware_training.csv")


if __name__ == "__main__":
    main()
