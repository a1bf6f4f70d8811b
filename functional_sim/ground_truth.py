"""Ground truth: which cheap crossbar model predicts a network's accuracy best.

Three levels of truth, each checking the next (``functional_sim.ground_truth`` in
params.yaml, :class:`~functional_sim.config.GroundTruthConfig`):

1. **The reference over the whole test subset.** For network ``net``, every crossbar MVM
   of every layer, on the study's ``functional_sim.test_subset`` seeded test images (the
   whole test split where that is larger: digits has 360 test images), is run through
   the ``reference`` model: ``circuit`` by default, the exact operating point of the
   whole nonlinear crossbar (every parasitic and the device I–V), which agrees with
   ngspice to within ngspice's own tolerance at about a hundredth of its cost
   (digits_mlp, 360 images, both read voltages: ~25 s on 2 CPU cores; ngspice takes
   about as long for the 8 images of the check below).
2. **The cheap models against it.** Each model of ``models`` (ideal, analytical,
   analytical_device, geniex) is scored on

   * ``top1`` and ``abs_top1_error`` (|its top-1 − the reference's|) end to end,
   * ``agreement``: the share of images whose predicted class equals the reference's,
   * ``layers``: per crossbar layer, the error of the layer's output against the
     reference's, with the layer fed the reference's own input (errors isolated, not
     accumulated): ``rel_rmse = rms(out − out_ref) / rms(out_ref)`` and
     ``max_rel_error = max|out − out_ref| / max|out_ref|``.

   ``best_model`` per voltage is the cheap model with the smallest ``abs_top1_error``
   (ties broken by higher agreement, then lower summed layer ``rel_rmse``).
3. **SPICE in the loop on a few images** (``spice_check``; ``{"n_images": 0}`` when
   ``spice_check_images`` is 0): on ``spice_check_images`` of those test images (a
   subset, drawn by the same seeded permutation), every MVM also runs in ngspice, and
   the reference and the cheap models are scored against SPICE as above (the reference
   is scored but not ranked in ``best_model``). For the reference it adds
   ``currents_max_rel_error`` per layer: the largest difference of its column currents
   from ngspice's on the same tile reads (before the ADC), over the largest current
   (~1e-11 to ~1e-9 for ``circuit``: ngspice runs at reltol 1e-9). The check runs in
   float64 (the main comparison in float32, as the study does), so that it resolves
   differences far below its tolerance. ``passed`` says whether, at every voltage, the
   reference predicts SPICE's classes on every image (``agreement`` 1.0) and every
   layer's output agrees to ``tolerance`` (``max_rel_error`` ≤
   :data:`SPICE_CHECK_TOLERANCE`); a failure is printed as a warning, the report is
   written all the same.

Report (``reports/ground_truth.json``, top-1 as fractions)::

    {"enabled": true, "net": "digits_mlp", "reference": "circuit", "n_images": 360,
     "0.25V": {"circuit": {"top1": …}, "ideal": {"top1", "abs_top1_error", "agreement",
               "layers": {"1": {"rel_rmse", "max_rel_error"}, …}}, …, "best_model": …},
     "0.5V": {…},
     "spice_check": {"n_images": 8, "tolerance": 1e-09, "passed": true,
                     "0.25V": {"spice": {"top1": …}, "circuit": {…}, "ideal": {…}, …,
                               "best_model": …}, "0.5V": {…}}}

``python -m functional_sim.ground_truth --params params.yaml`` writes it and prints the
time each model took; while ``functional_sim.ground_truth.enabled`` is false it writes
``{"enabled": false}`` only.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from functional_sim.config import (ConfigError, SimConfig, StudyConfig, base_spec,
                                   net_path, read_params, study_config)
from functional_sim.convert import convert, sim_layers
from functional_sim.data import load_images, pick_test_images
from functional_sim.inference import load_net, predict
from functional_sim.nets import NETS
from functional_sim.study import require_checkpoints, sim_config, volt_key
from spice_netlists import CrossbarSpec
from surrogate import make_model
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


def _model_config(cfg: StudyConfig, spec: CrossbarSpec, name: str,
                  checkpoints: dict[str, str | None]) -> SimConfig:
    sim = cfg.sim.with_(spec=spec, crossbar_model=name, checkpoint=checkpoints.get(name))
    if name in EXACT_MODELS:
        sim = sim.with_(chunk_elements=min(sim.chunk_elements, EXACT_CHUNK_ELEMENTS))
    return sim


def _convert(net: nn.Module, sim: SimConfig,
             record: bool) -> tuple[nn.Module, dict[str, _Recording]]:
    """``net`` on ``sim``'s crossbars; with ``record``, each layer gets its own
    recording wrapper of the model (so that currents are kept per layer)."""
    model = make_model(sim.crossbar_model, sim.spec, sim.checkpoint)
    sim_net = convert(net, sim, model=model)
    recorders: dict[str, _Recording] = {}
    if record:
        for lname, layer in sim_layers(sim_net):
            recorders[lname] = _Recording(model)
            layer.set_crossbar_model(recorders[lname])
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


def _run_reference(net: nn.Module, x: torch.Tensor, sim: SimConfig, device: str,
                   record: bool = False) -> _Run:
    sim_net, recorders = _convert(net, sim, record)
    pred, io = _capture(sim_net.to(device), x, device)
    return _Run(pred, io, {k: r.currents for k, r in recorders.items()})


def _rel_rms(a: torch.Tensor, ref: torch.Tensor) -> float:
    denom = ref.double().pow(2).mean().sqrt()
    return float((a.double() - ref.double()).pow(2).mean().sqrt() / denom) if denom > 0 else 0.0


def _max_rel(a: torch.Tensor, ref: torch.Tensor) -> float:
    """max|a − ref| / max|ref| (0 for empty or all-zero ``ref`` equal to ``a``)."""
    if ref.numel() == 0:
        return 0.0
    diff = float((a.double() - ref.double()).abs().max())
    scale = float(ref.double().abs().max())
    return diff / scale if scale > 0 else (0.0 if diff == 0 else float("inf"))


def _score(net: nn.Module, x: torch.Tensor, y: torch.Tensor, ref: _Run, ref_top1: float,
           sim: SimConfig, device: str, record: bool = False) -> dict[str, Any]:
    """One model's figures against the reference run ``ref`` (module docstring)."""
    sim_net, recorders = _convert(net, sim, record)
    sim_net = sim_net.to(device)
    pred = predict(sim_net, x, batch_size=len(x), device=device)
    layers: dict[str, dict[str, float]] = {}
    with torch.no_grad():
        for lname, layer in sim_layers(sim_net):
            inp, ref_out = ref.io[lname]
            if lname in recorders:
                recorders[lname].currents.clear()     # keep the isolated run's only
            out = layer(inp.to(device)).cpu()
            layers[lname] = {"rel_rmse": _rel_rms(out, ref_out),
                             "max_rel_error": _max_rel(out, ref_out)}
            if lname in recorders and lname in ref.currents:
                mine, theirs = recorders[lname].currents, ref.currents[lname]
                if len(mine) != len(theirs) \
                        or any(a.shape != b.shape for a, b in zip(mine, theirs)):
                    raise RuntimeError(f"layer {lname}: the tile reads of the two runs differ")
                layers[lname]["currents_max_rel_error"] = _max_rel(
                    torch.cat([a.reshape(-1) for a in mine]) if mine else torch.zeros(0),
                    torch.cat([b.reshape(-1) for b in theirs]) if theirs else torch.zeros(0))
    acc = float((pred == y).double().mean())
    return {"top1": acc, "abs_top1_error": abs(acc - ref_top1),
            "agreement": float((pred == ref.pred).double().mean()), "layers": layers}


