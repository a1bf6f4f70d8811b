"""Benchmark (not a stage): MVM throughput of the crossbar models, in a batch setting.

``python -m surrogate.stages.bench --params params.yaml`` times, for each crossbar size of
``surrogate.bench.sizes``, ``tiles`` prepared tiles × ``vectors`` input vectors
(float32) through

* ``ideal`` and ``analytical`` (a matvec on G, or on the prepared G_eff);
* ``analytical_cell``: the device law at each cell's linear-network voltage plus one
  correction, through the per-tile transfers (two contractions per MVM);
* ``mlp_device``: the reference for GENIEx's cost, the MLP on ``[G, V]`` (``hidden``
  units) on the device baseline, its G-only first-layer part cached per tile (the
  project's default GENIEx before the per-column network);
* every GENIEx variant of ``surrogate.variants`` (its architecture, widths, baseline
  and target; untrained), with its time as a multiple of ``mlp_device``'s;
* ``published``: GENIEx as published, the whole ``(R·C + R)×h`` first layer evaluated
  on the concatenated [G, V] input for every MVM (G scaled once per tile, not per MVM).

Per-tile preparation is outside the timings (it happens once per tile, the cell
baseline's lazy transfers included); its cost is printed separately. The best of
``repeats`` runs is kept. Prints one line per model and size and writes
``<reports_dir>/bench.json``. Timings come from random conductances and untrained
networks: throughput does not depend on the values.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

import torch

from spice_netlists import CrossbarSpec
from surrogate.analytical import AnalyticalModel
from surrogate.analytical_cell import AnalyticalCellModel
from surrogate.base import matvec
from surrogate.geniex import GeniexConfig, GeniexModel, GeniexNet, Normalisation, make_net
from surrogate.ideal import IdealModel
from surrogate.stages.config import BenchParams, load_params, parse_args


def best_time(fn: Callable[[], torch.Tensor], repeats: int, device: torch.device) -> float:
    """Seconds of the fastest of ``repeats`` calls (after one warm-up)."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def published_mvm(model: GeniexModel, g_scaled: torch.Tensor, g: torch.Tensor,
                  v: torch.Tensor) -> torch.Tensor:
    """Ratio-target GENIEx the published way: full first layer on [G, V] per MVM."""
    vs = model.scale_v(v)
    gs = g_scaled.expand(*vs.shape[:-1], g_scaled.shape[-1])
    ratio = model.net.full(gs, vs) * model.norm.scale + model.norm.mean
    return matvec(v, g) / ratio.clamp_min(model.config.ratio_floor)


def _lazy_per_tile(model: object) -> bool:
    """Whether ``model`` does per-tile work on its first MVM (the cell transfers)."""
    return isinstance(model, AnalyticalCellModel) or (
        isinstance(model, GeniexModel) and model.config.baseline == "cell")


def bench_size(n: int, cfg: BenchParams, variants: dict[str, GeniexConfig]) -> dict[str, float]:
    """MVMs/s of every model at an n×n crossbar (plus per-tile prepare seconds)."""
    device = torch.device(cfg.device)
    spec = CrossbarSpec(rows=n, cols=n, device="sinh")
    gen = torch.Generator().manual_seed(0)
    g = (spec.g_off + (spec.g_on - spec.g_off) * torch.rand(cfg.tiles, n, n, generator=gen)).to(device)
    v = (spec.v_read_max * torch.rand(cfg.vectors, cfg.tiles, n, generator=gen)).to(device)
    mvms = cfg.tiles * cfg.vectors
    torch.manual_seed(0)
    reference = GeniexModel(spec, GeniexConfig(target="relative", baseline="device",
                                               hidden=cfg.hidden),
                            GeniexNet(n, n, cfg.hidden), Normalisation(0.0, 0.01))
    published = GeniexModel(spec, GeniexConfig(target="ratio", hidden=cfg.hidden),
                            reference.net, Normalisation(1.0, 0.01))
    models: list[tuple[str, object]] = [("ideal", IdealModel(spec)),
                                        ("analytical", AnalyticalModel(spec)),
                                        ("analytical_cell", AnalyticalCellModel(spec)),
                                        ("mlp_device", reference)]
    for name, config in variants.items():
        norm = Normalisation(1.0 if config.target == "ratio" else 0.0, 0.01)
        models.append((name, GeniexModel(spec, config, make_net(config, n, n), norm)))
    result: dict[str, float] = {}
    with torch.no_grad():
        for name, model in models:
            start = time.perf_counter()
            prepared = model.prepare(g)
            if _lazy_per_tile(model):
                model.mvm(prepared, v)
            result[f"{name}_prepare_s_per_tile"] = (time.perf_counter() - start) / cfg.tiles
            seconds = best_time(lambda: model.mvm(prepared, v), cfg.repeats, device)
            result[name] = mvms / seconds
        g_scaled = published.scale_g(g)
        seconds = best_time(lambda: published_mvm(published, g_scaled, g, v), cfg.repeats, device)
        result["published"] = mvms / seconds
    return result


def run(cfg: BenchParams, variants: dict[str, GeniexConfig] | None = None,
        reports_dir: str | Path | None = None) -> dict[str, dict[str, float]]:
    """Benchmark every size (the GENIEx ``variants``: name -> config); print the lines;
    write bench.json if ``reports_dir``."""
    variants = dict(variants or {})
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    results: dict[str, dict[str, float]] = {}
    print(f"batch: {cfg.tiles} tiles x {cfg.vectors} input vectors, float32, "
          f"mlp_device hidden {cfg.hidden}, device {cfg.device}, torch threads "
          f"{torch.get_num_threads()}")
    for n in cfg.sizes:
        r = bench_size(n, cfg, variants)
        results[f"{n}x{n}"] = r
        for name in ("ideal", "analytical", "analytical_cell", "mlp_device", *variants,
                     "published"):
            extra = ""
            if name == "analytical":
                extra = (f"  ({r['ideal'] / r['analytical']:.2f}x ideal time; prepare "
                         f"{r['analytical_prepare_s_per_tile'] * 1e3:.2f} ms/tile)")
            elif name == "mlp_device":
                extra = (f"  ({r['mlp_device'] / r['published']:.1f}x faster than published; "
                         f"prepare {r['mlp_device_prepare_s_per_tile'] * 1e3:.2f} ms/tile)")
            elif name != "ideal" and name != "published":
                extra = (f"  ({r['mlp_device'] / r[name]:.2f}x mlp_device time; prepare "
                         f"{r[f'{name}_prepare_s_per_tile'] * 1e3:.2f} ms/tile)")
            print(f"{n}x{n} {name:>16}: {r[name]:.3e} MVMs/s{extra}")
    if reports_dir is not None:
        out = Path(reports_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "bench.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


def main(argv: list[str] | None = None) -> None:
    args = parse_args("MVM throughput of the crossbar models", argv)
    params = load_params(args.params)
    run(params.bench, params.variants, params.reports_dir)


if __name__ == "__main__":
    main()
