"""Stage ``sensitivity``: DNN accuracy against the strength of each non-ideality, under
exact truth and the cheap models, and MDM against identity mapping.

``python -m functional_sim.studies.sensitivity --params params.yaml`` runs network
``functional_sim.sensitivity.net`` on its first ``images`` seeded test images at one
study setting. For every sweep (``sensitivity.sweeps``: one field of
``functional_sim.sim.nonideal`` over a list of values, the rest as params.yaml sets it)
and every value, the network is run through the ``reference`` model (the exact
``circuit``) and each cheap model, all on the same perturbed tiles
(:mod:`functional_sim.sim.nonideal`), once per seed of ``seeds``. Then each tile layout of
``mappings`` (identity, MDM) runs at params.yaml's non-idealities, and every model's
nonideality factor (:mod:`functional_sim.sim.nf`) is measured per layer. The reference
also runs once with the wires at 0 Ω: what remains (``nf_without_wires``, the driver
and sense resistances) is what no layout can change, and ``wire_nf_reduction`` is the
share of the rest, the wires' part, that a layout removes.

Writes ``reports/sensitivity.json`` (top-1 as fractions, misses in points)::

    {"enabled": true, "net": "digits_mlp", "setting": "32x32/sinh/Ron100k/0.5V",
     "images": 120, "reference": "circuit", "models": [...], "seeds": [0],
     "float_top1": …,
     "sweeps": {"programming_sigma": {"path": "programming.sigma", "values": [...],
                "top1": {"circuit": [...], "ideal": [...], …},
                "top1_seed_std": {…},            # with more than one seed
                "miss_pts": {"ideal": [...], …}}, …},   # model − reference, points
     "mapping": {"identity": {"top1": {model: …}, "nf": {model: {"mean": …, "layers": {…}}}},
                 "mdm": {…},
                 "nf_reduction": {model: …},     # 1 − NF(mdm)/NF(identity)
                 "top1_gain_pts": {model: …},    # top-1(mdm) − top-1(identity), points
                 "wire_nf_reduction": …},        # the reference's, of its wire part
     "nf_without_wires": …}}                     # the reference's NF, wires at 0 Ω

and ``reports/sensitivity.md`` (tables), ``reports/plots/sensitivity.png`` (accuracy
against strength, one panel per sweep) with its long-format CSV for ``dvc plots``.
While ``sensitivity.enabled`` is false it writes ``{"enabled": false}`` only.
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
from functional_sim.studies.plots import plt
from functional_sim.studies.resume import UnitStore
from functional_sim.studies.stage import (add_study_arguments, model_inputs, net_inputs,
                                          stage_main, study_run, write_output, read_study,
                                          require_checkpoints, study_model)
from functional_sim.sim.config import SimConfig
from functional_sim.studies.config import StudyConfig, net_path, pick_setting
from functional_sim.sim.convert import convert, sim_layers
from functional_sim.studies.data import load_images, pick_test_images
from functional_sim.studies.inference import load_net, predict
from functional_sim.studies.nets import net_info
from functional_sim.sim.nf import NFMeter
from functional_sim.sim.nonideal_config import NonidealConfig
from spice_netlists import CrossbarSpec
from surrogate.base import CrossbarModel

__all__ = ["run_sensitivity", "markdown_tables", "write_plot", "main"]


class _Runner:
    """Runs the network through one model at one (non-idealities, mapping) point."""

    def __init__(self, cfg: StudyConfig, spec: CrossbarSpec, net: nn.Module, x: torch.Tensor,
                 y: torch.Tensor, device: str, log: bool, store: UnitStore,
                 net_name: str) -> None:
        self.cfg, self.spec, self.net, self.x, self.y = cfg, spec, net, x, y
        self.device, self.log, self.store = device, log, store
        self.unit = {"setting": spec, "sim": cfg.sim, "net": net_inputs(cfg, net_name),
                     "x": x, "y": y, "batch_size": cfg.batch_size, "device": device}
        self.models: dict[str, tuple[SimConfig, CrossbarModel]] = {}
        self.cache: dict[str, tuple[float, dict[str, Any]]] = {}

    def _model(self, name: str) -> tuple[SimConfig, CrossbarModel]:
        if name not in self.models:
            self.models[name] = (self.cfg.sim.with_(spec=self.spec),
                                 study_model(self.cfg, name, self.spec))
        return self.models[name]

    def run(self, model: str, nonideal: NonidealConfig, mapping: str,
            spec: CrossbarSpec | None = None) -> tuple[float, dict[str, Any]]:
        """(top-1, NF {"mean", "layers"}) of ``model`` at one point (cached); ``spec``
        replaces the setting's tile physics (a model without checkpoint only)."""
        key = json.dumps([model, mapping, nonideal.to_dict(),
                          None if spec is None else spec.to_dict()], sort_keys=True)
        if key not in self.cache:
            inputs = {**self.unit, "point": key,
                      "model": model_inputs(self.cfg, model, spec or self.spec)}
            self.cache[key] = self.store.get_or_compute(
                "sensitivity", inputs, lambda: self._compute(model, nonideal, mapping, spec))
        return self.cache[key]

    def _compute(self, model: str, nonideal: NonidealConfig, mapping: str,
                 spec: CrossbarSpec | None) -> tuple[float, dict[str, Any]]:
        sim, xbar = self._model(model)
        if spec is not None:
            sim, xbar = sim.with_(spec=spec), study_model(self.cfg, model, spec)
        sim = sim.with_(nonideal=nonideal, mapping=mapping)
        sim_net = convert(self.net, sim, xbar)
        meter = NFMeter(sim.spec)
        for _, layer in sim_layers(sim_net):
            layer.engine.nf_meter = meter
        start = time.perf_counter()
        pred = predict(sim_net, self.x, self.cfg.batch_size, self.device)
        acc = float((pred == self.y).double().mean())
        nf = {"mean": meter.overall(), "layers": meter.per_layer()}
        if self.log:
            print(f"{model:>17} {mapping:>8} seed {nonideal.seed}: top-1 {acc:.4f}, "
                  f"NF {nf['mean']:+.4f} ({time.perf_counter() - start:.1f} s)", flush=True)
        return acc, nf


