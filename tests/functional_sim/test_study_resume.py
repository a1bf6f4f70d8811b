"""Study stages that resume, lock and check before they work: a stage killed with SIGKILL
and rerun writes the same reports, byte for byte, as one that ran straight through
(same machine, same process kind: both are fresh ``python -m`` processes); a second run
into the same folder is refused; bad configs and outputs stop it before any work, in
one line."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch
import yaml

from datagen.locking import directory_lock
from functional_sim.sim.mapping import lossless_adc_bits
from functional_sim.studies.config import StudyConfig
from functional_sim.studies.inference import save_net
from functional_sim.studies.nets import build
from functional_sim.studies.resume import UNIT_FORMAT, UnitStore
from spice_netlists import CrossbarSpec
from tests.support.stage_interrupt import kill_stage_after_units, run_stage

SPEC = CrossbarSpec(rows=32, cols=32, device="sinh")


def _params(tmp_path: Path, nets_dir: str | None = None) -> Path:
    """A params file of a tiny study of digits_mlp (seeded random weights) at two read
    voltages, every stage on few images, and the net file beside it."""
    torch.manual_seed(0)
    save_net(tmp_path / "nets" / "digits_mlp.pt", "digits_mlp", build("digits_mlp"))
    sim = {"weight_bits": 4, "input_bits": 4, "bits_per_slice": 2, "bits_per_stream": 2,
           "adc_bits": lossless_adc_bits(SPEC, 2, 2)}
    cfg = StudyConfig(
        crossbar_model="analytical", models=("analytical",),
        settings=({"v_read_max": 0.25}, {"v_read_max": 0.5}), test_subset=48, batch_size=24,
        nets_dir=nets_dir or str(tmp_path / "nets"), sim=sim, train={"nets": ["digits_mlp"]},
        ground_truth={"nets": ["digits_mlp"], "spice_check_net": "digits_mlp",
                      "models": ["ideal", "analytical"], "spice_check_images": 0},
        sensitivity={"net": "digits_mlp", "images": 24, "models": ["ideal"], "seeds": [0],
                     "setting": "32x32/sinh/Ron100k/0.5V",
                     "sweeps": {"sigma": {"path": "programming.sigma",
                                          "values": [0.0, 0.1, 0.2, 0.3]}}},
        aware_training={"net": "digits_mlp", "models": ["ideal"], "reference": "circuit",
                        "setting": "32x32/sinh/Ron100k/0.5V",
                        "nonideal": {"stuck": {"on_rate": 0.02}}, "epochs": 3,
                        "train_images": 48, "batch_size": 24, "lr": 0.003,
                        "out_dir": str(tmp_path / "aware")})
    params = {"crossbar": SPEC.to_dict(), "functional_sim": cfg.to_dict()}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


#: stage module, its output arguments (folder-relative) and the files they write
STAGES = {
    "ground_truth": ("functional_sim.studies.ground_truth",
                     lambda d: ["--out", d / "gt.json", "--table", d / "gt.md", "--plots", d],
                     ["gt.json", "gt.md", "ground_truth.png", "ground_truth.csv"]),
    "accuracy_study": ("functional_sim.studies.accuracy_study",
                       lambda d: ["--reports", d, "--plots", d],
                       ["accuracy.json", "accuracy.csv", "accuracy.png",
                        "accuracy_headline.csv", "accuracy_headline.png"]),
    "sensitivity": ("functional_sim.studies.sensitivity",
                    lambda d: ["--out", d / "s.json", "--table", d / "s.md", "--plots", d],
                    ["s.json", "s.md", "sensitivity.png", "sensitivity.csv"]),
    "aware_training": ("functional_sim.studies.aware_training",
                       lambda d: ["--out", d / "a.json", "--plots", d],
                       ["a.json", "aware_training.png", "aware_training.csv"]),
}


@pytest.mark.parametrize("stage,units", [("ground_truth", 1), ("accuracy_study", 2),
                                         ("sensitivity", 2), ("aware_training", 3)])
def test_a_stage_killed_midway_resumes_to_the_reports_of_an_uninterrupted_run(
        tmp_path: Path, stage: str, units: int) -> None:
    """SIGKILL once ``units`` units are kept (aware training: the two scores before
    fine-tuning and epoch 1), rerun: every output byte for byte as a straight run's, the
    kept units taken from the store, and the outputs of before the kill untouched
    until the rerun replaced them."""
    module, out_args, files = STAGES[stage]
    params = _params(tmp_path)
    straight, resumed, store = tmp_path / "straight", tmp_path / "resumed", tmp_path / "store"
    resumed.mkdir()
    (resumed / files[0]).write_text("the previous run's report\n")
    common = ["--params", params, "--resume-dir", store]
    kept = kill_stage_after_units(module, [*common, *out_args(resumed)], store / stage, units)
    assert kept >= units
    assert (resumed / files[0]).read_text() == "the previous run's report\n"
    if stage == "aware_training":          # killed before the fine-tuned nets were written
        assert not list((tmp_path / "aware").glob("*.pt"))
    again = run_stage(module, *common, *out_args(resumed))
    assert again.returncode == 0, again.stderr
    resumed_line = [line for line in again.stdout.splitlines() if "unit(s) resumed" in line]
    assert resumed_line and int(resumed_line[0].split(": ")[1].split()[0]) >= kept
    nets_after_resume = {p.name: p.read_bytes() for p in (tmp_path / "aware").glob("*.pt")}
    plain = run_stage(module, "--params", params, "--no-resume", *out_args(straight))
    assert plain.returncode == 0, plain.stderr
    for name in files:
        assert (resumed / name).read_bytes() == (straight / name).read_bytes(), name
    if stage == "aware_training":
        # one fine-tuned net per model, the same bytes as the straight run's
        assert nets_after_resume and nets_after_resume == {
            p.name: p.read_bytes() for p in (tmp_path / "aware").glob("*.pt")}
        report = json.loads((resumed / "a.json").read_text())
        assert [r["epoch"] for r in report["models"]["ideal"]["epochs"]] == [1, 2, 3]


def test_a_second_run_into_the_same_folder_is_refused_naming_the_holder(tmp_path, capsys) -> None:
    from functional_sim.studies.ground_truth import main

    params = _params(tmp_path)
    out = tmp_path / "out"
    with directory_lock(out, ".ground_truth.lock", "another ground_truth run"):
        with pytest.raises(SystemExit) as stop:
            main(["--params", str(params), "--out", str(out / "gt.json"),
                  "--table", str(out / "gt.md"), "--plots", str(out)])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ground_truth: ") and "\n" not in err
    assert f"{out} is in use by another ground_truth run (pid " in err
    assert not (out / "gt.json").exists()


def test_an_empty_model_list_stops_the_ground_truth_before_any_work_in_one_line(tmp_path,
                                                                                 capsys) -> None:
    from functional_sim.studies.ground_truth import main

    params = _params(tmp_path)
    data = yaml.safe_load(params.read_text())
    data["functional_sim"]["ground_truth"]["models"] = []
    params.write_text(yaml.safe_dump(data))
    with pytest.raises(SystemExit) as stop:
        main(["--params", str(params), "--out", str(tmp_path / "gt.json"),
              "--table", str(tmp_path / "gt.md"), "--plots", str(tmp_path),
              "--resume-dir", str(tmp_path / "store")])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == ("ground_truth: functional_sim.ground_truth.models is empty: name at least "
                   "one crossbar model to judge against the circuit reference")
    assert not (tmp_path / "store").exists()          # nothing was computed


def test_config_errors_are_one_line_and_a_traceback_only_under_debug(tmp_path) -> None:
    params = _params(tmp_path)
    data = yaml.safe_load(params.read_text())
    data["functional_sim"]["sim"]["nonideal"] = {"programming": {"sigma": -0.1}}
    params.write_text(yaml.safe_dump(data))
    args = ["--params", params, "--out", tmp_path / "s.json", "--table", tmp_path / "s.md",
            "--plots", tmp_path]
    plain = run_stage("functional_sim.studies.sensitivity", *args)
    assert plain.returncode == 2
    assert "Traceback" not in plain.stderr
    assert plain.stderr.strip().splitlines() == [
        "sensitivity: functional_sim.sim.nonideal.programming.sigma must be >= 0, got -0.1"]
    debug = run_stage("functional_sim.studies.sensitivity", *args, "--debug")
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_an_output_that_cannot_be_written_stops_the_stage_before_any_work(tmp_path, capsys) -> None:
    from functional_sim.studies.accuracy_study import main

    params = _params(tmp_path)
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the reports folder should be\n")
    with pytest.raises(SystemExit):
        main(["--params", str(params), "--reports", str(blocker / "reports"),
              "--plots", str(tmp_path / "plots"), "--resume-dir", str(tmp_path / "store")])
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"accuracy_study: output folder {blocker / 'reports'} cannot be made")
    assert not (tmp_path / "store").exists()


def test_params_paths_are_taken_from_the_params_file_not_the_working_directory(tmp_path) -> None:
    """A relative ``nets_dir`` in a params file outside any DVC project is the params
    file's folder's; the stage runs from another working directory all the same."""
    study = tmp_path / "study"
    study.mkdir()
    params = _params(study, nets_dir="nets")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = run_stage("functional_sim.studies.accuracy_study", "--params", "../study/params.yaml",
                     "--reports", "out", "--plots", "out", cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    report = json.loads((elsewhere / "out" / "accuracy.json").read_text())
    assert report["test_images"] == {"digits_mlp": 48}
    assert (study / ".study_cache" / "accuracy_study").is_dir()   # the params file's root
    assert params.parent == study


def test_a_unit_is_keyed_by_its_inputs_and_a_damaged_one_is_computed_again(tmp_path) -> None:
    store = UnitStore(tmp_path)
    calls = []

    def compute(value: float):
        calls.append(value)
        return {"top1": value, "right": torch.tensor([True, False])}

    x = torch.arange(6.0)
    first = store.get_or_compute("unit", {"x": x, "sim": {"bits": 4}}, lambda: compute(0.5))
    again = store.get_or_compute("unit", {"x": x.clone(), "sim": {"bits": 4}}, lambda: compute(9.0))
    assert calls == [0.5] and again["top1"] == 0.5             # the same inputs: kept
    assert torch.equal(again["right"], first["right"])
    store.get_or_compute("unit", {"x": x + 1, "sim": {"bits": 4}}, lambda: compute(0.25))
    store.get_or_compute("unit", {"x": x, "sim": {"bits": 5}}, lambda: compute(0.125))
    assert calls == [0.5, 0.25, 0.125]                         # other inputs: computed
    assert (store.hits, store.computed) == (1, 3)
    files = sorted(tmp_path.glob("*.pt"))
    assert len(files) == 3 and all(f.read_bytes().startswith(UNIT_FORMAT.encode()) for f in files)
    key = store.key("unit", {"x": x, "sim": {"bits": 4}})
    path = tmp_path / f"{key}.pt"
    blob = bytearray(path.read_bytes())
    blob[-10] ^= 0xFF
    path.write_bytes(bytes(blob))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        redone = store.get_or_compute("unit", {"x": x, "sim": {"bits": 4}}, lambda: compute(0.5))
    assert redone["top1"] == 0.5 and calls[-1] == 0.5
    assert any(f"{path}: damaged study unit" in str(w.message) for w in caught)
    none = UnitStore(None)
    none.get_or_compute("unit", {"x": x}, lambda: compute(1.0))
    none.get_or_compute("unit", {"x": x}, lambda: compute(1.0))
    assert calls[-2:] == [1.0, 1.0]                            # nothing kept without a folder
