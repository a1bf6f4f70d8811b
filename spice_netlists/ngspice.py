"""Running the ngspice executable: version check, batch runs, binary rawfiles.

The crossbar sweeps need ngspice with the KLU sparse solver (ngspice >= 41; Debian
bookworm's own 39.3 has none, and one 64x64 operating point takes seconds with it).
`make setup` installs ngspice from the distribution's backports suite.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

MIN_VERSION = 41
INSTALL_HINT = ("install ngspice >= 41 with the KLU solver: on Debian bookworm run "
                "`make system-deps` (ngspice from bookworm-backports)")


class NgspiceError(RuntimeError):
    """ngspice is missing, too old, or a run failed outright."""


@dataclass(frozen=True)
class NgspiceInfo:
    path: str
    version: int
    klu: bool


def ngspice_info(executable: str | None = None) -> NgspiceInfo:
    """Find ngspice and check its version; raise :class:`NgspiceError` saying what to
    install when it is missing or too old. ``$NGSPICE`` overrides the executable."""
    return _ngspice_info(executable or os.environ.get("NGSPICE", "ngspice"))


@lru_cache(maxsize=None)
def _ngspice_info(exe: str) -> NgspiceInfo:
    path = shutil.which(exe)
    if path is None:
        raise NgspiceError(f"ngspice executable {exe!r} not found on PATH; {INSTALL_HINT}")
    out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30,
                         stdin=subprocess.DEVNULL)
    text = out.stdout + out.stderr
    match = re.search(r"ngspice-(\d+)", text)
    if not match:
        raise NgspiceError(f"could not read the version of {path}: {text.strip()!r}")
    version = int(match.group(1))
    if version < MIN_VERSION:
        raise NgspiceError(f"{path} is ngspice {version}, too old (no KLU solver); {INSTALL_HINT}")
    return NgspiceInfo(path=path, version=version, klu="KLU" in text)


@dataclass
class RawData:
    """A rawfile's vectors (name -> float64 array over the points) and point count."""

    vectors: dict[str, np.ndarray]
    points: int


def read_rawfile(path: str | Path) -> RawData:
    """Parse an ngspice binary rawfile of real (not complex) data."""
    blob = Path(path).read_bytes()
    marker = blob.find(b"Binary:\n")
    if marker < 0:
        raise NgspiceError(f"{path} is not a binary rawfile")
    header = blob[:marker].decode("latin-1").splitlines()
    nvars = npoints = None
    names: list[str] = []
    in_vars = False
    for line in header:
        if line.startswith("No. Variables:"):
            nvars = int(line.split(":")[1])
        elif line.startswith("No. Points:"):
            npoints = int(line.split(":")[1])
        elif line.startswith("Flags:") and "complex" in line:
            raise NgspiceError(f"{path}: complex data is not supported")
        elif line.startswith("Variables:"):
            in_vars = True
        elif in_vars and line.startswith("\t"):
            names.append(line.split("\t")[2].lower())
    if nvars is None or npoints is None or len(names) != nvars:
        raise NgspiceError(f"{path}: malformed rawfile header")
    data = np.frombuffer(blob, dtype="<f8", offset=marker + len(b"Binary:\n"))
    # a run that stopped early writes fewer points than announced; keep whole points
    npoints = min(npoints, data.size // nvars)
    data = data[: npoints * nvars].reshape(npoints, nvars)
    return RawData({n: data[:, k].copy() for k, n in enumerate(names)}, npoints)


@dataclass
class NgspiceRun:
    """The outcome of one batch run: the rawfile (None if none was written), ngspice's
    output, and whether it timed out."""

    raw: RawData | None
    log: str
    timed_out: bool
    seconds: float


def run_netlist(netlist_for: Callable[[str], str], timeout_s: float | None = None) -> NgspiceRun:
    """Run ngspice in batch mode on ``netlist_for(raw_path)``'s text.

    ``netlist_for`` gets the rawfile path to write and returns the netlist text, so the
    netlist and its output live in one private temporary directory.
    """
    import time

    info = ngspice_info()
    with tempfile.TemporaryDirectory(prefix="xbar-ngspice-") as tmp:
        raw_path = Path(tmp) / "out.raw"
        cir = Path(tmp) / "crossbar.cir"
        cir.write_text(netlist_for(str(raw_path)))
        start = time.perf_counter()
        try:
            proc = subprocess.run([info.path, "-b", str(cir)], capture_output=True, text=True,
                                  timeout=timeout_s, stdin=subprocess.DEVNULL, cwd=tmp)
            log, timed_out = proc.stdout + proc.stderr, False
        except subprocess.TimeoutExpired as exc:
            log = ((exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes)
                   else (exc.stdout or "")) + f"\ntimed out after {timeout_s} s"
            timed_out = True
        seconds = time.perf_counter() - start
        raw = read_rawfile(raw_path) if raw_path.exists() and not timed_out else None
    return NgspiceRun(raw=raw, log=log, timed_out=timed_out, seconds=seconds)


def failure_reason(log: str) -> str:
    """The most telling line of an ngspice log for a failed run."""
    keys = ("error", "failed", "too small", "singular", "timed out", "no convergence",
            "not converge")
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    hits = [ln for ln in lines if any(k in ln.lower() for k in keys)]
    return (hits[0] if hits else (lines[-1] if lines else "ngspice wrote no output"))[:300]
