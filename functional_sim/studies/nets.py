"""The study's networks: an MLP and a small CNN per dataset, and a deeper residual network
for MNIST (``mnist_resnet``: 7 crossbar layers, so that tile errors compound through
depth as in GENIEx's ResNets). These are sized for 32×32 tiles and for bit-sliced
simulation on a few CPU cores (strided convolutions keep im2col small). Beside them,
the field's benchmark, He et al.'s ResNet-20 for CIFAR-10 and CIFAR-100
(``cifar10_resnet20``, ``cifar100_resnet20``), for data read from disk
(``functional_sim.datasets``: CIFAR is not bundled).

``NETS[name]`` gives the dataset a network is trained on and a builder; ``build(name)``
returns a freshly initialised network (seed it with ``torch.manual_seed`` first). A name
may carry a training seed offset (``mnist_resnet@1``): the same architecture, trained
from another seed (:func:`split_name`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from spice_netlists.config import ConfigError


def mnist_mlp() -> nn.Module:
    """784-64-10 MLP."""
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))


def mnist_cnn() -> nn.Module:
    """conv5×5/2 (8) → conv3×3/2 (16) → linear: 28→12→5, 400 features."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 5, stride=2), nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2), nn.ReLU(),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 10))


class Residual(nn.Module):
    """``relu(x + body(x))``: a residual block whose skip path is the identity (digital)."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.body(x))


def mnist_resnet() -> nn.Module:
    """A small ResNet, 7 crossbar layers: conv8×8/4 (16) → residual block of two 3×3 convs
    (16, 6×6) → max-pool → linear 144→64 → residual block of two 64→64 linears → linear.

    28 → 6 → 6 → 3: the 8×8/4 stem (64 inputs, one 64-row tile) keeps the convolutions
    at 36 positions per image. Batch norm follows every crossbar layer but the head; it
    stays digital in :func:`functional_sim.sim.convert.convert` (not folded into the
    weights), as do the ReLUs, the max-pool and the residual additions. Without it this
    net reached ~95 % on the MNIST sample with the study's training settings, with it
    over 97 %.
    """
    return nn.Sequential(
        nn.Conv2d(1, 16, 8, stride=4), nn.BatchNorm2d(16), nn.ReLU(),
        Residual(nn.Sequential(
            nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16))),
        nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * 3 * 3, 64), nn.BatchNorm1d(64), nn.ReLU(),
        Residual(nn.Sequential(
            nn.Linear(64, 64), nn.BatchNorm1d(64), nn.ReLU(),
            nn.Linear(64, 64), nn.BatchNorm1d(64))),
        nn.Linear(64, 10))


def digits_mlp() -> nn.Module:
    """64-32-10 MLP."""
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


def digits_cnn() -> nn.Module:
    """conv3×3 (8) → pool → conv3×3 (16) → pool → linear: 8→4→2, 64 features."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 2 * 2, 10))


