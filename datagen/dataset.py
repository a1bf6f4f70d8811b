"""SPICE datasets on disk: sharded Parquet with V, G, I_spice and per-sample metadata.

A dataset is a directory::

    spec.yaml              the CrossbarSpec every sample was simulated with
    sweep.yaml             the sweep configuration (sampler, seed, sizes, engine) that made
                           it, and for a circuit sweep its ``check`` against ngspice
    manifest.json          the sweep's identity, its size and chunking, and per shard
                           its sha256, size, first sample id, sample count and failure
                           counts by kind (:class:`Manifest`)
    shard-00000.parquet    one row per sample, one shard per chunk of the sweep
    ...

Each row holds ``sample_id``, ``seed``, ``sampler``, ``ok`` (converged), ``reason``
(why it failed, '' when ok), ``v`` (rows volts), ``g`` (rows·cols siemens, row-major)
and ``i`` (cols amperes; NaN when the sample failed). Failed samples are kept, never
dropped. A shard holds nothing that depends on when or how fast it was made (solver
time goes to the sweep's summary), so the same sweep writes the same bytes and DVC
gives its output the same hash on every run; shards of older versions carry a
``sim_time_s`` column, which is read past.

Every file is written to a unique temporary name in its directory
(``.<name>.<pid>.<random>.tmp``) and renamed into place, so neither a killed writer
nor two writers leave a half-written or mixed file. :func:`load_dataset` checks each
shard against the manifest and raises :class:`DatasetError` naming a missing, damaged
or foreign shard; it never returns a shorter dataset or bytes that merely parse.
Datasets written before manifests existed are still read (with a warning that their
shards cannot be verified, and checks of their sample ids and seeds); rerunning their
sweep adds the manifest without simulating anything again.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from spice_netlists import CrossbarSpec

META_COLUMNS = ("sample_id", "seed", "sampler", "ok", "reason")
SPEC_FILE = "spec.yaml"
SWEEP_FILE = "sweep.yaml"
MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = 1
SHARD_GLOB = "shard-*.parquet"
#: the temporary files of a sweep's own files (:func:`atomic_write_bytes`), and of
#: older versions' shard writer; a user's other files never match
TEMP_GLOBS = (".shard-*.parquet.*.tmp", f".{MANIFEST_FILE}.*.tmp", f".{SWEEP_FILE}.*.tmp",
              f".{SPEC_FILE}.*.tmp", "shard-*.parquet.tmp")
#: the failure kinds a retry can cure (as :data:`datagen.runner.RETRYABLE_KINDS`)
_RETRYABLE = ("timeout", "error")
RERUN_HINT = "rerun the sweep that wrote it (e.g. `python -m datagen.sweep`) to redo it"


class DatasetError(ValueError):
    """A dataset on disk is damaged, incomplete or mixed; the message names the file."""


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a unique temporary file in the same directory
    (``.<name>.<pid>.<random>.tmp``, flushed to disk) renamed into place: readers see
    the old file or the new one, never a mix, and concurrent writers never share a
    temporary name."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """:func:`atomic_write_bytes` of UTF-8 text."""
    atomic_write_bytes(path, text.encode())


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
                i: np.ndarray, meta: pd.DataFrame) -> str:
    """Write one shard atomically (:func:`atomic_write_bytes`), so that a killed sweep
    never leaves a half-written shard that looks complete; returns the sha256 (hex) of
    the bytes written, for the manifest."""
    m, r, c = g.shape
    if (r, c) != (spec.rows, spec.cols) or v.shape != (m, r) or i.shape != (m, c):
        raise ValueError(f"shard arrays do not fit a {spec.rows}x{spec.cols} spec: "
                         f"v {v.shape}, g {g.shape}, i {i.shape}")
    cols = {name: pa.array(meta[name].to_numpy()) for name in META_COLUMNS}
    for name, arr, width in (("v", v, r), ("g", g.reshape(m, r * c), r * c), ("i", i, c)):
        flat = pa.array(np.ascontiguousarray(arr, dtype=np.float64).reshape(-1))
        cols[name] = pa.FixedSizeListArray.from_arrays(flat, width)
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table(cols), sink)
    data = sink.getvalue().to_pybytes()
    atomic_write_bytes(path, data)
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class ShardRecord:
    """What the manifest knows of one shard.

    Attributes:
        sha256: hex digest of the shard file's bytes.
        size: the file's size in bytes.
        first: the first sample id it holds (it holds first..first+samples-1).
        samples: how many samples it holds.
        failed: failed samples by kind (:data:`datagen.runner.FAILURE_KINDS`), kinds
            with none left out.
    """

    sha256: str
    size: int
    first: int
    samples: int
    failed: Mapping[str, int] = field(default_factory=dict)

    @property
    def retry(self) -> bool:
        """Whether it holds failures a rerun may cure (timeouts, ngspice errors)."""
        return any(self.failed.get(k, 0) for k in _RETRYABLE)

    def problem(self, blob: bytes) -> str:
        """Why ``blob`` is not this shard's content ('' when it is)."""
        if len(blob) != self.size:
            return f"it has {len(blob)} bytes, the manifest says {self.size}"
        if hashlib.sha256(blob).hexdigest() != self.sha256:
            return "its sha256 differs from the manifest's"
        return ""

    def to_dict(self) -> dict[str, Any]:
        """Plain values for manifest.json."""
        return {"sha256": self.sha256, "size": self.size, "first": self.first,
                "samples": self.samples, "failed": dict(self.failed)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ShardRecord":
        """Inverse of :meth:`to_dict` (KeyError/TypeError/ValueError on a malformed one)."""
        failed = {str(k): int(n) for k, n in dict(data.get("failed") or {}).items()}
        return cls(sha256=str(data["sha256"]), size=int(data["size"]), first=int(data["first"]),
                   samples=int(data["samples"]), failed=failed)


@dataclass
class Manifest:
    """``manifest.json``: which shards make a sweep's dataset, and their content.

    Attributes:
        stamp: the sweep's identity as ``sweep.yaml`` records it (``spec`` and ``sweep``).
        n_samples: samples the dataset holds when complete.
        chunk_size: samples per shard (the last may hold fewer).
        shards: file name -> :class:`ShardRecord`, for the shards finished so far.
    """

    stamp: dict[str, Any]
    n_samples: int
    chunk_size: int
    shards: dict[str, ShardRecord] = field(default_factory=dict)

    def expected(self) -> list[tuple[str, int, int]]:
        """(file name, first sample id, end) of every shard of the complete dataset."""
        size = self.chunk_size
        return [(shard_path(".", k).name, lo, min(lo + size, self.n_samples))
                for k, lo in enumerate(range(0, self.n_samples, size))]

    def to_dict(self) -> dict[str, Any]:
        """Plain values for manifest.json."""
        return {"format": MANIFEST_FORMAT, "stamp": self.stamp, "n_samples": self.n_samples,
                "chunk_size": self.chunk_size,
                "shards": {name: rec.to_dict() for name, rec in sorted(self.shards.items())}}

    def save(self, directory: str | Path) -> None:
        """Write ``directory/manifest.json`` atomically."""
        atomic_write_text(Path(directory) / MANIFEST_FILE,
                          json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, directory: str | Path) -> "Manifest | None":
        """The manifest of ``directory``; None when it has none; :class:`DatasetError`
        naming the file when it cannot be read."""
        path = Path(directory) / MANIFEST_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{path} is not readable ({exc}); {RERUN_HINT}") from exc
        try:
            if data.get("format") != MANIFEST_FORMAT:
                raise ValueError(f"format {data.get('format')!r}, expected {MANIFEST_FORMAT}")
            return cls(stamp=dict(data["stamp"]), n_samples=int(data["n_samples"]),
                       chunk_size=int(data["chunk_size"]),
                       shards={str(k): ShardRecord.from_dict(r)
                               for k, r in dict(data["shards"]).items()})
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise DatasetError(f"{path} is malformed ({exc!r}); {RERUN_HINT}") from exc


def read_shard(path: str | Path, spec: CrossbarSpec, record: ShardRecord | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.DataFrame]:
    """Arrays (v, g, i) and metadata of one shard.

    With ``record`` (its manifest entry) the file's bytes are checked against it first.
    Raises :class:`DatasetError` naming ``path`` when the file is missing, differs from
    ``record``, is not a readable shard or does not fit ``spec``.
    """
    path = Path(path)
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"{path} is missing; {RERUN_HINT}") from None
    if record is not None:
        problem = record.problem(blob)
        if problem:
            raise DatasetError(f"{path} is damaged: {problem}; {RERUN_HINT}")
    try:
        table = pq.read_table(pa.BufferReader(blob))
        m = table.num_rows
        r, c = spec.rows, spec.cols

        def arr(name: str, shape: tuple[int, ...]) -> np.ndarray:
            col = table.column(name).combine_chunks()
            return col.flatten().to_numpy(zero_copy_only=False).reshape(shape)

        meta = table.select(list(META_COLUMNS)).to_pandas()
        out = arr("v", (m, r)), arr("g", (m, r, c)), arr("i", (m, c)), meta
    except (pa.ArrowException, OSError, KeyError, ValueError, TypeError) as exc:
        raise DatasetError(f"{path} is not a readable {spec.rows}x{spec.cols} shard "
                           f"({type(exc).__name__}: {exc}); {RERUN_HINT}") from exc
    if record is not None:
        ids = meta["sample_id"].to_numpy()
        if m != record.samples or not np.array_equal(ids, np.arange(record.first, record.first + m)):
            raise DatasetError(f"{path} does not hold samples {record.first}.."
                               f"{record.first + record.samples - 1} as the manifest says; "
                               f"{RERUN_HINT}")
    return out


