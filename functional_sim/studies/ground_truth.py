"""Ground truth: which cheap crossbar model predicts a network's accuracy, against exact truth.

Three levels of truth, each checking the next (``functional_sim.ground_truth`` in
params.yaml, :class:`~functional_sim.studies.config.GroundTruthConfig`), at every tile setting
of the study (``functional_sim.settings``; :func:`functional_sim.studies.config.study_specs`):

1. **The reference over the whole test subset.** For each network of ``nets``, every
   crossbar read of every layer, on the study's ``functional_sim.test_subset`` seeded
   test images (the whole test split where that is smaller: digits has 360; at most
   ``max_images`` of them for a network it names), is run
   through the ``reference`` model: ``circuit`` by default, the exact operating point of
   the whole nonlinear crossbar (every parasitic and the device I–V), which agrees with
   ngspice to within ngspice's own tolerance at about a hundredth of its cost.
2. **The cheap models against it.** Each model of ``models`` (ideal, analytical,
   analytical_device, GENIEx variants) is scored per setting and network on

   * ``top1`` with ``ci95``, Wilson's 95 % interval over the images;
   * ``degradation_error``: its top-1 − the truth's, the error of the accuracy loss it
     predicts (positive: too optimistic), with ``degradation_error_ci95``, the paired
     95 % interval over the same images (:mod:`functional_sim.studies.accuracy_stats`);
   * ``agreement``: the share of images whose predicted class equals the truth's;
   * ``layers``: per crossbar layer, the error of the layer's output against the
     reference's, with the layer fed the reference's own input (errors isolated, not
     accumulated): ``rel_rmse = rms(out − out_ref) / rms(out_ref)`` and
     ``max_rel_error = max|out − out_ref| / max|out_ref|``.

   ``best_model`` is the cheap model with the smallest |degradation_error| (ties broken
   by higher agreement, then lower summed layer ``rel_rmse``); the truth's own entry
   holds its ``top1``, ``ci95`` and ``degradation`` (float top-1 − its top-1). The
   ``headline`` (:func:`functional_sim.studies.ground_truth_report.headline`) sums the settings
   up: each model's mean and largest miss in points, where the truth loses most, and,
   where the analytical model misses by 2 points or more, which models come within 0.5.
3. **SPICE in the loop on some images** (``spice_check``; ``{"n_images": 0}`` when
   ``spice_check_images`` is 0): on ``spice_check_images`` test images of
   ``spice_check_net`` (the first of the same seeded choice) at the settings of
   ``spice_check_settings`` (all where empty), every crossbar read also runs in ngspice,
   and the reference and the cheap models are scored against SPICE as above (the
   reference is scored but not ranked). For the reference it adds
   ``currents_max_rel_error`` per layer: the largest difference of its column currents
   from ngspice's on the same tile reads (before the ADC), over the largest current. The
   check runs in float64 (the main comparison in float32, as the study does), so that it
   resolves differences far below its tolerance. ``passed`` says whether, at every
   checked setting, the reference predicts SPICE's classes on every image (agreement
   1.0) and every layer's output agrees to ``tolerance`` (``max_rel_error`` ≤
   :data:`SPICE_CHECK_TOLERANCE`); a failure is printed as a warning, the report is
   written all the same.

Report (``reports/ground_truth.json``, top-1 as fractions, the headline in points)::

    {"enabled": true, "reference": "circuit",
     "nets": {"digits_mlp": {"images": 360, "float_top1": …}},
     "settings": {"32x32/sinh/Ron100k/0.25V": {"digits_mlp": {
         "circuit": {"top1", "ci95", "degradation"},
         "ideal": {"top1", "ci95", "degradation_error", "degradation_error_ci95",
                   "agreement", "layers": {"1": {"rel_rmse", "max_rel_error"}, …}}, …,
         "best_model": …}}, …},
     "headline": {…},
     "spice_check": {"net": "digits_mlp", "n_images": 16, "tolerance": 1e-09,
                     "passed": true, "settings": {"32x32/sinh/Ron100k/0.25V": {
                         "spice": {"top1", "ci95"}, "circuit": {…}, "ideal": {…}, …}}}}

``python -m functional_sim.studies.ground_truth --params params.yaml`` writes it, the table
``reports/ground_truth.md`` and the plot ``reports/plots/ground_truth.png`` (+ CSV), and
prints the time each model took; while ``functional_sim.ground_truth.enabled`` is false
it writes ``{"enabled": false}`` only.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from functional_sim.studies import ground_truth_report
from functional_sim.studies.accuracy_stats import paired_difference, wilson_interval
from functional_sim.sim.config import SimConfig
from functional_sim.studies.config import (ConfigError, StudyConfig, net_path, read_params,
                                           study_config, study_specs)
from functional_sim.sim.convert import convert, sim_layers
from functional_sim.studies.data import load_images, pick_test_images
from functional_sim.studies.inference import load_net, predict
from functional_sim.studies.nets import net_info
from functional_sim.studies.resume import UnitStore
from functional_sim.studies.shards import Unit, image_shards, run_units
from functional_sim.studies.stage import (add_study_arguments, model_inputs, net_inputs,
                                          require_checkpoints, stage_main, study_model,
                                          study_run, write_output)
from spice_netlists import CrossbarSpec
from surrogate.base import CrossbarModel

#: the largest ``max_rel_error`` of a layer output at which the reference passes the
#: SPICE check
SPICE_CHECK_TOLERANCE = 1e-9

#: models that solve every tile read exactly (no per-tile reduction): their inputs are
#: sent in chunks of this many voltage elements, which bounds the solver's per-read
#: state (node voltages and cell currents of every read in the chunk, kept until the
#: chunk is done) without costing speed, since the circuit solver works through 128
#: reads of 32×32 at a time anyway (digits_mlp, 120 images at both voltages, 2 cores:
#: 0.86 GB peak and 11.5 s, against 1.67 GB and 13.6 s with the default chunk)
EXACT_MODELS = ("circuit", "spice")
EXACT_CHUNK_ELEMENTS = 1 << 17


class _Recording(CrossbarModel):
    """A crossbar model that keeps every column-current result of ``inner`` (on CPU)."""

    def __init__(self, inner: CrossbarModel) -> None:
        super().__init__(inner.spec)
        self.inner, self.name = inner, inner.name
        self.currents: list[torch.Tensor] = []

    def prepare(self, g: torch.Tensor) -> Any:
        return self.inner.prepare(g)

    def mvm(self, prepared: Any, v: torch.Tensor) -> torch.Tensor:
        out = self.inner.mvm(prepared, v)
        self.currents.append(out.detach().to("cpu", copy=True))   # the ADC works in place
        return out


@dataclass
class _Run:
    """One model's run: predictions, each crossbar layer's (input, output) and, where
    recorded, each layer's column currents (in call order)."""

    pred: torch.Tensor
    io: dict[str, tuple[torch.Tensor, torch.Tensor]]
    currents: dict[str, list[torch.Tensor]]


