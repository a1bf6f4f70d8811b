"""Data sets read from disk (functional_sim.studies.disk_data): each format is written here
as its distribution lays it out (tiny files), then read back. The expected images are
the written bytes scaled by 1/255 in numpy, an independent computation of the same
float32 division, so they agree to float32 rounding (atol 1e-7 on values in [0, 1])."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from functional_sim.studies.disk_data import (FORMATS, DiskDatasetConfig, load_disk_dataset,
                                              read_split, write_cifar_batch, write_idx)
from spice_netlists.config import ConfigError

RNG = np.random.default_rng(7)


def scaled(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float32) / np.float32(255)


def cifar10_tree(root, n_per_batch=4):
    """root/cifar-10-batches-py with five training batches and a test batch; returns
    (train images, train labels, test images, test labels)."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    xs, ys = [], []
    for k in range(1, 6):
        x = RNG.integers(0, 256, (n_per_batch, 3, 32, 32), dtype=np.uint8)
        y = RNG.integers(0, 10, n_per_batch)
        write_cifar_batch(folder / f"data_batch_{k}", x, y)
        xs.append(x), ys.append(y)
    xt = RNG.integers(0, 256, (3, 3, 32, 32), dtype=np.uint8)
    yt = RNG.integers(0, 10, 3)
    write_cifar_batch(folder / "test_batch", xt, yt)
    return np.concatenate(xs), np.concatenate(ys), xt, yt


def test_cifar10_batches_read_as_distributed(tmp_path):
    x, y, xt, yt = cifar10_tree(tmp_path)
    split = load_disk_dataset(DiskDatasetConfig(format="cifar10", root=str(tmp_path)))
    assert split.x_train.shape == (20, 3, 32, 32) and split.x_test.shape == (3, 3, 32, 32)
    np.testing.assert_allclose(split.x_train.numpy(), scaled(x), atol=1e-7)
    np.testing.assert_allclose(split.x_test.numpy(), scaled(xt), atol=1e-7)
    assert split.y_train.tolist() == y.tolist() and split.y_test.tolist() == yt.tolist()
    # the root may also be the batches' own folder
    same = load_disk_dataset(DiskDatasetConfig(format="cifar10",
                                               root=str(tmp_path / "cifar-10-batches-py")))
    assert same.y_train.tolist() == y.tolist()


def test_cifar_batch_pickled_with_the_old_numpy_module_name_reads(tmp_path):
    """The distributed batches name numpy.core.multiarray (numpy 1's module)."""
    x = RNG.integers(0, 256, (2, 3, 32, 32), dtype=np.uint8)
    write_cifar_batch(tmp_path / "test", x, [1, 2], label_key="fine_labels")
    raw = (tmp_path / "test").read_bytes()
    # protocol 2 names a class with GLOBAL, "module\nname\n" (no length prefix)
    raw = raw.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    assert b"cnumpy.core.multiarray\n_reconstruct" in raw
    (tmp_path / "test").write_bytes(raw)
    (tmp_path / "train").write_bytes(raw)
    xs, ys = read_split(DiskDatasetConfig(format="cifar100", root=str(tmp_path)), "test")
    np.testing.assert_allclose(xs.numpy(), scaled(x), atol=1e-7)
    assert ys.tolist() == [1, 2]


