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

A sweep's ``engine`` picks what solves each chunk (:data:`datagen.engines.ENGINES`):
``ngspice`` (the default) or ``circuit``, the circuit-exact solver, ~100x faster. A
circuit sweep writes the same shards, then re-solves a seeded random ``check_fraction``
of its samples in ngspice, records the worst deviation in ``sweep.yaml`` (under
``check``) and in its summary, and raises :class:`datagen.engines.EngineCheckError`
when it exceeds :data:`datagen.engines.CHECK_TOLERANCE`.
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
from datagen.dataset import SHARD_GLOB, SPEC_FILE, read_shard, shard_path, write_shard
from datagen.engines import (ENGINES, EngineCheck, EngineCheckError, check_against_ngspice,
                             check_sample_ids)
from datagen.executors import open_executor
from datagen.samplers import SamplerConfig, draw
from spice_netlists import CrossbarSpec, load_spec_from_params
from spice_netlists.netlist import SolverOptions
from spice_netlists.validation import reject_unknown_keys
from spice_netlists.ngspice import ngspice_info

SWEEP_FILE = "sweep.yaml"


class SweepFieldError(ValueError):
    """A sweep field with a bad value; its message names the field's path (``sweep.<name>``
    by default, ``datagen.train.<name>`` where params.yaml's sweeps are read)."""

    def __init__(self, name: str, problem: str, owner: str = "sweep") -> None:
        super().__init__(f"{owner}.{name} {problem}")
        self.name, self.problem = name, problem

    def at(self, owner: str) -> "SweepFieldError":
        """The same error, naming the field under ``owner``."""
        return SweepFieldError(self.name, self.problem, owner)


@dataclass(frozen=True)
class SweepConfig:
    """One sweep: how many samples of which sampler, chunking and parallelism, and what
    solves them.

    ``chunk_size`` 0 picks a size for the crossbar (:func:`auto_chunk_size`);
    ``workers`` 0 uses every core (ngspice processes; the circuit engine runs its chunks
    in the sweep's process, torch using the cores); ``scheduler`` is a Dask scheduler
    address (``tcp://host:8786``) to run chunks on a cluster instead. ``timeout_s`` bounds each
    ngspice process and ``reltol`` is ngspice's relative tolerance.

    ``engine`` is what solves each chunk, a name in :data:`datagen.engines.ENGINES`:
    ``ngspice`` (default) or ``circuit`` (the circuit-exact solver of
    :mod:`surrogate.circuit_solver`, ~100x faster; same dataset format). A sweep with an
    engine other than ngspice re-solves ``check_fraction`` of its samples (at least
    one, drawn from the sweep seed) in ngspice and fails when they deviate by more than
    :data:`datagen.engines.CHECK_TOLERANCE`; ``check_fraction`` is in [0, 1].
    """

    n_samples: int = 1000
    seed: int = 0
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    chunk_size: int = 0
    workers: int = 0
    scheduler: str = ""
    timeout_s: float = 600.0
    reltol: float = SolverOptions.reltol
    engine: str = "ngspice"
    check_fraction: float = 0.01

    def __post_init__(self) -> None:
        if isinstance(self.sampler, Mapping):
            object.__setattr__(self, "sampler", SamplerConfig.from_dict(self.sampler))
        for name in ("n_samples", "seed", "chunk_size", "workers"):
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, int) or val < 0:
                raise SweepFieldError(name, f"must be an integer >= 0, got {val!r}")
        if self.n_samples < 1:
            raise SweepFieldError("n_samples", f"must be >= 1, got {self.n_samples!r}")
        if not isinstance(self.timeout_s, (int, float)) or self.timeout_s <= 0:
            raise SweepFieldError("timeout_s", f"must be > 0, got {self.timeout_s!r}")
        if not isinstance(self.engine, str) or self.engine not in ENGINES:
            raise SweepFieldError("engine", f"must be one of {', '.join(ENGINES)}, "
                                            f"got {self.engine!r}")
        frac = self.check_fraction
        if isinstance(frac, bool) or not isinstance(frac, (int, float)) or not 0 <= frac <= 1:
            raise SweepFieldError("check_fraction", f"must be a number in [0, 1], got {frac!r}")

    def identity(self) -> dict[str, Any]:
        """What decides each chunk's samples and currents (the sample count, parallelism,
        timeouts and the check's size do not: a sweep grown to more samples keeps the
        chunks it has)."""
        d = asdict(self)
        for k in ("n_samples", "workers", "scheduler", "timeout_s", "check_fraction"):
            d.pop(k)
        if self.engine == "ngspice":
            d.pop("engine")   # as stamped before engines existed: ngspice datasets stay valid
        else:
            d.pop("reltol")   # ngspice's tolerance decides only the check, not the data
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], owner: str = "sweep") -> "SweepConfig":
        """A sweep from its params.yaml mapping; errors name fields under ``owner``
        (e.g. ``datagen.train``)."""
        reject_unknown_keys(owner, data, cls)
        try:
            return cls(**data)
        except SweepFieldError as exc:
            raise exc.at(owner) from None


def chunk_seed(seed: int, chunk: int) -> np.random.Generator:
    """The generator of one chunk: independent of which chunks ran before."""
    return np.random.default_rng([seed, chunk])


def _stamp(spec: CrossbarSpec, cfg: SweepConfig, chunk_size: int) -> dict[str, Any]:
    """What ``sweep.yaml`` records of the sweep's identity (what decides its data)."""
    return {"spec": spec.to_dict(), "sweep": {**cfg.identity(), "chunk_size": chunk_size}}


