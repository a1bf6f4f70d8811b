"""What the study stages share: their command line, how they start and end, reading the
study (its config and tile settings) from the params file, and building a crossbar model
from the name a config gives it (a GENIEx variant loads its checkpoint), after checking
that every checkpoint a stage needs exists.

How a study stage runs (:func:`stage_main` and :func:`study_run`):

* **Paths.** Paths given on the command line are taken from the working directory; the
  stage then works in the directory the params file's paths are relative to: the
  nearest folder at or above the params file that holds ``dvc.yaml`` (the repository
  root, for ``params/geniex_scale.yaml`` too), else the params file's own folder. So a
  stage runs the same from any working directory.
* **Errors.** A bad config value, a missing or damaged file, an unwritable output or a
  busy output directory ends the stage with one line naming the cause (exit status 2);
  ``--debug`` shows the traceback instead.
* **Before any work**, every output's folder is made and checked writable, and the
  stage takes the lock ``.<stage>.lock`` in its first output's folder: a second run of
  the stage into the same folder is refused, naming the holder's pid
  (:func:`datagen.locking.directory_lock`).
* **Resume.** Finished units of work go to ``<--resume-dir>/<stage>``
  (:class:`functional_sim.studies.resume.UnitStore`); ``--no-resume`` keeps nothing.
* **Outputs** are written whole or not at all (:func:`write_output`), so a killed stage
  leaves the previous outputs in place.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import torch

from datagen.dataset import DatasetError, atomic_write_text
from datagen.locking import DirectoryLockedError, directory_lock
from functional_sim.studies.config import (StudyConfig, geniex_checkpoint, net_path,
                                           read_params, study_config, study_specs)
from functional_sim.studies.inference import NetFileError
from functional_sim.studies.resume import DEFAULT_RESUME_DIR, UnitStore, file_digest
from spice_netlists import CrossbarSpec
from spice_netlists.config import ConfigError
from surrogate import make_model
from surrogate.base import CrossbarModel

__all__ = ["add_study_arguments", "resolve_device", "read_study", "require_checkpoints",
           "study_model", "model_inputs", "net_inputs", "StageError", "StudyLockedError",
           "stage_main", "study_run", "write_output", "params_root"]

#: the errors a stage reports as one line (anything else is a bug: full traceback)
STAGE_ERRORS = (ConfigError, NetFileError, DatasetError, FileNotFoundError,
                PermissionError, DirectoryLockedError)


class StageError(RuntimeError):
    """A stage cannot start or finish; the message names the file or folder."""


class StudyLockedError(DirectoryLockedError):
    """Another run of the same study stage writes into the same folder."""


def add_study_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--params`` (params.yaml), ``--device`` (cpu, cuda or auto),
    ``--resume-dir``, ``--no-resume`` and ``--debug``."""
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--resume-dir", default=DEFAULT_RESUME_DIR,
                        help="where finished units of work are kept, one folder per stage "
                             "(relative to the params file's root)")
    parser.add_argument("--no-resume", action="store_true",
                        help="compute every unit afresh and keep none")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error instead of one line")


def params_root(params: str | Path) -> Path:
    """The folder a params file's relative paths are taken from: the nearest folder at
    or above it that holds ``dvc.yaml``, else the params file's own folder."""
    here = Path(params).resolve().parent
    for folder in (here, *here.parents):
        if (folder / "dvc.yaml").is_file():
            return folder
    return here


def _absolute(args: argparse.Namespace, path_args: Sequence[str]) -> None:
    for name in ("params", *path_args):
        value = getattr(args, name, None)
        if value is not None:
            setattr(args, name, str(Path(value).resolve()))


