"""Stage ``train_nets``: train the study's networks in float, seeded, on CPU.

``python -m functional_sim.studies.train_nets --params params.yaml`` writes
``<nets_dir>/<name>.pt`` for every network of ``functional_sim.train.nets`` and the
float test accuracies to ``reports/nets.json`` (``{name: {"float_top1": …}}``).

Training is reproducible bit for bit on machines of the same kind: seeded generators,
and :func:`surrogate.training.deterministic_torch` (one CPU thread, deterministic
algorithms), since with torch's default of one thread per core the weights depended on
the machine's core count. The metrics hold no wall-clock time (it is printed), so two
runs write identical files.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch import nn

from functional_sim.studies.config import ConfigError, TrainConfig, net_path, read_params, study_config
from functional_sim.studies.data import Split, load_images
from functional_sim.studies.inference import save_net, top1
from functional_sim.studies.nets import build, net_info, split_name
from surrogate.training import deterministic_torch


def train(name: str, split: Split, cfg: TrainConfig) -> nn.Module:
    """Network ``name`` trained on ``split`` with Adam and cross-entropy (cosine learning
    rate over ``cfg.epochs``), in eval mode.

    Bit-identical for the same split and config in any process on machines of the same
    kind: :func:`training_seed` seeds the initialisation and the batch order, and training runs
    inside :func:`surrogate.training.deterministic_torch` (a fixed thread count)."""
    with deterministic_torch():
        return _train(name, split, cfg)


def training_seed(name: str, cfg: TrainConfig) -> int:
    """The seed network ``name`` is trained from: ``cfg.seed`` plus its offset
    (``mnist_resnet@2``: + 2)."""
    return cfg.seed + split_name(name)[1]


def _train(name: str, split: Split, cfg: TrainConfig) -> nn.Module:
    seed = training_seed(name, cfg)
    torch.manual_seed(seed)
    net = build(name)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.epochs)
    gen = torch.Generator().manual_seed(seed)
    loss_fn = nn.CrossEntropyLoss()
    n = len(split.y_train)
    for _ in range(cfg.epochs):
        net.train()
        order = torch.randperm(n, generator=gen)
        for i in range(0, n, cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            opt.zero_grad()
            loss_fn(net(split.x_train[idx]), split.y_train[idx]).backward()
            opt.step()
        sched.step()
    return net.eval()


def main(argv: list[str] | None = None) -> None:
    """The stage: train every network of ``functional_sim.train.nets``, save each, and
    write their float test accuracies to ``--metrics``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--metrics", default="reports/nets.json")
    args = parser.parse_args(argv)
    try:
        params = read_params(args.params)
    except ConfigError as exc:
        raise SystemExit(f"train_nets: {exc}") from exc
    try:
        cfg = study_config(params)
    except ConfigError as exc:            # names the dotted params.yaml path
        raise SystemExit(f"train_nets: {args.params}: {exc}") from exc
    results: dict[str, dict[str, float]] = {}
    splits: dict[str, Split] = {}
    for name in cfg.train.nets:
        dataset = net_info(name).dataset          # TrainConfig admits network names only
        if dataset not in splits:
            splits[dataset] = load_images(dataset, seed=cfg.seed, datasets=cfg.datasets)
        split = splits[dataset]
        start = time.perf_counter()
        net = train(name, split, cfg.train)
        with deterministic_torch():
            acc = top1(net, split.x_test, split.y_test)
        seconds = time.perf_counter() - start
        save_net(net_path(cfg, name), name, net, float_top1=acc, dataset=dataset,
                 train=cfg.train.to_dict(), seed=cfg.seed,
                 train_seed=training_seed(name, cfg.train))
        # no training time here: a metric that changes with every run (it is printed)
        results[name] = {"float_top1": acc}
        print(f"{name}: float top-1 {acc:.4f} on {len(split.y_test)} test images "
              f"({seconds:.1f} s)", flush=True)
    out = Path(args.metrics)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
