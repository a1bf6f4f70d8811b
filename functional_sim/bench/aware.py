"""Benchmark: fine-tuning time per epoch with each crossbar model in the forward pass.

``python -m functional_sim.bench.aware [--params params.yaml]`` times ``--steps``
optimiser steps of ``functional_sim.aware_training`` (its network, setting, batch size
and hardware) through each model of ``--models`` (float, i.e. no crossbar, for
reference), and prints seconds per step and per epoch of ``train_images`` images. Each
step re-maps the changed weights onto the tiles, so a model's per-tile work (the
analytical solve of G_eff for ``analytical_device`` and ``geniex``) is paid every step.
GENIEx is an untrained network of the right shape when no checkpoint exists (timing only).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from torch import nn

from functional_sim.studies.aware_training_config import merge_nonideal
from functional_sim.bench.models import timing_model
from functional_sim.studies.config import pick_setting, read_params, study_config, study_specs
from functional_sim.sim.convert import convert
from functional_sim.studies.data import load_images
from functional_sim.studies.nets import build, net_info
from surrogate.training import deterministic_torch


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--models", default="float,analytical_device,geniex,circuit")
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args(argv)
    params = read_params(args.params) if Path(args.params).exists() else {}
    cfg = study_config(params)
    aware = cfg.aware_training
    spec = pick_setting(aware.setting, study_specs(params, cfg),
                        "functional_sim.aware_training.setting")
    hardware = merge_nonideal(cfg.sim.nonideal, aware.nonideal)
    split = load_images(net_info(aware.net).dataset, seed=cfg.seed, datasets=cfg.datasets)
    n_train = aware.train_images or len(split.y_train)
    steps_per_epoch = -(-n_train // aware.batch_size)
    x, y = split.x_train[: aware.batch_size], split.y_train[: aware.batch_size]
    print(f"{aware.net} at {spec.label}, batch {aware.batch_size}, {n_train} images per epoch "
          f"({steps_per_epoch} steps), hardware {aware.nonideal}; torch threads 1 (deterministic)")
    print("\n| forward model | s per step | s per epoch |\n|---|---|---|")
    for name in args.models.split(","):
        torch.manual_seed(0)
        net = build(aware.net)
        if name != "float":
            sim = cfg.sim.with_(spec=spec, nonideal=hardware)
            net = convert(net, sim, timing_model(cfg, name, spec)[0], inplace=True)
        opt = torch.optim.Adam(net.parameters(), lr=aware.lr)
        loss_fn = nn.CrossEntropyLoss()
        with deterministic_torch():
            net.train()
            times = []
            for _ in range(args.steps + 1):
                start = time.perf_counter()
                opt.zero_grad()
                loss_fn(net(x), y).backward()
                opt.step()
                times.append(time.perf_counter() - start)
        per_step = sum(times[1:]) / args.steps          # the first step warms up
        print(f"| {name} | {per_step:.3f} | {per_step * steps_per_epoch:.1f} |", flush=True)


if __name__ == "__main__":
    main()
