"""Sweeps that never lose or mix data: one sweep per directory (a lock), unique
temporary names, shards checked against a manifest on reading and redone on rerun, only
the sweep's own files removed, a TMPDIR with shell-special characters, and ngspice's
temporary directories removed after a kill. All with the real ngspice."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

import datagen
from datagen.dataset import load_dataset, shard_path, write_shard
from datagen.sweep import SweepConfig, run_sweep
from spice_netlists import CrossbarSpec
from tests.support import REPO_ROOT

SPEC = CrossbarSpec(rows=8, cols=8, device="sinh", v_read_max=0.5)
ROOT = REPO_ROOT

_SWEEP = """
import sys
from datagen.sweep import SweepConfig, run_sweep
from spice_netlists import CrossbarSpec
rows, n, chunk, seed = (int(a) for a in sys.argv[2:6])
run_sweep(CrossbarSpec(rows=rows, cols=rows, device='sinh', v_read_max=0.5),
          SweepConfig(n_samples=n, seed=seed, chunk_size=chunk, workers=1), sys.argv[1],
          progress=False)
"""


def _start_sweep(out: Path, rows: int, n: int, chunk: int, seed: int,
                 env: dict | None = None) -> subprocess.Popen:
    """A sweep in its own process (and process group), as a user would start it."""
    return subprocess.Popen([sys.executable, "-c", _SWEEP, str(out), str(rows), str(n),
                             str(chunk), str(seed)], cwd=ROOT, start_new_session=True,
                            env={**os.environ, **(env or {})})


def _wait_for(predicate, timeout_s: float = 60.0, what: str = "") -> None:
    deadline = time.time() + timeout_s
    while not predicate():
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_a_second_sweep_into_a_busy_directory_is_refused_naming_it_and_the_holder(tmp_path):
    from datagen.locking import SweepLockedError

    out = tmp_path / "ds"
    first = _start_sweep(out, rows=8, n=400, chunk=10, seed=0)
    try:
        _wait_for(lambda: shard_path(out, 0).exists(), what="the first sweep's first shard")
        with pytest.raises(SweepLockedError, match=rf"{out} is in use by another sweep "
                                                   rf"\(pid {first.pid}\)"):
            run_sweep(SPEC, SweepConfig(n_samples=40, seed=5, chunk_size=10, workers=1), out,
                      progress=False)
    finally:
        assert first.wait(timeout=120) == 0
    ds = load_dataset(out)                 # the first sweep's data, unmixed
    assert len(ds) == 400 and set(ds.meta["seed"]) == {0}
    assert yaml.safe_load((out / "sweep.yaml").read_text())["sweep"]["seed"] == 0
    assert not (out / ".sweep.lock").exists()        # removed when the sweep ended
    # the lock is free again: the other sweep now starts afresh, alone
    run_sweep(SPEC, SweepConfig(n_samples=40, seed=5, chunk_size=10, workers=1), out, progress=False)
    assert set(load_dataset(out).meta["seed"]) == {5}


def _write_many(path: str, seed: int) -> None:
    spec = CrossbarSpec(rows=16, cols=16)
    rng = np.random.default_rng(seed)
    v, g = datagen.draw(spec, 200, rng)
    i = rng.random((200, 16))
    import pandas as pd

    meta = pd.DataFrame({"sample_id": np.arange(200), "seed": seed, "sampler": "uniform",
                         "ok": True, "reason": ""})
    for _ in range(40):
        write_shard(path, spec, v, g, i, meta)


def test_two_writers_of_one_shard_never_share_a_temporary_file(tmp_path):
    path = str(shard_path(tmp_path, 0))
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_write_many, args=(path, s)) for s in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]      # neither crashed on the other's file
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["shard-00000.parquet"]           # no temporary file left behind
    from datagen.dataset import read_shard

    v, g, i, meta = read_shard(path, CrossbarSpec(rows=16, cols=16))
    assert set(meta["seed"]) in ({1}, {2}) and len(v) == 200   # one writer's, whole


def _damage(path: Path, how: str) -> None:
    blob = path.read_bytes()
    if how == "truncated":
        path.write_bytes(blob[: len(blob) // 2])
    elif how == "overwritten":   # bytes inside the data, file size unchanged
        mid = len(blob) // 2
        path.write_bytes(blob[:mid] + b"\x7f" * 8 + blob[mid + 8:])
    else:
        path.unlink()


@pytest.mark.parametrize("how", ["truncated", "overwritten", "deleted"])
def test_a_damaged_or_missing_shard_is_named_on_load_and_redone_on_rerun(tmp_path, how):
    cfg = SweepConfig(n_samples=12, seed=3, chunk_size=4, workers=1)
    run_sweep(SPEC, cfg, tmp_path / "pristine", progress=False)
    out = tmp_path / "ds"
    run_sweep(SPEC, cfg, out, progress=False)
    _damage(shard_path(out, 1), how)
    with pytest.raises(ValueError, match="shard-00001.parquet") as err:
        load_dataset(out)
    assert "rerun the sweep" in str(err.value)
    summary = run_sweep(SPEC, cfg, out, progress=False)
    assert summary["simulated_now"] == 4 and summary["failed"] == {
        "no_convergence": 0, "timeout": 0, "error": 0}
    a, b = load_dataset(out), load_dataset(tmp_path / "pristine")
    for name in ("v", "g", "i"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_a_deleted_last_shard_is_not_a_shorter_dataset(tmp_path):
    run_sweep(SPEC, SweepConfig(n_samples=12, seed=3, chunk_size=4, workers=1), tmp_path,
              progress=False)
    shard_path(tmp_path, 2).unlink()
    with pytest.raises(ValueError, match=r"incomplete.*shard-00002\.parquet \(samples 8\.\.11\)"):
        load_dataset(tmp_path)


def test_a_dataset_without_manifest_still_loads_and_a_rerun_adds_one_without_simulating(tmp_path):
    from datagen.dataset import DatasetError

    cfg = SweepConfig(n_samples=12, seed=3, chunk_size=4, workers=1)
    run_sweep(SPEC, cfg, tmp_path, progress=False)
    before = load_dataset(tmp_path)
    (tmp_path / "manifest.json").unlink()            # as written by earlier versions
    with pytest.warns(UserWarning, match="no manifest.json"):
        legacy = load_dataset(tmp_path)
    assert legacy.identity == before.identity
    assert run_sweep(SPEC, cfg, tmp_path, progress=False)["simulated_now"] == 0
    assert load_dataset(tmp_path).identity == before.identity
    # without a manifest a deleted middle shard is still named by its samples
    (tmp_path / "manifest.json").unlink()
    shard_path(tmp_path, 1).unlink()
    with pytest.raises(DatasetError, match=r"sample ids 4\.\.7 are missing"):
        load_dataset(tmp_path)


def test_a_changed_configuration_removes_only_the_sweeps_own_files(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "a.png").write_bytes(b"png")
    (tmp_path / ".draft.tmp").write_text("mine too")
    run_sweep(SPEC, SweepConfig(n_samples=8, seed=1, chunk_size=4, workers=1), tmp_path, progress=False)
    killed_writer = tmp_path / ".shard-00001.parquet.4242.0badcafe.tmp"
    killed_writer.write_bytes(b"half a shard")
    capsys.readouterr()
    run_sweep(SPEC, SweepConfig(n_samples=8, seed=2, chunk_size=4, workers=1), tmp_path, progress=False)
    said = capsys.readouterr().out
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert (tmp_path / "plots" / "a.png").read_bytes() == b"png"
    assert (tmp_path / ".draft.tmp").read_text() == "mine too"
    assert not killed_writer.exists()
    assert "removed 2 shard(s)" in said and "sweep.yaml" in said and "manifest.json" in said
    assert "kept 3 other file(s): .draft.tmp, notes.txt, plots" in said
    assert set(load_dataset(tmp_path).meta["seed"]) == {2}


def _odd_tmpdir(tmp_path: Path, monkeypatch) -> Path:
    odd = tmp_path / "a b;c$d"
    odd.mkdir()
    monkeypatch.setenv("TMPDIR", str(odd))
    monkeypatch.setattr(tempfile, "tempdir", None)     # read TMPDIR again
    assert tempfile.gettempdir() == str(odd)
    return odd


def test_a_tmpdir_with_a_space_a_semicolon_and_a_dollar_does_not_fail_samples(tmp_path, monkeypatch):
    v, g = datagen.draw(SPEC, 6, np.random.default_rng(0))
    plain = datagen.simulate(SPEC, v, g, workers=1)
    odd = _odd_tmpdir(tmp_path, monkeypatch)
    res = datagen.simulate_detailed(SPEC, v, g, workers=1)
    assert res.ok.all(), res.reason
    np.testing.assert_array_equal(res.i, plain)
    summary = run_sweep(SPEC, SweepConfig(n_samples=8, seed=1, chunk_size=4, workers=1),
                        tmp_path / "ds", progress=False)
    assert summary["failed"] == {"no_convergence": 0, "timeout": 0, "error": 0}
    assert not list(odd.iterdir())                    # every run directory removed


def test_netlists_refuse_a_rawfile_path_ngspice_would_split_or_expand():
    from spice_netlists.netlist import crossbar_netlist

    v, g = datagen.draw(SPEC, 1, np.random.default_rng(0))
    for bad in ("/tmp/a b/out.raw", "/tmp/a;b/out.raw", "/tmp/$x/out.raw"):
        with pytest.raises(ValueError, match="rawfile path"):
            crossbar_netlist(SPEC, v, g, bad)
    assert "write out.raw " in crossbar_netlist(SPEC, v, g, "out.raw")


def test_ngspice_run_directories_left_by_a_killed_sweep_are_removed_at_the_next_start(tmp_path, monkeypatch):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    left: list[Path] = []
    for _ in range(5):      # kill it while ngspice runs (its run directory exists)
        out = tmp_path / "ds"
        proc = _start_sweep(out, rows=32, n=400, chunk=100, seed=0, env={"TMPDIR": str(tmp)})
        _wait_for(lambda: any(tmp.glob("xbar-ngspice-*")), what="an ngspice run directory")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        left = list(tmp.glob("xbar-ngspice-*"))
        if left:
            break
    assert left, "the sweep must be killed while ngspice runs"
    foreign = tmp / "xbar-ngspice-notapid-x"        # not named by this code: left alone
    foreign.mkdir()
    live = tmp / f"xbar-ngspice-{os.getpid()}-live"  # a live process's: left alone
    live.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)
    run_sweep(SPEC, SweepConfig(n_samples=4, seed=0, chunk_size=4, workers=1), tmp_path / "other",
              progress=False)
    assert sorted(tmp.iterdir()) == sorted([foreign, live])
    shutil.rmtree(live)


@pytest.mark.parametrize("engine", ["ngspice", "circuit"])
def test_the_same_sweep_twice_writes_the_same_bytes_so_dvc_hashes_match(tmp_path, engine):
    """A shard holds nothing timed: two runs of one sweep give files equal byte for
    byte (the same computation in the same process and thread count, so equal bits are
    expected, not a tolerance), which is what lets a fresh clone match ``dvc.lock``."""
    cfg = SweepConfig(n_samples=12, seed=3, chunk_size=6, workers=1, engine=engine,
                      check_fraction=0.1)
    files = {}
    for run in ("a", "b"):
        run_sweep(SPEC, cfg, tmp_path / run, progress=False)
        files[run] = {p.name: p.read_bytes() for p in sorted((tmp_path / run).iterdir())
                      if p.is_file() and not p.name.startswith(".")}
    assert sorted(files["a"]) == sorted(files["b"]) and files["a"]
    differ = [name for name in files["a"] if files["a"][name] != files["b"][name]]
    assert differ == []
    meta = load_dataset(tmp_path / "a").meta
    assert "sim_time_s" not in meta.columns


def test_a_shard_of_an_older_version_with_its_solve_times_still_loads(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    run_sweep(SPEC, SweepConfig(n_samples=8, seed=3, chunk_size=8, workers=1), tmp_path,
              progress=False)
    before = load_dataset(tmp_path)
    path = shard_path(tmp_path, 0)
    table = pq.read_table(path)
    pq.write_table(table.append_column("sim_time_s", pa.array(np.full(8, 0.01))), path)
    (tmp_path / "manifest.json").unlink()         # its bytes changed: read as legacy
    with pytest.warns(UserWarning, match="no manifest.json"):
        old = load_dataset(tmp_path)
    assert list(old.meta.columns) == list(before.meta.columns)
    np.testing.assert_array_equal(old.i, before.i)      # the same stored values, read back
