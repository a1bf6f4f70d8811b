"""A network name may carry a training seed offset (``mnist_resnet@1``): the same
architecture trained from another seed, a second network a study judges beside the first.
"""

from __future__ import annotations

import pytest
import torch

from functional_sim.studies.config import GroundTruthConfig, StudyConfig, TrainConfig
from functional_sim.studies.data import load_images
from functional_sim.studies.nets import build, net_info, split_name
from functional_sim.studies.train_nets import train, training_seed
from spice_netlists.config import ConfigError


@pytest.mark.parametrize("name,want", [("mnist_resnet", ("mnist_resnet", 0)),
                                       ("mnist_resnet@1", ("mnist_resnet", 1)),
                                       ("digits_mlp@12", ("digits_mlp", 12))])
def test_a_name_splits_into_architecture_and_seed_offset(name, want):
    assert split_name(name) == want
    assert net_info(name).dataset == net_info(want[0]).dataset
    assert type(build(name)) is type(build(want[0]))


@pytest.mark.parametrize("name", ["mnist_resnet@0", "mnist_resnet@", "mnist_resnet@-1",
                                  "mnist_resnet@01", "mnist_resnet@x", "resnet@1", "@1"])
def test_a_bad_seed_variant_is_refused_naming_the_choices(name):
    with pytest.raises(ValueError, match=r"unknown network .*mnist_resnet@1"):
        split_name(name)


def test_configs_take_seed_variants_and_name_the_field_of_a_bad_one():
    gt = GroundTruthConfig(nets=("mnist_resnet", "mnist_resnet@1", "mnist_resnet@2"),
                           max_images={"mnist_resnet@2": 10})
    assert gt.nets[-1] == "mnist_resnet@2"
    assert TrainConfig(nets=("digits_mlp", "digits_mlp@1")).nets[1] == "digits_mlp@1"
    with pytest.raises(ConfigError, match=r"^ground_truth\.nets.*mnist_resnet@0"):
        StudyConfig.from_dict({"ground_truth": {"nets": ["mnist_resnet@0"]}})
    with pytest.raises(ConfigError, match=r"^train\.nets.*must be a list"):
        StudyConfig.from_dict({"train": {"nets": "mnist_resnet@1"}})


def test_a_seed_variant_trains_from_its_own_seed():
    cfg = TrainConfig(nets=("digits_mlp", "digits_mlp@1", "digits_mlp@2"), epochs=1, seed=5)
    assert [training_seed(n, cfg) for n in cfg.nets] == [5, 6, 7]
    split = load_images("digits")
    plain, first = train("digits_mlp", split, cfg), train("digits_mlp@1", split, cfg)
    again = train("digits_mlp@1", split, cfg)
    weights = [next(iter(n.state_dict().values())) for n in (plain, first, again)]
    assert not torch.equal(weights[0], weights[1])   # another network
    assert torch.equal(weights[1], weights[2])       # and reproducibly so (same process)
