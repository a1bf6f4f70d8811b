"""Workload-derived (V, G) samples: what a network's bit-sliced tiles actually see.

:func:`workload_samples` runs a network converted with a :class:`SimConfig` on some
inputs and records every crossbar read: the streamed input voltages of one tile and that
tile's conductances. It returns a uniform random sample (without replacement, seeded)
of those reads, as numpy arrays V (M, rows) volts and G (M, rows, cols) siemens, for
datagen to simulate in SPICE (``datagen.samplers``' ``workload`` sampler reads an .npz
pool with arrays ``v`` and ``g``: :func:`save_pool`).

``python -m functional_sim.studies.workload --params params.yaml --net mnist_cnn --n 2000 \\
--out data/workload/mnist_cnn.npz`` writes such a pool for the ``crossbar`` spec
(``--v-read-max`` overrides its read voltage), from the network saved in ``nets_dir``
run on its own training images. :mod:`functional_sim.studies.workload_data` turns such pools
into SPICE datasets.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch import nn

from functional_sim.sim.config import SimConfig
from functional_sim.studies.config import StudyConfig
from functional_sim.sim.convert import convert, sim_layers
from spice_netlists import CrossbarSpec
from surrogate.base import CrossbarModel
from surrogate.ideal import IdealModel


class _Reservoir:
    """Keeps the ``n`` reads with the smallest random keys seen so far (a uniform
    sample without replacement of every read)."""

    def __init__(self, n: int, nonzero_only: bool, generator: torch.Generator) -> None:
        self.n, self.nonzero_only, self.gen = n, nonzero_only, generator
        self.keys = torch.zeros(0, dtype=torch.float64)
        self.v = torch.zeros(0, 0, dtype=torch.float64)
        self.tiles: list[tuple[str, int]] = []
        self.g: dict[str, torch.Tensor] = {}

    def __call__(self, layer: str, v: torch.Tensor, g: torch.Tensor) -> None:
        v = v.detach().to("cpu", torch.float64)
        n_vec, n_tiles, rows = v.shape
        flat = v.reshape(-1, rows)
        cand = flat.any(dim=1).nonzero().squeeze(1) if self.nonzero_only \
            else torch.arange(len(flat))
        if cand.numel() == 0:
            return
        self.g.setdefault(layer, g.detach().to("cpu", torch.float64))
        keys = torch.rand(cand.numel(), generator=self.gen, dtype=torch.float64)
        if cand.numel() > self.n:
            keys, order = keys.topk(self.n, largest=False)
            cand = cand[order]
        new_tiles = [(layer, int(i) % n_tiles) for i in cand]
        keys = torch.cat([self.keys, keys])
        v_all = torch.cat([self.v.reshape(-1, rows), flat[cand]])
        tiles = self.tiles + new_tiles
        if len(keys) > self.n:
            keys, order = keys.topk(self.n, largest=False)
            v_all = v_all[order]
            tiles = [tiles[int(i)] for i in order]
        self.keys, self.v, self.tiles = keys, v_all, tiles

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        order = self.keys.argsort()
        v = self.v[order].numpy()
        g = torch.stack([self.g[self.tiles[int(i)][0]][self.tiles[int(i)][1]] for i in order]) \
            if len(order) else torch.zeros(0, 0, 0, dtype=torch.float64)
        return v, g.numpy()


@torch.no_grad()
def workload_samples(net: nn.Module, config: SimConfig, inputs: torch.Tensor, n_samples: int,
                     *, model: CrossbarModel | None = None, seed: int = 0,
                     batch_size: int = 128, nonzero_only: bool = True,
                     layers: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(V, G) of ``n_samples`` crossbar reads drawn uniformly from all reads the network
    makes on ``inputs`` (fewer if it makes fewer).

    Args:
        net: a trained float network (it is converted here; it is not modified).
        config: the mapping and tile spec.
        inputs: a batch of network inputs.
        n_samples: how many reads to return.
        model: the crossbar model that computes the currents feeding later layers
            (default: the ideal crossbar of ``config.spec``).
        seed: seeds the choice.
        batch_size: inputs per forward pass.
        nonzero_only: skip reads whose voltages are all 0 V (they carry no current).
        layers: only these crossbar layers (names as in ``named_modules``); default all.

    Returns:
        V (M, rows) volts and G (M, rows, cols) siemens, float64, M <= n_samples.
    """
    model = IdealModel(config.spec) if model is None else model
    sim = convert(net, config, model).eval()
    reservoir = _Reservoir(n_samples, nonzero_only, torch.Generator().manual_seed(seed))
    for name, layer in sim_layers(sim):
        if layers is None or name in layers:
            layer.engine.recorder = reservoir
    for i in range(0, len(inputs), batch_size):
        sim(inputs[i:i + batch_size])
    return reservoir.arrays()


