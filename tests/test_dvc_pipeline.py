"""How dvc.yaml uses DVC so that no experiment loses data: every stage waits for
``check_params`` (a bad ``-S`` value stops the pipeline before DVC removes any output),
whose output never changes, and the study stages' outputs are ``persist`` (DVC does not
remove them before a run; the stages replace them whole when they end)."""

from __future__ import annotations

import yaml

from functional_sim.studies.check_params import CHECKED
from tests.support import REPO_ROOT

STUDY_STAGES = ("accuracy_study", "accuracy_ground_truth", "sensitivity", "aware_training",
                "surrogate_scaling")


def _stages() -> dict:
    return yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]


def _outputs(stage: dict) -> dict[str, dict]:
    """Every output of a stage (outs, metrics, plots) with its options."""
    found: dict[str, dict] = {}
    for kind in ("outs", "metrics", "plots"):
        for entry in stage.get(kind, []):
            if isinstance(entry, str):
                found[entry] = {}
            else:
                (path, options), = entry.items()
                found[path] = options or {}
    return found


def test_every_stage_depends_on_the_params_check_of_every_section() -> None:
    stages = _stages()
    check = stages["check_params"]
    assert set(check["params"]) == {"crossbar", "datagen", "surrogate", "functional_sim"}
    assert "reports/params_check.txt" in _outputs(check)
    for name, stage in stages.items():
        if name != "check_params":
            assert "reports/params_check.txt" in stage["deps"], name
    assert (REPO_ROOT / "reports" / "params_check.txt").read_text() == CHECKED


def test_the_study_stages_outputs_persist() -> None:
    stages = _stages()
    for name in STUDY_STAGES:
        outputs = _outputs(stages[name])
        assert outputs, name
        for path, options in outputs.items():
            assert options.get("persist") is True, f"{name}: {path}"
