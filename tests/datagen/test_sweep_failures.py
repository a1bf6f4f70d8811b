"""Failed samples split by kind: one that cannot converge is kept with its reason; a
timeout or an ngspice error is stored but retried on rerun, and a chunk whose run raised
is not written; a sweep that ends with failures says so in its summary and exit status.
A hung sample costs at most two timeouts, not a bisection's. All with the real ngspice:
a hang or a crash is made by a wrapper that runs the real ngspice for every other
netlist."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

import datagen
from datagen.dataset import load_dataset
from datagen.engines import ENGINES, Engine, ngspice_chunk
from datagen.samplers import SamplerConfig
from datagen.sweep import SweepConfig, main, run_sweep
from spice_netlists import CrossbarSpec

SPEC = CrossbarSpec(rows=8, cols=8, device="sinh", v_read_max=0.5)
IDEAL_WIRES = SPEC.with_(r_source=0.0, r_sink=0.0, r_wire_row=0.0, r_wire_col=0.0)
MARK = 0.123456789          # an input voltage that tags a sample in the netlist text
NONE = {"no_convergence": 0, "timeout": 0, "error": 0}


def _wrapper(tmp_path: Path, action: str) -> tuple[Path, Path]:
    """An ngspice that runs the real one, except on a netlist holding MARK, where it
    does ``action`` (``hang`` or ``crash``); every such run is logged."""
    real = shutil.which("ngspice")
    log = tmp_path / "marked_runs.log"
    what = {"hang": "exec sleep 60", "crash": "kill -SEGV $$"}[action]
    script = tmp_path / "ngspice"
    script.write_text(f"""#!/bin/sh
if [ "$1" = "-b" ] && grep -q '{MARK!r}' "$2"; then
  echo run >> '{log}'
  {what}
