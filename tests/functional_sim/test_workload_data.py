"""Stage workload_data: pools of a network's real tile reads, split by content into train
and test pools, simulated by datagen's resumable sweep with the real ngspice, for exactly
the crossbar specs of the datagen section. Tiny: an untrained, seeded digits MLP on 8x8
(two read voltages) and 16x16 tiles, a few dozen samples per dataset."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from datagen import load_dataset
from datagen.samplers import SamplerConfig, draw, register_workload_pool
from functional_sim.studies.config import ConfigError, StudyConfig, WorkloadConfig
from functional_sim.sim.convert import convert
from functional_sim.studies.inference import save_net
from functional_sim.studies.nets import build
from functional_sim.studies.config import study_config
from functional_sim.studies.workload import main as workload_main
from functional_sim.studies.workload_data import main, pool_files, run_workload_data, split_by_content
from spice_netlists.config import read_params
from spice_netlists import CrossbarSpec
from surrogate.ideal import IdealModel

ROWS = COLS = 8
#: (rows, cols, v_read_max) of the datagen section's specs: the datasets to mirror
DATASETS = ((8, 8, 0.25), (8, 8, 0.5), (16, 16, 0.5))
STREAM_BITS = 2
SLICE_BITS = 2
N_TRAIN, N_TEST = 30, 12


def _params(tmp: Path, **workload) -> dict:
    section = {"net": "digits_mlp", "images": 6, "pool_size": 120, "train_samples": N_TRAIN,
               "test_samples": N_TEST, "seed": 3, "chunk_size": 10, "workers": 1,
               "pool_dir": str(tmp / "workload"), "out_dir": str(tmp / "spice_workload")}
    section.update(workload)
    return {
        "crossbar": {"rows": ROWS, "cols": COLS, "device": "sinh", "v_read_max": 0.25},
        "datagen": {"configs": [{"rows": r, "cols": c, "v_read_max": v} if r != ROWS
                                else {"v_read_max": v} for r, c, v in DATASETS]},
        "functional_sim": {      # the study's settings: no part in this stage
            "settings": [{"v_read_max": 0.3}], "nets_dir": str(tmp / "nets"), "seed": 0,
            "sim": {"weight_bits": 4, "input_bits": 4, "bits_per_slice": SLICE_BITS,
                    "bits_per_stream": STREAM_BITS, "adc_bits": 12,
                    "negative_weights": "differential", "weight_scale": "per_channel"},
            "workload": section,
        },
    }


def _write(tmp: Path, params: dict) -> Path:
    path = tmp / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def _run(tmp: Path, params: dict) -> dict:
    """The stage's full summary (with what this run did: recorded_now, simulated_now)."""
    return run_workload_data(read_params(_write(tmp, params)), progress=False)


def _run_cli(tmp: Path, params: dict) -> dict:
    """The stage as dvc runs it; returns the summary file it writes."""
    summary = tmp / "summary.json"
    main(["--params", str(_write(tmp, params)), "--summary", str(summary), "--no-progress"])
    return json.loads(summary.read_text())


def _keys(v: np.ndarray, g: np.ndarray) -> list[bytes]:
    return [a.tobytes() + b.tobytes() for a, b in zip(np.asarray(v, np.float64),
                                                      np.asarray(g, np.float64))]


@pytest.fixture(scope="module")
def stage(tmp_path_factory) -> tuple[Path, dict, dict]:
    tmp = tmp_path_factory.mktemp("workload_data")
    torch.manual_seed(0)
    save_net(tmp / "nets" / "digits_mlp.pt", "digits_mlp", build("digits_mlp"))
    params = _params(tmp)
    return tmp, params, _run(tmp, params)


def _spec(params: dict, volts: float, rows: int = ROWS, cols: int = COLS) -> CrossbarSpec:
    return CrossbarSpec(rows=rows, cols=cols, device="sinh", v_read_max=volts)


def _tag(rows: int, cols: int, volts: float) -> str:
    return f"{rows}x{cols}_sinh_Ron100k_{volts:g}V"


def test_one_dataset_pair_per_datagen_spec_and_no_other(stage) -> None:
    tmp, _, summary = stage
    tags = {_tag(*d) for d in DATASETS}
    assert set(summary) == tags
    assert {p.name for p in (tmp / "spice_workload").iterdir()} == tags


