"""Image data sets read from disk, in the formats they are distributed in (nothing is
downloaded): a user brings their own data to the studies.

Formats (:data:`FORMATS`), each read by a reader of its own:

* ``cifar10``: the CIFAR-10 python batches (``data_batch_1`` … ``data_batch_5`` and
  ``test_batch``, as unpacked from ``cifar-10-python.tar.gz``), in ``root`` or in
  ``root/cifar-10-batches-py``;
* ``cifar100``: the CIFAR-100 python files (``train``, ``test``), in ``root`` or in
  ``root/cifar-100-python``, with the fine (100) or coarse (20) labels;
* ``mnist_idx``: MNIST's IDX files (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
  ``t10k-…`` for the test split), optionally gzipped (``….gz``); Fashion-MNIST and
  KMNIST ship in the same format;
* ``image_folder``: ``root/<split>/<class>/<image>`` (PNG, JPEG, BMP, …), classes numbered
  in sorted order as torchvision's ``ImageFolder`` does;
* ``npz``: one ``.npz`` file with arrays ``x_<split>`` (N, H, W), (N, C, H, W) or
  (N, H, W, C) (``layout``) and ``y_<split>`` (N,).

Every reader gives uint8 or float images; integers are scaled to [0, 1] by their type's
maximum, then the per-channel ``mean``/``std`` normalisation is applied, and a seeded
subset may be taken. The CIFAR batches are Python pickles: they are read with an
unpickler that admits only the types those files hold (dicts, lists, bytes and numpy
arrays), so a file that would run code is refused rather than run.

A missing root or file names the params key, the path and what to place there.
"""

from __future__ import annotations

import gzip
import io
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from spice_netlists.config import (ConfigError, ConfigSection, check_choice, check_int,
                                   check_number, check_str)

#: image file suffixes the ``image_folder`` reader takes (lower case)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm",
                  ".pgm")


