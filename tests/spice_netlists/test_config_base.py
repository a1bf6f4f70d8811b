"""The one config base: conversion, paths in errors, round trip, dotted overrides, docs."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from spice_netlists.config import (ConfigError, ConfigSection, check_choice, check_int,
                                   check_number, read_params, section)


@dataclass(frozen=True)
class Inner(ConfigSection):
    """A nested section.

    Attributes:
        name: which kind.
        rate: per second, > 0.
    """

    name: str = "uniform"
    rate: float = 1.0

    def __post_init__(self) -> None:
        check_choice("name", self.name, ("uniform", "bitlevel"))
        check_number("rate", self.rate, positive=True)


@dataclass(frozen=True)
class Outer(ConfigSection):
    """An outer section.

    Attributes:
        count: how many, >= 1.
        sizes: crossbar sizes, a list in params.yaml.
        inner, spare: nested sections (``spare`` may be absent).
    """

    count: int = 3
    sizes: tuple[int, ...] = (16, 32)
    inner: Inner = field(default_factory=Inner)
    spare: Inner | None = None

    def __post_init__(self) -> None:
        check_int("count", self.count, low=1)


def test_nested_sections_are_built_from_mappings_and_round_trip():
    out = Outer.from_dict({"count": 2, "sizes": [8], "inner": {"name": "bitlevel"},
                           "spare": {"rate": 2.5}}, "datagen.train")
    assert out == Outer(2, (8,), Inner("bitlevel"), Inner(rate=2.5))
    assert Outer.from_dict(out.to_dict()) == out
    assert out.to_dict()["sizes"] == [8]


@pytest.mark.parametrize("data,message", [
    ({"count": 0}, "datagen.train.count must be >= 1, got 0"),
    ({"count": True}, "datagen.train.count must be an integer, got True"),
    ({"inner": {"rate": float("nan")}}, "datagen.train.inner.rate must be finite, got nan"),
    ({"inner": {"name": "gauss"}}, "datagen.train.inner.name must be one of uniform, bitlevel"),
    ({"inner": "uniform"}, "datagen.train.inner must be a mapping of settings, got 'uniform'"),
    ({"colour": 1}, "datagen.train: unknown key(s) ['colour']"),
    ("x", "datagen.train must be a mapping of settings, got 'x'"),
    (None, "datagen.train must be a mapping of settings, got None"),
])
def test_every_bad_value_names_its_dotted_path(data, message):
    with pytest.raises(ConfigError) as err:
        Outer.from_dict(data, "datagen.train")
    assert message in str(err.value)


def test_dotted_overrides_apply_and_are_checked_again():
    out = Outer().with_overrides({"inner.name": "bitlevel", "count": 5})
    assert out.inner.name == "bitlevel" and out.count == 5
    with pytest.raises(ConfigError, match="sim.inner.rate must be > 0"):
        Outer().with_overrides({"inner.rate": -1.0}, path="sim")
    with pytest.raises(ConfigError, match="sim.inner.colour: no such setting"):
        Outer().with_overrides({"inner.colour": 1}, path="sim")


def test_field_docs_read_the_attributes_block():
    docs = Outer.field_docs()
    assert docs["sizes"] == "crossbar sizes, a list in params.yaml."
    assert docs["inner"] == docs["spare"] == "nested sections (``spare`` may be absent)."
    assert Outer.undocumented_fields() == [] and Inner.undocumented_fields() == []


@pytest.mark.parametrize("text,message", [("", "must hold a non-empty mapping"),
                                          ("- a\n- b\n", "must hold a non-empty mapping"),
                                          ("a: [1,\n", "is not valid YAML")])
def test_a_params_file_that_is_not_a_mapping_is_named(tmp_path, text, message):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as err:
        read_params(path)
    assert str(path) in str(err.value)
    with pytest.raises(ConfigError, match="does not exist"):
        read_params(tmp_path / "missing.yaml")


def test_section_walks_dotted_paths_and_names_a_non_mapping():
    params = {"functional_sim": {"sim": {"adc_bits": 8}}, "crossbar": [1, 2]}
    assert section(params, "functional_sim.sim") == {"adc_bits": 8}
    assert section(params, "surrogate.bench") == {}
    with pytest.raises(ConfigError, match="surrogate: missing section"):
        section(params, "surrogate", required=True)
    with pytest.raises(ConfigError, match="crossbar must be a mapping of settings"):
        section(params, "crossbar.rows")


def test_params_files_read_exponent_floats_as_numbers_like_dvc_writes_them(tmp_path) -> None:
    # `dvc exp run -S crossbar.g_on=4.0e-05` writes `g_on: 4e-05`; YAML 1.1 would read a str
    path = tmp_path / "params.yaml"
    path.write_text("crossbar: {g_on: 4e-05, g_off: 1E3, r_wire_row: 2.0}\nname: '4e-05'\n")
    params = read_params(path)
    assert params["crossbar"] == {"g_on": 4e-05, "g_off": 1000.0, "r_wire_row": 2.0}
    assert params["name"] == "4e-05"          # a quoted string stays one