def _mean_std(values: list[float]) -> tuple[float, float]:
    t = torch.tensor(values, dtype=torch.float64)
    return float(t.mean()), float(t.std(unbiased=False)) if len(values) > 1 else 0.0


def run_sensitivity(cfg: StudyConfig, specs: Sequence[CrossbarSpec], device: str = "cpu",
                    log: bool = True, store: UnitStore | None = None) -> dict[str, Any]:
    """The sensitivity report (module docstring) at the setting of
    ``cfg.sensitivity.setting`` among ``specs``. Each (model, point) run is a unit of
    ``store`` (none kept where ``None``)."""
    sens = cfg.sensitivity
    store = UnitStore(None) if store is None else store
    if not sens.enabled:
        return {"enabled": False}
    start = time.perf_counter()
    spec = pick_setting(sens.setting, specs, "functional_sim.sensitivity.setting")
    models = list(dict.fromkeys([sens.reference, *sens.models]))
    require_checkpoints(cfg, [spec], models)
    net, _ = load_net(net_path(cfg, sens.net))
    split = load_images(net_info(sens.net).dataset, seed=cfg.seed, datasets=cfg.datasets)
    x, y = pick_test_images(split, cfg.test_subset, cfg.seed)
    x, y = x[:sens.images], y[:sens.images]
    runner = _Runner(cfg, spec, net, x, y, device, log, store, sens.net)
    base = cfg.sim.nonideal
    report: dict[str, Any] = {
        "enabled": True, "net": sens.net, "setting": spec.label, "images": len(y),
        "reference": sens.reference, "models": [m for m in models if m != sens.reference],
        "seeds": list(sens.seeds),
        "float_top1": float((predict(net, x, cfg.batch_size, device) == y).double().mean()),
        "sweeps": {}, "mapping": {}}
    baseline_mapping = sens.mappings[0]
    for name, sweep in sens.sweeps.items():
        entry: dict[str, Any] = {"path": sweep.path, "values": list(sweep.values),
                                 "log_x": sweep.log_x, "top1": {}, "miss_pts": {}}
        if len(sens.seeds) > 1:
            entry["top1_seed_std"] = {}
        if log:
            print(f"sweep {name} ({sweep.path}): {list(sweep.values)}", flush=True)
        for model in models:
            means, stds = [], []
            for value in sweep.values:
                accs = [runner.run(model, sweep.nonideal(base.with_(seed=seed), value),
                                   baseline_mapping)[0] for seed in sens.seeds]
                mean, std = _mean_std(accs)
                means.append(mean)
                stds.append(std)
            entry["top1"][model] = means
            if "top1_seed_std" in entry:
                entry["top1_seed_std"][model] = stds
        truth = entry["top1"][sens.reference]
        for model in models[1:]:
            entry["miss_pts"][model] = [100 * (a - t) for a, t in zip(entry["top1"][model], truth)]
        report["sweeps"][name] = entry
    for mapping in sens.mappings:
        top, nfs = {}, {}
        for model in models:
            accs, means, layers = [], [], []
            for seed in sens.seeds:
                acc, nf = runner.run(model, base.with_(seed=seed), mapping)
                accs.append(acc)
                means.append(nf["mean"])
                layers.append(nf["layers"])
            top[model] = _mean_std(accs)[0]
            nfs[model] = {"mean": _mean_std(means)[0],
                          "layers": {k: _mean_std([lay[k] for lay in layers])[0]
                                     for k in layers[0]}}
        report["mapping"][mapping] = {"top1": top, "nf": nfs}
    # what no layout can change: the NF of the same crossbar without wire resistance
    # (driver and sense resistances only), under the reference, at the first seed
    wire_free = spec.with_(r_wire_row=0.0, r_wire_col=0.0)
    floor = runner.run(sens.reference, base.with_(seed=sens.seeds[0]), "identity", wire_free)[1]
    report["mapping"]["nf_without_wires"] = floor["mean"]
    if len(sens.mappings) > 1:
        first = report["mapping"][baseline_mapping]
        for mapping in sens.mappings[1:]:
            other = report["mapping"][mapping]
            other["nf_reduction"] = {m: (1 - other["nf"][m]["mean"] / first["nf"][m]["mean"])
                                     if first["nf"][m]["mean"] else float("nan") for m in models}
            other["top1_gain_pts"] = {m: 100 * (other["top1"][m] - first["top1"][m]) for m in models}
            wires = first["nf"][sens.reference]["mean"] - floor["mean"]
            other["wire_nf_reduction"] = (
                (first["nf"][sens.reference]["mean"] - other["nf"][sens.reference]["mean"]) / wires
                if wires else float("nan"))
    if log:   # printed, not reported: reports hold no wall-clock time (byte-reproducible)
        print(f"sensitivity: {time.perf_counter() - start:.1f} s", flush=True)
    return report


