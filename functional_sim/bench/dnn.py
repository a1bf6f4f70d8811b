"""Benchmark (not a stage): images/s of the MNIST CNN on simulated crossbars, per crossbar model.

``python -m functional_sim.bench.dnn [--params params.yaml]`` times ``ideal``, ``analytical``
and ``geniex`` (its checkpoint for the ``crossbar`` spec when one exists, otherwise an
untrained GENIEx network of the right shape, which costs the same; the output says
which) on CPU, and on CUDA when available. The trained ``mnist_cnn`` is used when it
exists, otherwise a freshly initialised one (timing does not depend on the weights'
values, only on the shapes). For GENIEx it also prints what its arithmetic allows: the
network's crossbar MVMs per image times ~hidden·(rows+cols) multiply-adds, at the rate
this machine reaches on that matrix shape.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from functional_sim.sim.config import SimConfig
from functional_sim.studies.config import (base_spec, net_path,
                                           read_params, study_config)
from functional_sim.sim.convert import convert
from functional_sim.bench.models import timing_model
from functional_sim.studies.inference import load_net
from functional_sim.studies.nets import build
from surrogate.base import CrossbarModel


def time_model(net: torch.nn.Module, sim: SimConfig, model: CrossbarModel, x: torch.Tensor,
               batch_size: int, device: str) -> float:
    """Images per second of the converted network (one warm-up batch not counted)."""
    conv = convert(net, sim, model).to(device).eval()
    with torch.no_grad():
        conv(x[:2].to(device))
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for i in range(0, len(x), batch_size):
            conv(x[i:i + batch_size].to(device))
        if device == "cuda":
            torch.cuda.synchronize()
    return len(x) / (time.perf_counter() - start)


def mvms_per_image(net: torch.nn.Module, sim: SimConfig, model: CrossbarModel,
                   x: torch.Tensor) -> float:
    """Crossbar MVMs (input vectors read by one tile) per image of ``x``."""
    count = 0
    mvm = model.mvm

    def counting(prepared, v):
        nonlocal count
        count += v[..., 0].numel()
        return mvm(prepared, v)

    model.mvm = counting
    try:
        with torch.no_grad():
            convert(net, sim, model=model).eval()(x)
    finally:
        del model.mvm
    return count / len(x)


def dense_macs_per_s(hidden: int, rows: int, cols: int, n: int = 100_000) -> float:
    """Multiply-adds per second this machine reaches on GENIEx's per-MVM shape
    (rows -> hidden -> cols, ReLU between), batched on the CPU."""
    w1, w2, v = torch.randn(hidden, rows), torch.randn(cols, hidden), torch.randn(n, rows)
    torch.nn.functional.linear(torch.nn.functional.linear(v[:1000], w1).relu_(), w2)
    start = time.perf_counter()
    torch.nn.functional.linear(torch.nn.functional.linear(v, w1).relu_(), w2)
    return n * hidden * (rows + cols) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--models", default="ideal,analytical,geniex")
    args = parser.parse_args(argv)
    params = read_params(args.params) if Path(args.params).exists() else {}
    cfg = study_config(params)
    spec = base_spec(params)
    path = net_path(cfg, "mnist_cnn")
    if path.exists():
        net, _ = load_net(path)
        origin = f"trained ({path})"
    else:
        torch.manual_seed(0)
        net, origin = build("mnist_cnn").eval(), "untrained (no trained network found)"
    x = torch.rand(args.images, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    x = torch.where(x > 0.7, x, torch.zeros_like(x))   # MNIST-like sparsity
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    sim = cfg.sim.with_(spec=spec)
    print(f"mnist_cnn {origin}; tiles {spec.label}; w{sim.weight_bits} x{sim.input_bits} "
          f"slice {sim.bits_per_slice}b stream {sim.bits_per_stream}b adc {sim.adc_bits}b "
          f"{sim.negative_weights}; {args.images} images, batch {args.batch_size}; "
          f"torch threads {torch.get_num_threads()}")
    for device in devices:
        for name in args.models.split(","):
            model, note = timing_model(cfg, name, spec)
            rate = time_model(net, sim, model, x, args.batch_size, device)
            print(f"{device:>5} {name:>11}: {rate:9.1f} images/s" + (f"  [{note}]" if note else ""),
                  flush=True)
            if name == "geniex" and device == "cpu":
                hidden = model.config.hidden[0]
                per_image = mvms_per_image(net, sim, model, x[: args.batch_size])
                macs = hidden * (spec.rows + spec.cols)
                bound = dense_macs_per_s(hidden, spec.rows, spec.cols) / (per_image * macs)
                print(f"{'':>5} {'':>11}  {per_image:,.0f} MVMs/image x {macs:,} multiply-adds: "
                      f"its arithmetic allows {bound:.1f} images/s here; measured is "
                      f"{bound / rate:.2f}x slower", flush=True)


if __name__ == "__main__":
    main()