def _stamp_of(directory: Path) -> dict[str, Any] | None:
    """The identity ``sweep.yaml`` records (``spec`` and ``sweep``), None without one."""
    path = directory / SWEEP_FILE
    try:
        found = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, yaml.YAMLError) as exc:
        raise DatasetError(f"{path} is not readable ({exc}); {RERUN_HINT}") from exc
    if not isinstance(found, Mapping):
        raise DatasetError(f"{path} is not a sweep record; {RERUN_HINT}")
    return {k: found.get(k) for k in ("spec", "sweep")}


def _names(items: list[str], most: int = 5) -> str:
    """A list of names, shortened past ``most``."""
    more = f" and {len(items) - most} more" if len(items) > most else ""
    return ", ".join(items[:most]) + more


def _verified_parts(directory: Path, spec: CrossbarSpec, manifest: Manifest
                    ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, pd.DataFrame]]:
    """Every shard the manifest lists for the complete dataset, checked against it."""
    stamp = _stamp_of(directory)
    if stamp is not None and stamp != manifest.stamp:
        raise DatasetError(f"{directory / MANIFEST_FILE} belongs to another sweep than "
                           f"{directory / SWEEP_FILE} (their configurations differ): mixed "
                           f"data; {RERUN_HINT}")
    if manifest.stamp.get("spec") != spec.to_dict():
        raise DatasetError(f"{directory / SPEC_FILE} differs from the spec the manifest "
                           f"records; {RERUN_HINT}")
    expected = manifest.expected()
    missing = [f"{name} (samples {lo}..{hi - 1})" for name, lo, hi in expected
               if name not in manifest.shards or not (directory / name).exists()]
    if missing:
        raise DatasetError(f"dataset {directory} is incomplete: {len(missing)} of its "
                           f"{len(expected)} shards missing: {_names(missing)} (the sweep "
                           f"did not finish, or they were deleted); {RERUN_HINT}")
    parts = []
    for name, lo, hi in expected:
        rec = manifest.shards[name]
        if (rec.first, rec.samples) != (lo, hi - lo):
            raise DatasetError(f"{directory / name}: the manifest records samples "
                               f"{rec.first}..{rec.first + rec.samples - 1}, the sweep's "
                               f"chunking says {lo}..{hi - 1}; {RERUN_HINT}")
        parts.append(read_shard(directory / name, spec, rec))
    retry = {k: sum(r.failed.get(k, 0) for r in manifest.shards.values()) for k in _RETRYABLE}
    if any(retry.values()):
        warnings.warn(f"dataset {directory} holds samples that failed for reasons a rerun "
                      f"may cure ({', '.join(f'{k}: {n}' for k, n in retry.items() if n)}); "
                      f"they load as failed (ok False); rerun the sweep to retry them",
                      stacklevel=3)
    return parts


