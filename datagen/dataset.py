"""SPICE datasets on disk: sharded Parquet with V, G, I_spice and per-sample metadata.

A dataset is a directory::

    spec.yaml              the CrossbarSpec every sample was simulated with
    sweep.yaml             the sweep configuration (sampler, seed, sizes, engine) that made
                           it, and for a circuit sweep its ``check`` against ngspice
    shard-00000.parquet    one row per sample, one shard per chunk of the sweep
    ...

Each row holds ``sample_id``, ``seed``, ``sampler``, ``ok`` (converged), ``reason``
(why it failed, '' when ok), ``sim_time_s`` (seconds of solver time, the chunk's
share), ``v`` (rows volts), ``g`` (rows·cols siemens, row-major) and ``i`` (cols
amperes; NaN when the sample failed). Failed samples are kept, never dropped.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from spice_netlists import CrossbarSpec

META_COLUMNS = ("sample_id", "seed", "sampler", "ok", "reason", "sim_time_s")
SPEC_FILE = "spec.yaml"
SHARD_GLOB = "shard-*.parquet"


def shard_path(directory: str | Path, index: int) -> Path:
    """Path of shard number ``index`` of the dataset in ``directory``."""
    return Path(directory) / f"shard-{index:05d}.parquet"


@dataclass
class CrossbarDataset:
    """Samples of one crossbar spec, as arrays.

    Attributes:
        spec: the physics every sample was simulated with.
        v: (M, rows) input voltages, V.
        g: (M, rows, cols) conductances, S.
        i: (M, cols) column currents from ngspice (or the sweep's engine), A (NaN rows
            for failed samples).
        meta: per-sample metadata (``META_COLUMNS``), index aligned with the arrays.
        identity: content hash (:func:`content_identity`; identifies training data in
            checkpoints).
    """

    spec: CrossbarSpec
    v: np.ndarray
    g: np.ndarray
    i: np.ndarray
    meta: pd.DataFrame
    identity: str = ""

    def __len__(self) -> int:
        return len(self.v)

    def select(self, mask: np.ndarray) -> "CrossbarDataset":
        """The samples where boolean ``mask`` (or an index array) selects."""
        return CrossbarDataset(self.spec, self.v[mask], self.g[mask], self.i[mask],
                               self.meta[mask].reset_index(drop=True)
                               if mask.dtype == bool else
                               self.meta.iloc[mask].reset_index(drop=True),
                               self.identity)

    def converged(self) -> "CrossbarDataset":
        """Only the samples the solver (ngspice or the sweep's engine) solved."""
        return self.select(self.meta["ok"].to_numpy(dtype=bool))


def write_shard(path: str | Path, spec: CrossbarSpec, v: np.ndarray, g: np.ndarray,
                i: np.ndarray, meta: pd.DataFrame) -> None:
    """Write one shard atomically (a temporary file renamed into place), so that a
    killed sweep never leaves a half-written shard that looks complete."""
    m, r, c = g.shape
    if (r, c) != (spec.rows, spec.cols) or v.shape != (m, r) or i.shape != (m, c):
        raise ValueError(f"shard arrays do not fit a {spec.rows}x{spec.cols} spec: "
                         f"v {v.shape}, g {g.shape}, i {i.shape}")
    cols = {name: pa.array(meta[name].to_numpy()) for name in META_COLUMNS}
    for name, arr, width in (("v", v, r), ("g", g.reshape(m, r * c), r * c), ("i", i, c)):
        flat = pa.array(np.ascontiguousarray(arr, dtype=np.float64).reshape(-1))
        cols[name] = pa.FixedSizeListArray.from_arrays(flat, width)
    path = Path(path)
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(pa.table(cols), tmp)
    tmp.replace(path)


def read_shard(path: str | Path, spec: CrossbarSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.DataFrame]:
    """Arrays (v, g, i) and metadata of one shard."""
    table = pq.read_table(path)
    m = table.num_rows
    r, c = spec.rows, spec.cols

    def arr(name: str, shape: tuple[int, ...]) -> np.ndarray:
        col = table.column(name).combine_chunks()
        return col.flatten().to_numpy(zero_copy_only=False).reshape(shape)

    meta = table.select(list(META_COLUMNS)).to_pandas()
    return arr("v", (m, r)), arr("g", (m, r, c)), arr("i", (m, c)), meta


def load_dataset(directory: str | Path) -> CrossbarDataset:
    """All shards of the dataset in ``directory``, in sample order."""
    directory = Path(directory)
    spec_file = directory / SPEC_FILE
    if not spec_file.exists():
        raise FileNotFoundError(f"{directory} is not a dataset: no {SPEC_FILE}")
    spec = CrossbarSpec.load(spec_file)
    shards = sorted(directory.glob(SHARD_GLOB))
    if not shards:
        raise FileNotFoundError(f"dataset {directory} has no shards")
    parts = [read_shard(p, spec) for p in shards]
    meta = pd.concat([p[3] for p in parts], ignore_index=True)
    order = np.argsort(meta["sample_id"].to_numpy(), kind="stable")
    ds = CrossbarDataset(
        spec=spec,
        v=np.concatenate([p[0] for p in parts])[order],
        g=np.concatenate([p[1] for p in parts])[order],
        i=np.concatenate([p[2] for p in parts])[order],
        meta=meta.iloc[order].reset_index(drop=True),
    )
    ds.identity = content_identity(ds)
    return ds


def content_identity(ds: CrossbarDataset) -> str:
    """Hash of what a dataset holds (spec, sample ids, V, G, I, convergence), not of
    how it was stored or how long it took: equal data, equal identity."""
    digest = hashlib.sha256()
    digest.update(repr(sorted(ds.spec.to_dict().items())).encode())
    for arr in (ds.meta["sample_id"].to_numpy(np.int64), ds.meta["ok"].to_numpy(bool),
                ds.v, ds.g, np.nan_to_num(ds.i, nan=-1.0)):
        digest.update(np.ascontiguousarray(arr).tobytes())
    return digest.hexdigest()[:16]