def _model_config(cfg: StudyConfig, spec: CrossbarSpec, name: str) -> tuple[SimConfig, CrossbarModel]:
    """The mapping and the crossbar model ``name`` at tile ``spec`` (the exact models in
    smaller chunks)."""
    sim = cfg.sim.with_(spec=spec)
    if name in EXACT_MODELS:
        sim = sim.with_(chunk_elements=min(sim.chunk_elements, EXACT_CHUNK_ELEMENTS))
    return sim, study_model(cfg, name, spec)


def _convert(net: nn.Module, setup: tuple[SimConfig, CrossbarModel],
             record: bool) -> tuple[nn.Module, dict[str, _Recording]]:
    """``net`` on the crossbars of ``setup`` (mapping, model); with ``record``, each layer
    gets its own recording wrapper of the model (so that currents are kept per layer)."""
    sim, model = setup
    sim_net = convert(net, sim, model)
    recorders: dict[str, _Recording] = {}
    if record:
        for lname, layer in sim_layers(sim_net):
            recorders[lname] = _Recording(model)
            layer.set_model(recorders[lname])
    return sim_net, recorders


def _capture(sim_net: nn.Module, x: torch.Tensor, device: str) -> tuple[torch.Tensor, dict[str, tuple[torch.Tensor, torch.Tensor]]]:
    """Predictions and each crossbar layer's (input, output)."""
    seen: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    handles = []
    for name, layer in sim_layers(sim_net):
        def hook(mod: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor, name: str = name) -> None:
            seen[name] = (inp[0].detach().cpu(), out.detach().cpu())
        handles.append(layer.register_forward_hook(hook))
    try:
        preds = predict(sim_net, x, batch_size=len(x), device=device)
    finally:
        for h in handles:
            h.remove()
    return preds, seen