def _legacy_parts(directory: Path, spec: CrossbarSpec
                  ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, pd.DataFrame]]:
    """The shards of a dataset without a manifest, with the checks possible without
    one: each parses and fits the spec, and the sample ids run 0..M-1 without gaps."""
    shards = sorted(directory.glob(SHARD_GLOB))
    if not shards:
        raise FileNotFoundError(f"dataset {directory} has no shards")
    parts = [read_shard(p, spec) for p in shards]
    ids = np.sort(np.concatenate([p[3]["sample_id"].to_numpy() for p in parts]))
    if not np.array_equal(ids, np.arange(len(ids))):
        have = set(ids.tolist())
        gaps = [k for k in range(int(ids.max()) + 1) if k not in have]
        dup = len(ids) - len(have)
        what = (f"sample ids {gaps[0]}..{gaps[-1]} are missing ({len(gaps)} in all; a "
                f"deleted shard?)" if gaps else f"{dup} sample ids appear twice")
        raise DatasetError(f"dataset {directory}: {what}; {RERUN_HINT}")
    warnings.warn(f"dataset {directory} has no {MANIFEST_FILE} (written before shards "
                  f"were checksummed): its shards' contents cannot be verified; rerun its "
                  f"sweep to add one (nothing is simulated again)", stacklevel=3)
    return parts