def _prepare_directory(out: Path, spec: CrossbarSpec, cfg: SweepConfig, chunk_size: int) -> None:
    """Keep a matching partial sweep; start afresh where spec, config or the chunking
    (``chunk_size``, as resolved for this crossbar) changed. (The ``check`` entry a
    circuit sweep adds to ``sweep.yaml`` is a result, not identity: it is redone.)"""
    stamp = _stamp(spec, cfg, chunk_size)
    sweep_file = out / SWEEP_FILE
    if sweep_file.exists():
        found = yaml.safe_load(sweep_file.read_text()) or {}
        if {k: found.get(k) for k in stamp} != stamp:
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
    """Draw, solve (with the sweep's engine) and write chunk ``k`` (samples lo..hi-1);
    returns (k, n, failed)."""
    v, g = draw(spec, hi - lo, chunk_seed(cfg.seed, k), cfg.sampler, slot=(cfg.seed, lo))
    res = ENGINES[cfg.engine].solve(spec, v, g, cfg.reltol, cfg.timeout_s)
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


def _check_engine(spec: CrossbarSpec, cfg: SweepConfig, out: Path, n_chunks: int) -> EngineCheck:
    """Re-solve a seeded random ``cfg.check_fraction`` of the sweep's solved samples in
    ngspice and record the result under ``check`` in ``sweep.yaml``."""
    shards = [shard_path(out, k) for k in range(n_chunks)]
    metas = [pq.read_table(p, columns=["sample_id", "ok"]).to_pandas() for p in shards]
    solved = np.concatenate([m["sample_id"].to_numpy()[m["ok"].to_numpy(dtype=bool)] for m in metas])
    ids = check_sample_ids(cfg.seed, solved, cfg.n_samples, cfg.check_fraction)
    v, g, i = [], [], []
    for path, meta in zip(shards, metas):
        pick = np.isin(meta["sample_id"].to_numpy(), ids)
        if pick.any():
            sv, sg, si, _ = read_shard(path, spec)
            v.append(sv[pick]), g.append(sg[pick]), i.append(si[pick])
    cols = (spec.rows, spec.cols)
    check = check_against_ngspice(
        spec, np.concatenate(v) if v else np.empty((0, spec.rows)),
        np.concatenate(g) if g else np.empty((0, *cols)),
        np.concatenate(i) if i else np.empty((0, spec.cols)), ids,
        reltol=cfg.reltol, timeout_s=cfg.timeout_s, workers=cfg.workers or None,
        scheduler=cfg.scheduler or None)
    sweep_file = out / SWEEP_FILE
    recorded = {**yaml.safe_load(sweep_file.read_text()), "check": check.to_dict()}
    sweep_file.write_text(yaml.safe_dump(recorded, sort_keys=False))
    return check


def run_sweep(spec: CrossbarSpec, cfg: SweepConfig, out: str | Path, progress: bool = True) -> dict[str, Any]:
    """Run (or resume) a sweep into directory ``out``; returns a summary.

    A sweep whose engine is not ngspice then checks a fraction of its samples against
    ngspice (``check`` in the summary and in ``sweep.yaml``) and raises
    :class:`datagen.engines.EngineCheckError`, naming ``out`` and the deviation, when
    they disagree beyond :data:`datagen.engines.CHECK_TOLERANCE` (or none could be
    compared). The shards stay on disk; a rerun checks again.
    """
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
        with open_executor(cfg.workers or None, cfg.scheduler or None,
                           kind=ENGINES[cfg.engine].local_executor) as ex:
            futures = [ex.submit(_run_one_chunk, spec, cfg, k, lo, hi, str(out)) for k, lo, hi in todo]
            for fut in as_completed(futures):
                _, n, bad = fut.result()
                failed += bad
                bar.update(n)
    bar.close()
    seconds = time.perf_counter() - start
    ran = sum(hi - lo for _, lo, hi in todo)
    summary = {"dir": str(out), "samples": cfg.n_samples, "simulated_now": ran,
               "failed_now": failed, "seconds": round(seconds, 2),
               "samples_per_s": round(ran / seconds, 2) if ran and seconds > 0 else None}
    if cfg.engine != "ngspice":          # any other engine answers to ngspice
        summary["engine"] = cfg.engine
        check = _check_engine(spec, cfg, out, len(bounds))
        summary["check"] = check.to_dict()
        if not check.passed:
            if check.checked == 0:
                raise EngineCheckError(
                    f"{out}: none of the {len(check.sample_ids)} samples drawn to check the "
                    f"{cfg.engine} engine could be compared with ngspice (one of them failed "
                    f"on every one)")
            raise EngineCheckError(
                f"{out}: the {cfg.engine} engine deviates from ngspice by "
                f"{check.max_deviation:.3g} of full scale over {check.checked} checked "
                f"samples (tolerance {check.tolerance:g}); this dataset is not trustworthy")
    return summary


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
                d[split] = SweepConfig.from_dict(d[split], owner=f"datagen.{split}")
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
            try:
                summary[f"{tag}/{split}"] = run_sweep(spec, cfg, Path(dp.out_dir) / tag / split)
            except EngineCheckError as exc:
                raise SystemExit(f"datagen.sweep: {exc}") from exc
            print(json.dumps({f"{tag}/{split}": summary[f"{tag}/{split}"]}))
    Path(args.summary).parent.mkdir(parents=True, exist_ok=True)
    Path(args.summary).write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
