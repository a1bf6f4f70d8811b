"""Resumable, sharded SPICE sweeps driven by params.yaml.

``python -m datagen.sweep --params params.yaml`` simulates, for every crossbar listed
under ``datagen.configs`` (overrides of the ``crossbar`` section), a training set and a
held-out test set into ``data/spice/<tag>/{train,test}`` (see :mod:`datagen.dataset`),
and each named held-out set of ``datagen.held_out`` into ``data/spice/<tag>/<name>``
(the same sweep machinery: resumable, with a manifest and failure handling).

Each chunk of samples is drawn from its own seed (the sweep seed, the split and the
chunk number), simulated in its own ngspice process and written as its own shard; the
shard's sha256, size and sample count go into ``manifest.json`` as it completes. A
sweep that is killed resumes on rerun: shards that match the manifest are kept and only
the missing, damaged or unfinished chunks run, so the result is identical to an
uninterrupted run. A shard on disk that the manifest does not list (one written before
manifests existed, or just before a kill) is kept when its samples are exactly those
its chunk's seed draws, and recorded. A sweep grown to more samples keeps its chunks
and adds the new ones; a sweep whose sampler, seed, chunking or physics changed starts
afresh in that directory, removing only its own files (shards, manifest, ``sweep.yaml``,
``spec.yaml``, temporary files) and saying which.

One sweep writes into a directory at a time (:func:`datagen.locking.sweep_lock`); a
second one is refused, naming the directory and the first one's pid.

Failed samples are sorted by kind (:mod:`datagen.runner`): one that cannot converge is
kept for good with its reason; a timeout or an ngspice error is stored too but its
chunk is redone when the sweep runs again, and a chunk whose run raised (ngspice could
not be started, an OS error) is not written at all. The summary counts the dataset's
failures by kind (``failed``), and ``python -m datagen.sweep`` exits non-zero, naming
them, when any sweep ends with failed samples (``--allow-unconverged`` accepts those
that cannot converge).

A sweep's ``engine`` picks what solves each chunk (:data:`datagen.engines.ENGINES`):
``ngspice`` (the default) or ``circuit``, the circuit-exact solver, ~100x faster. A
circuit sweep writes the same shards, then re-solves a seeded random ``check_fraction``
of its samples in ngspice, records the worst deviation in ``sweep.yaml`` (under
``check``) and in its summary, and raises :class:`datagen.engines.EngineCheckError`
when it exceeds :data:`datagen.engines.CHECK_TOLERANCE`.

The sweeps' settings are :mod:`datagen.config` (``SweepConfig``, ``DatagenParams``,
re-exported here); a bad value raises :class:`SweepFieldError` naming its path (e.g.
``datagen.train.timeout_s``, ``datagen.configs[1].rows``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import time
from concurrent.futures import Executor, Future, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import numpy as np
import pandas as pd
import yaml
from tqdm.auto import tqdm

from datagen.batch import auto_chunk_size, chunk_bounds
from datagen.config import DatagenParams, SweepConfig
from datagen.dataset import (MANIFEST_FILE, SHARD_GLOB, SPEC_FILE, SWEEP_FILE, TEMP_GLOBS,
                             DatasetError, Manifest, ShardRecord, atomic_write_text,
                             read_shard, shard_path, write_shard)
from datagen.engines import (ENGINES, EngineCheck, EngineCheckError, check_against_ngspice,
                             check_sample_ids)
from datagen.executors import SerialExecutor, open_executor
from datagen.fields import SweepFieldError
from datagen.locking import SweepLockedError, sweep_lock
from datagen.runner import FAILURE_KINDS, RETRYABLE_KINDS, classify_reason
from datagen.samplers import draw
from spice_netlists import CrossbarSpec
from spice_netlists.config import ConfigError, read_params, section
from spice_netlists.ngspice import NgspiceError, clean_stale_tempdirs, ngspice_info

__all__ = ["DatagenParams", "SweepConfig", "SweepFieldError", "SweepLockedError",
           "chunk_seed", "describe_removed", "failure_message", "main", "remove_sweep_files",
           "run_sweep", "summary_record"]

#: what a chunk's run may raise that says nothing about its samples: the chunk is not
#: written, counted as ``error`` and redone when the sweep runs again
INFRASTRUCTURE_ERRORS = (OSError, NgspiceError, subprocess.SubprocessError, BrokenProcessPool)


def chunk_seed(seed: int, chunk: int) -> np.random.Generator:
    """The generator of one chunk: independent of which chunks ran before."""
    return np.random.default_rng([seed, chunk])


def _draw_chunk(spec: CrossbarSpec, cfg: SweepConfig, k: int, lo: int, hi: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """The samples lo..hi-1 of chunk ``k``: the same whenever they are drawn."""
    return draw(spec, hi - lo, chunk_seed(cfg.seed, k), cfg.sampler, slot=(cfg.seed, lo))


def _stamp(spec: CrossbarSpec, cfg: SweepConfig, chunk_size: int) -> dict[str, Any]:
    """What ``sweep.yaml`` records of the sweep's identity (what decides its data)."""
    return {"spec": spec.to_dict(), "sweep": {**cfg.identity(), "chunk_size": chunk_size}}


