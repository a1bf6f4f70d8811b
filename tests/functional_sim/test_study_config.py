"""functional_sim configs validate their fields and round-trip through params.yaml."""

from __future__ import annotations

from pathlib import Path

import re

import pytest
import yaml

from functional_sim.sim.config import SimConfig
from functional_sim.studies.config import (ConfigError, GroundTruthConfig, StudyConfig,
                                           TrainConfig, WorkloadConfig, geniex_checkpoint,
                                           study_config)
from functional_sim.sim.nonideal_config import NonidealConfig
from functional_sim.studies.disk_data import DiskDatasetConfig
from spice_netlists import config as base
from spice_netlists import CrossbarSpec
from tests.support import REPO_ROOT


def test_sim_config_round_trips_through_yaml() -> None:
    cfg = SimConfig(weight_bits=6, bits_per_slice=3, negative_weights="offset",
                    spec=CrossbarSpec(rows=16, cols=8, device="sinh", v_read_max=0.5))
    again = SimConfig.from_dict(yaml.safe_load(yaml.safe_dump(cfg.to_dict())))
    assert again == cfg


def test_a_network_of_a_data_set_not_bundled_needs_its_datasets_entry() -> None:
    with pytest.raises(ConfigError, match=r"^functional_sim\.train\.nets names cifar10_resnet20, "
                                          r"which classifies cifar10: .*functional_sim\.datasets\.cifar10"):
        StudyConfig.from_dict({"train": {"nets": ["digits_mlp", "cifar10_resnet20"]}},
                              "functional_sim")
    cfg = StudyConfig.from_dict({"train": {"nets": ["cifar10_resnet20"]},
                                 "datasets": {"cifar10": {"format": "cifar10", "root": "x"}}})
    assert cfg.datasets["cifar10"].root == "x"


@pytest.mark.parametrize("datasets, expect", [
    ({"mnist": {"format": "npz", "root": "x"}}, r"^functional_sim\.datasets\.mnist is a bundled"),
    ({"mine": {"format": "npz"}}, r"^functional_sim\.datasets\.mine\.root must be"),
    ({"mine": "data/mine.npz"}, r"^functional_sim\.datasets\.mine must be a mapping"),
    (["mine"], r"^functional_sim\.datasets must be a mapping"),
])
def test_bad_datasets_entries_name_their_key(datasets, expect) -> None:
    with pytest.raises(ConfigError, match=expect):
        StudyConfig.from_dict({"datasets": datasets}, "functional_sim")


def test_study_section_round_trips_exactly() -> None:
    section = {
        "crossbar_model": "geniex", "models": ["analytical", "geniex"], "settings": [{"v_read_max": 0.25}, {"rows": 64, "cols": 64, "g_on": 4.0e-05}],
        "test_subset": 200, "batch_size": 50, "nets_dir": "models/nets",
        "seed": 3, "shard_images": 50, "scheduler": "tcp://10.0.0.2:8786",
        "sim": {"weight_bits": 8, "input_bits": 8, "bits_per_slice": 2, "bits_per_stream": 1,
                "adc_bits": 9, "negative_weights": "differential", "weight_scale": "per_layer",
                "mapping": "mdm",
                "nonideal": NonidealConfig(seed=2, levels=16, programming={"sigma": 0.05},
                                           drift={"t_s": 3600.0, "compensation": True}).to_dict()},
        "train": {"nets": ["digits_mlp"], "epochs": 2, "batch_size": 32, "lr": 0.01,
                  "weight_decay": 0.0, "seed": 1},
        "ground_truth": {"enabled": False, "nets": ["digits_mlp", "mnist_cnn"],
                         "models": ["ideal", "analytical"], "reference": "circuit",
                         "max_images": {"mnist_cnn": 100}, "spice_check_net": "digits_mlp", "spice_check_images": 2,
                         "spice_check_settings": ["32x32/sinh/Ron100k/0.25V"]},
        "workload": WorkloadConfig(images=8).to_dict(),
        "sensitivity": {"enabled": True, "net": "digits_mlp", "images": 30, "setting": "",
                        "reference": "circuit", "models": ["ideal"], "seeds": [0, 1],
                        "sweeps": {"sigma": {"path": "programming.sigma", "values": [0.0, 0.1],
                                             "log_x": False}},
                        "mappings": ["identity", "mdm"]},
        "aware_training": {"enabled": True, "net": "digits_mlp", "setting": "",
                           "models": ["analytical_device"], "reference": "circuit",
                           "nonideal": {"programming": {"sigma": 0.1}}, "train_nonideal": False,
                           "epochs": 2, "train_images": 100, "batch_size": 20, "lr": 0.001,
                           "seed": 1, "out_dir": "models/aware"},
        "datasets": {"cifar10": DiskDatasetConfig(format="cifar10", root="data/cifar10",
                                                  mean=(0.49, 0.48, 0.45), std=(0.25, 0.24, 0.26),
                                                  test_subset=100).to_dict()},
    }
    cfg = StudyConfig.from_dict(yaml.safe_load(yaml.safe_dump(section)))
    assert cfg.to_dict() == section
    assert cfg.all_models == ("ideal", "analytical", "geniex")


