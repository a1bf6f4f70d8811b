"""Sweeps: failed samples are recorded with their reason, an interrupted sweep resumes
to the same result as an uninterrupted one, a Dask cluster gives the same data, and bad
input is refused clearly. All with the real ngspice."""

from __future__ import annotations


import json

import numpy as np
import pytest
import yaml

import datagen
from datagen.dataset import load_dataset
from datagen.samplers import SamplerConfig
from datagen.sweep import SweepConfig, main, run_sweep
from spice_netlists import CrossbarSpec
from tests.support.sweep_interrupt import assert_equals_an_uninterrupted_run, kill_sweep_midway
from spice_netlists.ngspice import NgspiceError, ngspice_info

SPEC = CrossbarSpec(rows=8, cols=8, device="sinh", v_read_max=0.5)
IDEAL_WIRES = SPEC.with_(r_source=0.0, r_sink=0.0, r_wire_row=0.0, r_wire_col=0.0)


def test_a_sample_that_fails_is_recorded_with_its_reason_and_the_rest_are_kept():
    v, g = datagen.draw(IDEAL_WIRES, 6, np.random.default_rng(0))
    v[2] = 400.0  # sinh(2·400) overflows: ngspice cannot solve this sample
    res = datagen.simulate_detailed(IDEAL_WIRES, v, g, chunk_size=6)
    assert res.ok.tolist() == [True, True, False, True, True, True]
    assert "sinh" in res.reason[2]
    assert np.isnan(res.i[2]).all() and np.isfinite(res.i[[0, 1, 3, 4, 5]]).all()
    good = datagen.simulate(IDEAL_WIRES, v[[0, 1, 3, 4, 5]], g[[0, 1, 3, 4, 5]])
    np.testing.assert_allclose(res.i[[0, 1, 3, 4, 5]], good, rtol=1e-9)  # warm starts differ


def test_failed_samples_stay_in_the_dataset_with_their_reason(tmp_path):
    v, g = datagen.draw(IDEAL_WIRES, 20, np.random.default_rng(1))
    v[5] = 400.0
    np.savez(tmp_path / "pool.npz", v=v, g=g)
    cfg = SweepConfig(n_samples=30, seed=3, chunk_size=10, workers=1,
                      sampler=SamplerConfig(name="workload", workload_pool=str(tmp_path / "pool.npz")))
    run_sweep(IDEAL_WIRES, cfg, tmp_path / "ds", progress=False)
    ds = load_dataset(tmp_path / "ds")
    failed = ~ds.meta["ok"].to_numpy()
    assert len(ds) == 30 and failed.any() and failed.sum() < 30
    assert all("sinh" in r for r in ds.meta["reason"][failed])
    assert np.all(ds.v[failed].max(axis=1) == 400.0)
    assert len(ds.converged()) == 30 - failed.sum()


def test_killed_sweep_resumes_and_ends_identical_to_an_uninterrupted_run(tmp_path):
    cfg = SweepConfig(n_samples=120, seed=5, chunk_size=4, workers=1)
    script = (
        "import sys; from datagen.sweep import run_sweep, SweepConfig; "
        "from spice_netlists import CrossbarSpec; "
        "run_sweep(CrossbarSpec(rows=8, cols=8, device='sinh', v_read_max=0.5), "
        "SweepConfig(n_samples=120, seed=5, chunk_size=4, workers=1), sys.argv[1], progress=False)"
    )
    out = tmp_path / "interrupted"
    done_before = kill_sweep_midway(script, out)
    assert 3 <= done_before < 30, "the sweep must be killed midway"
    summary = run_sweep(SPEC, cfg, out, progress=False)
    assert summary["simulated_now"] == 120 - 4 * done_before
    assert_equals_an_uninterrupted_run(SPEC, cfg, out, tmp_path / "straight")