def stage_main(name: str, parser: argparse.ArgumentParser, body: Callable[[argparse.Namespace], None],
               argv: list[str] | None, path_args: Sequence[str] = ()) -> None:
    """Parse ``argv``, make the command-line paths (``--params`` and ``path_args``)
    absolute, work in :func:`params_root`'s folder and run ``body(args)``; the errors of
    :data:`STAGE_ERRORS` end it with one line ``<name>: <message>`` (exit status 2), or
    their traceback with ``--debug``."""
    args = parser.parse_args(argv)
    _absolute(args, path_args)
    before = os.getcwd()
    try:
        if not Path(args.params).is_file():
            raise StageError(f"params file {args.params} does not exist")
        os.chdir(params_root(args.params))
        body(args)
    except (*STAGE_ERRORS, StageError) as exc:
        if getattr(args, "debug", False):
            raise
        print(f"{name}: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    finally:
        os.chdir(before)


def _check_writable(path: Path) -> None:
    """Make ``path``'s folder and check that a file can be written there and that
    ``path`` itself, where it exists, can be replaced."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StageError(f"output folder {folder} cannot be made: {exc.strerror}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StageError(f"output folder {folder} is not writable: nothing was computed")
    if path.is_dir():
        raise StageError(f"output {path} is a folder, not a file: nothing was computed")


@contextlib.contextmanager
def study_run(stage: str, args: argparse.Namespace, outputs: Sequence[str | Path]) -> Iterator[UnitStore]:
    """Check every output writable, hold the stage's lock in the first output's folder
    and yield the stage's unit store (module docstring); prints how many units were
    resumed at the end."""
    paths = [Path(p) for p in outputs]
    for path in paths:
        _check_writable(path)
    resume = None if getattr(args, "no_resume", False) else Path(args.resume_dir) / stage
    with directory_lock(paths[0].parent, f".{stage}.lock", f"another {stage} run",
                        StudyLockedError):
        store = UnitStore(resume)
        yield store
        print(f"{stage}: {store.summary()}", flush=True)


def write_output(path: str | Path, text: str) -> None:
    """Write a report whole or not at all (its folder made)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)


def model_inputs(cfg: StudyConfig, name: str, spec: CrossbarSpec) -> dict[str, str]:
    """What a crossbar model of a study depends on beyond the source, for a unit's key:
    its name and, for a GENIEx variant, the SHA-256 of its checkpoint at ``spec``."""
    if name not in cfg.variants:
        return {"model": name}
    return {"model": name, "checkpoint_sha256": file_digest(geniex_checkpoint(cfg, spec, name))}


def net_inputs(cfg: StudyConfig, name: str) -> dict[str, str]:
    """A network of a study for a unit's key: its name and its file's SHA-256."""
    return {"net": name, "net_sha256": file_digest(net_path(cfg, name))}


def resolve_device(name: str) -> str:
    """``auto``: cuda where torch sees a GPU, else cpu; any other name as given."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def read_study(args: argparse.Namespace) -> tuple[StudyConfig, tuple[CrossbarSpec, ...], str]:
    """(the ``functional_sim`` config, its tile settings, the device) of parsed arguments."""
    params = read_params(args.params)
    cfg = study_config(params)
    return cfg, study_specs(params, cfg), resolve_device(args.device)


def require_checkpoints(cfg: StudyConfig, specs: Iterable[CrossbarSpec],
                        models: Iterable[str]) -> None:
    """Raise :class:`FileNotFoundError` naming every checkpoint that ``models`` (the
    GENIEx variants among them) need at the tile ``specs`` and that does not exist, so
    that a missing one stops a stage before anything expensive runs."""
    needed = [m for m in dict.fromkeys(models) if m in cfg.variants]
    paths = [geniex_checkpoint(cfg, spec, variant) for variant in needed for spec in specs]
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise FileNotFoundError(f"missing GENIEx checkpoint(s) for model(s) {needed}: "
                                f"{', '.join(missing)} (train them with the surrogate stage "
                                f"for these settings, or drop them from the functional_sim "
                                f"models)")


def study_model(cfg: StudyConfig, name: str, spec: CrossbarSpec) -> CrossbarModel:
    """The crossbar model a study names ``name`` at tile ``spec``: a factory of
    ``surrogate.MODEL_NAMES``, or, for a GENIEx variant, the ``geniex`` model with the
    variant's checkpoint (``<models_dir>/<variant>/<tag>.pt``, checked first)."""
    if name not in cfg.variants:
        return make_model(name, spec)
    require_checkpoints(cfg, [spec], [name])
    return make_model("geniex", spec, geniex_checkpoint(cfg, spec, name))