@pytest.mark.parametrize("changes", [{"weight_bits": 1}, {"negative_weights": "twos"},
                                     {"weight_scale": "per_row"}, {"adc_bits": 0},
                                     {"bits_per_stream": 2.0}])
def test_bad_sim_values_name_the_field(changes: dict) -> None:
    with pytest.raises(ConfigError, match=next(iter(changes))):
        SimConfig(**changes)


def test_unknown_keys_are_errors() -> None:
    with pytest.raises(ConfigError, match="adc_bitz"):
        StudyConfig.from_dict({"sim": {"adc_bitz": 3}})


def test_offset_scheme_reserves_one_reference_column() -> None:
    assert SimConfig(negative_weights="offset", spec=CrossbarSpec(cols=16)).cols_per_tile == 15
    assert SimConfig(spec=CrossbarSpec(cols=16)).cols_per_tile == 16


def test_geniex_checkpoint_is_named_by_the_spec_tag() -> None:
    spec = CrossbarSpec(rows=32, cols=32, device="sinh", v_read_max=0.25)
    assert geniex_checkpoint(StudyConfig(models_dir="m"), spec).as_posix() \
        == "m/geniex/32x32_sinh_Ron100k_0.25V.pt" == f"m/geniex/{spec.tag}.pt"


def test_the_checkpoints_dir_is_the_surrogates_models_dir() -> None:
    assert study_config({}).models_dir == "models"
    cfg = study_config({"surrogate": {"models_dir": "elsewhere"}, "functional_sim": {}})
    assert cfg.models_dir == "elsewhere" and "models_dir" not in cfg.to_dict()
    assert cfg.with_overrides({"seed": 2}).models_dir == "elsewhere"
    with pytest.raises(ConfigError, match=r"^functional_sim\.geniex_dir is no longer a key.*"
                                          r"surrogate\.models_dir"):
        study_config({"functional_sim": {"geniex_dir": "models/geniex"}})
    with pytest.raises(ConfigError, match=r"^functional_sim: unknown key.*models_dir"):
        study_config({"functional_sim": {"models_dir": "x"}})
    with pytest.raises(ConfigError, match=r"^surrogate\.models_dir"):
        study_config({"surrogate": {"models_dir": ""}})


@pytest.mark.parametrize("changes", [{"nets": ["digits_mpl"]}, {"nets": []},
                                     {"max_images": {"mnist": 10}},
                                     {"max_images": {"digits_mlp": 0}},
                                     {"max_images": [10]},
                                     {"spice_check_net": "mnist"}, {"spice_check_settings": "all"},
                                     {"models": "ideal"}, {"enabled": "yes"},
                                     {"spice_check_images": -1}, {"spice_check_images": 2.0},
                                     {"spice_check_images": True},
                                     {"reference": "spice", "spice_check_images": 8}])
def test_ground_truth_names_a_bad_value_before_any_spice_run(changes: dict) -> None:
    field = next(reversed(changes))
    with pytest.raises(ConfigError, match=rf"^{field}\b"):
        GroundTruthConfig(**changes)
    with pytest.raises(ConfigError, match=rf"^functional_sim\.ground_truth\.{field}\b"):
        study_config({"functional_sim": {"ground_truth": changes}})
    assert GroundTruthConfig(models=["analytical_device", "geniex"], reference="analytical")


@pytest.mark.parametrize("changes", [{"models": ["ideal", "analytic"]}, {"reference": "spcie"},
                                     {"reference": "circuitt"}, {"models": ["geniex_workload"]}])
def test_ground_truth_model_names_are_factories_or_the_params_variants(changes: dict) -> None:
    field = next(reversed(changes))
    with pytest.raises(ConfigError, match=rf"^functional_sim\.ground_truth\.{field}\b"):
        study_config({"surrogate": {"variants": {"geniex": {}}},
                      "functional_sim": {"crossbar_model": "geniex", "models": ["geniex"],
                                         "ground_truth": {"models": ["ideal"], **changes}}})
    # a variant of surrogate.variants is a model name; its checkpoint is its own
    params = {"surrogate": {"variants": {"geniex": {}, "geniex_workload": {}}},
              "functional_sim": {"crossbar_model": "geniex_workload", "models": ["geniex_workload"],
                                 "ground_truth": {"models": ["geniex_workload"]}}}
    cfg = study_config(params)
    assert cfg.ground_truth.models == ("geniex_workload",)
    spec = CrossbarSpec(rows=8, cols=8)
    assert geniex_checkpoint(cfg, spec, "geniex_workload").as_posix() == \
        f"models/geniex_workload/{spec.tag}.pt"
    # SPICE as the reference is allowed without the (then redundant) SPICE check
    assert GroundTruthConfig(reference="spice", spice_check_images=0).reference == "spice"