class DownsampleSkip(nn.Module):
    """He et al.'s option-A shortcut: the identity subsampled by ``stride`` and padded
    with zero channels up to ``channels`` (no weights, so it stays digital)."""

    def __init__(self, stride: int, channels: int) -> None:
        super().__init__()
        self.stride, self.channels = stride, channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, ::self.stride, ::self.stride]
        extra = self.channels - x.shape[1]
        return nn.functional.pad(x, (0, 0, 0, 0, extra // 2, extra - extra // 2))


class BasicBlock(nn.Module):
    """Two 3×3 convolutions with batch norm, ``relu(body(x) + skip(x))``; the skip is the
    identity, or :class:`DownsampleSkip` where the block halves the size and widens."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout))
        self.skip = nn.Identity() if stride == 1 and cin == cout else DownsampleSkip(stride, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


def cifar_resnet(depth: int = 20, num_classes: int = 10, in_channels: int = 3,
                 width: int = 16) -> nn.Module:
    """He et al.'s CIFAR ResNet (depth 6n + 2: 20, 32, 44, 56, 110): a 3×3 stem of
    ``width`` channels, three stages of n basic blocks at ``width``, 2·``width`` and
    4·``width`` channels (32×32 → 16×16 → 8×8 for CIFAR's images), option-A shortcuts,
    global average pooling and a linear head. ResNet-20 has 19 convolutions and the
    head (0.27 M weights); every one maps onto crossbars, the rest stays digital."""
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(f"a CIFAR ResNet's depth is 6n + 2 (20, 32, 44, 56, 110), got {depth}")
    n = (depth - 2) // 6
    layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
                               nn.BatchNorm2d(width), nn.ReLU()]
    cin = width
    for stage in range(3):
        cout = width * 2 ** stage
        for block in range(n):
            layers.append(BasicBlock(cin, cout, 2 if stage and block == 0 else 1))
            cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes)]
    return nn.Sequential(*layers)


def cifar10_resnet20() -> nn.Module:
    """ResNet-20 for CIFAR-10 (:func:`cifar_resnet`, depth 20, 10 classes)."""
    return cifar_resnet(20, 10)


def cifar100_resnet20() -> nn.Module:
    """ResNet-20 for CIFAR-100 (:func:`cifar_resnet`, depth 20, 100 classes), GENIEx's
    CIFAR benchmark."""
    return cifar_resnet(20, 100)


@dataclass(frozen=True)
class NetInfo:
    """A study network: the dataset it classifies and its builder."""

    dataset: str
    builder: Callable[[], nn.Module]


NETS: dict[str, NetInfo] = {
    "mnist_mlp": NetInfo("mnist", mnist_mlp),
    "mnist_cnn": NetInfo("mnist", mnist_cnn),
    "mnist_resnet": NetInfo("mnist", mnist_resnet),
    "digits_mlp": NetInfo("digits", digits_mlp),
    "digits_cnn": NetInfo("digits", digits_cnn),
    # data sets read from disk (functional_sim.datasets names them; none is bundled)
    "cifar10_resnet20": NetInfo("cifar10", cifar10_resnet20),
    "cifar100_resnet20": NetInfo("cifar100", cifar100_resnet20),
}


#: a network name may carry a training seed: ``mnist_resnet@2`` is the architecture
#: ``mnist_resnet`` trained with ``functional_sim.train.seed`` + 2, a second network of
#: the same kind (a study over several trainings of one architecture names them all)
SEED_MARK = "@"


def split_name(name: str) -> tuple[str, int]:
    """(architecture, training-seed offset) of a network name: ``"mnist_resnet@2"`` ->
    ``("mnist_resnet", 2)``, ``"mnist_resnet"`` -> ``("mnist_resnet", 0)``; ValueError
    naming the choices for anything else."""
    base, mark, offset = name.partition(SEED_MARK) if isinstance(name, str) else (name, "", "")
    if base in NETS and not mark:
        return base, 0
    if base in NETS and offset.isdigit() and offset == str(int(offset)) and int(offset) >= 1:
        return base, int(offset)
    raise ValueError(f"unknown network {name!r}; choose one of {', '.join(net_names())}, "
                     f"or one of them with a training seed offset >= 1 (e.g. "
                     f"mnist_resnet{SEED_MARK}1)")


def net_info(name: str) -> NetInfo:
    """The dataset and builder of network ``name`` (its architecture's)."""
    return NETS[split_name(name)[0]]


def build(name: str) -> nn.Module:
    """A new, untrained network called ``name``."""
    return net_info(name).builder()


def net_names() -> tuple[str, ...]:
    """The names of :data:`NETS`, sorted (the architectures a config's network names are
    checked against; see :func:`check_net_name`)."""
    return tuple(sorted(NETS))


def check_net_name(field: str, value: Any) -> str:
    """``value`` if it names a network (:func:`split_name`), else :class:`ConfigError` at
    ``field``."""
    try:
        split_name(value)
    except ValueError as err:
        raise ConfigError(field, f"must name a network: {err}") from None
    return value


def check_net_names(field: str, value: Any) -> tuple[str, ...]:
    """``value`` as a tuple of network names (a list, not one string), else
    :class:`ConfigError` at ``field``."""
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ConfigError(field, f"must be a list of networks, got {value!r}")
    for item in value:
        check_net_name(field, item)
    return tuple(value)