def _run_reference(net: nn.Module, x: torch.Tensor, setup: tuple[SimConfig, CrossbarModel],
                   device: str, record: bool = False) -> _Run:
    sim_net, recorders = _convert(net, setup, record)
    pred, io = _capture(sim_net.to(device), x, device)
    return _Run(pred, io, {k: r.currents for k, r in recorders.items()})


def _layer_sums(a: torch.Tensor, ref: torch.Tensor) -> dict[str, float]:
    """What a layer's errors over several shards are made of: the sums of squared
    differences and of squared reference values, and the largest of each magnitude
    (float64)."""
    if ref.numel() == 0:
        return {"sq_diff": 0.0, "sq_ref": 0.0, "max_diff": 0.0, "max_ref": 0.0}
    diff = a.double() - ref.double()
    return {"sq_diff": float(diff.pow(2).sum()), "sq_ref": float(ref.double().pow(2).sum()),
            "max_diff": float(diff.abs().max()), "max_ref": float(ref.double().abs().max())}


def _add_sums(total: dict[str, float] | None, part: dict[str, float]) -> dict[str, float]:
    if total is None:
        return dict(part)
    return {"sq_diff": total["sq_diff"] + part["sq_diff"], "sq_ref": total["sq_ref"] + part["sq_ref"],
            "max_diff": max(total["max_diff"], part["max_diff"]),
            "max_ref": max(total["max_ref"], part["max_ref"])}


def _rel_rms(sums: dict[str, float]) -> float:
    """rms(out − out_ref) / rms(out_ref) (0 where the reference is all zero)."""
    return math.sqrt(sums["sq_diff"] / sums["sq_ref"]) if sums["sq_ref"] > 0 else 0.0


def _max_rel(sums: dict[str, float]) -> float:
    """max|out − out_ref| / max|out_ref| (0 for an empty or all-zero reference equal
    to the output)."""
    diff, scale = sums["max_diff"], sums["max_ref"]
    return diff / scale if scale > 0 else (0.0 if diff == 0 else float("inf"))


def _top1_entry(pred: torch.Tensor, y: torch.Tensor) -> dict[str, Any]:
    right = pred == y
    return {"top1": float(right.double().mean()),
            "ci95": list(wilson_interval(int(right.sum()), len(y)))}


def _score_shard(net: nn.Module, x: torch.Tensor, ref: _Run,
                 setup: tuple[SimConfig, CrossbarModel], device: str,
                 record: bool = False) -> dict[str, Any]:
    """One model on one shard against the reference run ``ref``: its predictions and,
    per crossbar layer fed the reference's input, the sums of its output errors (and,
    with ``record``, of its column currents' errors against the reference's)."""
    sim_net, recorders = _convert(net, setup, record)
    sim_net = sim_net.to(device)
    pred = predict(sim_net, x, batch_size=len(x), device=device)
    layers: dict[str, dict[str, dict[str, float]]] = {}
    with torch.no_grad():
        for lname, layer in sim_layers(sim_net):
            inp, ref_out = ref.io[lname]
            if lname in recorders:
                recorders[lname].currents.clear()     # keep the isolated run's only
            out = layer(inp.to(device)).cpu()
            layers[lname] = {"out": _layer_sums(out, ref_out)}
            if lname in recorders and lname in ref.currents:
                mine, theirs = recorders[lname].currents, ref.currents[lname]
                if len(mine) != len(theirs) \
                        or any(a.shape != b.shape for a, b in zip(mine, theirs)):
                    raise RuntimeError(f"layer {lname}: the tile reads of the two runs differ")
                layers[lname]["currents"] = _layer_sums(
                    torch.cat([a.reshape(-1) for a in mine]) if mine else torch.zeros(0),
                    torch.cat([b.reshape(-1) for b in theirs]) if theirs else torch.zeros(0))
    return {"pred": pred, "layers": layers}