def _best(out: dict[str, Any], models: list[str]) -> str | None:
    ranked = sorted(models, key=lambda m: (out[m]["abs_top1_error"], -out[m]["agreement"],
                                           sum(v["rel_rmse"] for v in out[m]["layers"].values())))
    return ranked[0] if ranked else None


def compare_models(net: nn.Module, x: torch.Tensor, y: torch.Tensor, cfg: StudyConfig,
                   spec: CrossbarSpec, reference: str, models: list[str],
                   checkpoints: dict[str, str | None], device: str = "cpu",
                   checked: str | None = None, log: bool = False) -> dict[str, Any]:
    """Points 2 (and, with ``reference="spice"``, 3) of the module docstring at one tile
    spec: ``reference``'s top-1, each model's figures against it and ``best_model``.

    ``checked`` is a model scored against the reference (with its column currents
    compared too) but left out of ``best_model``: the exact model under check.
    """
    def timed(label: str, n: int, start: float) -> None:
        if log:
            print(f"{label:>18} {volt_key(spec.v_read_max):>6}: {n} images, "
                  f"{time.perf_counter() - start:.1f} s", flush=True)

    record = checked is not None
    start = time.perf_counter()
    ref = _run_reference(net, x, _model_config(cfg, spec, reference, checkpoints), device, record)
    timed(reference, len(y), start)
    ref_top1 = float((ref.pred == y).double().mean())
    out: dict[str, Any] = {reference: {"top1": ref_top1}}
    for name in ([checked] if checked else []) + [m for m in models if m != checked]:
        start = time.perf_counter()
        out[name] = _score(net, x, y, ref, ref_top1,
                           _model_config(cfg, spec, name, checkpoints), device,
                           record=name == checked)
        timed(name, len(y), start)
    out["best_model"] = _best(out, [m for m in models if m != checked])
    return out


