"""Stage ``workload_data``: SPICE datasets of the (V, G) reads a trained network makes.

GENIEx trained its surrogate on what the network's bit-sliced tiles actually see. For
every crossbar spec the random datasets are made for (the ``datagen`` section's
``configs``, each a set of overrides of the ``crossbar`` section: size, device, read
voltage; :func:`workload_specs`), so that ``<out_dir>/<tag>`` exists for every tag of
``<datagen.out_dir>/<tag>`` and the surrogate's ``train_data_dirs`` and
``extra_test_sets`` find one, ``python -m functional_sim.studies.workload_data --params params.yaml``

1. records a pool of reads of the trained network ``functional_sim.workload.net`` on
   its training images with ``ideal`` tiles of that spec (the network's layers tiled at
   the spec's size, mapped with ``functional_sim.sim``;
   :func:`functional_sim.studies.workload.record_pool`)
   and writes it to ``<pool_dir>/<tag>.npz`` (arrays ``v``, ``g``, ``spec``, ``test``:
   which reads went to the test pool, and ``meta``: what the pool was recorded from);
2. splits it *by content* into ``<tag>.train.npz`` and ``<tag>.test.npz``: every
   distinct (V, G) goes wholly to one side (duplicates, which the network really
   repeats, keep their multiplicity), so no test sample repeats a training sample;
3. runs datagen's resumable sweep with the ``workload`` sampler on each pool into
   ``<out_dir>/<tag>/train`` and ``<out_dir>/<tag>/test`` (seeds ``seed`` and ``seed+1``),
   with the engine of ``datagen.train`` (``engine``, ``check_fraction``: ``circuit``
   re-runs a share of the samples in ngspice).

``functional_sim.settings`` (the study's tile settings) plays no part here: the stage
follows the datasets, the study follows its own section.

A rerun with the same parameters and network reuses the pools and resumes the sweeps
(nothing finished is simulated again). Where a pool's content changed (another
network, other images, other mapping), its sweeps start afresh: ``<out_dir>/<tag>/
pools.yaml`` records the content hash of the pools the datasets were drawn from.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import yaml

from datagen.samplers import SamplerConfig
from datagen.config import DatagenParams, SweepConfig
from datagen.sweep import (describe_removed, failure_message, remove_sweep_files, run_sweep,
                           summary_record)
from functional_sim.studies.config import (StudyConfig, WorkloadConfig, net_path, read_params,
                                   study_config, unique_by_tag)
from functional_sim.studies.workload import record_pool, save_pool
from spice_netlists import CrossbarSpec

POOLS_STAMP = "pools.yaml"
SPLITS = ("train", "test")


def pool_files(wc: WorkloadConfig, tag: str) -> dict[str, Path]:
    """The recorded pool (``all``) and its train and test pools."""
    base = Path(wc.pool_dir)
    return {"all": base / f"{tag}.npz", "train": base / f"{tag}.train.npz",
            "test": base / f"{tag}.test.npz"}


def split_by_content(v: np.ndarray, g: np.ndarray, test_fraction: float,
                     seed: int) -> np.ndarray:
    """Boolean mask of the reads that go to the test pool.

    Reads with identical (V, G) form one group; groups, in a seeded random order, go
    to the test pool while it holds at most ``test_fraction`` of the reads (at least
    one group), the rest to the train pool. So the pools share no (V, G).
    """
    if len(v) == 0:
        raise ValueError("the workload pool is empty: the network made no non-zero reads")
    key = np.concatenate([v.reshape(len(v), -1), g.reshape(len(g), -1)], axis=1)
    _, group = np.unique(key, axis=0, return_inverse=True)
    group = np.asarray(group).reshape(-1)
    counts = np.bincount(group)
    if len(counts) < 2:
        raise ValueError("the workload pool holds a single distinct read; it cannot be "
                         "split into train and test pools (record more images)")
    order = np.random.default_rng([seed, 2]).permutation(len(counts))
    within = int(np.searchsorted(np.cumsum(counts[order]), test_fraction * len(v), side="right"))
    n_groups = min(max(within, 1), len(counts) - 1)
    is_test_group = np.zeros(len(counts), dtype=bool)
    is_test_group[order[:n_groups]] = True
    return is_test_group[group]


def _digest(v: np.ndarray, g: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in (v, g):
        h.update(str(a.shape).encode())
        h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
    return h.hexdigest()[:16]


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def pool_identity(cfg: StudyConfig, spec: CrossbarSpec) -> dict[str, Any]:
    """What decides a pool's content: the network file, the images, the reads drawn,
    the split and the mapping (with ``spec``)."""
    wc = cfg.workload_config
    return {
        "net": wc.net, "net_sha256": _file_digest(net_path(cfg, wc.net)),
        "images": wc.images, "pool_size": wc.pool_size, "seed": wc.seed,
        "dataset_seed": cfg.seed,
        "test_fraction": wc.test_samples / (wc.train_samples + wc.test_samples),
        "sim": cfg.sim.with_(spec=spec).to_dict(),
    }


def _load_identity(path: Path) -> dict[str, Any] | None:
    try:
        with np.load(path) as pool:
            return json.loads(str(pool["meta"]))
    except (OSError, KeyError, ValueError):
        return None


def make_pools(cfg: StudyConfig, spec: CrossbarSpec) -> dict[str, Any]:
    """Record and split the pool of one spec, unless the pools on disk were made from
    the same identity; returns what the pools hold and their content hashes."""
    wc = cfg.workload_config
    tag = spec.tag
    files = pool_files(wc, tag)
    identity = pool_identity(cfg, spec)
    recorded = False
    if not (all(p.exists() for p in files.values()) and _load_identity(files["all"]) == identity):
        v, g, sim = record_pool(cfg, spec, wc.net, wc.images, wc.pool_size, wc.seed)
        test = split_by_content(v, g, identity["test_fraction"], wc.seed)
        meta = np.array(json.dumps(identity, sort_keys=True))
        save_pool(files["train"], v[~test], g[~test], sim)
        save_pool(files["test"], v[test], g[test], sim)
        save_pool(files["all"], v, g, sim, test=test, meta=meta)
        recorded = True
    info: dict[str, Any] = {"pool": str(files["all"]), "recorded_now": recorded}
    with np.load(files["all"]) as pool:
        v, g = pool["v"], pool["g"]
        info["reads"] = len(v)
        info["distinct_reads"] = int(len(np.unique(
            np.concatenate([v, g.reshape(len(g), -1)], axis=1), axis=0))) if len(v) else 0
    for split in SPLITS:
        with np.load(files[split]) as pool:
            info[f"{split}_pool"] = {"path": str(files[split]), "reads": len(pool["v"]),
                                     "sha256": _digest(pool["v"], pool["g"])}
    return info


def _prepare_sweeps(out: Path, pools: Mapping[str, Any]) -> None:
    """Remove the datasets of a split whose pool content changed; record the pools."""
    stamp_file = out / POOLS_STAMP
    old = yaml.safe_load(stamp_file.read_text()) if stamp_file.exists() else {}
    new = {split: dict(pools[f"{split}_pool"]) for split in SPLITS}
    for split in SPLITS:
        if (out / split).exists() and (old or {}).get(split) != new[split]:
            removed = remove_sweep_files(out / split)     # the sweep's own files only
            print(f"{out / split}: its workload pool changed, starting this sweep afresh: "
                  f"removed {describe_removed(removed)}")
    out.mkdir(parents=True, exist_ok=True)
    stamp_file.write_text(yaml.safe_dump(new, sort_keys=False))


def sweep_configs(wc: WorkloadConfig, tag: str,
                  engine: SweepConfig | None = None) -> dict[str, SweepConfig]:
    """The train and test sweeps of one spec (each on its own pool, own seed), run by the
    engine of ``engine`` (its ``engine`` and ``check_fraction``: the stage passes
    ``datagen.train``, so that workload data is made the way random data is)."""
    files = pool_files(wc, tag)
    engine = SweepConfig() if engine is None else engine
    return {split: SweepConfig(n_samples=n, seed=wc.seed + k, chunk_size=wc.chunk_size,
                               workers=wc.workers, engine=engine.engine,
                               check_fraction=engine.check_fraction,
                               sampler=SamplerConfig(name="workload",
                                                     workload_pool=str(files[split])))
            for k, (split, n) in enumerate((("train", wc.train_samples),
                                            ("test", wc.test_samples)))}


def workload_specs(params: Mapping[str, Any]) -> list[CrossbarSpec]:
    """The specs of the ``datagen`` section (``DatagenParams.specs``), each once: the
    specs the random datasets are made for. Two different specs with one tag (their
    datasets would share a directory) are an error."""
    specs = DatagenParams.from_dict(params.get("datagen") or {}).specs(params)
    return list(unique_by_tag(specs, "datagen.configs"))


def run_workload_data(params: Mapping[str, Any], *, progress: bool = True) -> dict[str, Any]:
    """The whole stage for a parsed params file; returns a summary per dataset tag."""
    cfg = study_config(params)
    wc = cfg.workload_config
    train = DatagenParams.from_dict(params.get("datagen") or {}, "datagen").train
    summary: dict[str, Any] = {}
    for spec in workload_specs(params):
        tag = spec.tag
        pools = make_pools(cfg, spec)
        out = Path(wc.out_dir) / tag
        _prepare_sweeps(out, pools)
        entry = dict(pools)
        for split, sweep in sweep_configs(wc, tag, train).items():
            entry[split] = run_sweep(spec, sweep, out / split, progress=progress)
        summary[tag] = entry
        print(json.dumps({tag: entry}))
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--summary", default="reports/workload_data.json",
                        help="where to write pool sizes and sweep counts per dataset")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    summary = run_workload_data(read_params(args.params), progress=not args.no_progress)
    path = Path(args.summary)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary_record(summary), indent=2) + "\n")
    problem = failure_message({f"{tag}/{split}": entry[split] for tag, entry in summary.items()
                               for split in SPLITS})
    if problem:                 # the summary is written; the stage must not pass silently
        raise SystemExit(problem)


if __name__ == "__main__":
    main()
