"""Sweeps with ``engine: circuit``: the circuit-exact solver writes the same datasets as
ngspice, checks a seeded fraction of them against the real ngspice and fails loudly when
they disagree, resumes when killed, records the samples it cannot solve, and leaves
ngspice sweeps (and their stamps) exactly as they were. All with the real ngspice."""

from __future__ import annotations

import re

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

import datagen
from datagen.dataset import load_dataset
from datagen.engines import (CHECK_TOLERANCE, ENGINES, Engine, EngineCheckError, check_sample_ids,
                             circuit_chunk)
from datagen.samplers import SamplerConfig
from datagen.sweep import DatagenParams, SweepConfig, main, run_sweep
from spice_netlists import CrossbarSpec
from tests.support.sweep_interrupt import assert_equals_an_uninterrupted_run, kill_sweep_midway

SINH8 = CrossbarSpec(rows=8, cols=8, device="sinh", v_read_max=0.5)
T1R16 = CrossbarSpec(rows=16, cols=16, device="1t1r", v_read_max=0.5)


def _sweep_yaml(directory) -> dict:
    return yaml.safe_load((directory / "sweep.yaml").read_text())


@pytest.mark.parametrize("spec,fraction,checked", [(SINH8, 0.01, 1), (T1R16, 0.25, 6)],
                         ids=["sinh-8x8", "1t1r-16x16"])
def test_circuit_sweep_equals_ngspice_in_the_same_format_and_records_its_check(
        tmp_path, spec, fraction, checked):
    cfg = SweepConfig(n_samples=24, seed=7, chunk_size=8, workers=1, engine="circuit",
                      check_fraction=fraction)
    summary = run_sweep(spec, cfg, tmp_path / "circuit", progress=False)
    ds = load_dataset(tmp_path / "circuit")
    assert len(ds) == 24 and ds.meta["ok"].all() and (ds.meta["reason"] == "").all()
    assert (ds.meta["seed"] == 7).all() and (ds.meta["sampler"] == "uniform").all()
    ref = datagen.simulate(spec, ds.v, ds.g, workers=1)
    assert np.max(np.abs(ds.i - ref)) <= 1e-9 * np.max(np.abs(ref))

    # the same samples, shards and columns as an ngspice sweep of the same config
    run_sweep(spec, SweepConfig(n_samples=24, seed=7, chunk_size=8, workers=1), tmp_path / "ngspice",
              progress=False)
    ng = load_dataset(tmp_path / "ngspice")
    np.testing.assert_array_equal(ds.v, ng.v)
    np.testing.assert_array_equal(ds.g, ng.g)
    assert list(ds.meta.columns) == list(ng.meta.columns)
    for name in ("shard-00000.parquet", "shard-00002.parquet"):
        assert pq.read_schema(tmp_path / "circuit" / name) == pq.read_schema(tmp_path / "ngspice" / name)

    check = _sweep_yaml(tmp_path / "circuit")["check"]
    assert summary["check"] == check and summary["engine"] == "circuit"
    assert check["checked"] == len(check["sample_ids"]) == checked
    assert check["passed"] and 0 <= check["max_deviation"] <= 1e-9
    assert check["tolerance"] == CHECK_TOLERANCE and check["ngspice_failed"] == 0
    ids = check_sample_ids(7, np.arange(24), 24, fraction)
    assert check["sample_ids"] == ids.tolist()   # seeded by the sweep seed: reproducible
    assert "check" not in _sweep_yaml(tmp_path / "ngspice")


def test_check_draws_at_least_one_sample_and_depends_on_the_seed():
    assert len(check_sample_ids(0, np.arange(3000), 3000, 0.01)) == 30
    assert len(check_sample_ids(0, np.arange(50), 50, 0.0)) == 1
    assert len(check_sample_ids(0, np.arange(5), 50, 1.0)) == 5      # only the solved ones
    assert not np.array_equal(check_sample_ids(0, np.arange(1000), 1000, 0.05),
                              check_sample_ids(1, np.arange(1000), 1000, 0.05))


def test_bad_engine_or_check_fraction_is_refused_naming_the_field():
    with pytest.raises(ValueError, match=r"datagen\.train\.engine .*'xyce'"):
        DatagenParams.from_dict({"train": {"engine": "xyce"}})
    with pytest.raises(ValueError, match=r"datagen\.test\.check_fraction .*\[0, 1\].*1\.5"):
        DatagenParams.from_dict({"test": {"seed": 1, "engine": "circuit", "check_fraction": 1.5}})
    with pytest.raises(ValueError, match=r"datagen\.train\.check_fraction .*-0\.1"):
        DatagenParams.from_dict({"train": {"check_fraction": -0.1}})
    with pytest.raises(ValueError, match=r"^engine .*ngspice, circuit.*'Circuit'"):
        SweepConfig(engine="Circuit")
    with pytest.raises(ValueError, match=r"^check_fraction .*True"):
        SweepConfig(check_fraction=True)
    with pytest.raises(ValueError, match=r"datagen\.train: unknown key\(s\) \['engines'\]"):
        DatagenParams.from_dict({"train": {"engines": "circuit"}})