def test_pools_hold_the_networks_tile_reads_on_dac_and_slice_levels(stage) -> None:
    tmp, params, summary = stage
    cfg = study_config(params)
    wc = cfg.workload_config
    from functional_sim.studies.inference import load_net

    net, _ = load_net(tmp / "nets" / "digits_mlp.pt")
    for rows, cols, volts in DATASETS:
        spec = _spec(params, volts, rows, cols)
        tag = _tag(rows, cols, volts)
        assert summary[tag]["recorded_now"] is True
        files = pool_files(wc, tag)
        with np.load(files["all"]) as pool:
            v, g, test = pool["v"], pool["g"], pool["test"]
            assert CrossbarSpec.from_dict(yaml.safe_load(str(pool["spec"]))) == spec
        assert len(v) == wc.pool_size and v.shape[1:] == (rows,) and g.shape[1:] == (rows, cols)
        dv = volts / (2 ** STREAM_BITS - 1)
        assert np.allclose(v / dv, np.rint(v / dv)) and v.min() >= 0 and v.max() <= volts + 1e-15
        assert (v.max(axis=1) > 0).all()
        assert g.min() >= spec.g_off - 1e-18 and g.max() <= spec.g_on + 1e-18
        dg = (spec.g_on - spec.g_off) / (2 ** SLICE_BITS - 1)
        assert np.allclose((g - spec.g_off) / dg, np.rint((g - spec.g_off) / dg), atol=1e-9)
        tiles = np.concatenate([m.engine.conductances("cpu", torch.float64).numpy()
                                for m in convert(net, cfg.sim.with_(spec=spec), IdealModel(spec)).modules()
                                if hasattr(m, "engine")])
        tile_keys = {t.tobytes() for t in tiles}
        assert all(gi.tobytes() in tile_keys for gi in g)
        # the train and test pools are the two sides of the split
        with np.load(files["train"]) as tr, np.load(files["test"]) as te:
            assert np.array_equal(tr["v"], v[~test]) and np.array_equal(te["g"], g[test])
        assert 0 < test.sum() < len(test)


def test_sweeps_write_datasets_whose_samples_come_from_their_pool(stage) -> None:
    tmp, params, summary = stage
    wc = study_config(params).workload_config
    for rows, cols, volts in DATASETS:
        tag = _tag(rows, cols, volts)
        for split, n in (("train", N_TRAIN), ("test", N_TEST)):
            assert summary[tag][split]["simulated_now"] == n
            ds = load_dataset(tmp / "spice_workload" / tag / split)
            assert len(ds) == n and ds.spec == _spec(params, volts, rows, cols)
            assert ds.meta["ok"].all() and np.isfinite(ds.i).all() and (ds.i > 0).any()
            assert set(ds.meta["sampler"]) == {"workload"}
            with np.load(pool_files(wc, tag)[split]) as pool:
                pool_keys = set(_keys(pool["v"], pool["g"]))
            assert set(_keys(ds.v, ds.g)) <= pool_keys
        seeds = {split: set(load_dataset(tmp / "spice_workload" / tag / split).meta["seed"])
                 for split in ("train", "test")}
        assert seeds["train"] != seeds["test"]


def test_train_and_test_share_no_sample(stage) -> None:
    tmp, params, _ = stage
    wc = study_config(params).workload_config
    for rows, cols, volts in DATASETS:
        tag = _tag(rows, cols, volts)
        with np.load(pool_files(wc, tag)["train"]) as tr, np.load(pool_files(wc, tag)["test"]) as te:
            assert not set(_keys(tr["v"], tr["g"])) & set(_keys(te["v"], te["g"]))
        train = load_dataset(tmp / "spice_workload" / tag / "train")
        test = load_dataset(tmp / "spice_workload" / tag / "test")
        assert not set(_keys(train.v, train.g)) & set(_keys(test.v, test.g))


def test_rerun_reuses_the_pools_and_simulates_nothing(stage) -> None:
    tmp, params, _ = stage
    shards = sorted((tmp / "spice_workload").rglob("shard-*.parquet"))
    before = {p: p.stat().st_mtime_ns for p in shards}
    again = _run(tmp, params)
    for entry in again.values():
        assert entry["recorded_now"] is False
        assert entry["train"]["simulated_now"] == 0 and entry["test"]["simulated_now"] == 0
    assert {p: p.stat().st_mtime_ns for p in shards} == before


def test_a_changed_pool_starts_its_sweeps_afresh(stage, tmp_path) -> None:
    tmp, params, _ = stage
    params = _params(tmp, images=4, out_dir=str(tmp_path / "out"), pool_dir=str(tmp_path / "pools"),
                     train_samples=10, test_samples=10, pool_size=40)
    params["datagen"]["configs"] = [{"v_read_max": 0.5}]
    first = _run(tmp_path, params)["8x8_sinh_Ron100k_0.5V"]
    notes = tmp_path / "out" / "8x8_sinh_Ron100k_0.5V" / "train" / "my_notes.txt"
    notes.write_text("a user's file beside the dataset")
    params["functional_sim"]["workload"]["images"] = 5
    second = _run(tmp_path, params)["8x8_sinh_Ron100k_0.5V"]
    assert second["recorded_now"] and second["train_pool"]["sha256"] != first["train_pool"]["sha256"]
    assert second["train"]["simulated_now"] == 10 and second["test"]["simulated_now"] == 10
    assert notes.read_text() == "a user's file beside the dataset"     # only the sweep's files go