def test_sweep_with_changed_configuration_starts_afresh(tmp_path):
    run_sweep(SPEC, SweepConfig(n_samples=8, seed=1, chunk_size=4, workers=1), tmp_path, progress=False)
    first = load_dataset(tmp_path)
    run_sweep(SPEC, SweepConfig(n_samples=8, seed=2, chunk_size=4, workers=1), tmp_path, progress=False)
    second = load_dataset(tmp_path)
    assert not np.array_equal(first.v, second.v)


def test_sweep_on_a_dask_cluster_gives_the_same_data_as_local_processes(tmp_path):
    distributed = pytest.importorskip("distributed")
    cfg = SweepConfig(n_samples=24, seed=9, chunk_size=6, workers=2)
    run_sweep(SPEC, cfg, tmp_path / "local", progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        dcfg = SweepConfig(n_samples=24, seed=9, chunk_size=6, scheduler=cluster.scheduler_address)
        run_sweep(SPEC, dcfg, tmp_path / "dask", progress=False)
    a, b = load_dataset(tmp_path / "local"), load_dataset(tmp_path / "dask")
    np.testing.assert_array_equal(a.i, b.i)
    assert a.meta["ok"].all()


@pytest.mark.parametrize("v_shape,g_shape,match", [
    ((3, 7), (3, 8, 8), r"v has shape \(3, 7\)"),
    ((3, 8), (3, 8, 9), r"g has shape \(3, 8, 9\)"),
    ((2, 8), (3, 8, 8), "2 samples but g has 3"),
])
def test_simulate_rejects_wrong_shapes_naming_them(v_shape, g_shape, match):
    with pytest.raises(ValueError, match=match):
        datagen.simulate(SPEC, np.zeros(v_shape), np.full(g_shape, 1e-5))


def test_simulate_rejects_nonfinite_or_negative_values_naming_them():
    v, g = np.zeros((2, 8)), np.full((2, 8, 8), 1e-5)
    v[1, 3] = np.nan
    with pytest.raises(ValueError, match="v of sample 1"):
        datagen.simulate(SPEC, v, g)
    v[1, 3] = 0.1
    g[0, 2, 5] = -1e-6
    with pytest.raises(ValueError, match=r"g\[0, 2, 5\] = -1e-06"):
        datagen.simulate(SPEC, v, g)


def test_sweep_config_rejects_bad_values_naming_them():
    with pytest.raises(ValueError, match="n_samples"):
        SweepConfig(n_samples=0)
    with pytest.raises(ValueError, match="max_input_sparsity"):
        SamplerConfig(max_input_sparsity=1.5)
    with pytest.raises(ValueError, match="'gaussian'"):
        SamplerConfig(name="gaussian")


def test_missing_or_old_ngspice_is_refused_with_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("NGSPICE", str(tmp_path / "no-such-ngspice"))
    with pytest.raises(NgspiceError, match="not found.*bookworm-backports"):
        ngspice_info()
    old = tmp_path / "ngspice"
    old.write_text("#!/bin/sh\necho '** ngspice-39.3 : Circuit level simulation program'\n")
    old.chmod(0o755)
    monkeypatch.setenv("NGSPICE", str(old))
    with pytest.raises(NgspiceError, match="ngspice 39, too old"):
        ngspice_info()


@pytest.mark.parametrize("name", ["uniform", "bitlevel"])
def test_samplers_stay_in_the_physical_ranges(name):
    spec = CrossbarSpec(rows=16, cols=12, v_read_max=0.5)
    v, g = datagen.draw(spec, 50, np.random.default_rng(0), SamplerConfig(name=name, input_bits=2))
    assert v.shape == (50, 16) and g.shape == (50, 16, 12)
    assert v.min() >= 0 and v.max() <= 0.5 and (v == 0).any()
    assert g.min() >= spec.g_off - 1e-20 and g.max() <= spec.g_on + 1e-20
    if name == "bitlevel":
        assert set(np.round(np.unique(v) / 0.5 * 3, 9)) <= {0.0, 1.0, 2.0, 3.0}


def test_growing_a_sweep_keeps_its_chunks_and_equals_a_fresh_larger_sweep(tmp_path):
    run_sweep(SPEC, SweepConfig(n_samples=10, seed=4, chunk_size=4, workers=1), tmp_path / "grown", progress=False)
    kept = (tmp_path / "grown" / "shard-00000.parquet").stat().st_mtime_ns
    summary = run_sweep(SPEC, SweepConfig(n_samples=18, seed=4, chunk_size=4, workers=1),
                        tmp_path / "grown", progress=False)
    assert summary["simulated_now"] == 18 - 8          # the partial last chunk is redone
    assert (tmp_path / "grown" / "shard-00000.parquet").stat().st_mtime_ns == kept
    run_sweep(SPEC, SweepConfig(n_samples=18, seed=4, chunk_size=4, workers=1), tmp_path / "fresh", progress=False)
    np.testing.assert_array_equal(load_dataset(tmp_path / "grown").i, load_dataset(tmp_path / "fresh").i)
    run_sweep(SPEC, SweepConfig(n_samples=6, seed=4, chunk_size=4, workers=1), tmp_path / "grown", progress=False)
    assert len(load_dataset(tmp_path / "grown")) == 6


def test_workload_sweep_uses_every_pool_entry_once_before_repeating(tmp_path):
    v, g = datagen.draw(SPEC, 25, np.random.default_rng(2))
    v[:, 0] = np.arange(25) / 100          # a tag per pool entry
    np.savez(tmp_path / "pool.npz", v=v, g=g)
    cfg = SweepConfig(n_samples=25, seed=1, chunk_size=4, workers=1,
                      sampler=SamplerConfig(name="workload", workload_pool=str(tmp_path / "pool.npz")))
    run_sweep(SPEC, cfg, tmp_path / "ds", progress=False)
    tags = np.round(load_dataset(tmp_path / "ds").v[:, 0] * 100).astype(int)
    assert sorted(tags.tolist()) == list(range(25))


def test_datagen_params_refuse_a_test_set_seeded_like_the_training_set():
    from datagen.sweep import DatagenParams

    with pytest.raises(ValueError, match="must differ"):
        DatagenParams.from_dict({"train": {"seed": 3}, "test": {"seed": 3}})


def test_sweep_chunked_differently_starts_afresh(tmp_path):
    run_sweep(SPEC, SweepConfig(n_samples=12, seed=1, chunk_size=4, workers=1), tmp_path, progress=False)
    summary = run_sweep(SPEC, SweepConfig(n_samples=12, seed=1, chunk_size=6, workers=1), tmp_path,
                        progress=False)
    assert summary["simulated_now"] == 12
    assert sorted(p.name for p in tmp_path.glob("shard-*.parquet")) == ["shard-00000.parquet", "shard-00001.parquet"]


def test_auto_chunk_size_shrinks_with_crossbar_size():
    sizes = [datagen.auto_chunk_size(CrossbarSpec(rows=n, cols=n)) for n in (8, 16, 32, 64, 128)]
    assert sizes == sorted(sizes, reverse=True) and sizes[2] == 50 and sizes[3] == 25


def test_stage_summary_is_the_same_whether_the_sweeps_ran_or_resumed(tmp_path):
    """reports/datagen.json is tracked: it records the datasets, not this run's timings."""
    params = {"crossbar": SPEC.to_dict(), "datagen": {
        "configs": [{}], "out_dir": str(tmp_path / "data"),
        "train": {"n_samples": 8, "seed": 0, "chunk_size": 4, "workers": 1},
        "test": {"n_samples": 4, "seed": 1, "chunk_size": 4, "workers": 1}}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    files = []
    for run in ("ran", "resumed"):
        out = tmp_path / f"{run}.json"
        main(["--params", str(tmp_path / "params.yaml"), "--summary", str(out)])
        files.append(out.read_text())
    assert files[0] == files[1]
    entry = json.loads(files[0])[f"{SPEC.tag}/train"]
    assert entry["samples"] == 8 and "seconds" not in entry and "simulated_now" not in entry
