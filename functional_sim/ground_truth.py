"""SPICE in the loop: which cheap crossbar model predicts a network's accuracy best.

For one small network and a few test images, every crossbar MVM is run through the
reference model (``spice`` by default: ngspice on every tile read). Each cheap model is
then scored on

* ``top1`` and ``abs_top1_error`` (|its top-1 − the reference's|) end to end,
* ``agreement``: the share of images whose predicted class equals the reference's,
* ``layers``: per crossbar layer, the relative RMS error of the layer's output against
  the reference's, with the layer fed the reference's own input (errors isolated, not
  accumulated): ``rms(out − out_ref) / rms(out_ref)``.

``best_model`` per voltage is the cheap model with the smallest ``abs_top1_error``
(ties broken by higher agreement, then lower mean layer error).

``python -m functional_sim.ground_truth --params params.yaml`` writes
``reports/ground_truth.json``; while ``functional_sim.ground_truth.enabled`` is false it
writes ``{"enabled": false}`` only (the SPICE runs take minutes).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from functional_sim.config import StudyConfig
from functional_sim.convert import convert, sim_layers
from functional_sim.data import load_dataset, pick_test_images
from functional_sim.evaluate import load_net, predict
from functional_sim.nets import NETS
from functional_sim.params import base_spec, net_path, read_params, study_config
from functional_sim.study import require_checkpoints, sim_config, volt_key
from spice_netlists import CrossbarSpec
from surrogate import make_model


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


def _rel_rms(a: torch.Tensor, ref: torch.Tensor) -> float:
    denom = ref.double().pow(2).mean().sqrt()
    return float((a.double() - ref.double()).pow(2).mean().sqrt() / denom) if denom > 0 else 0.0


def compare_models(net: nn.Module, x: torch.Tensor, y: torch.Tensor, cfg: StudyConfig,
                   spec: CrossbarSpec, reference: str, models: list[str],
                   checkpoints: dict[str, str | None], device: str = "cpu") -> dict[str, Any]:
    """The comparison of the module docstring at one tile spec."""
    ref_cfg = cfg.sim.with_(spec=spec, crossbar_model=reference,
                            checkpoint=checkpoints.get(reference))
    ref_net = convert(net, ref_cfg)
    ref_pred, ref_io = _capture(ref_net, x, device)
    out: dict[str, Any] = {reference: {"top1": float((ref_pred == y).double().mean())}}
    for name in models:
        sim_cfg = cfg.sim.with_(spec=spec, crossbar_model=name, checkpoint=checkpoints.get(name))
        model = make_model(name, spec, sim_cfg.checkpoint)
        sim_net = convert(net, sim_cfg, model=model).to(device)
        pred = predict(sim_net, x, batch_size=len(x), device=device)
        layers = {}
        with torch.no_grad():
            for lname, layer in sim_layers(sim_net):
                inp, ref_out = ref_io[lname]
                layers[lname] = {"rel_rmse": _rel_rms(layer(inp.to(device)).cpu(), ref_out)}
        acc = float((pred == y).double().mean())
        out[name] = {"top1": acc, "abs_top1_error": abs(acc - out[reference]["top1"]),
                     "agreement": float((pred == ref_pred).double().mean()), "layers": layers}
    ranked = sorted(models, key=lambda m: (out[m]["abs_top1_error"], -out[m]["agreement"],
                                           sum(v["rel_rmse"] for v in out[m]["layers"].values())))
    out["best_model"] = ranked[0] if ranked else None
    return out


def run_ground_truth(cfg: StudyConfig, spec: CrossbarSpec, device: str = "cpu") -> dict[str, Any]:
    """The ground-truth report for ``cfg.ground_truth`` at every study voltage. Every
    checkpoint the models need is checked before the first SPICE run."""
    gt = cfg.ground_truth
    require_checkpoints(cfg, spec, (*gt.models, gt.reference))
    net, _ = load_net(net_path(cfg, gt.net))
    split = load_dataset(NETS[gt.net].dataset, seed=cfg.seed)
    x, y = pick_test_images(split, gt.n_images, cfg.seed)
    report: dict[str, Any] = {"net": gt.net, "reference": gt.reference, "n_images": len(y)}
    for volts in cfg.voltages:
        tile = spec.with_(v_read_max=volts)
        checkpoints = {m: sim_config(cfg, tile, m).checkpoint for m in (*gt.models, gt.reference)}
        report[volt_key(volts)] = compare_models(net, x, y, cfg, tile, gt.reference,
                                                 list(gt.models), checkpoints, device)
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="SPICE-in-the-loop accuracy check.")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", default="reports/ground_truth.json")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    params = read_params(args.params)
    cfg = study_config(params)
    report: dict[str, Any] = {"enabled": cfg.ground_truth.enabled}
    if cfg.ground_truth.enabled:
        report.update(run_ground_truth(cfg, base_spec(params), args.device))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