def _best(out: dict[str, Any], models: list[str]) -> str | None:
    ranked = sorted(models, key=lambda m: (abs(out[m]["degradation_error"]), -out[m]["agreement"],
                                           sum(v["rel_rmse"] for v in out[m]["layers"].values())))
    return ranked[0] if ranked else None


def score_shard(net: nn.Module, x: torch.Tensor, cfg: StudyConfig, spec: CrossbarSpec,
                reference: str, models: Sequence[str], device: str = "cpu",
                checked: str | None = None, log: bool = False, label: str = "") -> dict[str, Any]:
    """The work of one shard of images at one tile spec: the reference's predictions
    and, for each model (``checked`` first, its column currents compared too), its
    predictions and per-layer error sums (:func:`combine_shards` makes the figures)."""
    def timed(name: str, start: float) -> None:
        if log:
            print(f"{name:>17} {spec.label:>26} {label:>13}: {len(x)} images, "
                  f"{time.perf_counter() - start:.1f} s", flush=True)

    record = checked is not None
    start = time.perf_counter()
    ref = _run_reference(net, x, _model_config(cfg, spec, reference), device, record)
    timed(reference, start)
    out: dict[str, Any] = {"reference": ref.pred, "models": {}}
    for name in ([checked] if checked else []) + [m for m in models if m != checked]:
        start = time.perf_counter()
        out["models"][name] = _score_shard(net, x, ref, _model_config(cfg, spec, name), device,
                                           record=name == checked)
        timed(name, start)
    return out


def combine_shards(shards: Sequence[dict[str, Any]], y: torch.Tensor, reference: str,
                   models: Sequence[str], checked: str | None = None,
                   float_top1: float | None = None,
                   correct: dict[str, torch.Tensor] | None = None) -> dict[str, Any]:
    """Points 2 (and 3) of the module docstring from the shards' results of
    :func:`score_shard`, in image order (``y``: all their labels): the reference's
    top-1, each model's figures against it and ``best_model``. ``correct``, where given,
    receives each model's and the reference's per-image right/wrong."""
    ref_pred = torch.cat([shard["reference"] for shard in shards])
    if correct is not None:
        correct[reference] = ref_pred == y
    out: dict[str, Any] = {reference: _top1_entry(ref_pred, y)}
    if float_top1 is not None:
        out[reference]["degradation"] = float_top1 - out[reference]["top1"]
    for name in shards[0]["models"]:
        pred = torch.cat([shard["models"][name]["pred"] for shard in shards])
        sums: dict[str, dict[str, dict[str, float]]] = {}
        for shard in shards:
            for lname, parts in shard["models"][name]["layers"].items():
                layer = sums.setdefault(lname, {})
                for kind, part in parts.items():
                    layer[kind] = _add_sums(layer.get(kind), part)
        layers = {}
        for lname, layer in sums.items():
            layers[lname] = {"rel_rmse": _rel_rms(layer["out"]),
                             "max_rel_error": _max_rel(layer["out"])}
            if "currents" in layer:
                layers[lname]["currents_max_rel_error"] = _max_rel(layer["currents"])
        error, low, high = paired_difference(pred == y, ref_pred == y)
        out[name] = {**_top1_entry(pred, y), "degradation_error": error,
                     "degradation_error_ci95": [low, high],
                     "agreement": float((pred == ref_pred).double().mean()), "layers": layers}
        if correct is not None:
            correct[name] = pred == y
    out["best_model"] = _best(out, [m for m in models if m != checked])
    return out


def compare_models(net: nn.Module, x: torch.Tensor, y: torch.Tensor, cfg: StudyConfig,
                   spec: CrossbarSpec, reference: str, models: list[str],
                   device: str = "cpu", checked: str | None = None, log: bool = False,
                   float_top1: float | None = None, label: str = "",
                   correct: dict[str, torch.Tensor] | None = None) -> dict[str, Any]:
    """Points 2 (and, with ``reference="spice"``, 3) of the module docstring at one tile
    spec, on all of ``x`` as one shard: the reference's top-1, each model's figures
    against it and ``best_model``. ``correct``, where given, receives each model's and
    the reference's per-image right/wrong (bool tensors).

    ``checked`` is a model scored against the reference (with its column currents
    compared too) but left out of ``best_model``: the exact model under check.
    ``float_top1``, where given, adds the reference's ``degradation`` (float − its top-1).
    """
    shard = score_shard(net, x, cfg, spec, reference, models, device, checked, log, label)
    return combine_shards([shard], y, reference, models, checked, float_top1, correct)


