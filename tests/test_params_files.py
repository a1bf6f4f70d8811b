"""Every parameter set the project ships passes every section's checks.

``params.yaml`` is read as is; each file under ``params/`` is merged over it the way
``scripts/exp_args.py`` turns it into ``dvc exp run -S`` flags, so a named experiment
cannot fail on a stale or misspelt key after an hour of ngspice.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from datagen.config import DatagenParams
from functional_sim.studies.config import study_config, study_specs
from spice_netlists.config import read_params, section
from spice_netlists.spec import load_spec_from_params
from surrogate.stages.config import load_params

ROOT = Path(__file__).resolve().parents[1]


def _merge(base: dict, other: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in other.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@pytest.mark.parametrize("name", ["params.yaml"] + sorted(
    str(p.relative_to(ROOT)) for p in (ROOT / "params").glob("*.yaml")))
def test_shipped_parameter_sets_pass_every_sections_checks(name, tmp_path):
    params = read_params(ROOT / "params.yaml")
    if name != "params.yaml":
        params = _merge(params, yaml.safe_load((ROOT / name).read_text()))
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    spec = load_spec_from_params(params)
    datagen = DatagenParams.from_dict(section(params, "datagen"), "datagen")
    surrogate = load_params(path)
    study = study_config(params)
    assert set(surrogate.datasets) == {s.tag for s in datagen.specs(params)}
    assert spec.rows >= 1 and study_specs(params, study)
