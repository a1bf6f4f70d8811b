"""Every datagen config value is checked where it is read, and a bad one is refused with
a SweepFieldError naming its path in params.yaml (``datagen.train.timeout_s``), not an
AttributeError or TypeError later, nor a sweep whose every sample fails."""

from __future__ import annotations

import math

import pytest
import yaml

from datagen.sweep import DatagenParams, SweepConfig, SweepFieldError, main
from spice_netlists import CrossbarSpec
from spice_netlists.netlist import SolverOptions


@pytest.mark.parametrize("section,path,says", [
    ({"train": {"timeout_s": math.nan}}, r"datagen\.train\.timeout_s", "finite, got nan"),
    ({"train": {"timeout_s": 0}}, r"datagen\.train\.timeout_s", "> 0, got 0"),
    ({"test": {"seed": 1, "timeout_s": -1}}, r"datagen\.test\.timeout_s", "> 0, got -1"),
    ({"train": {"timeout_s": math.inf}}, r"datagen\.train\.timeout_s", "finite, got inf"),
    ({"train": {"timeout_s": "600"}}, r"datagen\.train\.timeout_s", "number, got '600'"),
    ({"train": {"reltol": "abc"}}, r"datagen\.train\.reltol", "number, got 'abc'"),
    ({"train": {"reltol": -1}}, r"datagen\.train\.reltol", "> 0, got -1"),
    ({"train": {"reltol": 2.0}}, r"datagen\.train\.reltol", "<= 1, got 2.0"),
    ({"configs": None}, r"datagen\.configs", "list of crossbar overrides.*got None"),
    ({"configs": ["x"]}, r"datagen\.configs\[0\]", "mapping of crossbar overrides, got 'x'"),
    ({"configs": [{}, 5]}, r"datagen\.configs\[1\]", "got 5"),
    ({"configs": []}, r"datagen\.configs", "at least one"),
    ({"configs": "{}"}, r"datagen\.configs", "list"),
    ({"train": {"sampler": "uniform"}}, r"datagen\.train\.sampler", "mapping.*got 'uniform'"),
    ({"train": {"sampler": ["uniform"]}}, r"datagen\.train\.sampler", r"got \['uniform'\]"),
    ({"train": {"sampler": {"name": "gauss"}}}, r"datagen\.train\.sampler\.name", "'gauss'"),
    ({"train": {"sampler": {"name": 3}}}, r"datagen\.train\.sampler\.name", "got 3"),
    ({"train": {"sampler": {"nme": "uniform"}}}, r"datagen\.train\.sampler", r"unknown key\(s\) \['nme'\]"),
    ({"test": {"seed": 1, "sampler": {"max_input_sparsity": 1.5}}},
     r"datagen\.test\.sampler\.max_input_sparsity", "1.5"),
    ({"train": None}, r"datagen\.train", "mapping of sweep settings, got None"),
    ({"train": "fast"}, r"datagen\.train", "got 'fast'"),
    ({"train": {"scheduler": 8786}}, r"datagen\.train\.scheduler", "got 8786"),
    ({"train": {"workers": 1.5}}, r"datagen\.train\.workers", "integer"),
    ({"out_dir": None}, r"datagen\.out_dir", "got None"),
    ({"train": {"seed": 3}, "test": {"seed": 3}}, r"datagen\.test\.seed", "must differ"),
])
def test_a_bad_datagen_value_is_refused_naming_its_path(section, path, says):
    with pytest.raises(SweepFieldError, match=rf"^{path}(?=[ :]).*{says}"):
        DatagenParams.from_dict(section)


@pytest.mark.parametrize("section", ["x", ["train"], None, 5])
def test_a_datagen_section_that_is_not_a_mapping_is_refused(section):
    with pytest.raises(SweepFieldError, match=r"^datagen must be a mapping of settings, got"):
        DatagenParams.from_dict(section)


def test_sweep_config_checks_its_own_fields_when_built_directly():
    # built directly, a section names the field; from_dict adds the section's path
    with pytest.raises(SweepFieldError, match=r"^timeout_s .*nan"):
        SweepConfig(timeout_s=math.nan)
    with pytest.raises(SweepFieldError, match=r"^sampler must be a mapping"):
        SweepConfig(sampler="uniform")
    with pytest.raises(SweepFieldError, match=r"^sampler\.input_bits .*got 0"):
        SweepConfig(sampler={"name": "bitlevel", "input_bits": 0})


def test_every_datagen_error_is_a_config_error():
    from spice_netlists.config import ConfigError
    with pytest.raises(ConfigError, match=r"^datagen\.train\.timeout_s "):
        DatagenParams.from_dict({"train": {"timeout_s": 0}})
    assert issubclass(SweepFieldError, ConfigError)


@pytest.mark.parametrize("options,says", [
    ({"reltol": "abc"}, "reltol must be a number, got 'abc'"),
    ({"reltol": -1}, "reltol must be > 0, got -1"),
    ({"abstol": math.nan}, "abstol must be finite, got nan"),
    ({"pivrel": 5}, "pivrel must be <= 1, got 5"),
    ({"klu": "yes"}, "klu must be true or false, got 'yes'"),
])
def test_solver_options_refuse_values_ngspice_would_fail_every_sample_on(options, says):
    with pytest.raises(ValueError, match=f"^{says}"):
        SolverOptions(**options)


def _run_main(tmp_path, params) -> str:
    path = tmp_path / "params.yaml"
    path.write_text(params if isinstance(params, str) else yaml.safe_dump(params))
    with pytest.raises(SystemExit) as exc:
        main(["--params", str(path), "--summary", str(tmp_path / "s.json")])
    assert isinstance(exc.value.code, str)
    return exc.value.code


def test_the_datagen_stage_names_the_bad_value_and_simulates_nothing(tmp_path):
    crossbar = CrossbarSpec(rows=4, cols=4).to_dict()
    assert "mapping of sections" in _run_main(tmp_path, "")
    assert "mapping of sections" in _run_main(tmp_path, "- a\n- b\n")
    assert "datagen must be a mapping" in _run_main(tmp_path, {"crossbar": crossbar, "datagen": "x"})
    msg = _run_main(tmp_path, {"crossbar": crossbar, "datagen": {"train": {"timeout_s": 0}}})
    assert "datagen.train.timeout_s" in msg
    msg = _run_main(tmp_path, {"crossbar": crossbar, "datagen": {"configs": [{"rows": 0}]}})
    assert "datagen.configs[0].rows must be >= 1, got 0" in msg
    msg = _run_main(tmp_path, {"crossbar": crossbar, "datagen": {"configs": [{}, {"rws": 4}]}})
    assert "datagen.configs[1]: unknown key(s) ['rws']" in msg
    msg = _run_main(tmp_path, {"crossbar": crossbar, "datagen": {"configs": [{"g_off": 1.0}]}})
    assert "datagen.configs[0].g_off must be < g_on" in msg and "1.0" in msg
    msg = _run_main(tmp_path, {"crossbar": "4x4", "datagen": {}})
    assert "crossbar" in msg and "mapping" in msg
    assert not (tmp_path / "data").exists() and not (tmp_path / "s.json").exists()
