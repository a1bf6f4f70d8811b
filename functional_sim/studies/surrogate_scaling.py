"""Stage CLI ``surrogate_scaling``: the surrogate's data-scaling and architecture study
(:mod:`surrogate.scaling`, params ``surrogate.scaling``).

``python -m functional_sim.studies.surrogate_scaling --params params.yaml`` writes, in
``surrogate.scaling.out_dir``:

* ``scaling.json``: ``{"enabled": true, "setting": …, "sizes": {"<R>x<C>/…": {"physics":
  {model: {set: rmse}}, "physics_mvms_per_s": {…}, "units": {"<n>": {variant: {…}}}}}}``
  (each unit as :func:`surrogate.scaling.train_unit` returns it);
* ``scaling.md``: per tile size and training-set size, each variant's in-distribution
  and worst held-out RMSE, weights, multiply-adds and MVMs/s, beside the physics models;
* ``scaling.png``: RMSE against training samples per tile size (when enabled).

Off by default (``enabled: false``: the report is ``{"enabled": false}``); the
experiment ``params/surrogate_scaling.yaml`` turns it on (``make surrogate-scaling``).
Finished units are kept in ``.study_cache/surrogate_scaling`` and a killed run resumes.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from datagen.config import DatagenParams
from datagen.dataset import load_dataset
from datagen.sweep import run_sweep
from functional_sim.studies.resume import UnitStore
from functional_sim.studies.stage import add_study_arguments, stage_main, study_run, write_output
from spice_netlists import CrossbarSpec
from spice_netlists.config import read_params, section
from surrogate import make_model
from surrogate.scaling import (PHYSICS, ScalingParams, bench_mvms, physics_scores, tag_dir,
                               train_unit)
from surrogate.stages.config import MAIN_VARIANT, load_params
from surrogate.training import train_geniex

STAGE = "surrogate_scaling"


def _bench_inputs(ds: Any, cfg: ScalingParams) -> tuple[torch.Tensor, torch.Tensor]:
    """Tiles (T, R, C) and inputs (N, T, R) for the MVMs/s measurement, from the test
    set's samples (its first T conductances; inputs drawn from its inputs, seeded)."""
    tiles = min(cfg.bench_tiles, len(ds))
    g = torch.from_numpy(np.ascontiguousarray(ds.g[:tiles]))
    pick = np.random.default_rng(0).integers(0, len(ds), (cfg.bench_vectors, tiles))
    return g, torch.from_numpy(np.ascontiguousarray(ds.v[pick]))


def _sweeps(cfg: ScalingParams, datagen: DatagenParams, n_train: int) -> dict[str, Any]:
    """The study's sweeps at one tile size: ``train`` (``n_train`` samples of the
    training sampler), ``test`` and every held-out set (``test_samples`` each), all with
    the circuit engine."""
    exact = {"engine": "circuit", "check_fraction": cfg.check_fraction}
    sweeps = {"train": replace(datagen.train, n_samples=n_train, **exact),
              "test": replace(datagen.test, n_samples=cfg.test_samples, **exact)}
    for name, sweep in datagen.held_out.items():
        sweeps[name] = replace(sweep, n_samples=cfg.test_samples, **exact)
    return sweeps


def run(params_path: str | Path, store: UnitStore, progress: bool = True) -> dict[str, Any]:
    """Run (or resume) the study of the params file at ``params_path``; returns the
    report."""
    params = read_params(params_path)
    surrogate = load_params(params_path)
    cfg = surrogate.scaling
    if not cfg.enabled:
        return {"enabled": False}
    crossbar = CrossbarSpec.from_dict(section(params, "crossbar"), "crossbar")
    datagen = DatagenParams.from_dict(section(params, "datagen"))
    variants = cfg.variant_configs(surrogate.variants[MAIN_VARIANT])
    report: dict[str, Any] = {"enabled": True, "setting": dict(cfg.setting),
                              "variants": {n: c.to_dict() for n, c in variants.items()},
                              "threads": cfg.threads, "sizes": {}}
    for size in cfg.sizes:
        spec = crossbar.with_overrides({**cfg.setting, "rows": size, "cols": size},
                                       "surrogate.scaling.setting")
        train_sizes = cfg.train_sizes(size)
        if not train_sizes:
            continue
        data = {}
        for name, sweep in _sweeps(cfg, datagen, max(train_sizes)).items():
            run_sweep(spec, sweep, tag_dir(cfg.data_dir, spec, name), progress=progress)
            data[name] = load_dataset(tag_dir(cfg.data_dir, spec, name)).converged()
        train = data.pop("train")
        tests = data
        bench = _bench_inputs(tests["test"], cfg)
        ids = {name: ds.identity for name, ds in tests.items()}
        base_inputs = {"spec": spec.to_dict(), "tests": ids, "threads": cfg.threads,
                       "bench": [cfg.bench_tiles, cfg.bench_vectors, cfg.bench_repeats]}

        def physics() -> dict[str, Any]:
            old = torch.get_num_threads()
            torch.set_num_threads(cfg.threads)
            try:
                return {"rmse": physics_scores(spec, tests),
                        "mvms_per_s": {m: round(bench_mvms(make_model(m, spec), *bench,
                                                           cfg.bench_repeats), 1)
                                       for m in PHYSICS}}
            finally:
                torch.set_num_threads(old)

        phys = store.get_or_compute("physics", base_inputs, physics)
        entry: dict[str, Any] = {"physics": phys["rmse"], "physics_mvms_per_s": phys["mvms_per_s"],
                                 "units": {}}
        for n in train_sizes:
            subset = train.select(np.arange(min(n, len(train))))
            for name, config in variants.items():
                inputs = {**base_inputs, "train": train.identity, "n": len(subset),
                          "config": config.to_dict()}
                unit = store.get_or_compute(
                    "unit", inputs, lambda: train_unit(subset, config, tests, bench,
                                                       cfg.bench_repeats, cfg.threads,
                                                       train_geniex))
                entry["units"].setdefault(str(n), {})[name] = unit
                worst = max(v for k, v in unit["rmse_pct_fs"].items() if k != "test")
                print(f"{STAGE}: {spec.label} n={n:>6} {name:>14}: test "
                      f"{unit['rmse_pct_fs']['test']:.4f} % FS, worst held-out {worst:.4f}, "
                      f"{unit['mvms_per_s']:.3g} MVMs/s, {unit['train_seconds']:.0f} s "
                      f"training", flush=True)
        report["sizes"][spec.label] = entry
    return report