def _read_stamp(path: Path) -> dict[str, Any] | None:
    """The identity a ``sweep.yaml`` records; None when there is none or it is unreadable."""
    try:
        found = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return None
    return {k: found.get(k) for k in ("spec", "sweep")} if isinstance(found, Mapping) else None


def _shard_index(path: Path) -> int | None:
    """The chunk number of a shard file name (None if it is not one)."""
    part = path.name[len("shard-"):-len(".parquet")]
    return int(part) if part.isdigit() else None


def _remove_temp_files(out: Path) -> list[Path]:
    """Remove the temporary files of writers that were killed (we hold the lock, so no
    writer is live); returns them."""
    removed = []
    for pattern in TEMP_GLOBS:
        for tmp in out.glob(pattern):
            if tmp.is_file():
                tmp.unlink(missing_ok=True)
                removed.append(tmp)
    return removed


def remove_sweep_files(out: Path) -> list[str]:
    """Remove the sweep's own files from ``out`` (the manifest first, so that no
    half-removed state looks complete; then shards, temporary files, ``sweep.yaml`` and
    ``spec.yaml``); returns their names. Anything else in ``out`` stays."""
    removed = []
    for name in (MANIFEST_FILE,):
        if (out / name).exists():
            (out / name).unlink()
            removed.append(name)
    for shard in sorted(out.glob(SHARD_GLOB)):
        if shard.is_file():
            shard.unlink()
            removed.append(shard.name)
    removed += [p.name for p in _remove_temp_files(out)]
    for name in (SWEEP_FILE, SPEC_FILE):
        if (out / name).exists():
            (out / name).unlink()
            removed.append(name)
    return removed


def describe_removed(names: list[str]) -> str:
    """``names`` in a line, shards counted rather than listed."""
    shards = [n for n in names if n.startswith("shard-") and n.endswith(".parquet")]
    others = [n for n in names if n not in shards]
    parts = ([f"{len(shards)} shard(s) ({shards[0]}..{shards[-1]})"] if shards else []) + others
    return ", ".join(parts) if parts else "nothing"


def _record(path: Path, blob: bytes, lo: int, kinds: Iterable[str]) -> ShardRecord:
    """A manifest entry for shard bytes ``blob`` of samples lo.. with failure ``kinds``."""
    kinds = list(kinds)
    failed = {k: n for k in FAILURE_KINDS if (n := kinds.count(k))}
    return ShardRecord(sha256=hashlib.sha256(blob).hexdigest(), size=len(blob), first=lo,
                       samples=len(kinds), failed=failed)


