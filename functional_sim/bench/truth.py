"""Benchmark (not a stage): seconds per image of a network's exact truth, per solver backend.

``python -m functional_sim.bench.truth`` runs real MNIST test images through a network on
``circuit`` tiles (every crossbar read of every layer solved exactly), with each circuit
solver backend, and prints seconds per image, the tile reads per image, the share of
them with no drive (which the solver skips), and the most Newton steps a solve took.
Defaults: ``mnist_resnet`` (trained, from ``--nets-dir``, when it exists; otherwise a
freshly initialised one, whose reads are not a trained net's) at the GENIEx-scale
study's headline cell and mapping (64×64 sinh, R_on 25 kΩ, 0.5 V; 4-bit slices and
streams, 16-bit ADC; ``params/geniex_scale.yaml``). Issue 17's target: ≤ 0.25 s per image.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from functional_sim.sim.config import SimConfig
from functional_sim.sim.convert import convert
from functional_sim.studies.data import load_images, pick_test_images
from functional_sim.studies.inference import load_net
from functional_sim.studies.nets import build, net_info, net_names
from spice_netlists import CrossbarSpec
from spice_netlists.circuit.solver import SolverSettings
from surrogate.circuit import CircuitModel


class CountingCircuit(CircuitModel):
    """The circuit model, counting the tile reads it was sent and those it solved."""

    def __init__(self, spec: CrossbarSpec, settings: SolverSettings) -> None:
        super().__init__(spec, settings)
        self.reads = self.solved = self.newton = 0

    def mvm(self, prepared, v: torch.Tensor) -> torch.Tensor:
        out = super().mvm(prepared, v)
        self.reads += self.last_solve.samples
        self.solved += self.last_solve.solved
        self.newton = max(self.newton, self.last_solve.newton_iterations)
        return out


def seconds_per_image(net: torch.nn.Module, sim: SimConfig, model: CountingCircuit,
                      x: torch.Tensor, batch_size: int) -> float:
    """Wall seconds per image of ``x`` through ``net`` on ``model``'s tiles (one warm-up
    image first, not counted, nor its reads)."""
    conv = convert(net, sim, model).eval()
    with torch.no_grad():
        conv(x[:1])
        model.reads = model.solved = model.newton = 0
        start = time.perf_counter()
        for i in range(0, len(x), batch_size):
            conv(x[i:i + batch_size])
    return (time.perf_counter() - start) / len(x)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--net", default="mnist_resnet", help=f"one of {', '.join(net_names())} "
                    "(or a seed variant, e.g. mnist_resnet@1)")
    ap.add_argument("--nets-dir", default="models/nets")
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=10)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--device", default="sinh", choices=["linear", "sinh", "1t1r"])
    ap.add_argument("--r-on", type=float, default=25e3, help="Ω")
    ap.add_argument("--v-read-max", type=float, default=0.5)
    ap.add_argument("--bits-per-slice", type=int, default=4)
    ap.add_argument("--bits-per-stream", type=int, default=4)
    ap.add_argument("--adc-bits", type=int, default=16)
    ap.add_argument("--backends", nargs="+", default=["fused", "torch"])
    args = ap.parse_args(argv)
    spec = CrossbarSpec(rows=args.size, cols=args.size, device=args.device, g_on=1 / args.r_on,
                        g_off=1 / (6 * args.r_on), v_read_max=args.v_read_max)
    sim = SimConfig(spec=spec, bits_per_slice=args.bits_per_slice,
                    bits_per_stream=args.bits_per_stream, adc_bits=args.adc_bits)
    path = Path(args.nets_dir) / f"{args.net}.pt"
    if path.exists():
        net, _ = load_net(path)
        origin = f"trained ({path})"
    else:
        torch.manual_seed(0)
        net, origin = build(args.net).eval(), "untrained (no trained network found)"
    x, _ = pick_test_images(load_images(net_info(args.net).dataset), args.images)
    print(f"{args.net} {origin}; tiles {spec.label}; slice {sim.bits_per_slice}b stream "
          f"{sim.bits_per_stream}b adc {sim.adc_bits}b; {len(x)} images, batch "
          f"{args.batch_size}; torch threads {torch.get_num_threads()}")
    for backend in args.backends:
        model = CountingCircuit(spec, SolverSettings(backend=backend))
        per_image = seconds_per_image(net, sim, model, x, args.batch_size)
        reads = model.reads / len(x)
        idle = 1 - model.solved / max(model.reads, 1)
        print(f"{backend:>6}: {per_image:7.3f} s/image  ({reads:,.0f} tile reads/image, "
              f"{idle:.0%} with no drive, up to {model.newton} Newton steps)", flush=True)


if __name__ == "__main__":
    main()