def run_ground_truth(cfg: StudyConfig, spec: CrossbarSpec, device: str = "cpu",
                     log: bool = True) -> dict[str, Any]:
    """The ground-truth report for ``cfg.ground_truth`` at every study voltage (module
    docstring). Every checkpoint the models need is checked before the first run."""
    gt = cfg.ground_truth
    require_checkpoints(cfg, spec, (*gt.models, gt.reference))
    net, _ = load_net(net_path(cfg, gt.net))
    split = load_images(NETS[gt.net].dataset, seed=cfg.seed)
    x, y = pick_test_images(split, cfg.test_subset, cfg.seed)
    if gt.spice_check_images > len(y):
        raise ConfigError("functional_sim.ground_truth.spice_check_images",
                          f"must be <= the {len(y)} test "
                          f"images the reference runs on (functional_sim.test_subset "
                          f"{cfg.test_subset}, {NETS[gt.net].dataset} test split "
                          f"{len(split.y_test)}): the SPICE images are some of those, got "
                          f"{gt.spice_check_images}")
    report: dict[str, Any] = {"net": gt.net, "reference": gt.reference, "n_images": len(y)}
    checkpoints: dict[float, dict[str, str | None]] = {}
    for volts in cfg.voltages:
        tile = spec.with_(v_read_max=volts)
        checkpoints[volts] = {m: sim_config(cfg, tile, m).checkpoint
                              for m in (*gt.models, gt.reference)}
        report[volt_key(volts)] = compare_models(net, x, y, cfg, tile, gt.reference,
                                                 list(gt.models), checkpoints[volts], device,
                                                 log=log)
    if gt.spice_check_images:
        # in float64, so that layer outputs and currents resolve differences far below
        # the 1e-9 tolerance (float32 would round both to the same values, or flip one)
        xs, ys = pick_test_images(split, gt.spice_check_images, cfg.seed)
        xs, net64 = xs.double(), copy.deepcopy(net).double()
        check: dict[str, Any] = {}
        passed = True
        for volts in cfg.voltages:
            tile = spec.with_(v_read_max=volts)
            entry = compare_models(net64, xs, ys, cfg, tile, "spice", list(gt.models),
                                   checkpoints[volts], device, checked=gt.reference, log=log)
            ref = entry[gt.reference]
            passed = passed and ref["agreement"] == 1.0 and all(
                v["max_rel_error"] <= SPICE_CHECK_TOLERANCE for v in ref["layers"].values())
            check[volt_key(volts)] = entry
        report["spice_check"] = {"n_images": len(ys), "tolerance": SPICE_CHECK_TOLERANCE,
                                 "passed": passed, **check}
        if log and not passed:
            print(f"WARNING: {gt.reference} disagrees with SPICE beyond {SPICE_CHECK_TOLERANCE:g} "
                  f"(see spice_check in the report)", flush=True)
    else:
        report["spice_check"] = {"n_images": 0}
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", default="reports/ground_truth.json")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    params = read_params(args.params)
    cfg = study_config(params)
    report: dict[str, Any] = {"enabled": cfg.ground_truth.enabled}
    if cfg.ground_truth.enabled:
        start = time.perf_counter()
        report.update(run_ground_truth(cfg, base_spec(params), args.device))
        print(f"ground truth: {time.perf_counter() - start:.1f} s in all", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
