"""Benchmark: what the non-idealities cost per MVM, against the noiseless MVM of the same model.

``python -m functional_sim.bench.nonideal`` builds one crossbar layer (``--inputs`` ×
``--outputs`` integer weights on ``--size``² sinh tiles of the ``crossbar`` section,
params.yaml's mapping) and times a batch of ``--vectors`` integer inputs through it
(DAC, crossbar model, readout, ADC, shift-and-add) for each model, without
non-idealities and with programming error, read noise (proportional and independent),
both together, and the MDM layout. The programmed tiles are drawn once per layer, so
they cost nothing per MVM; their one-time cost is printed apart. Medians of
``--repeats`` runs; the ratio is against the noiseless median of the same model.
GENIEx is an untrained network of the right shape when no checkpoint exists (timing
only). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from functional_sim.bench.models import timing_model
from functional_sim.studies.config import base_spec, read_params, study_config
from functional_sim.sim.engine import CrossbarMatmul
from functional_sim.sim.nonideal_config import NonidealConfig

#: name -> (nonideal overrides, mapping)
VARIANTS: dict[str, tuple[dict[str, Any], str]] = {
    "noiseless": ({}, "identity"),
    "programming 5 %": ({"programming": {"sigma": 0.05}}, "identity"),
    "read noise 5 % (proportional)": ({"read_noise": {"sigma": 0.05}}, "identity"),
    "read noise 5 % (independent)": ({"read_noise": {"sigma": 0.05, "scale": "independent"}},
                                      "identity"),
    "programming + read noise": ({"programming": {"sigma": 0.05}, "read_noise": {"sigma": 0.05}},
                                 "identity"),
    "MDM layout": ({}, "mdm"),
}


def time_layer(layer: CrossbarMatmul, x: torch.Tensor, repeats: int) -> tuple[float, float]:
    """(seconds to prepare the tiles, median seconds per batch after that)."""
    start = time.perf_counter()
    layer.conductances(x.device, torch.float32)
    layer(x[:1])
    prepare = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        layer(x)
        times.append(time.perf_counter() - start)
    return prepare, statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--inputs", type=int, default=256)
    parser.add_argument("--outputs", type=int, default=128)
    parser.add_argument("--vectors", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--models", default="ideal,analytical,analytical_device,geniex,circuit")
    parser.add_argument("--circuit-vectors", type=int, default=4,
                        help="input vectors for circuit (an exact solve per read)")
    args = parser.parse_args(argv)
    params = read_params(args.params) if Path(args.params).exists() else {}
    cfg = study_config(params)
    spec = base_spec(params).with_(rows=args.size, cols=args.size, device="sinh")
    gen = torch.Generator().manual_seed(0)
    half = 1 << (cfg.sim.weight_bits - 1)
    q = torch.randint(-half + 1, half, (args.outputs, args.inputs), generator=gen)
    x_all = torch.randint(0, 1 << cfg.sim.input_bits, (args.vectors, args.inputs), generator=gen)
    print(f"layer {args.outputs}x{args.inputs} on {spec.label} tiles; w{cfg.sim.weight_bits} "
          f"x{cfg.sim.input_bits} slice {cfg.sim.bits_per_slice}b stream "
          f"{cfg.sim.bits_per_stream}b adc {cfg.sim.adc_bits}b; torch threads "
          f"{torch.get_num_threads()}; median of {args.repeats}")
    print("\n| model | variant | vectors | ms per batch | × noiseless | one-time tile prep (ms) |")
    print("|---|---|---|---|---|---|")
    for name in args.models.split(","):
        sim0 = cfg.sim.with_(spec=spec)
        model = timing_model(cfg, name, spec)[0]
        x = x_all[: args.circuit_vectors] if name == "circuit" else x_all
        base = None
        for variant, (overrides, mapping) in VARIANTS.items():
            sim = sim0.with_(nonideal=NonidealConfig.from_dict(overrides), mapping=mapping)
            layer = CrossbarMatmul(q, sim, model, "bench")
            prep, t = time_layer(layer, x, 1 if name == "circuit" else args.repeats)
            base = t if base is None else base
            print(f"| {name} | {variant} | {len(x)} | {1e3 * t:.2f} | {t / base:.2f} | "
                  f"{1e3 * prep:.1f} |", flush=True)


if __name__ == "__main__":
    main()