def _fmt(value: float) -> str:
    return f"{value:g}"


def markdown_tables(report: dict[str, Any]) -> str:
    """The report as Markdown: one accuracy table per sweep, then the mapping table."""
    if not report.get("enabled"):
        return "The sensitivity study is disabled (functional_sim.sensitivity.enabled).\n"
    ref = report["reference"]
    models = [ref, *report["models"]]
    lines = [f"# Sensitivity: {report['net']} at {report['setting']}, {report['images']} images",
             "", f"Top-1 in % (float: {100 * report['float_top1']:.1f} %); the truth is "
                 f"`{ref}`. Seeds: {report['seeds']}.", ""]
    for name, entry in report["sweeps"].items():
        lines += [f"## {name} (`{entry['path']}`)", "",
                  "| " + entry["path"] + " | " + " | ".join(models) + " |",
                  "|---" * (len(models) + 1) + "|"]
        for k, value in enumerate(entry["values"]):
            cells = [f"{100 * entry['top1'][m][k]:.1f}" for m in models]
            lines.append(f"| {_fmt(value)} | " + " | ".join(cells) + " |")
        lines.append("")
    mapping = {k: v for k, v in report["mapping"].items() if isinstance(v, dict)}
    if mapping:
        names = list(mapping)
        lines += ["## Tile layout", "", "NF = mean over reads and columns of "
                  "(I_ideal − I)/I_ideal (columns above 1 % of full scale).", "",
                  "| model | " + " | ".join(f"top-1 {n} | NF {n}" for n in names)
                  + "".join(f" | NF reduction {n}" for n in names[1:]) + " |",
                  "|---" * (2 * len(names) + len(names)) + "|"]
        for m in models:
            cells = [f"{100 * mapping[n]['top1'][m]:.1f} | {mapping[n]['nf'][m]['mean']:+.4f}"
                     for n in names]
            red = "".join(f" | {100 * mapping[n]['nf_reduction'][m]:.1f} %" for n in names[1:])
            lines.append(f"| {m} | " + " | ".join(cells) + red + " |")
        lines.append("")
        floor = report["mapping"].get("nf_without_wires")
        if floor is not None:
            lines.append(f"NF of `{ref}` with the wires at 0 Ω (driver and sense resistances "
                         f"only, what no layout changes): {floor:+.4f}.")
            for n in names[1:]:
                lines.append(f"{n} removes {100 * mapping[n]['wire_nf_reduction']:.1f} % of the "
                             f"wires' part of `{ref}`'s NF.")
            lines.append("")
    return "\n".join(lines)


