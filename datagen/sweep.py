"""Resumable, sharded SPICE sweeps driven by params.yaml.

``python -m datagen.sweep --params params.yaml`` simulates, for every crossbar listed
under ``datagen.configs`` (overrides of the ``crossbar`` section), a training set and a
held-out test set into ``data/spice/<tag>/{train,test}`` (see :mod:`datagen.dataset`).

Each chunk of samples is drawn from its own seed (the sweep seed, the split and the
chunk number), simulated in its own ngspice process and written as its own shard. A
sweep that is killed resumes on rerun: shards already on disk are kept and only the
missing chunks run, so the result is identical to an uninterrupted run. A sweep grown
to more samples keeps its chunks and adds the new ones; a sweep whose sampler, seed,
chunking or physics changed starts afresh in that directory.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from concurrent.futures import as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import yaml
from tqdm.auto import tqdm

from datagen.batch import auto_chunk_size, chunk_bounds
from datagen.dataset import SHARD_GLOB, SPEC_FILE, shard_path, write_shard
from datagen.executors import open_executor
from datagen.runner import run_chunk
from datagen.samplers import SamplerConfig, draw
from spice_netlists import CrossbarSpec, load_spec_from_params
from spice_netlists.netlist import SolverOptions
from spice_netlists.validation import reject_unknown_keys
from spice_netlists.ngspice import ngspice_info

SWEEP_FILE = "sweep.yaml"


@dataclass(frozen=True)
class SweepConfig:
    """One sweep: how many samples of which sampler, chunking and parallelism.

    ``chunk_size`` 0 picks a size for the crossbar (:func:`auto_chunk_size`);
    ``workers`` 0 uses every core; ``scheduler`` is a Dask scheduler address
    (``tcp://host:8786``) to run chunks on a cluster instead.
    """

    n_samples: int = 1000
    seed: int = 0
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    chunk_size: int = 0
    workers: int = 0
    scheduler: str = ""
    timeout_s: float = 600.0
    reltol: float = SolverOptions.reltol

    def __post_init__(self) -> None:
        if isinstance(self.sampler, Mapping):
            object.__setattr__(self, "sampler", SamplerConfig.from_dict(self.sampler))
        for name in ("n_samples", "seed", "chunk_size", "workers"):
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, int) or val < 0:
                raise ValueError(f"sweep.{name} must be an integer >= 0, got {val!r}")
        if self.n_samples < 1:
            raise ValueError(f"sweep.n_samples must be >= 1, got {self.n_samples!r}")
        if not isinstance(self.timeout_s, (int, float)) or self.timeout_s <= 0:
            raise ValueError(f"sweep.timeout_s must be > 0, got {self.timeout_s!r}")

    def identity(self) -> dict[str, Any]:
        """What decides each chunk's samples (the sample count, parallelism and timeouts
        do not: a sweep grown to more samples keeps the chunks it has)."""
        d = asdict(self)
        for k in ("n_samples", "workers", "scheduler", "timeout_s"):
            d.pop(k)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SweepConfig":
        reject_unknown_keys("sweep", data, cls)
        return cls(**data)


def chunk_seed(seed: int, chunk: int) -> np.random.Generator:
    """The generator of one chunk: independent of which chunks ran before."""
    return np.random.default_rng([seed, chunk])


def _prepare_directory(out: Path, spec: CrossbarSpec, cfg: SweepConfig, chunk_size: int) -> None:
    """Keep a matching partial sweep; start afresh where spec, config or the chunking
    (``chunk_size``, as resolved for this crossbar) changed."""
    stamp = {"spec": spec.to_dict(), "sweep": {**cfg.identity(), "chunk_size": chunk_size}}
    sweep_file = out / SWEEP_FILE
    if sweep_file.exists() and yaml.safe_load(sweep_file.read_text()) != stamp:
        print(f"{out}: configuration changed, starting this sweep afresh")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    spec.save(out / SPEC_FILE)
    sweep_file.write_text(yaml.safe_dump(stamp, sort_keys=False))


def _shard_complete(out: Path, k: int, n: int) -> bool:
    """Whether shard ``k`` exists with all ``n`` samples (the last chunk of a smaller
    sweep holds fewer and is redone)."""
    path = shard_path(out, k)
    return path.exists() and pq.ParquetFile(path).metadata.num_rows == n


def _run_one_chunk(spec: CrossbarSpec, cfg: SweepConfig, k: int, lo: int, hi: int,
                   out: str) -> tuple[int, int, int]:
    """Draw, simulate and write chunk ``k`` (samples lo..hi-1); returns (k, n, failed)."""
    v, g = draw(spec, hi - lo, chunk_seed(cfg.seed, k), cfg.sampler, slot=(cfg.seed, lo))
    res = run_chunk(spec, v, g, SolverOptions(reltol=cfg.reltol), cfg.timeout_s)
    meta = pd.DataFrame({
        "sample_id": np.arange(lo, hi, dtype=np.int64),
        "seed": np.full(hi - lo, cfg.seed, dtype=np.int64),
        "sampler": cfg.sampler.name,
        "ok": res.ok,
        "reason": res.reason,
        "sim_time_s": np.full(hi - lo, res.seconds / (hi - lo)),
    })
    write_shard(shard_path(out, k), spec, v, g, res.i, meta)
    return k, hi - lo, int((~res.ok).sum())


def run_sweep(spec: CrossbarSpec, cfg: SweepConfig, out: str | Path, progress: bool = True) -> dict[str, Any]:
    """Run (or resume) a sweep into directory ``out``; returns a summary."""
    ngspice_info()
    out = Path(out)
    size = cfg.chunk_size or auto_chunk_size(spec)
    _prepare_directory(out, spec, cfg, size)
    bounds = chunk_bounds(cfg.n_samples, size)
    todo = [(k, lo, hi) for k, (lo, hi) in enumerate(bounds) if not _shard_complete(out, k, hi - lo)]
    for stale in out.glob(SHARD_GLOB):   # shards past the end of a shrunk sweep
        if int(stale.stem.split("-")[1]) >= len(bounds):
            stale.unlink()
    start = time.perf_counter()
    failed = 0
    bar = tqdm(total=cfg.n_samples, initial=cfg.n_samples - sum(hi - lo for _, lo, hi in todo),
               unit="sample", desc=f"sweep {out.parent.name}/{out.name}", disable=not progress)
    if todo:
        with open_executor(cfg.workers or None, cfg.scheduler or None) as ex:
            futures = [ex.submit(_run_one_chunk, spec, cfg, k, lo, hi, str(out)) for k, lo, hi in todo]
            for fut in as_completed(futures):
                _, n, bad = fut.result()
                failed += bad
                bar.update(n)
    bar.close()
    seconds = time.perf_counter() - start
    ran = sum(hi - lo for _, lo, hi in todo)
    return {"dir": str(out), "samples": cfg.n_samples, "simulated_now": ran,
            "failed_now": failed, "seconds": round(seconds, 2),
            "samples_per_s": round(ran / seconds, 2) if ran and seconds > 0 else None}


@dataclass(frozen=True)
class DatagenParams:
    """The ``datagen`` section of params.yaml."""

    configs: tuple[dict, ...] = ({},)   # crossbar overrides, one dataset pair each
    train: SweepConfig = field(default_factory=lambda: SweepConfig(n_samples=2000, seed=0))
    test: SweepConfig = field(default_factory=lambda: SweepConfig(n_samples=400, seed=1))
    out_dir: str = "data/spice"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "DatagenParams":
        reject_unknown_keys("datagen", data, cls)
        d = dict(data)
        if "configs" in d:
            d["configs"] = tuple(dict(c) for c in d["configs"])
        for split in ("train", "test"):
            if split in d:
                d[split] = SweepConfig.from_dict(d[split])
        return cls(**d)

    def __post_init__(self) -> None:
        if self.train.seed == self.test.seed:
            raise ValueError(f"datagen.train.seed and datagen.test.seed must differ (the test "
                             f"set would repeat the training samples), both are {self.train.seed!r}")

    def specs(self, params: Mapping[str, Any]) -> list[CrossbarSpec]:
        return [load_spec_from_params(params, **c) for c in self.configs]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--summary", default="reports/datagen.json",
                    help="where to write per-dataset counts and throughput")
    args = ap.parse_args(argv)
    params = yaml.safe_load(Path(args.params).read_text())
    dp = DatagenParams.from_dict(params.get("datagen", {}))
    summary = {}
    for spec in dp.specs(params):
        tag = spec.tag
        for split, cfg in (("train", dp.train), ("test", dp.test)):
            summary[f"{tag}/{split}"] = run_sweep(spec, cfg, Path(dp.out_dir) / tag / split)
            print(json.dumps({f"{tag}/{split}": summary[f"{tag}/{split}"]}))
    Path(args.summary).parent.mkdir(parents=True, exist_ok=True)
    Path(args.summary).write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
