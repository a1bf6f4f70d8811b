"""CrossbarSpec rejects every bad value with an error naming the field and value, and
round-trips through YAML / params.yaml."""

from __future__ import annotations

import math

import pytest
import yaml

from spice_netlists import CrossbarSpec, SpecError, TransistorSpec, load_spec_from_params


@pytest.mark.parametrize("field,value", [
    ("rows", 0), ("cols", -3), ("rows", 2.5), ("rows", "64"), ("cols", True),
    ("r_source", -1.0), ("r_sink", math.nan), ("r_wire_row", math.inf), ("r_wire_col", "2"),
    ("g_on", 0.0), ("g_off", -1e-6), ("g_on", math.nan), ("v_read_max", 0.0),
    ("v_read_max", "0.25"), ("sinh_a", -2.0), ("device", "memristor"), ("device", 3),
])
def test_bad_value_raises_error_naming_field_and_value(field, value):
    with pytest.raises(SpecError) as err:
        CrossbarSpec(**{field: value})
    assert field in str(err.value) and repr(value) in str(err.value)


def test_g_off_not_below_g_on_is_rejected():
    with pytest.raises(SpecError, match="g_off"):
        CrossbarSpec(g_on=1e-5, g_off=1e-5)


def test_bad_transistor_value_names_the_transistor_field():
    with pytest.raises(SpecError, match=r"transistor\.kp"):
        CrossbarSpec(device="1t1r", transistor={"kp": -1.0})


def test_unknown_field_in_params_is_rejected():
    with pytest.raises(SpecError, match="r_wire"):
        CrossbarSpec.from_dict({"rows": 4, "r_wire": 2.0})


def test_zero_parasitics_are_valid():
    spec = CrossbarSpec(r_source=0, r_sink=0, r_wire_row=0, r_wire_col=0)
    assert spec.r_source == 0.0


def test_spec_round_trips_through_yaml(tmp_path):
    spec = CrossbarSpec(rows=8, cols=24, device="1t1r", r_wire_row=3.5,
                        transistor=TransistorSpec(v_gate=2.5))
    path = tmp_path / "spec.yaml"
    spec.save(path)
    assert CrossbarSpec.load(path) == spec
    assert yaml.safe_load(path.read_text())["transistor"]["v_gate"] == 2.5


def test_spec_from_params_applies_overrides():
    params = {"crossbar": {"rows": 32, "cols": 32, "device": "sinh"}}
    spec = load_spec_from_params(params, v_read_max=0.5)
    assert (spec.rows, spec.device, spec.v_read_max) == (32, "sinh", 0.5)
    assert spec.full_scale_current == pytest.approx(32 * spec.g_on * 0.5)


def test_unknown_transistor_field_is_rejected_by_the_constructor_too():
    with pytest.raises(SpecError, match=r"transistor: unknown key\(s\) \['vt'\]"):
        CrossbarSpec(device="1t1r", transistor={"vt": 1.0})


def test_tag_names_size_device_and_voltage():
    assert CrossbarSpec(rows=64, cols=16, device="sinh", v_read_max=0.5).tag == "64x16_sinh_Ron100k_0.5V"


def test_errors_name_the_params_path_and_are_config_errors():
    from spice_netlists.config import ConfigError
    assert issubclass(SpecError, ConfigError)
    with pytest.raises(SpecError, match=r"^crossbar\.transistor\.kp must be > 0, got -1\.0"):
        load_spec_from_params({"crossbar": {"device": "1t1r", "transistor": {"kp": -1}}})
    with pytest.raises(SpecError, match=r"^crossbar\.rows must be >= 1, got 0"):
        load_spec_from_params({"crossbar": {"rows": 0}})
    with pytest.raises(SpecError, match=r"^crossbar: unknown key\(s\) \['r_wire'\]"):
        load_spec_from_params({"crossbar": {"r_wire": 2.0}})


def test_overrides_are_checked_again_and_keep_the_numbers_floats():
    spec = CrossbarSpec(r_source=0, g_on=1)
    assert spec.to_dict()["r_source"] == 0.0 and isinstance(spec.to_dict()["g_on"], float)
    assert spec.with_overrides({"transistor.kp": 1e-4}).transistor.kp == 1e-4
    with pytest.raises(SpecError, match=r"^crossbar\.transistor\.w must be > 0"):
        spec.with_overrides({"transistor.w": 0}, "crossbar")
