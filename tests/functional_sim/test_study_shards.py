"""Image shards: the accuracy study and the ground truth cut each network's images into
``functional_sim.shard_images`` slices, each a unit that is kept when finished and that
runs in this process or on a Dask cluster with the same result."""

from __future__ import annotations

import pytest
import torch

from functional_sim.sim.mapping import lossless_adc_bits
from functional_sim.studies.accuracy_study import run_study
from functional_sim.studies.config import StudyConfig
from functional_sim.studies.ground_truth import run_ground_truth
from functional_sim.studies.inference import save_net
from functional_sim.studies.nets import build
from functional_sim.studies.resume import UnitStore
from functional_sim.studies.shards import image_shards
from spice_netlists import CrossbarSpec

SPEC = CrossbarSpec(rows=32, cols=32, device="sinh")


def _study(tmp_path, **changes) -> tuple[StudyConfig, list[CrossbarSpec]]:
    torch.manual_seed(0)
    save_net(tmp_path / "nets" / "digits_mlp.pt", "digits_mlp", build("digits_mlp"))
    sim = {"weight_bits": 4, "input_bits": 4, "bits_per_slice": 2, "bits_per_stream": 2,
           "adc_bits": lossless_adc_bits(SPEC, 2, 2)}
    cfg = StudyConfig(crossbar_model="analytical", models=("analytical",),
                      settings=({"v_read_max": 0.5},), test_subset=40, batch_size=8,
                      nets_dir=str(tmp_path / "nets"), sim=sim, train={"nets": ["digits_mlp"]},
                      ground_truth={"nets": ["digits_mlp"], "spice_check_net": "digits_mlp",
                                    "models": ["ideal", "analytical"], "spice_check_images": 0})
    return cfg.with_(**changes), [SPEC.with_(v_read_max=0.5)]


def test_image_shards_cover_every_image_once_in_order() -> None:
    assert image_shards(10, 0) == [slice(0, 10)]
    assert image_shards(10, 10) == image_shards(10, 25) == [slice(0, 10)]
    assert image_shards(10, 4) == [slice(0, 4), slice(4, 8), slice(8, 10)]
    assert image_shards(0, 4) == [slice(0, 0)]


def test_accuracy_shards_of_whole_batches_give_the_unsharded_report(tmp_path) -> None:
    """Shards of 16 images, batches of 8: every forward pass is the one the unsharded
    run makes, so the figures are the same numbers."""
    cfg, specs = _study(tmp_path)
    whole = run_study(cfg, specs, log=False)
    store = UnitStore(tmp_path / "store")
    sharded = run_study(cfg.with_(shard_images=16), specs, log=False, store=store)
    assert sharded == whole
    assert store.computed == 3 * 2            # 40 images in 3 shards, ideal and analytical


def test_a_missing_shard_is_the_only_one_computed_again(tmp_path) -> None:
    cfg, specs = _study(tmp_path, shard_images=16)
    store = UnitStore(tmp_path / "store")
    first = run_ground_truth(cfg, specs, log=False, store=store)
    assert (store.hits, store.computed) == (0, 3)
    sorted((tmp_path / "store").glob("*.pt"))[1].unlink()   # as if killed during that shard
    again = UnitStore(tmp_path / "store")
    assert run_ground_truth(cfg, specs, log=False, store=again) == first
    assert (again.hits, again.computed) == (2, 1)


def test_ground_truth_shards_agree_with_the_unsharded_run(tmp_path) -> None:
    """A shard runs as one batch, so layer outputs may round differently from the
    whole set's single batch: the figures agree to float32 rounding, not bit for bit."""
    cfg, specs = _study(tmp_path)
    whole = run_ground_truth(cfg, specs, log=False)
    sharded = run_ground_truth(cfg.with_(shard_images=16), specs, log=False)
    a = whole["settings"][specs[0].label]["digits_mlp"]
    b = sharded["settings"][specs[0].label]["digits_mlp"]
    assert abs(a["circuit"]["top1"] - b["circuit"]["top1"]) <= 1 / 40   # at most one image
    for model in ("ideal", "analytical"):
        assert abs(a[model]["top1"] - b[model]["top1"]) <= 1 / 40
        for layer in a[model]["layers"]:
            # relative errors of ~1e-2..1e-1; float32 rounding moves them by ~1e-6
            assert b[model]["layers"][layer]["rel_rmse"] == pytest.approx(
                a[model]["layers"][layer]["rel_rmse"], rel=1e-3)


def test_shards_on_a_dask_cluster_give_the_in_process_report(tmp_path) -> None:
    distributed = pytest.importorskip("distributed")
    cfg, specs = _study(tmp_path, shard_images=16)
    here_gt = run_ground_truth(cfg, specs, log=False)
    here_acc = run_study(cfg, specs, log=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        remote = cfg.with_(scheduler=cluster.scheduler_address)
        store = UnitStore(tmp_path / "store")
        # the same shards, run by the cluster's workers: the same computation, so the
        # same numbers
        assert run_ground_truth(remote, specs, log=False, store=store) == here_gt
        assert run_study(remote, specs, log=False, store=store) == here_acc
    assert store.computed == 3 + 3 * 2