def table(report: Mapping[str, Any]) -> str:
    """The report as Markdown: one row per (tile size, training samples, model)."""
    if not report.get("enabled"):
        return "The scaling study is off (`surrogate.scaling.enabled: false`).\n"
    lines = ["| tiles | train samples | model | test | worst held-out (set) | weights | "
             "MACs/MVM (net + baseline) | MVMs/s | epochs (best) | training s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for label, entry in report["sizes"].items():
        for model, rmse in entry["physics"].items():
            held = {k: v for k, v in rmse.items() if k != "test"}
            worst = max(held, key=held.get) if held else ""
            lines.append(f"| {label} | – | {model} | {rmse['test']:.4f} | "
                         f"{held.get(worst, float('nan')):.4f} ({worst}) | – | – | "
                         f"{entry['physics_mvms_per_s'][model]:.3g} | – | – |")
        for n, units in entry["units"].items():
            for model, u in units.items():
                held = {k: v for k, v in u["rmse_pct_fs"].items() if k != "test"}
                worst = max(held, key=held.get) if held else ""
                lines.append(
                    f"| {label} | {int(n):,} | {model} | {u['rmse_pct_fs']['test']:.4f} | "
                    f"{held.get(worst, float('nan')):.4f} ({worst}) | {u['weights']:,} | "
                    f"{u['net_macs_per_mvm']:,} + {u['baseline_macs_per_mvm']:,} | "
                    f"{u['mvms_per_s']:.3g} | {u['epochs_run']} ({u['best_epoch']}) | "
                    f"{u['train_seconds']:.0f} |")
    return ("\n".join(lines) + "\n\nRMSE of column currents against the exact circuit, % of "
            "full scale; worst held-out: the largest RMSE over the held-out sets.\n")


def plot(report: Mapping[str, Any], path: Path) -> None:
    """RMSE against training samples, one column of panels per tile size: in
    distribution (top) and the worst held-out set (bottom); the best physics model as a
    dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = report.get("sizes", {})
    if not sizes:
        return
    fig, axes = plt.subplots(2, len(sizes), figsize=(4.2 * len(sizes), 6.4), squeeze=False)
    for col, (label, entry) in enumerate(sizes.items()):
        ns = sorted(entry["units"], key=int)
        variants = list(entry["units"][ns[0]]) if ns else []
        for row, pick in enumerate((lambda r: r["test"],
                                    lambda r: max(v for k, v in r.items() if k != "test"))):
            ax = axes[row][col]
            for name in variants:
                ax.plot([int(n) for n in ns],
                        [pick(entry["units"][n][name]["rmse_pct_fs"]) for n in ns],
                        marker="o", label=name)
            best = min(entry["physics"], key=lambda m: pick(entry["physics"][m]))
            ax.axhline(pick(entry["physics"][best]), ls="--", color="k", lw=1,
                       label=f"{best} (physics)")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("training samples")
            ax.set_ylabel("RMSE, % of full scale")
            ax.set_title(f"{label}\n" + ("in distribution" if row == 0 else "worst held-out set"),
                         fontsize=9)
            ax.grid(True, which="both", alpha=0.3)
            if row == 0 and col == 0:
                ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_study_arguments(parser)

    def body(args: argparse.Namespace) -> None:
        out = Path(load_params(args.params).scaling.out_dir)
        outputs = [out / "scaling.json", out / "scaling.md", out / "scaling.png"]
        with study_run(STAGE, args, outputs) as store:
            report = run(args.params, store)
            write_output(outputs[0], json.dumps(report, indent=2) + "\n")
            write_output(outputs[1], table(report))
            plot(report, outputs[2])          # only when enabled (nothing to draw otherwise)

    stage_main(STAGE, parser, body, argv)


if __name__ == "__main__":
    main()