def test_ngspice_sweep_stamp_is_unchanged_and_switching_engine_starts_afresh(tmp_path):
    cfg = SweepConfig(n_samples=8, seed=2, chunk_size=4, workers=1)
    run_sweep(SINH8, cfg, tmp_path, progress=False)
    # the stamp as written before engines (and the sampler's later knobs, at their
    # defaults) existed: existing ngspice datasets stay valid
    sampler = {"name": "uniform", "input_bits": 1, "weight_bits": 2, "max_input_sparsity": 0.9,
               "max_weight_sparsity": 0.9, "workload_pool": ""}
    assert _sweep_yaml(tmp_path) == {"spec": SINH8.to_dict(), "sweep": {
        "seed": 2, "sampler": sampler, "chunk_size": 4, "reltol": cfg.reltol}}
    assert run_sweep(SINH8, cfg, tmp_path, progress=False)["simulated_now"] == 0
    circuit = SweepConfig(n_samples=8, seed=2, chunk_size=4, workers=1, engine="circuit")
    assert run_sweep(SINH8, circuit, tmp_path, progress=False)["simulated_now"] == 8
    assert _sweep_yaml(tmp_path)["sweep"]["engine"] == "circuit"
    again = SweepConfig(n_samples=8, seed=2, chunk_size=4, workers=1, engine="circuit",
                        check_fraction=0.5)   # the check's size is not the data's identity
    summary = run_sweep(SINH8, again, tmp_path, progress=False)
    assert summary["simulated_now"] == 0 and summary["check"]["checked"] == 4


_SLOW_CIRCUIT_SWEEP = """
import sys, time
from datagen import engines
from datagen.sweep import SweepConfig, run_sweep
from spice_netlists import CrossbarSpec
from tests.support.sweep_interrupt import assert_equals_an_uninterrupted_run, kill_sweep_midway

solve = engines.circuit_chunk

def slow(*args):
    time.sleep(0.15)   # the real circuit solve, slowed so that the sweep is killed midway
    return solve(*args)

engines.ENGINES["circuit"] = engines.Engine(slow, "serial")
run_sweep(CrossbarSpec(rows=8, cols=8, device="sinh", v_read_max=0.5),
          SweepConfig(n_samples=120, seed=5, chunk_size=4, workers=1, engine="circuit"),
          sys.argv[1], progress=False)
"""


def test_killed_circuit_sweep_resumes_and_ends_identical_to_an_uninterrupted_run(tmp_path):
    cfg = SweepConfig(n_samples=120, seed=5, chunk_size=4, workers=1, engine="circuit")
    out = tmp_path / "interrupted"
    done_before = kill_sweep_midway(_SLOW_CIRCUIT_SWEEP, out)
    assert 3 <= done_before < 30, "the sweep must be killed midway"
    assert "check" not in _sweep_yaml(out)
    summary = run_sweep(SINH8, cfg, out, progress=False)
    assert summary["simulated_now"] == 120 - 4 * done_before
    assert summary["check"]["passed"] and _sweep_yaml(out)["check"] == summary["check"]
    assert_equals_an_uninterrupted_run(SINH8, cfg, out, tmp_path / "straight")


def test_a_sample_the_circuit_solver_cannot_solve_is_recorded_with_its_reason(tmp_path):
    v, g = datagen.draw(SINH8, 12, np.random.default_rng(1))
    v[5] = 400.0   # sinh(2·400) overflows: no finite operating point
    np.savez(tmp_path / "pool.npz", v=v, g=g)
    cfg = SweepConfig(n_samples=12, seed=3, chunk_size=6, workers=1, engine="circuit",
                      check_fraction=1.0,
                      sampler=SamplerConfig(name="workload", workload_pool=str(tmp_path / "pool.npz")))
    summary = run_sweep(SINH8, cfg, tmp_path / "ds", progress=False)
    ds = load_dataset(tmp_path / "ds")
    failed = ~ds.meta["ok"].to_numpy()
    assert len(ds) == 12 and failed.sum() == 1 and summary["failed_now"] == 1
    assert ds.v[failed].max() == 400.0 and np.isnan(ds.i[failed]).all()
    assert "circuit solver" in ds.meta["reason"][failed].iloc[0]
    assert summary["check"]["checked"] == 11 and summary["check"]["passed"]


def _perturbed(scale: float) -> Engine:
    """The circuit engine with its currents scaled by 1 + ``scale``."""
    def solve(*args):
        res = circuit_chunk(*args)
        res.i = res.i * (1 + scale)
        return res
    return Engine(solve, "serial")


def test_circuit_sweep_deviating_from_ngspice_fails_loudly_naming_the_sweep(tmp_path, monkeypatch):
    monkeypatch.setitem(ENGINES, "circuit", _perturbed(3e-6))
    cfg = SweepConfig(n_samples=8, seed=4, chunk_size=4, workers=1, engine="circuit")
    out = tmp_path / "bad"
    with pytest.raises(EngineCheckError, match=re.escape(f"{out}: the circuit engine deviates from "
                                                         f"ngspice by 3e-06 of full scale")):
        run_sweep(SINH8, cfg, out, progress=False)
    check = _sweep_yaml(out)["check"]
    assert not check["passed"] and check["max_deviation"] == pytest.approx(3e-6, rel=1e-3)

    monkeypatch.setitem(ENGINES, "circuit", _perturbed(5e-7))   # within tolerance: passes
    run_sweep(SINH8, cfg, tmp_path / "fine", progress=False)


def test_datagen_stage_exits_nonzero_when_the_circuit_check_fails(tmp_path, monkeypatch):
    monkeypatch.setitem(ENGINES, "circuit", _perturbed(1e-4))
    params = {"crossbar": SINH8.to_dict(), "datagen": {
        "configs": [{}], "out_dir": str(tmp_path / "data"),
        "train": {"n_samples": 4, "seed": 0, "chunk_size": 4, "workers": 1, "engine": "circuit"},
        "test": {"n_samples": 4, "seed": 1, "chunk_size": 4, "workers": 1}}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(SystemExit) as exc:
        main(["--params", str(tmp_path / "params.yaml"), "--summary", str(tmp_path / "s.json")])
    assert isinstance(exc.value.code, str)      # a message: exit status 1
    assert "deviates from ngspice" in exc.value.code and "train" in exc.value.code