def spice_check_specs(gt_settings: Sequence[str], specs: Sequence[CrossbarSpec]) -> list[CrossbarSpec]:
    """The specs the SPICE check runs at (all where ``gt_settings`` is empty); a label
    that is not a study setting is a :class:`ConfigError`."""
    by_label = {spec.label: spec for spec in specs}
    unknown = [s for s in gt_settings if s not in by_label]
    if unknown:
        raise ConfigError("functional_sim.ground_truth.spice_check_settings",
                          f"names setting(s) {unknown} that the study does not run; its "
                          f"settings are {list(by_label)}")
    return [by_label[s] for s in gt_settings] if gt_settings else list(specs)


def _unit_inputs(cfg: StudyConfig, tile: CrossbarSpec, net: str, x: torch.Tensor,
                 y: torch.Tensor, reference: str, models: Sequence[str], device: str,
                 **extra: Any) -> dict[str, Any]:
    """What one shard of a (setting, network) comparison depends on, for its unit's key
    (``x`` and ``y``: the shard's images)."""
    return {"setting": tile, "sim": cfg.sim, "net": net_inputs(cfg, net), "x": x, "y": y,
            "reference": model_inputs(cfg, reference, tile),
            "models": [model_inputs(cfg, m, tile) for m in models], "device": device, **extra}