def plot_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Long-format rows (sweep, value, model, top1) for ``dvc plots``."""
    rows = []
    for name, entry in report.get("sweeps", {}).items():
        for model, accs in entry["top1"].items():
            for value, acc in zip(entry["values"], accs):
                rows.append({"sweep": name, "value": value, "model": model, "top1": acc})
    return rows


def write_plot(report: dict[str, Any], png: Path, csv_path: Path) -> None:
    """Accuracy against strength, one panel per sweep (PNG), and its CSV."""
    plots.write_rows(plot_rows(report), csv_path, ["sweep", "value", "model", "top1"])
    sweeps = report.get("sweeps", {})
    fig, axes = plt.subplots(1, max(1, len(sweeps)), figsize=(4.2 * max(1, len(sweeps)), 3.6),
                             squeeze=False)
    for ax, (name, entry) in zip(axes[0], sweeps.items()):
        for model, accs in entry["top1"].items():
            truth = model == report["reference"]
            xs = entry["values"]
            ax.plot(xs, [100 * a for a in accs], marker="o", label=model,
                    color="black" if truth else None, linewidth=2.5 if truth else 1.2)
        if entry.get("log_x"):
            ax.set_xscale("log")
        ax.set_xlabel(entry["path"])
        ax.set_title(name)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("top-1 (%)")
    if sweeps:
        axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{report.get('net', '')} at {report.get('setting', '')}: "
                 f"accuracy against non-ideality strength (black: {report.get('reference', '')})",
                 fontsize=9)
    plots.save_figure(fig, png)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_study_arguments(parser)
    parser.add_argument("--out", default="reports/sensitivity.json")
    parser.add_argument("--table", default="reports/sensitivity.md")
    parser.add_argument("--plots", default="reports/plots")
    stage_main("sensitivity", parser, _stage, argv, ("out", "table", "plots"))


def _stage(args: argparse.Namespace) -> None:
    cfg, specs, device = read_study(args)
    plot_dir = Path(args.plots)
    outputs = [args.out, args.table, plot_dir / "sensitivity.png", plot_dir / "sensitivity.csv"]
    with study_run("sensitivity", args, outputs) as store:
        report = run_sensitivity(cfg, specs, device, store=store)
        write_output(args.out, json.dumps(report, indent=2) + "\n")
        write_output(args.table, markdown_tables(report) + "\n")
        write_plot(report, plot_dir / "sensitivity.png", plot_dir / "sensitivity.csv")


if __name__ == "__main__":
    main()
