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