def run_ground_truth(cfg: StudyConfig, specs: Sequence[CrossbarSpec], device: str = "cpu",
                     log: bool = True, store: UnitStore | None = None) -> dict[str, Any]:
    """The ground-truth report for ``cfg.ground_truth`` at every tile spec of ``specs``
    (module docstring). Every checkpoint the models need, the SPICE check's settings
    and image count are checked before the first run. Each shard of a network's images
    (``cfg.shard_images``) at a setting, with every model, is a unit of ``store`` (none
    kept where ``None``), run where ``cfg.scheduler`` says
    (:func:`functional_sim.studies.shards.run_units`)."""
    gt = cfg.ground_truth
    store = UnitStore(None) if store is None else store
    require_checkpoints(cfg, specs, (*gt.models, gt.reference))
    spice_specs = spice_check_specs(gt.spice_check_settings, specs) if gt.spice_check_images else []
    splits: dict[str, Any] = {}
    data: dict[str, tuple[nn.Module, torch.Tensor, torch.Tensor]] = {}
    for name in dict.fromkeys((*gt.nets, gt.spice_check_net)):
        dataset = net_info(name).dataset
        if dataset not in splits:
            splits[dataset] = load_images(dataset, seed=cfg.seed, datasets=cfg.datasets)
        net, _ = load_net(net_path(cfg, name))
        x, y = pick_test_images(splits[dataset], cfg.test_subset, cfg.seed)
        if name in gt.max_images:
            x, y = x[: gt.max_images[name]], y[: gt.max_images[name]]
        data[name] = (net, x, y)
    n_check = len(data[gt.spice_check_net][2])
    if gt.spice_check_images > n_check:
        raise ConfigError("functional_sim.ground_truth.spice_check_images",
                          f"must be <= the {n_check} test images of "
                          f"{gt.spice_check_net} the reference runs on "
                          f"(functional_sim.test_subset {cfg.test_subset}): the SPICE "
                          f"images are some of those, got {gt.spice_check_images}")
    report: dict[str, Any] = {"reference": gt.reference, "nets": {}}
    for name in gt.nets:
        net, x, y = data[name]
        with torch.no_grad():
            float_pred = predict(net, x, batch_size=len(x), device=device)
        report["nets"][name] = {"images": len(y),
                                "float_top1": float((float_pred == y).double().mean())}
    report["settings"] = {}
    correct: dict[str, dict[str, torch.Tensor]] = {}
    cells = [(tile, name) for tile in specs for name in gt.nets]
    shards = {name: image_shards(len(data[name][2]), cfg.shard_images) for name in gt.nets}
    units = [Unit("ground_truth.shard",
                  _unit_inputs(cfg, tile, name, data[name][1][sl], data[name][2][sl],
                               gt.reference, gt.models, device),
                  score_shard, (data[name][0], data[name][1][sl], cfg, tile, gt.reference,
                                list(gt.models), device),
                  {"log": log, "label": name if len(shards[name]) == 1
                   else f"{name}[{sl.start}:{sl.stop}]"})
             for tile, name in cells for sl in shards[name]]
    results = iter(run_units(units, store, cfg.scheduler))
    for tile, name in cells:
        done = [next(results) for _ in shards[name]]
        right: dict[str, torch.Tensor] = {}
        report["settings"].setdefault(tile.label, {})[name] = combine_shards(
            done, data[name][2], gt.reference, gt.models,
            float_top1=report["nets"][name]["float_top1"], correct=right)
        correct[f"{tile.label} {name}"] = right
    report["headline"] = ground_truth_report.headline(report["settings"], gt.reference,
                                                      list(gt.models), correct)
    if gt.spice_check_images:
        # in float64, so that layer outputs and currents resolve differences far below
        # the 1e-9 tolerance (float32 would round both to the same values, or flip one)
        net, x, y = data[gt.spice_check_net]
        xs, ys = x[: gt.spice_check_images].double(), y[: gt.spice_check_images]
        net64 = copy.deepcopy(net).double()
        units = [Unit("ground_truth.spice_check",
                      _unit_inputs(cfg, tile, gt.spice_check_net, xs, ys, "spice", gt.models,
                                   device, checked=gt.reference),
                      score_shard, (net64, xs, cfg, tile, "spice", list(gt.models), device),
                      {"checked": gt.reference, "log": log, "label": gt.spice_check_net})
                 for tile in spice_specs]
        check: dict[str, Any] = {}
        passed = True
        for tile, shard in zip(spice_specs, run_units(units, store, cfg.scheduler)):
            entry = combine_shards([shard], ys, "spice", gt.models, checked=gt.reference)
            ref = entry[gt.reference]
            passed = passed and ref["agreement"] == 1.0 and all(
                v["max_rel_error"] <= SPICE_CHECK_TOLERANCE for v in ref["layers"].values())
            check[tile.label] = entry
        report["spice_check"] = {"net": gt.spice_check_net, "n_images": len(ys),
                                 "tolerance": SPICE_CHECK_TOLERANCE, "passed": passed,
                                 "settings": check}
        if log and not passed:
            print(f"WARNING: {gt.reference} disagrees with SPICE beyond {SPICE_CHECK_TOLERANCE:g} "
                  f"(see spice_check in the report)", flush=True)
    else:
        report["spice_check"] = {"n_images": 0}
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_study_arguments(parser)
    parser.add_argument("--out", default="reports/ground_truth.json")
    parser.add_argument("--table", default="reports/ground_truth.md",
                        help="the Markdown table of the report")
    parser.add_argument("--plots", default="reports/plots",
                        help="where ground_truth.png and ground_truth.csv go")
    stage_main("ground_truth", parser, _stage, argv, ("out", "table", "plots"))


def _stage(args: argparse.Namespace) -> None:
    params = read_params(args.params)
    cfg = study_config(params)
    specs = study_specs(params, cfg)
    plots_dir = Path(args.plots)
    outputs = [args.out, args.table, plots_dir / "ground_truth.png", plots_dir / "ground_truth.csv"]
    with study_run("ground_truth", args, outputs) as store:
        report: dict[str, Any] = {"enabled": cfg.ground_truth.enabled}
        if cfg.ground_truth.enabled:
            start = time.perf_counter()
            report.update(run_ground_truth(cfg, specs, args.device, store=store))
            print(f"ground truth: {time.perf_counter() - start:.1f} s in all", flush=True)
        write_output(args.out, json.dumps(report, indent=2) + "\n")
        if cfg.ground_truth.enabled:
            table = ground_truth_report.markdown_table(report)
            write_output(args.table, table)
            ground_truth_report.write_plot(report, plots_dir)
            print(table)
    print(json.dumps(report.get("headline", report), indent=2))


if __name__ == "__main__":
    main()