def test_cifar100_fine_and_coarse_labels(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    for name, n in (("train", 5), ("test", 2)):
        x = RNG.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
        fine = RNG.integers(0, 100, n)
        batch = {b"data": x.reshape(n, -1), b"fine_labels": fine.tolist(),
                 b"coarse_labels": (fine // 5).tolist(), b"filenames": [b"a.png"] * n}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    fine = load_disk_dataset(DiskDatasetConfig(format="cifar100", root=str(tmp_path)))
    coarse = load_disk_dataset(DiskDatasetConfig(format="cifar100", root=str(tmp_path),
                                                 labels="coarse"))
    assert (coarse.y_train == fine.y_train // 5).all() and len(fine.y_test) == 2


def test_a_pickle_that_would_run_code_is_refused_not_run(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    for name in ("train", "test"):
        (folder / name).write_bytes(pickle.dumps({b"data": Payload()}, protocol=2))
    with pytest.raises(ConfigError, match=r"data\.root .*cifar-100-python/train is not a CIFAR "
                                          r"python batch: it asks for posix\.mkdir.*refused"):
        load_disk_dataset(DiskDatasetConfig(format="cifar100", root=str(tmp_path)), "data")
    assert not marker.exists()


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx_files_plain_and_gzipped(tmp_path, gz):
    end = ".gz" if gz else ""
    x = RNG.integers(0, 256, (6, 28, 28), dtype=np.uint8)
    y = RNG.integers(0, 10, 6).astype(np.uint8)
    xt = RNG.integers(0, 256, (2, 28, 28), dtype=np.uint8)
    write_idx(tmp_path / f"train-images-idx3-ubyte{end}", x)
    write_idx(tmp_path / f"train-labels-idx1-ubyte{end}", y)
    write_idx(tmp_path / f"t10k-images-idx3-ubyte{end}", xt)
    write_idx(tmp_path / f"t10k-labels-idx1-ubyte{end}", np.array([3, 4], np.uint8))
    split = load_disk_dataset(DiskDatasetConfig(format="mnist_idx", root=str(tmp_path)))
    assert split.x_train.shape == (6, 1, 28, 28)
    np.testing.assert_allclose(split.x_train.numpy()[:, 0], scaled(x), atol=1e-7)
    assert split.y_train.tolist() == y.tolist() and split.y_test.tolist() == [3, 4]


def test_a_truncated_idx_file_is_named(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((2, 4, 4), np.uint8))
    raw = (tmp_path / "train-images-idx3-ubyte").read_bytes()
    (tmp_path / "train-images-idx3-ubyte").write_bytes(raw[:-5])
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(2, np.uint8))
    with pytest.raises(ConfigError, match=r"root .*train-images-idx3-ubyte: header says "
                                          r"\(2, 4, 4\), i.e. 32 bytes, but 27 follow"):
        read_split(DiskDatasetConfig(format="mnist_idx", root=str(tmp_path)), "train")


def image_tree(root, mode, sizes):
    from PIL import Image
    truth = {}
    for split in ("train", "test"):
        for cls, size in zip(("cat", "ant"), sizes):
            (root / split / cls).mkdir(parents=True)
            shape = (size[0], size[1]) if mode == "L" else (size[0], size[1], 3)
            a = RNG.integers(0, 256, shape, dtype=np.uint8)
            Image.fromarray(a, mode=mode).save(root / split / cls / "0.png")
            (root / split / cls / "notes.txt").write_text("not an image")
            truth[(split, cls)] = a
    return truth


def test_image_folder_classes_in_sorted_order(tmp_path):
    truth = image_tree(tmp_path, "RGB", [(5, 6), (5, 6)])
    split = load_disk_dataset(DiskDatasetConfig(format="image_folder", root=str(tmp_path)))
    assert split.x_train.shape == (2, 3, 5, 6)
    assert split.y_train.tolist() == [0, 1]          # ant before cat
    np.testing.assert_allclose(split.x_train[0].numpy(),
                               scaled(truth[("train", "ant")].transpose(2, 0, 1)), atol=1e-7)
    grey = load_disk_dataset(DiskDatasetConfig(format="image_folder", root=str(tmp_path),
                                               image_mode="L"))
    assert grey.x_test.shape == (2, 1, 5, 6)


def test_image_folder_sizes_must_agree_unless_resized(tmp_path):
    image_tree(tmp_path, "L", [(4, 4), (6, 5)])
    cfg = DiskDatasetConfig(format="image_folder", root=str(tmp_path))
    with pytest.raises(ConfigError, match=r"image_size .*cat/0.png is 4×4 \(width×height\), "
                                          r"the first image 5×6: give image_size"):
        read_split(cfg, "train")
    resized = read_split(cfg.with_(image_size=(8, 8)), "train")[0]
    assert resized.shape == (2, 1, 8, 8)


@pytest.mark.parametrize("layout", ["nhw", "nchw", "nhwc"])
def test_npz_layouts(tmp_path, layout):
    x = RNG.integers(0, 256, (5, 3, 7, 7), dtype=np.uint8)
    stored = {"nhw": x[:, 0], "nchw": x, "nhwc": x.transpose(0, 2, 3, 1)}[layout]
    np.savez(tmp_path / "d.npz", x_train=stored, y_train=np.arange(5),
             x_test=stored[:2], y_test=np.arange(2))
    split = load_disk_dataset(DiskDatasetConfig(format="npz", root=str(tmp_path / "d.npz")))
    want = x[:, :1] if layout == "nhw" else x
    np.testing.assert_allclose(split.x_train.numpy(), scaled(want), atol=1e-7)


def test_npz_ambiguous_layout_asks_for_it(tmp_path):
    x = np.zeros((2, 3, 4, 3), np.uint8)
    np.savez(tmp_path / "d.npz", x_train=x, y_train=np.arange(2), x_test=x, y_test=np.arange(2))
    cfg = DiskDatasetConfig(format="npz", root=str(tmp_path / "d.npz"))
    with pytest.raises(ConfigError, match=r"^layout is auto, but .*x_train of shape \(2, 3, 4, 3\) "
                                          r"could be channels-first or channels-last"):
        read_split(cfg, "train")
    assert read_split(cfg.with_(layout="nhwc"), "train")[0].shape == (2, 3, 3, 4)


def test_npz_float_images_kept_and_normalised_per_channel(tmp_path):
    x = RNG.random((4, 2, 5, 5)).astype(np.float32)
    np.savez(tmp_path / "d.npz", x_a=x, y_a=np.zeros(4, int), x_b=x, y_b=np.ones(4, int))
    cfg = DiskDatasetConfig(format="npz", root=str(tmp_path / "d.npz"), train_split="a",
                            test_split="b", mean=[0.5, 0.25], std=[0.5, 2.0])
    got = load_disk_dataset(cfg).x_test.numpy()
    want = (x - np.array([0.5, 0.25], np.float32).reshape(1, 2, 1, 1)) / \
        np.array([0.5, 2.0], np.float32).reshape(1, 2, 1, 1)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    with pytest.raises(ConfigError, match=r"mean has 2 values but the images have 1 channel"):
        np.savez(tmp_path / "g.npz", x_a=x[:, 0], y_a=np.zeros(4, int), x_b=x[:, 0],
                 y_b=np.zeros(4, int))
        load_disk_dataset(cfg.with_(root=str(tmp_path / "g.npz")))


def test_subsets_are_seeded_and_keep_file_order(tmp_path):
    np.savez(tmp_path / "d.npz", x_train=np.zeros((50, 2, 2), np.uint8), y_train=np.arange(50),
             x_test=np.zeros((9, 2, 2), np.uint8), y_test=np.arange(9))
    cfg = DiskDatasetConfig(format="npz", root=str(tmp_path / "d.npz"), train_subset=10,
                            test_subset=20)
    a, b = load_disk_dataset(cfg), load_disk_dataset(cfg)
    assert a.y_train.tolist() == b.y_train.tolist() == sorted(a.y_train.tolist())
    assert len(set(a.y_train.tolist())) == 10 and len(a.y_test) == 9
    other = load_disk_dataset(cfg.with_(seed=1))
    assert other.y_train.tolist() != a.y_train.tolist()


@pytest.mark.parametrize("fmt, expect", [
    ("cifar10", r"lacks data_batch_1, .*data_batch_5 .*place the CIFAR-10 python batches"),
    ("cifar100", r"lacks train .*place the CIFAR-100 python files"),
    ("mnist_idx", r"lacks train-images-idx3-ubyte, train-labels-idx1-ubyte \(or .gz\)"),
    ("image_folder", r"train does not exist; place one folder per class in it"),
    ("npz", r"does not exist; place an .npz file there with arrays x_train"),
])
def test_a_missing_root_or_file_names_the_key_path_and_what_to_place(tmp_path, fmt, expect):
    (tmp_path / "empty").mkdir()
    root = tmp_path / ("empty" if fmt != "npz" else "d.npz")
    with pytest.raises(ConfigError, match=rf"^functional_sim\.datasets\.mine\.root {root}.*{expect}"):
        load_disk_dataset(DiskDatasetConfig(format=fmt, root=str(root)),
                          "functional_sim.datasets.mine")
    with pytest.raises(ConfigError, match=r"root .*nowhere does not exist; place"):
        load_disk_dataset(DiskDatasetConfig(format=fmt, root=str(tmp_path / "nowhere")))


@pytest.mark.parametrize("data, expect", [
    ({"format": "tfrecord", "root": "x"}, r"^d\.format .*tfrecord"),
    ({"format": "npz"}, r"^d\.root must be a non-empty string"),
    ({"format": "cifar10", "root": "x", "test_split": "val"}, r"^d\.test_split .*val"),
    ({"format": "npz", "root": "x", "mean": [0.5]}, r"^d\.std must be given with mean"),
    ({"format": "npz", "root": "x", "mean": [0.5], "std": [0.0]}, r"^d\.std\[0\] must be > 0"),
    ({"format": "cifar10", "root": "x", "labels": "coarse"}, r"^d\.labels is CIFAR-100's"),
    ({"format": "image_folder", "root": "x", "image_size": [3]}, r"^d\.image_size must be"),
    ({"format": "npz", "root": "x", "colour": 1}, r"^d: unknown key"),
])
def test_bad_settings_name_their_key(data, expect):
    with pytest.raises(ConfigError, match=expect):
        DiskDatasetConfig.from_dict(data, "d")


def test_config_round_trips_and_documents_every_field():
    cfg = DiskDatasetConfig.from_dict({"format": "cifar10", "root": "data/cifar", "mean": [0.49, 0.48, 0.45],
                                       "std": [0.25, 0.24, 0.26], "test_subset": 100})
    assert DiskDatasetConfig.from_dict(cfg.to_dict()) == cfg
    assert DiskDatasetConfig.undocumented_fields() == []
    assert set(FORMATS) == {"cifar10", "cifar100", "mnist_idx", "image_folder", "npz"}