def save_pool(path: str | Path, v: np.ndarray, g: np.ndarray, config: SimConfig,
              **extra: np.ndarray) -> None:
    """Write a pool for datagen's ``workload`` sampler: arrays ``v``, ``g``, the spec
    (``spec``, YAML) and any ``extra`` arrays. The file appears whole or not at all."""
    import yaml

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.savez_compressed(f, v=v, g=g, spec=np.array(yaml.safe_dump(config.spec.to_dict())),
                            **extra)
    tmp.replace(path)


def training_images(cfg: StudyConfig, net: str, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` of the training images of network ``net`` (the split it was trained on,
    never its test images), chosen with a seeded permutation."""
    from functional_sim.studies.data import load_images
    from functional_sim.studies.nets import net_info

    x = load_images(net_info(net).dataset, seed=cfg.seed, datasets=cfg.datasets).x_train
    idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n]
    return x[idx.sort().values]


def record_pool(cfg: StudyConfig, spec: CrossbarSpec, net: str, images: int, n: int,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray, SimConfig]:
    """(V, G) of ``n`` reads of the trained network ``net`` (from ``cfg.nets_dir``) on
    ``images`` of its training images, on ``ideal`` tiles of ``spec`` mapped with
    ``cfg.sim``; and that SimConfig."""
    from functional_sim.studies.inference import load_net
    from functional_sim.studies.config import net_path

    path = net_path(cfg, net)
    if not path.exists():
        raise FileNotFoundError(f"no trained network {path}: run the train_nets stage "
                                f"(python -m functional_sim.studies.train_nets) first")
    sim = cfg.sim.with_(spec=spec)
    trained, _ = load_net(path)
    # in float64, so that the recorded voltages and conductances lie exactly on the DAC
    # and slice levels within [0, v_read_max] and [g_off, g_on] (float32 tiles do not)
    v, g = workload_samples(trained.double(), sim,
                            training_images(cfg, net, images, seed).double(), n, seed=seed)
    return v, g, sim


def main(argv: list[str] | None = None) -> None:
    from functional_sim.studies.config import base_spec, read_params, study_config

    parser = argparse.ArgumentParser(description="Write a workload (V, G) pool for datagen.")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--net", default="mnist_cnn")
    parser.add_argument("--n", type=int, default=2000, help="reads in the pool")
    parser.add_argument("--images", type=int, default=64, help="training images run")
    parser.add_argument("--seed", type=int, default=None,
                        help="seeds the images and reads (default: functional_sim.seed)")
    parser.add_argument("--v-read-max", type=float, default=None,
                        help="read voltage (default: the crossbar section's)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    params = read_params(args.params)
    cfg = study_config(params)
    spec = base_spec(params)
    if args.v_read_max is not None:
        spec = spec.with_(v_read_max=args.v_read_max)
    seed = cfg.seed if args.seed is None else args.seed
    v, g, sim = record_pool(cfg, spec, args.net, args.images, args.n, seed)
    save_pool(args.out, v, g, sim)
    print(f"{args.out}: {len(v)} workload samples from {args.net} on {sim.spec.label}")


if __name__ == "__main__":
    main()
