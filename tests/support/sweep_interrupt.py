"""Test helper: start a sweep in its own process and kill it midway, as a user would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def kill_sweep_midway(script: str, out: Path, shards: int = 3, timeout_s: float = 60.0) -> int:
    """Run ``python -c script out`` and SIGKILL its process group once ``out`` holds
    ``shards`` finished shards; return how many shards it had written."""
    proc = subprocess.Popen([sys.executable, "-c", script, str(out)], start_new_session=True)
    deadline = time.time() + timeout_s
    while len(list(out.glob("shard-*.parquet"))) < shards and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return len(list(out.glob("shard-*.parquet")))


def assert_equals_an_uninterrupted_run(spec, cfg, resumed: Path, straight: Path) -> None:
    """Run the sweep ``cfg`` straight into ``straight`` and assert that the dataset in
    ``resumed`` holds bit-identical V, G and I and the same identity."""
    import numpy as np

    from datagen.dataset import load_dataset
    from datagen.sweep import run_sweep

    run_sweep(spec, cfg, straight, progress=False)
    a, b = load_dataset(resumed), load_dataset(straight)
    for name in ("v", "g", "i"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.identity == b.identity