def _adopt(out: Path, spec: CrossbarSpec, cfg: SweepConfig, k: int, lo: int, hi: int
           ) -> ShardRecord | None:
    """A manifest entry for a shard on disk that the manifest does not list (written
    before manifests existed, or just before a kill), if its samples are exactly those
    chunk ``k`` draws (ids, seed, sampler, V and G); None when it is not."""
    path = shard_path(out, k)
    try:
        blob = path.read_bytes()
        v, g, i, meta = read_shard(path, spec)
    except (OSError, DatasetError):
        return None
    ids = meta["sample_id"].to_numpy()
    if (len(meta) != hi - lo or not np.array_equal(ids, np.arange(lo, hi))
            or set(meta["seed"]) != {cfg.seed} or set(meta["sampler"]) != {cfg.sampler.name}):
        return None
    v0, g0 = _draw_chunk(spec, cfg, k, lo, hi)
    ok = meta["ok"].to_numpy(dtype=bool)
    if not (np.array_equal(v, v0) and np.array_equal(g, g0) and np.isfinite(i[ok]).all()):
        return None
    kinds = ["" if good else classify_reason(r) for good, r in zip(ok, meta["reason"])]
    return _record(path, blob, lo, kinds)


def _prepare_directory(out: Path, spec: CrossbarSpec, cfg: SweepConfig,
                       chunk_size: int) -> Manifest:
    """Keep a matching partial sweep; start afresh where spec, config or the chunking
    (``chunk_size``, as resolved for this crossbar) changed, removing only the sweep's
    own files. Returns the manifest, with every shard it lists still to be checked.
    (The ``check`` entry a circuit sweep adds to ``sweep.yaml`` is a result, not
    identity: it is redone.) Runs under the directory's lock."""
    stamp = _stamp(spec, cfg, chunk_size)
    sweep_file = out / SWEEP_FILE
    _remove_temp_files(out)
    manifest: Manifest | None = None
    if sweep_file.exists() and _read_stamp(sweep_file) != stamp:
        removed = remove_sweep_files(out)
        others = sorted(p.name for p in out.iterdir() if p.name != ".sweep.lock")
        kept = f"; kept {len(others)} other file(s): {', '.join(others[:5])}" if others else ""
        print(f"{out}: configuration changed, starting this sweep afresh: removed "
              f"{describe_removed(removed)}{kept}")
    else:
        try:
            manifest = Manifest.load(out)
        except DatasetError as exc:
            print(f"{out}: {exc}; checking its shards again")
        if manifest is not None and (manifest.stamp != stamp or manifest.chunk_size != chunk_size):
            print(f"{out}: {MANIFEST_FILE} belongs to another sweep configuration; "
                  f"checking its shards again")
            manifest = None
    if manifest is None:
        manifest = Manifest(stamp=stamp, n_samples=cfg.n_samples, chunk_size=chunk_size)
    manifest.n_samples = cfg.n_samples
    atomic_write_text(out / SPEC_FILE, yaml.safe_dump(spec.to_dict(), sort_keys=False))
    atomic_write_text(sweep_file, yaml.safe_dump(stamp, sort_keys=False))
    return manifest