def test_stage_exits_non_zero_naming_failed_samples(stage, tmp_path, monkeypatch) -> None:
    """A sweep that ends with failed samples fails the stage after writing its summary
    (ngspice is given a tiny timeout, so its samples time out for real)."""
    import functional_sim.studies.workload_data as wd

    tmp, params, _ = stage
    params = _params(tmp, images=4, out_dir=str(tmp_path / "out"), pool_dir=str(tmp_path / "pools"),
                     train_samples=4, test_samples=4, pool_size=40, chunk_size=4)
    params["datagen"]["configs"] = [{"v_read_max": 0.5}]
    real = wd.sweep_configs

    def timing_out(wc, tag, engine=None):
        return {k: cfg.__class__(**{**cfg.__dict__, "timeout_s": 1e-4})
                for k, cfg in real(wc, tag, engine).items()}

    monkeypatch.setattr(wd, "sweep_configs", timing_out)
    with pytest.raises(SystemExit, match=r"8x8_sinh_Ron100k_0.5V/train: 4 failed \(.*timeout 4"):
        _run_cli(tmp_path, params)
    assert json.loads((tmp_path / "summary.json").read_text())["8x8_sinh_Ron100k_0.5V"]["train"]["failed"]


def test_split_by_content_keeps_equal_reads_on_one_side() -> None:
    rng = np.random.default_rng(0)
    v = rng.integers(0, 2, (200, 4)).astype(float)     # 16 distinct inputs, many repeats
    g = np.ones((200, 4, 3))
    test = split_by_content(v, g, 0.25, seed=1)
    assert 0 < test.sum() <= 50
    assert not {r.tobytes() for r in v[test]} & {r.tobytes() for r in v[~test]}
    with pytest.raises(ValueError, match="single distinct"):
        split_by_content(np.ones((5, 4)), g[:5], 0.25, seed=1)


def test_workload_sampler_draws_distinct_reads_and_refuses_other_physics(stage) -> None:
    tmp, params, _ = stage
    wc = study_config(params).workload_config
    path = str(pool_files(wc, "8x8_sinh_Ron100k_0.25V")["train"])
    cfg = SamplerConfig(name="workload", workload_pool=path)
    v, g = draw(_spec(params, 0.25), 20, np.random.default_rng(0), cfg)
    with np.load(path) as pool:
        index = {k: i for i, k in enumerate(_keys(pool["v"], pool["g"]))}
    assert len(v) == 20 and all(k in index for k in _keys(v, g))
    # within a chunk, distinct pool entries while the pool has enough
    spec = _spec(params, 0.25)
    register_workload_pool("distinct", np.linspace(0.01, 0.2, 20)[:, None] * np.ones(ROWS),
                           np.full((20, ROWS, COLS), spec.g_on))
    mem = SamplerConfig(name="workload", workload_pool="distinct")
    v, _ = draw(spec, 20, np.random.default_rng(1), mem)
    assert len(np.unique(v[:, 0])) == 20
    v, _ = draw(spec, 30, np.random.default_rng(1), mem)
    assert len(v) == 30 and len(np.unique(v[:, 0])) <= 20
    with pytest.raises(ValueError, match="v_read_max"):
        draw(_spec(params, 0.5), 4, np.random.default_rng(0), cfg)


def test_workload_cli_writes_a_pool(stage, tmp_path) -> None:
    tmp, params, _ = stage
    out = tmp_path / "pool.npz"
    workload_main(["--params", str(_write(tmp_path, params)), "--net", "digits_mlp", "--n", "25",
                   "--images", "3", "--v-read-max", "0.5", "--out", str(out)])
    with np.load(out) as pool:
        assert pool["v"].shape == (25, ROWS) and pool["g"].shape == (25, ROWS, COLS)
        assert pool["v"].max() <= 0.5 and yaml.safe_load(str(pool["spec"]))["v_read_max"] == 0.5


def test_workload_section_is_validated_and_round_trips() -> None:
    section = _params(Path("x"))["functional_sim"]
    cfg = StudyConfig.from_dict(yaml.safe_load(yaml.safe_dump(section)))
    assert cfg.to_dict()["workload"] == section["workload"]
    assert StudyConfig().workload == StudyConfig().workload_config == WorkloadConfig()
    assert StudyConfig().to_dict()["workload"] == WorkloadConfig().to_dict()
    assert WorkloadConfig.from_dict(WorkloadConfig().to_dict()) == WorkloadConfig()
    with pytest.raises(ConfigError, match="imagez"):
        StudyConfig.from_dict({"workload": {"imagez": 3}})
    for bad in ({"net": "resnet"}, {"images": 0}, {"train_samples": 1.5}, {"seed": -1},
                {"pool_size": 10, "train_samples": 8, "test_samples": 4}, {"out_dir": ""}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            WorkloadConfig(**bad)


def test_the_summary_file_records_the_datasets_not_the_run(stage, tmp_path) -> None:
    """The tracked report is the same whether the sweeps ran or resumed (no timings)."""
    tmp, params, _ = stage
    written = _run_cli(tmp, params)
    entry = written["8x8_sinh_Ron100k_0.5V"]
    assert "recorded_now" not in entry and entry["train"]["samples"] == N_TRAIN
    assert not {"simulated_now", "seconds", "samples_per_s"} & set(entry["train"])
    assert entry["train"]["failed"] == {"no_convergence": 0, "timeout": 0, "error": 0}
