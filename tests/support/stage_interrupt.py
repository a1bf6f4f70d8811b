"""Test helper: run a study stage in its own process and kill it midway, as a user would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support import REPO_ROOT


def stage_command(module: str, *args: str | Path) -> list[str]:
    """The command line of ``python -m <module> <args>``."""
    return [sys.executable, "-m", module, *map(str, args)]


def run_stage(module: str, *args: str | Path, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    """Run a stage to its end (from ``cwd``); its output captured as text."""
    return subprocess.run(stage_command(module, *args), cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def kill_stage_after_units(module: str, args: list[str | Path], store: Path, units: int = 1,
                           timeout_s: float = 300.0) -> int:
    """Start the stage, SIGKILL its process group once ``store`` holds ``units`` finished
    unit files, and return how many it held then. Fails if the stage ended by itself
    first (then nothing was interrupted)."""
    proc = subprocess.Popen(stage_command(module, *args), cwd=REPO_ROOT,
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.time() + timeout_s
    try:
        while len(list(store.glob("*.pt"))) < units:
            if proc.poll() is not None:
                raise AssertionError(f"{module} ended (status {proc.returncode}) before it "
                                     f"kept {units} unit(s): {proc.stderr.read().decode()[-2000:]}")
            if time.time() > deadline:
                raise AssertionError(f"{module} kept no {units} unit(s) in {timeout_s} s")
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, f"{module} was not killed: {proc.returncode}"
    return len(list(store.glob("*.pt")))
