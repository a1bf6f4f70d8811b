"""Every params.yaml section is a ConfigSection that documents each of its fields (an
``Attributes:`` block of its docstring) and round-trips through ``from_dict(to_dict())``.

Each package appends its migrated sections to ``SECTIONS`` (an example instance each,
preferably one with non-default values).
"""

from __future__ import annotations

import pytest

from datagen.samplers import SamplerConfig
from datagen.config import DatagenParams, SweepConfig
from functional_sim.sim.config import SimConfig
from functional_sim.studies.config import (GroundTruthConfig, StudyConfig, TrainConfig,
                                           WorkloadConfig)
from spice_netlists.config import ConfigSection
from spice_netlists.netlist import SolverOptions
from spice_netlists.spec import CrossbarSpec, TransistorSpec

SECTIONS: list[ConfigSection] = [
    # spice_netlists
    CrossbarSpec(rows=8, cols=4, device="1t1r", transistor=TransistorSpec(kp=3e-4)),
    TransistorSpec(v_gate=2.5, lambda_=0.01),
    SolverOptions(reltol=1e-6, klu=False),
    # datagen
    SamplerConfig(name="bitlevel", input_bits=3, max_weight_sparsity=0.5),
    SweepConfig(n_samples=10, seed=4, sampler={"name": "workload", "workload_pool": "p.npz"},
                engine="circuit", check_fraction=0.5),
    DatagenParams(configs=({}, {"rows": 8}), train=SweepConfig(seed=2), out_dir="x"),
    SamplerConfig(name="coverage", min_input_sparsity=0.1, dense_fraction=0.3, g_mean_low=0.4),
    DatagenParams(held_out={"dense": SweepConfig(seed=7, sampler={"name": "coverage",
                                                                  "max_input_sparsity": 0})}),
    # functional_sim
    SimConfig(adc_bits=10, negative_weights="offset", spec=CrossbarSpec(rows=8, cols=4)),
    TrainConfig(nets=("digits_mlp",), epochs=2, lr=0.01),
    GroundTruthConfig(enabled=False, models=("ideal",), reference="analytical"),
    WorkloadConfig(net="digits_cnn", images=8, pool_size=30, train_samples=20, test_samples=5),
    StudyConfig(crossbar_model="analytical", settings=({"v_read_max": 0.3},), sim=SimConfig(adc_bits=9),
                train={"epochs": 3}, workload={"images": 4}),
]


def _name(section: ConfigSection) -> str:
    return type(section).__name__


@pytest.mark.parametrize("section", SECTIONS, ids=_name)
def test_every_field_is_documented(section: ConfigSection) -> None:
    assert isinstance(section, ConfigSection)
    assert type(section).undocumented_fields() == []


@pytest.mark.parametrize("section", SECTIONS, ids=_name)
def test_the_section_round_trips(section: ConfigSection) -> None:
    data = section.to_dict()
    again = type(section).from_dict(data)
    assert again == section
    assert again.to_dict() == data

# surrogate
from surrogate.stages.config import BenchParams, EvaluateParams, SurrogateParams  # noqa: E402
from surrogate.geniex import GeniexConfig  # noqa: E402

SECTIONS += [
    GeniexConfig(target="ratio", hidden=(16, 8), lr=1e-3, device="cpu"),
    EvaluateParams(parity_points=10, hist_bins=5),
    BenchParams(sizes=(4,), tiles=2, repeats=1, hidden=(8,)),
    SurrogateParams(datasets=("a",), variants={"geniex": GeniexConfig(epochs=3)},
                    extra_test_sets={"w": "d"}, held_out=("dense",), bench=BenchParams(tiles=3)),
]