def _check_shards(out: Path, spec: CrossbarSpec, cfg: SweepConfig, manifest: Manifest,
                  bounds: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """Bring the manifest in line with the files and return the chunks (k, lo, hi) to
    run: those without a shard, with a shard that differs from its manifest entry
    (removed), or holding failures a rerun may cure. Shards past the end of a shrunk
    sweep are removed; unlisted shards that :func:`_adopt` accepts are listed."""
    names = {shard_path(out, k).name: (k, lo, hi) for k, (lo, hi) in enumerate(bounds)}
    for path in out.glob(SHARD_GLOB):       # shards past the end of a shrunk sweep
        if path.name not in names:
            path.unlink(missing_ok=True)
    for name in list(manifest.shards):
        if name not in names:
            del manifest.shards[name]
    todo, adopted, retry = [], 0, 0
    for name, (k, lo, hi) in names.items():
        path = out / name
        rec = manifest.shards.get(name)
        if rec is not None:
            if (rec.first, rec.samples) != (lo, hi - lo):       # the last chunk of a grown sweep
                del manifest.shards[name]
                path.unlink(missing_ok=True)
            else:
                try:
                    problem = rec.problem(path.read_bytes())
                except FileNotFoundError:
                    problem = "it is missing"
                if problem:
                    print(f"{path}: {problem}; simulating it again")
                    del manifest.shards[name]
                    path.unlink(missing_ok=True)
                elif rec.retry:
                    retry += sum(rec.failed.get(kind, 0) for kind in RETRYABLE_KINDS)
                    todo.append((k, lo, hi))
                    continue
                else:
                    continue
        elif path.exists():
            rec = _adopt(out, spec, cfg, k, lo, hi)
            if rec is not None:
                manifest.shards[name] = rec
                adopted += 1
                if rec.retry:
                    retry += sum(rec.failed.get(kind, 0) for kind in RETRYABLE_KINDS)
                    todo.append((k, lo, hi))
                continue
            print(f"{path} is not this sweep's chunk {k} (unreadable, or other samples); "
                  f"simulating it again")
            path.unlink(missing_ok=True)
        todo.append((k, lo, hi))
    if adopted:
        print(f"{out}: recorded {adopted} shard(s) that {MANIFEST_FILE} did not list, after "
              f"checking their samples against their seeds")
    if retry:
        print(f"{out}: retrying {retry} sample(s) that timed out or hit an ngspice error")
    manifest.save(out)
    return todo


def _run_one_chunk(spec: CrossbarSpec, cfg: SweepConfig, k: int, lo: int, hi: int,
                   out: str) -> ShardRecord:
    """Draw, solve (with the sweep's engine) and write chunk ``k`` (samples lo..hi-1);
    returns its manifest entry."""
    v, g = _draw_chunk(spec, cfg, k, lo, hi)
    res = ENGINES[cfg.engine].solve(spec, v, g, cfg.reltol, cfg.timeout_s)
    meta = pd.DataFrame({
        "sample_id": np.arange(lo, hi, dtype=np.int64),
        "seed": np.full(hi - lo, cfg.seed, dtype=np.int64),
        "sampler": cfg.sampler.name,
        "ok": res.ok,
        "reason": res.reason,
    })
    path = shard_path(out, k)
    digest = write_shard(path, spec, v, g, res.i, meta)
    kinds = res.kinds()
    failed = {kind: n for kind in FAILURE_KINDS if (n := kinds.count(kind))}
    return ShardRecord(sha256=digest, size=path.stat().st_size, first=lo, samples=hi - lo,
                       failed=failed)


def _completed(ex: Executor, jobs: list[tuple[int, int, int]], *args: Any
               ) -> Iterator[tuple[tuple[int, int, int], Future]]:
    """(job, its finished future) for every chunk job, as they finish. An in-process
    executor runs each job only when the previous one has been handled, so the
    manifest is saved after every chunk there too."""
    if isinstance(ex, SerialExecutor):
        for job in jobs:
            yield job, ex.submit(_run_one_chunk, *args[:2], *job, *args[2:])
        return
    futures = {ex.submit(_run_one_chunk, *args[:2], *job, *args[2:]): job for job in jobs}
    for fut in as_completed(futures):
        yield futures[fut], fut


def _check_engine(spec: CrossbarSpec, cfg: SweepConfig, out: Path, manifest: Manifest) -> EngineCheck:
    """Re-solve a seeded random ``cfg.check_fraction`` of the sweep's solved samples in
    ngspice and record the result under ``check`` in ``sweep.yaml``."""
    parts = [read_shard(out / name, spec, manifest.shards[name])
             for name, _, _ in manifest.expected()]
    metas = [p[3] for p in parts]
    solved = np.concatenate([m["sample_id"].to_numpy()[m["ok"].to_numpy(dtype=bool)] for m in metas])
    ids = check_sample_ids(cfg.seed, solved, cfg.n_samples, cfg.check_fraction)
    v, g, i = [], [], []
    for (sv, sg, si, meta) in parts:
        pick = np.isin(meta["sample_id"].to_numpy(), ids)
        if pick.any():
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
    atomic_write_text(sweep_file, yaml.safe_dump(recorded, sort_keys=False))
    return check


def run_sweep(spec: CrossbarSpec, cfg: SweepConfig, out: str | Path, progress: bool = True) -> dict[str, Any]:
    """Run (or resume) a sweep into directory ``out``; returns a summary.

    The summary holds ``samples``, ``simulated_now``, ``failed_now`` (failed samples
    among those simulated now), ``failed`` (the dataset's failed samples by kind,
    :data:`datagen.runner.FAILURE_KINDS`, chunks that could not be written counted as
    ``error``), ``not_written`` (chunk -> why, only when some could not be written),
    ``seconds`` and ``samples_per_s``. It raises :class:`SweepLockedError` when another
    sweep is writing into ``out``.

    A sweep whose engine is not ngspice then checks a fraction of its samples against
    ngspice (``check`` in the summary and in ``sweep.yaml``) and raises
    :class:`datagen.engines.EngineCheckError`, naming ``out`` and the deviation, when
    they disagree beyond :data:`datagen.engines.CHECK_TOLERANCE` (or none could be
    compared). The shards stay on disk; a rerun checks again. The check is skipped
    while chunks are missing (the summary's failures say why).
    """
    ngspice_info()
    out = Path(out)
    size = cfg.chunk_size or auto_chunk_size(spec)
    with sweep_lock(out):
        clean_stale_tempdirs()
        manifest = _prepare_directory(out, spec, cfg, size)
        bounds = chunk_bounds(cfg.n_samples, size)
        todo = _check_shards(out, spec, cfg, manifest, bounds)
        start = time.perf_counter()
        failed_now = 0
        not_written: dict[str, str] = {}
        bar = tqdm(total=cfg.n_samples, initial=cfg.n_samples - sum(hi - lo for _, lo, hi in todo),
                   unit="sample", desc=f"sweep {out.parent.name}/{out.name}", disable=not progress)
        if todo:
            with open_executor(cfg.workers or None, cfg.scheduler or None,
                               kind=ENGINES[cfg.engine].local_executor) as ex:
                for (k, lo, hi), fut in _completed(ex, todo, spec, cfg, str(out)):
                    name = shard_path(out, k).name
                    try:
                        rec = fut.result()
                    except INFRASTRUCTURE_ERRORS as exc:
                        not_written[name] = f"{type(exc).__name__}: {exc}"[:300]
                    else:
                        manifest.shards[name] = rec
                        manifest.save(out)
                        failed_now += sum(rec.failed.values())
                    bar.update(hi - lo)
        bar.close()
        seconds = time.perf_counter() - start
        ran = sum(hi - lo for _, lo, hi in todo)
        failed = {kind: sum(r.failed.get(kind, 0) for r in manifest.shards.values())
                  for kind in FAILURE_KINDS}
        for name in not_written:                 # no new shard: its samples all count
            lo, hi = bounds[_shard_index(Path(name))]
            if name not in manifest.shards:      # (else its earlier shard still stands)
                failed["error"] += hi - lo
            failed_now += hi - lo
        summary: dict[str, Any] = {
            "dir": str(out), "samples": cfg.n_samples, "simulated_now": ran,
            "failed_now": failed_now, "failed": failed, "seconds": round(seconds, 2),
            "samples_per_s": round(ran / seconds, 2) if ran and seconds > 0 else None}
        if not_written:
            summary["not_written"] = not_written
        if any(failed.values()):
            print(f"{out}: {sum(failed.values())} of {cfg.n_samples} samples failed "
                  f"({_kinds(failed)})" + (f"; {len(not_written)} chunk(s) not written: "
                                           f"{next(iter(not_written.values()))}" if not_written else "")
                  + ("; timeouts and errors are retried when the sweep runs again"
                     if failed["timeout"] or failed["error"] else ""))
        if cfg.engine != "ngspice" and not not_written:   # any other engine answers to ngspice
            summary["engine"] = cfg.engine
            check = _check_engine(spec, cfg, out, manifest)
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
        elif cfg.engine != "ngspice":
            summary["engine"] = cfg.engine
    return summary


def _kinds(failed: Mapping[str, int]) -> str:
    """Failure counts by kind as text: ``no_convergence 1, timeout 2, error 0``."""
    return ", ".join(f"{kind} {failed.get(kind, 0)}" for kind in FAILURE_KINDS)


#: summary entries that describe this run rather than the dataset (printed, not recorded)
RUN_ONLY_KEYS = ("simulated_now", "failed_now", "seconds", "samples_per_s", "recorded_now")


def summary_record(summary: Any) -> Any:
    """``summary`` without :data:`RUN_ONLY_KEYS` (at any depth): what a tracked report
    records, so that the same params give the same file whether a sweep ran or resumed."""
    if isinstance(summary, Mapping):
        return {k: summary_record(v) for k, v in summary.items() if k not in RUN_ONLY_KEYS}
    return summary


def failure_message(summaries: Mapping[str, Mapping[str, Any]],
                    allow_unconverged: bool = False) -> str:
    """'' when no sweep of ``summaries`` (name -> :func:`run_sweep` summary) ended with
    failed samples, else a message naming each one's counts by kind. With
    ``allow_unconverged``, samples that cannot converge (kept for good) are accepted;
    timeouts and errors never are."""
    bad = {}
    for name, summary in summaries.items():
        failed = dict(summary.get("failed") or {})
        counted = {k: n for k, n in failed.items() if n and not (allow_unconverged and k == "no_convergence")}
        if counted:
            bad[name] = failed
    if not bad:
        return ""
    lines = [f"{name}: {sum(f.values())} failed ({_kinds(f)})" for name, f in bad.items()]
    retry = any(f.get("timeout") or f.get("error") for f in bad.values())
    unconverged = any(f.get("no_convergence") for f in bad.values())
    return ("sweeps ended with failed samples: " + "; ".join(lines)
            + (". Timeouts and errors are retried when the sweep runs again (raise "
               "timeout_s for samples that need longer)" if retry else "")
            + (". Samples that cannot converge are kept with their reason (pass "
               "--allow-unconverged to accept them)" if unconverged and not allow_unconverged else ""))


def main(argv: list[str] | None = None) -> None:
    """The ``datagen`` stage: every sweep of params.yaml's ``datagen`` section (train,
    test, then each held-out set, per crossbar), a summary (``<tag>/<sweep>`` keys)
    in ``--summary``, and a non-zero exit with a message when a config value is bad,
    ngspice is missing or too old, a directory is locked by another sweep, a circuit
    check fails or any sweep ends with failed samples (see :func:`failure_message`)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--summary", default="reports/datagen.json",
                    help="where to write per-dataset counts and throughput")
    ap.add_argument("--allow-unconverged", action="store_true",
                    help="exit 0 although samples that cannot converge were kept (timeouts "
                         "and errors still fail)")
    args = ap.parse_args(argv)
    try:
        params = read_params(args.params)
    except ConfigError as exc:
        raise SystemExit(f"datagen.sweep: {exc}") from exc
    try:
        dp = DatagenParams.from_dict(section(params, "datagen"))
        specs = dp.specs(params)
    except ConfigError as exc:
        raise SystemExit(f"datagen.sweep: {args.params}: {exc}") from exc
    summary = {}
    for spec in specs:
        tag = spec.tag
        for split, cfg in dp.sweeps().items():
            try:
                summary[f"{tag}/{split}"] = run_sweep(spec, cfg, Path(dp.out_dir) / tag / split)
            except (EngineCheckError, SweepLockedError, NgspiceError, DatasetError) as exc:
                raise SystemExit(f"datagen.sweep: {exc}") from exc
            print(json.dumps({f"{tag}/{split}": summary[f"{tag}/{split}"]}))
    Path(args.summary).parent.mkdir(parents=True, exist_ok=True)
    Path(args.summary).write_text(json.dumps(summary_record(summary), indent=2) + "\n")
    problem = failure_message(summary, allow_unconverged=args.allow_unconverged)
    if problem:
        raise SystemExit(f"datagen.sweep: {problem}")


if __name__ == "__main__":
    main()