def load_dataset(directory: str | Path) -> CrossbarDataset:
    """All samples of the dataset in ``directory``, in sample order.

    With a manifest (:class:`Manifest`) every shard of the complete sweep must be there
    with the recorded bytes; :class:`DatasetError` names the first missing, damaged or
    foreign one. A dataset without one is read with the checks its files allow (a
    warning says so). In both, the samples' seeds and sampler must be those
    ``sweep.yaml`` records, when there is one (else the shards are mixed sweeps).
    """
    directory = Path(directory)
    spec_file = directory / SPEC_FILE
    if not spec_file.exists():
        raise FileNotFoundError(f"{directory} is not a dataset: no {SPEC_FILE}")
    spec = CrossbarSpec.load(spec_file)
    manifest = Manifest.load(directory)
    parts = (_verified_parts(directory, spec, manifest) if manifest is not None
             else _legacy_parts(directory, spec))
    meta = pd.concat([p[3] for p in parts], ignore_index=True)
    stamp = _stamp_of(directory)
    sweep = (stamp or {}).get("sweep") or {}
    if "seed" in sweep:
        seeds = {int(k): int(n) for k, n in meta["seed"].value_counts().sort_index().items()}
        if set(seeds) != {sweep["seed"]}:
            raise DatasetError(f"dataset {directory}: {SWEEP_FILE} says seed {sweep['seed']} "
                               f"but its shards hold samples of seeds {seeds}: mixed sweeps; "
                               f"{RERUN_HINT}")
    sampler = (sweep.get("sampler") or {}).get("name") if isinstance(sweep.get("sampler"), Mapping) else None
    if sampler is not None and set(meta["sampler"]) != {sampler}:
        raise DatasetError(f"dataset {directory}: {SWEEP_FILE} says sampler {sampler!r} but "
                           f"its shards hold samples of {sorted(set(meta['sampler']))}: mixed "
                           f"sweeps; {RERUN_HINT}")
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