@dataclass(frozen=True)
class DiskDatasetConfig(ConfigSection):
    """An image data set on disk and how its images are prepared.

    Attributes:
        format: the files' format, one of :data:`FORMATS` (``cifar10``, ``cifar100``,
            ``mnist_idx``, ``image_folder``, ``npz``).
        root: the folder holding the files (the ``.npz`` file itself for ``npz``);
            relative paths are taken from the folder holding ``dvc.yaml``.
        train_split: the training split's name: ``train`` for CIFAR and MNIST (the only
            choice there), a subfolder of ``root`` for ``image_folder``, the ``<split>``
            of ``x_<split>``/``y_<split>`` for ``npz``.
        test_split: the test split's name, as ``train_split`` (``test`` for CIFAR and
            MNIST, whose files call it ``test_batch`` and ``t10k``).
        mean: per-channel mean subtracted after scaling to [0, 1] (one value for every
            channel, or one per channel); empty: none.
        std: per-channel standard deviation divided by after the mean (as ``mean``);
            empty: none. Given together with ``mean``.
        labels: CIFAR-100's label set, ``fine`` (100 classes) or ``coarse`` (20); other
            formats leave it at ``fine``.
        image_mode: ``image_folder`` only: ``L`` (grey) or ``RGB`` images, or ``auto``
            (the first image's: grey if it is grey, else RGB).
        image_size: ``image_folder`` only: [height, width] every image is resized to
            (bilinear); empty: the images must all have the first image's size.
        layout: ``npz`` only: how its 4-D image arrays are laid out, ``nchw``, ``nhwc``
            or ``auto`` (channels are the one of the second and last axes with at most
            4 entries; an error when both or neither have). 3-D arrays are (N, H, W).
        train_subset: training images kept (a seeded choice; 0: all of them).
        test_subset: test images kept (a seeded choice; 0: all of them).
        seed: seeds the subsets.
    """

    format: str = "npz"
    root: str = ""
    train_split: str = "train"
    test_split: str = "test"
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    labels: str = "fine"
    image_mode: str = "auto"
    image_size: tuple[int, ...] = ()
    layout: str = "auto"
    train_subset: int = 0
    test_subset: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        check_choice("format", self.format, FORMATS)
        check_str("root", self.root, nonempty=True)
        for name in ("train_split", "test_split"):
            check_str(name, getattr(self, name), nonempty=True)
            fixed = _FIXED_SPLITS.get(self.format)
            if fixed is not None:
                check_choice(name, getattr(self, name), fixed)
        for name in ("mean", "std"):
            value = getattr(self, name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = (value,)
            if not isinstance(value, (list, tuple)):
                raise ConfigError(name, f"must be a list of numbers, got {value!r}")
            set_(name, tuple(check_number(f"{name}[{k}]", v) for k, v in enumerate(value)))
        if bool(self.mean) != bool(self.std):
            raise ConfigError("std" if self.mean else "mean",
                              f"must be given with {'mean' if self.mean else 'std'} "
                              f"(mean {list(self.mean)}, std {list(self.std)})")
        if self.mean and len(self.mean) != len(self.std):
            raise ConfigError("std", f"has {len(self.std)} value(s) but mean has "
                                     f"{len(self.mean)}")
        for k, s in enumerate(self.std):
            if s <= 0:
                raise ConfigError(f"std[{k}]", f"must be > 0, got {s}")
        check_choice("labels", self.labels, ("fine", "coarse"))
        if self.labels != "fine" and self.format != "cifar100":
            raise ConfigError("labels", f"is CIFAR-100's choice; format {self.format} "
                                        f"has one label set (leave it at fine)")
        check_choice("image_mode", self.image_mode, ("auto", "L", "RGB"))
        if not isinstance(self.image_size, (list, tuple)) or len(self.image_size) not in (0, 2):
            raise ConfigError("image_size", f"must be [height, width] or empty, got "
                                            f"{self.image_size!r}")
        set_("image_size", tuple(check_int(f"image_size[{k}]", v, low=1)
                                 for k, v in enumerate(self.image_size)))
        check_choice("layout", self.layout, ("auto", "nchw", "nhwc"))
        for name in ("train_subset", "test_subset", "seed"):
            check_int(name, getattr(self, name), low=0)


@dataclass
class Split:
    """Images (N, C, H, W) float32 (in [0, 1] for the bundled sets; a data set from disk
    may be normalised) and integer labels (N,)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1


#: Images (N, C, H, W) uint8 or float, and labels (N,) int64, of one split.
Arrays = tuple[np.ndarray, np.ndarray]


class _ArraysOnly(pickle.Unpickler):
    """An unpickler that builds only what the CIFAR python batches hold."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("builtins", "dict"),
               ("builtins", "list"), ("builtins", "bytes"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"it asks for {module}.{name}, which a CIFAR "
                                         f"batch does not hold (refused: a pickle can run code)")
        if module == "numpy.core.multiarray" and hasattr(np, "_core"):
            module = "numpy._core.multiarray"  # numpy 2 moved it (the old name warns)
        return super().find_class(module, name)


def _fail(field: str, problem: str) -> ConfigError:
    return ConfigError(field, problem)


def _find(cfg: DiskDatasetConfig, names: tuple[str, ...], subdir: str, what: str) -> Path:
    """The folder holding ``names``: ``root`` or ``root/subdir``, else an error naming
    the path and what to place there."""
    root = Path(cfg.root).expanduser()
    if not root.exists():
        raise _fail("root", f"{root} does not exist; place {what} there")
    for folder in (root, root / subdir):
        if all((folder / n).is_file() for n in names):
            return folder
    missing = [n for n in names if not (root / n).is_file()]
    raise _fail("root", f"{root} lacks {', '.join(missing)} (nor are they in {root / subdir}); "
                        f"place {what} there")


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            data = _ArraysOnly(fh, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as err:
        raise _fail("root", f"{path} is not a CIFAR python batch: {err}") from None
    if not isinstance(data, dict) or b"data" not in data:
        raise _fail("root", f"{path} is not a CIFAR python batch: it has no b'data' entry")
    return data


def _cifar_arrays(path: Path, label_key: bytes) -> Arrays:
    batch = _unpickle(path)
    if label_key not in batch:
        raise _fail("root", f"{path} has no {label_key.decode()} entry "
                            f"(entries: {sorted(k.decode() for k in batch if isinstance(k, bytes))})")
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise _fail("root", f"{path}: data has shape {data.shape}, expected (N, 3072)")
    labels = np.asarray(batch[label_key], dtype=np.int64)
    if len(labels) != len(data):
        raise _fail("root", f"{path}: {len(data)} images but {len(labels)} labels")
    return data.reshape(-1, 3, 32, 32), labels


def _read_cifar10(cfg: DiskDatasetConfig, split: str) -> Arrays:
    files = tuple(f"data_batch_{k}" for k in range(1, 6)) if split == "train" else ("test_batch",)
    folder = _find(cfg, files, "cifar-10-batches-py",
                   "the CIFAR-10 python batches (data_batch_1 … data_batch_5, test_batch "
                   "from cifar-10-python.tar.gz)")
    parts = [_cifar_arrays(folder / f, b"labels") for f in files]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _read_cifar100(cfg: DiskDatasetConfig, split: str) -> Arrays:
    folder = _find(cfg, (split,), "cifar-100-python",
                   "the CIFAR-100 python files (train, test from cifar-100-python.tar.gz)")
    return _cifar_arrays(folder / split, f"{cfg.labels}_labels".encode())


def _idx_bytes(folder: Path, stem: str) -> tuple[Path, bytes]:
    for path in (folder / stem, folder / f"{stem}.gz"):
        if path.is_file():
            raw = path.read_bytes()
            if path.suffix == ".gz":
                try:
                    raw = gzip.decompress(raw)
                except (OSError, EOFError) as err:
                    raise _fail("root", f"{path} is not a gzip file: {err}") from None
            return path, raw
    raise AssertionError(stem)  # _find checked that one exists


def _idx_array(path: Path, raw: bytes, dims: int) -> np.ndarray:
    """The uint8 array of an IDX file with ``dims`` dimensions (magic 0x0000 08 dd)."""
    if len(raw) < 4 + 4 * dims or raw[:3] != b"\x00\x00\x08" or raw[3] != dims:
        raise _fail("root", f"{path} is not an IDX file of unsigned bytes with {dims} "
                            f"dimension(s) (its header is {raw[:4].hex()})")
    shape = tuple(int.from_bytes(raw[4 + 4 * k: 8 + 4 * k], "big") for k in range(dims))
    body = raw[4 + 4 * dims:]
    if len(body) != int(np.prod(shape)):
        raise _fail("root", f"{path}: header says {shape}, i.e. {int(np.prod(shape))} bytes, "
                            f"but {len(body)} follow")
    return np.frombuffer(body, dtype=np.uint8).reshape(shape)


def _read_mnist_idx(cfg: DiskDatasetConfig, split: str) -> Arrays:
    prefix = "train" if split == "train" else "t10k"
    stems = (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")
    root = Path(cfg.root).expanduser()
    what = (f"MNIST's IDX files ({stems[0]} and {stems[1]}, optionally .gz)")
    if not root.exists():
        raise _fail("root", f"{root} does not exist; place {what} there")
    missing = [s for s in stems if not ((root / s).is_file() or (root / f"{s}.gz").is_file())]
    if missing:
        raise _fail("root", f"{root} lacks {', '.join(missing)} (or .gz); place {what} there")
    images = _idx_array(*_idx_bytes(root, stems[0]), dims=3)
    lpath, lraw = _idx_bytes(root, stems[1])
    labels = _idx_array(lpath, lraw, dims=1).astype(np.int64)
    if len(labels) != len(images):
        raise _fail("root", f"{lpath}: {len(labels)} labels for {len(images)} images")
    return images[:, None], labels


def _read_image_folder(cfg: DiskDatasetConfig, split: str) -> Arrays:
    from PIL import Image, UnidentifiedImageError

    root = Path(cfg.root).expanduser()
    folder = root / split
    what = "one folder per class in it, holding that class's images"
    if not root.is_dir():
        raise _fail("root", f"{root} does not exist; place a folder per split there "
                            f"({cfg.train_split}, {cfg.test_split}), each with {what}")
    if not folder.is_dir():
        raise _fail("root", f"{folder} does not exist; place {what}")
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if not classes:
        raise _fail("root", f"{folder} holds no class folders; place {what}")
    images: list[np.ndarray] = []
    labels: list[int] = []
    mode = None if cfg.image_mode == "auto" else cfg.image_mode
    size: tuple[int, int] | None = tuple(cfg.image_size) or None  # type: ignore[assignment]
    for label, name in enumerate(classes):
        for path in sorted((folder / name).iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                with Image.open(path) as img:
                    if mode is None:
                        mode = "L" if img.mode in ("1", "L", "I;16", "I", "F") else "RGB"
                    img = img.convert(mode)
                    if cfg.image_size:
                        img = img.resize((cfg.image_size[1], cfg.image_size[0]),
                                         Image.Resampling.BILINEAR)
                    array = np.asarray(img, dtype=np.uint8)
            except (UnidentifiedImageError, OSError) as err:
                raise _fail("root", f"{path} is not a readable image: {err}") from None
            if size is None:
                size = array.shape[:2]
            if array.shape[:2] != tuple(size):
                raise _fail("image_size", f"{path} is {array.shape[1]}×{array.shape[0]} "
                                          f"(width×height), the first image "
                                          f"{size[1]}×{size[0]}: give image_size to resize all")
            images.append(array[None] if array.ndim == 2 else array.transpose(2, 0, 1))
            labels.append(label)
    if not images:
        raise _fail("root", f"{folder}'s class folders hold no images ({', '.join(IMAGE_SUFFIXES)})")
    return np.stack(images), np.asarray(labels, dtype=np.int64)


def _nchw(cfg: DiskDatasetConfig, path: Path, key: str, x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) of an ``npz`` image array: (N, H, W) gains a channel; a 4-D array
    follows ``layout``, whose ``auto`` takes the axis with at most 4 entries as the
    channels when only one of the second and the last has so few."""
    if x.ndim == 3:
        return x[:, None]
    if x.ndim != 4:
        raise _fail("root", f"{path}: {key} has shape {x.shape}; expected (N, H, W), "
                            f"(N, C, H, W) or (N, H, W, C)")
    layout = cfg.layout
    if layout == "auto":
        first, last = x.shape[1] <= 4, x.shape[-1] <= 4
        if first == last:
            raise _fail("layout", f"is auto, but {path}: {key} of shape {x.shape} could be "
                                  f"channels-first or channels-last: set layout to nchw or nhwc")
        layout = "nchw" if first else "nhwc"
    return x if layout == "nchw" else x.transpose(0, 3, 1, 2)


def _read_npz(cfg: DiskDatasetConfig, split: str) -> Arrays:
    path = Path(cfg.root).expanduser()
    keys = (f"x_{split}", f"y_{split}")
    if not path.is_file():
        raise _fail("root", f"{path} does not exist; place an .npz file there with arrays "
                            f"{keys[0]} (images) and {keys[1]} (labels)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in keys if k not in npz.files]
            if missing:
                raise _fail("root", f"{path} lacks array(s) {', '.join(missing)} "
                                    f"(it holds {', '.join(npz.files) or 'none'})")
            x, y = npz[keys[0]], npz[keys[1]]
    except (ValueError, OSError) as err:
        if isinstance(err, ConfigError):
            raise
        raise _fail("root", f"{path} is not a plain .npz archive: {err}") from None
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise _fail("root", f"{path}: {keys[1]} must be a 1-D integer array, got "
                            f"{y.dtype} {y.shape}")
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise _fail("root", f"{path}: {keys[0]} must hold numbers, got {x.dtype}")
    x = _nchw(cfg, path, keys[0], x)
    if len(x) != len(y):
        raise _fail("root", f"{path}: {len(x)} images in {keys[0]} but {len(y)} labels")
    return x, y.astype(np.int64)


#: format -> reader of one split (``(config, split name) -> (images NCHW, labels)``)
FORMATS: dict[str, Callable[[DiskDatasetConfig, str], Arrays]] = {
    "cifar10": _read_cifar10,
    "cifar100": _read_cifar100,
    "mnist_idx": _read_mnist_idx,
    "image_folder": _read_image_folder,
    "npz": _read_npz,
}

#: formats whose split names are fixed by their files
_FIXED_SPLITS = {"cifar10": ("train", "test"), "cifar100": ("train", "test"),
                 "mnist_idx": ("train", "test")}


def _to_float(x: np.ndarray) -> np.ndarray:
    """float32 images: integers scaled to [0, 1] by their type's maximum, floats as given."""
    if np.issubdtype(x.dtype, np.integer):
        return x.astype(np.float32) / np.float32(np.iinfo(x.dtype).max)
    return x.astype(np.float32)


def _normalise(cfg: DiskDatasetConfig, x: np.ndarray) -> np.ndarray:
    if not cfg.mean:
        return x
    channels = x.shape[1]
    if len(cfg.mean) not in (1, channels):
        raise _fail("mean", f"has {len(cfg.mean)} values but the images have {channels} "
                            f"channel(s): give one value, or one per channel")
    mean = np.asarray(cfg.mean, dtype=np.float32).reshape(1, -1, 1, 1)
    std = np.asarray(cfg.std, dtype=np.float32).reshape(1, -1, 1, 1)
    return (x - mean) / std


def _subset(x: np.ndarray, y: np.ndarray, n: int, seed: int) -> Arrays:
    """``n`` images chosen by a seeded permutation, kept in file order (all when n is 0
    or at least their number)."""
    if n <= 0 or n >= len(y):
        return x, y
    idx = np.sort(np.random.default_rng(seed).permutation(len(y))[:n])
    return x[idx], y[idx]


def read_split(cfg: DiskDatasetConfig, split: str, subset: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """One split of the data set: float32 images (N, C, H, W), scaled to [0, 1] and
    normalised as configured, and int64 labels (N,); ``subset`` images when it is > 0."""
    x, y = FORMATS[cfg.format](cfg, split)
    if len(y) == 0:
        raise _fail("root", f"{cfg.root}: split {split!r} holds no images")
    x, y = _subset(x, y, subset, cfg.seed)
    x = _normalise(cfg, _to_float(np.ascontiguousarray(x)))
    return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y))


def load_disk_dataset(cfg: DiskDatasetConfig, path: str = "") -> Split:
    """The train and test splits of ``cfg`` (subsets as configured); a bad root, file or
    setting raises :class:`ConfigError` under ``path`` (the config's params key)."""
    try:
        x_tr, y_tr = read_split(cfg, cfg.train_split, cfg.train_subset)
        x_te, y_te = read_split(cfg, cfg.test_split, cfg.test_subset)
    except ConfigError as err:
        raise err.under(path) from None
    if x_tr.shape[1:] != x_te.shape[1:]:
        raise ConfigError(f"{path}.root" if path else "root",
                          f"train images are {tuple(x_tr.shape[1:])} but test images "
                          f"{tuple(x_te.shape[1:])} (C, H, W)")
    return Split(x_tr, y_tr, x_te, y_te)


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (gzipped when ``path`` ends in ``.gz``): the
    format of MNIST's distribution, for a user converting their data and for tests."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    raw = header + array.tobytes()
    Path(path).write_bytes(gzip.compress(raw) if str(path).endswith(".gz") else raw)


def write_cifar_batch(path: str | Path, images: np.ndarray, labels: np.ndarray,
                      label_key: str = "labels") -> None:
    """Write images (N, 3, 32, 32) uint8 and labels as a CIFAR python batch (a pickled
    dict of ``b'data'`` (N, 3072) and ``b'<label_key>'``), as the distribution holds."""
    data = np.ascontiguousarray(images, dtype=np.uint8).reshape(len(images), -1)
    batch = {b"batch_label": b"written by functional_sim.studies.disk_data", b"data": data,
             label_key.encode(): [int(v) for v in labels]}
    buf = io.BytesIO()
    pickle.dump(batch, buf, protocol=2)
    Path(path).write_bytes(buf.getvalue())