fi
exec '{real}' "$@"
""")
    script.chmod(0o755)
    return script, log


def _pool(tmp_path: Path, n: int, marked: int | None = None, bad: int | None = None) -> str:
    v, g = datagen.draw(SPEC, n, np.random.default_rng(11))
    if marked is not None:
        v[marked, 0] = MARK
    if bad is not None:
        v[bad] = 400.0          # sinh(2·400) overflows: ngspice cannot solve this sample
    np.savez(tmp_path / "pool.npz", v=v, g=g)
    return str(tmp_path / "pool.npz")


def _cfg(pool: str, n: int, chunk: int, **kw) -> SweepConfig:
    return SweepConfig(n_samples=n, seed=2, chunk_size=chunk, workers=1,
                       sampler=SamplerConfig(name="workload", workload_pool=pool), **kw)


def test_a_hung_sample_costs_two_timeouts_is_not_kept_and_is_retried_on_rerun(tmp_path, monkeypatch):
    pool = _pool(tmp_path, 16, marked=5)
    cfg = _cfg(pool, 16, 16, timeout_s=2)
    fake, log = _wrapper(tmp_path, "hang")
    monkeypatch.setenv("NGSPICE", str(fake))
    summary = run_sweep(SPEC, cfg, tmp_path / "ds", progress=False)
    # the chunk's run, then the sample alone: 2 timeouts (halving the chunk took 5)
    assert log.read_text().count("run") == 2
    assert summary["failed"] == {**NONE, "timeout": 1} and summary["failed_now"] == 1
    with pytest.warns(UserWarning, match="timeout: 1"):
        ds = load_dataset(tmp_path / "ds")
    hung = ds.v[:, 0] == MARK
    assert hung.sum() == 1 and not ds.meta["ok"][hung].any() and ds.meta["ok"][~hung].all()
    assert "timed out after 2 s" in ds.meta["reason"][hung].iloc[0]

    monkeypatch.delenv("NGSPICE")                 # ngspice works again: the rerun retries
    summary = run_sweep(SPEC, cfg, tmp_path / "ds", progress=False)
    assert summary["simulated_now"] == 16 and summary["failed"] == NONE
    assert load_dataset(tmp_path / "ds").meta["ok"].all()


def test_a_crashing_ngspice_is_an_error_retried_on_rerun_not_a_result(tmp_path, monkeypatch):
    pool = _pool(tmp_path, 8, marked=2)
    cfg = _cfg(pool, 8, 4)
    fake, _ = _wrapper(tmp_path, "crash")
    monkeypatch.setenv("NGSPICE", str(fake))
    summary = run_sweep(SPEC, cfg, tmp_path / "ds", progress=False)
    assert summary["failed"] == {**NONE, "error": 1}
    with pytest.warns(UserWarning, match="error: 1"):
        ds = load_dataset(tmp_path / "ds")
    assert "signal 11" in ds.meta["reason"][~ds.meta["ok"]].iloc[0]
    monkeypatch.delenv("NGSPICE")
    summary = run_sweep(SPEC, cfg, tmp_path / "ds", progress=False)
    assert summary["simulated_now"] == 4 and summary["failed"] == NONE   # only that chunk


def test_a_sample_that_cannot_converge_is_kept_for_good_and_not_redone(tmp_path):
    pool = tmp_path / "pool.npz"
    v, g = datagen.draw(IDEAL_WIRES, 8, np.random.default_rng(1))
    v[3] = 400.0
    np.savez(pool, v=v, g=g)
    cfg = SweepConfig(n_samples=8, seed=2, chunk_size=4, workers=1,
                      sampler=SamplerConfig(name="workload", workload_pool=str(pool)))
    summary = run_sweep(IDEAL_WIRES, cfg, tmp_path / "ds", progress=False)
    assert summary["failed"] == {**NONE, "no_convergence": 1}
    ds = load_dataset(tmp_path / "ds")
    assert "sinh" in ds.meta["reason"][~ds.meta["ok"]].iloc[0]
    again = run_sweep(IDEAL_WIRES, cfg, tmp_path / "ds", progress=False)
    assert again["simulated_now"] == 0 and again["failed"] == summary["failed"]


def test_a_chunk_whose_run_raises_is_not_written_and_is_redone_on_rerun(tmp_path, monkeypatch):
    calls = []

    def flaky(spec, v, g, reltol, timeout_s):
        calls.append(len(v))
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return ngspice_chunk(spec, v, g, reltol, timeout_s)

    monkeypatch.setitem(ENGINES, "ngspice", Engine(flaky, "process"))
    cfg = SweepConfig(n_samples=12, seed=2, chunk_size=4, workers=1)
    summary = run_sweep(SPEC, cfg, tmp_path / "ds", progress=False)
    assert summary["failed"] == {**NONE, "error": 4}
    assert "No space left" in summary["not_written"]["shard-00001.parquet"]
    with pytest.raises(ValueError, match=r"shard-00001\.parquet \(samples 4\.\.7\)"):
        load_dataset(tmp_path / "ds")
    monkeypatch.undo()
    summary = run_sweep(SPEC, cfg, tmp_path / "ds", progress=False)
    assert summary["simulated_now"] == 4 and summary["failed"] == NONE
    assert len(load_dataset(tmp_path / "ds")) == 12


def _params(tmp_path: Path, pool: str, **train) -> Path:
    params = {"crossbar": IDEAL_WIRES.to_dict(), "datagen": {
        "configs": [{}], "out_dir": str(tmp_path / "data"),
        "train": {"n_samples": 8, "seed": 0, "chunk_size": 4, "workers": 1,
                  "sampler": {"name": "workload", "workload_pool": pool}, **train},
        "test": {"n_samples": 4, "seed": 1, "chunk_size": 4, "workers": 1}}}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_the_datagen_stage_exits_nonzero_naming_failures_by_kind(tmp_path, monkeypatch):
    pool = _pool(tmp_path, 8, marked=1, bad=6)
    params = _params(tmp_path, pool, timeout_s=2)
    fake, _ = _wrapper(tmp_path, "hang")
    monkeypatch.setenv("NGSPICE", str(fake))
    summary_file = tmp_path / "datagen.json"
    with pytest.raises(SystemExit) as exc:
        main(["--params", str(params), "--summary", str(summary_file)])
    msg = exc.value.code
    assert isinstance(msg, str) and "8x8_sinh_Ron100k_0.5V/train: 2 failed" in msg
    assert "no_convergence 1, timeout 1, error 0" in msg and "retried" in msg
    assert "test" not in msg.split("failed samples:")[1]
    written = yaml.safe_load(summary_file.read_text())       # the summary is still written
    assert written["8x8_sinh_Ron100k_0.5V/train"]["failed"] == {"no_convergence": 1, "timeout": 1, "error": 0}

    monkeypatch.delenv("NGSPICE")        # the timeout is retried; the unconverged one stays
    with pytest.raises(SystemExit) as exc:
        main(["--params", str(params), "--summary", str(summary_file)])
    assert "no_convergence 1, timeout 0" in exc.value.code and "--allow-unconverged" in exc.value.code
    main(["--params", str(params), "--summary", str(summary_file), "--allow-unconverged"])


def test_the_datagen_stage_says_what_to_install_when_ngspice_is_missing(tmp_path, monkeypatch):
    params = _params(tmp_path, _pool(tmp_path, 8))
    monkeypatch.setenv("NGSPICE", str(tmp_path / "no-such-ngspice"))
    with pytest.raises(SystemExit) as exc:
        main(["--params", str(params), "--summary", str(tmp_path / "s.json")])
    assert "not found" in exc.value.code and "bookworm-backports" in exc.value.code