def test_ground_truth_images_come_from_the_study_test_subset() -> None:
    # the reference runs on functional_sim.test_subset images: no second count
    with pytest.raises(ConfigError, match=r"^ground_truth\.n_images.*test_subset"):
        StudyConfig.from_dict({"ground_truth": {"n_images": 8}})
    # other stages are not held to the ground truth's image counts
    assert StudyConfig(test_subset=4, ground_truth={"spice_check_images": 8})


def test_ground_truth_defaults_are_the_params_yaml_values() -> None:
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    section = params["functional_sim"]["ground_truth"]
    assert GroundTruthConfig.from_dict(section) == GroundTruthConfig()
    assert GroundTruthConfig().to_dict() == section
    assert params["functional_sim"]["test_subset"] == StudyConfig().test_subset
    assert GroundTruthConfig().reference == "circuit"


def test_train_nets_must_be_study_networks() -> None:
    with pytest.raises(ConfigError, match=r"^nets.*'mnist_clp'"):
        TrainConfig(nets=("mnist_mlp", "mnist_clp"))


SECTIONS = (SimConfig, TrainConfig, GroundTruthConfig, WorkloadConfig, StudyConfig)


@pytest.mark.parametrize("cls", SECTIONS, ids=lambda c: c.__name__)
def test_sections_derive_from_the_config_base_and_document_every_field(cls: type) -> None:
    assert issubclass(cls, base.ConfigSection)
    assert cls.undocumented_fields() == []


def test_one_config_error() -> None:
    assert ConfigError is base.ConfigError


def test_every_default_is_the_params_yaml_value() -> None:
    section = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())["functional_sim"]
    assert StudyConfig.from_dict(section, "functional_sim") == StudyConfig()
    assert StudyConfig().to_dict() == section


@pytest.mark.parametrize("section, path", [
    ({"sim": {"adc_bits": 0}}, "functional_sim.sim.adc_bits"),
    ({"sim": {"adc_bitz": 3}}, "functional_sim.sim: unknown key"),
    ({"sim": {"crossbar_model": "ideal"}}, "functional_sim.sim: unknown key"),
    ({"ground_truth": {"models": ["ideal", "x"]}}, "functional_sim.ground_truth.models"),
    ({"train": {"lr": -1}}, "functional_sim.train.lr"),
    ({"workload": {"images": 0}}, "functional_sim.workload.images"),
    ({"voltages": [0.25, 0.5]}, "functional_sim.voltages is no longer a key"),
    ({"settings": [{"v_read_max": 0.25}, {"g_onn": 1}]}, "functional_sim.settings[1]: unknown key"),
    ({"settings": {"v_read_max": 0.25}}, "functional_sim.settings"),
    ({"ground_truth": {"net": "digits_mlp"}}, "functional_sim.ground_truth.net is no longer"),
    ({"crossbar_model": "geniexx"}, "functional_sim.crossbar_model"),
    ({"modelz": []}, "functional_sim: unknown key"),
])
def test_errors_name_the_full_params_yaml_path(section: dict, path: str) -> None:
    with pytest.raises(ConfigError, match="^" + re.escape(path)) as err:
        study_config({"functional_sim": section})
    assert err.value.path == path.split(":")[0].split(" ")[0]


def test_dotted_overrides_as_dvc_exp_run_writes_them() -> None:
    cfg = StudyConfig().with_overrides({"sim.adc_bits": 10, "crossbar_model": "analytical"},
                                       "functional_sim")
    assert (cfg.sim.adc_bits, cfg.crossbar_model) == (10, "analytical")
    with pytest.raises(ConfigError, match=r"^functional_sim\.sim\.adc_bits"):
        StudyConfig().with_overrides({"sim.adc_bits": 0}, "functional_sim")


def test_study_settings_default_to_the_datagen_configs_and_override_the_crossbar() -> None:
    from functional_sim.studies.config import study_specs

    params = {"crossbar": {"rows": 32, "cols": 32, "device": "sinh", "v_read_max": 0.25},
              "datagen": {"configs": [{"v_read_max": 0.25}, {"rows": 64, "cols": 64}]},
              "functional_sim": {}}
    labels = [s.label for s in study_specs(params)]
    assert labels == ["32x32/sinh/Ron100k/0.25V", "64x64/sinh/Ron100k/0.25V"]
    params["functional_sim"] = {"settings": [{"g_on": 4.0e-05, "g_off": 1.0e-05},
                                             {"device": "1t1r", "v_read_max": 0.5}]}
    specs = study_specs(params)
    assert [s.label for s in specs] == ["32x32/sinh/Ron25k/0.25V", "32x32/1t1r/Ron100k/0.5V"]
    assert specs[0].g_off == 1.0e-05 and specs[1].rows == 32
    # two settings that differ in a field the tag leaves out would share checkpoints
    params["functional_sim"] = {"settings": [{"r_wire_row": 1.0}, {"r_wire_row": 3.0}]}
    with pytest.raises(ConfigError, match=r"^functional_sim\.settings.*share the tag"):
        study_specs(params)
