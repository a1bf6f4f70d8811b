"""The params.yaml readers outside datagen name the file or section that is wrong.

An empty params.yaml, one that holds a list or a scalar, or one that is not YAML at all
is an error naming the file (``functional_sim.studies.config.read_params`` returned ``{}`` for an
empty file, so every stage silently ran on defaults; ``surrogate.stages.config.load_params``
did the same; a list or a scalar ended in AttributeError). A ``crossbar`` section that
is not a mapping is a :class:`SpecError` naming ``crossbar`` (was TypeError from
``{**section}``); a ``functional_sim`` section that is not a mapping names
``functional_sim``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

import pytest

from functional_sim.studies.config import base_spec, read_params, study_config
from functional_sim.studies.train_nets import main as train_nets_main
from spice_netlists import CrossbarSpec, SpecError, load_spec_from_params
from spice_netlists.config import ConfigError
from surrogate.stages.config import load_params

BAD_FILES = {
    "empty": "",
    "only comments": "# crossbar:\n#   rows: 32\n",
    "a list": "- crossbar\n- datagen\n",
    "a scalar": "params\n",
    "not YAML": "crossbar: [rows: 32\n",
}

READERS: dict[str, Callable[[Path], Any]] = {
    "functional_sim.studies.config.read_params": read_params,
    "surrogate.stages.config.load_params": load_params,
}


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("content", BAD_FILES)
def test_a_params_file_without_sections_names_the_file(tmp_path: Path, reader: str,
                                                      content: str) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(BAD_FILES[content])
    with pytest.raises(ConfigError, match=re.escape(repr(str(path)))):
        READERS[reader](path)


@pytest.mark.parametrize("reader", READERS)
def test_a_missing_params_file_names_the_file(tmp_path: Path, reader: str) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(ConfigError, match=re.escape(f"{str(path)!r} does not exist")):
        READERS[reader](path)


@pytest.mark.parametrize("params", [None, ["crossbar"], "crossbar: {rows: 4}"])
def test_load_spec_from_params_needs_a_mapping(params: Any) -> None:
    with pytest.raises(SpecError, match=r"^params must be a mapping of sections"):
        load_spec_from_params(params)


@pytest.mark.parametrize("section", ["x", None, [1, 2], 32])
def test_a_crossbar_section_that_is_not_a_mapping_is_named(section: Any) -> None:
    message = rf"^crossbar \(params section\) must be a mapping of crossbar parameters, " \
              rf"got {re.escape(repr(section))}"
    with pytest.raises(SpecError, match=message):
        load_spec_from_params({"crossbar": section})
    with pytest.raises(SpecError, match=message):
        load_spec_from_params({"crossbar": section}, v_read_max=0.5)
    with pytest.raises(SpecError, match=message):
        base_spec({"crossbar": section})


def test_the_crossbar_section_still_reads_and_defaults() -> None:
    assert base_spec({}) == CrossbarSpec()
    spec = load_spec_from_params({"crossbar": {"rows": 4, "cols": 3}}, v_read_max=0.5)
    assert (spec.rows, spec.cols, spec.v_read_max) == (4, 3, 0.5)
    with pytest.raises(SpecError, match=r"params has no 'crossbar' section"):
        load_spec_from_params({"datagen": {}})


@pytest.mark.parametrize("section", ["x", [1], 3])
def test_a_functional_sim_section_that_is_not_a_mapping_is_named(section: Any) -> None:
    with pytest.raises(ConfigError, match=r"^functional_sim must be a mapping of settings"):
        study_config({"functional_sim": section})


def test_empty_sections_take_the_defaults(tmp_path: Path) -> None:
    assert study_config({"functional_sim": None}) == study_config({})
    path = tmp_path / "params.yaml"
    path.write_text("surrogate:\nfunctional_sim:\n")
    assert load_params(path).datasets == ()
    with pytest.raises(ValueError, match=r"^surrogate must be a mapping of settings, got 'abc'"):
        path.write_text("surrogate: abc\n")
        load_params(path)


def test_a_spec_file_that_is_empty_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("")
    with pytest.raises(SpecError, match=rf"^{re.escape(str(path))}: "):
        CrossbarSpec.load(path)
    CrossbarSpec(rows=4).save(path)
    assert CrossbarSpec.load(path) == CrossbarSpec(rows=4)


def test_the_train_nets_stage_exits_with_the_message(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("")
    with pytest.raises(SystemExit, match=rf"^train_nets: .*{re.escape(str(path))}.*non-empty "
                                         rf"mapping"):
        train_nets_main(["--params", str(path), "--metrics", str(tmp_path / "m.json")])
    path.write_text("functional_sim: [1]\n")
    with pytest.raises(SystemExit, match=r"^train_nets: .*functional_sim must be a mapping"):
        train_nets_main(["--params", str(path), "--metrics", str(tmp_path / "m.json")])
