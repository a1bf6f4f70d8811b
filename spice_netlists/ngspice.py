"""Running the ngspice executable: version check, batch runs, binary rawfiles.

The crossbar sweeps need ngspice with the KLU sparse solver (ngspice >= 41; Debian
bookworm's own 39.3 has none, and one 64x64 operating point takes seconds with it).
`make setup` installs ngspice from the distribution's backports suite.

Each run gets a private temporary directory named ``xbar-ngspice-<pid>-<random>`` (the
pid of the Python process that made it) under ``TMPDIR``. ngspice runs inside it and is
given bare file names only, so a ``TMPDIR`` with spaces, ``;`` or ``$`` cannot reach
its control language. A process killed outright (SIGKILL) cannot remove its
directories; :func:`clean_stale_tempdirs`, called when a sweep or
:func:`datagen.simulate` starts, removes those whose owning process is gone.
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
#: name prefix of every run's temporary directory; the owner's pid and ``-`` follow
TEMP_PREFIX = "xbar-ngspice-"
#: lines of an ngspice log that show the circuit itself could not be solved (as opposed
#: to ngspice failing to run): such a sample is a result, kept with its reason
CONVERGENCE_MARKERS = ("timestep too small", "no convergence", "not converge",
                       "singular matrix", "iteration limit", "gmin stepping failed",
                       "source stepping failed", "out of range")
INSTALL_HINT = ("install ngspice >= 41 with the KLU solver: on Debian bookworm run "
                "`make system-deps` (ngspice from bookworm-backports)")


class NgspiceError(RuntimeError):
    """ngspice is missing, too old, or a run failed outright."""


@dataclass(frozen=True)
class NgspiceInfo:
    """The ngspice executable found: its path, major version and whether it has KLU."""

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
    output, whether it timed out, and ngspice's exit status (None when it timed out;
    negative: killed by that signal)."""

    raw: RawData | None
    log: str
    timed_out: bool
    seconds: float
    returncode: int | None = None

    @property
    def crashed(self) -> bool:
        """Whether ngspice itself died (killed by a signal) rather than ran and ended."""
        return self.returncode is not None and self.returncode < 0


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists (possibly another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_tempdirs(root: str | Path | None = None) -> list[Path]:
    """Remove the run directories (``xbar-ngspice-<pid>-*``, this user's) under ``root``
    (default: the temporary directory, ``TMPDIR``) whose owning process no longer
    exists, as a killed sweep leaves them; returns those removed. Directories of live
    processes, other users' and ones named otherwise (e.g. by older versions, which put
    no pid in the name) are left alone."""
    root = Path(root if root is not None else tempfile.gettempdir())
    removed: list[Path] = []
    try:
        entries = list(root.glob(TEMP_PREFIX + "*-*"))
    except OSError:
        return removed
    uid = os.getuid()
    for entry in entries:
        pid_text = entry.name[len(TEMP_PREFIX):].split("-", 1)[0]
        if not pid_text.isdigit():
            continue
        try:
            st = entry.lstat()
        except OSError:
            continue
        if not entry.is_dir() or entry.is_symlink() or st.st_uid != uid or _alive(int(pid_text)):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        if not entry.exists():
            removed.append(entry)
    return removed


def run_netlist(netlist_for: Callable[[str], str], timeout_s: float | None = None) -> NgspiceRun:
    """Run ngspice in batch mode on ``netlist_for(raw_path)``'s text.

    ``netlist_for`` gets the rawfile path to write and returns the netlist text. The
    netlist and its output live in one private temporary directory
    (``xbar-ngspice-<pid>-*``, see :func:`clean_stale_tempdirs`) that is ngspice's
    working directory, and both are named there by bare file names, whatever
    characters ``TMPDIR`` holds. ``timeout_s`` (None: no limit) bounds the run; an
    OSError starting ngspice propagates.
    """
    import time

    info = ngspice_info()
    with tempfile.TemporaryDirectory(prefix=f"{TEMP_PREFIX}{os.getpid()}-") as tmp:
        raw_name, cir_name = "out.raw", "crossbar.cir"
        (Path(tmp) / cir_name).write_text(netlist_for(raw_name))
        start = time.perf_counter()
        returncode: int | None = None
        try:
            proc = subprocess.run([info.path, "-b", cir_name], capture_output=True, text=True,
                                  timeout=timeout_s, stdin=subprocess.DEVNULL, cwd=tmp)
            log, timed_out, returncode = proc.stdout + proc.stderr, False, proc.returncode
        except subprocess.TimeoutExpired as exc:
            log = ((exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes)
                   else (exc.stdout or "")) + f"\ntimed out after {timeout_s} s"
            timed_out = True
        seconds = time.perf_counter() - start
        if returncode is not None and returncode < 0:
            log += f"\nngspice was killed by signal {-returncode}"
        raw_path = Path(tmp) / raw_name
        raw = None
        if raw_path.exists() and not timed_out:
            try:
                raw = read_rawfile(raw_path)
            except NgspiceError as exc:      # e.g. ngspice died while writing it
                log += f"\nunreadable rawfile: {exc}"
    return NgspiceRun(raw=raw, log=log, timed_out=timed_out, seconds=seconds,
                      returncode=returncode)


def is_convergence_failure(log: str) -> bool:
    """Whether an ngspice log says the circuit could not be solved (a result to keep)
    rather than that ngspice could not run, crashed or was given a bad netlist."""
    low = log.lower()
    return any(marker in low for marker in CONVERGENCE_MARKERS)


def failure_reason(log: str) -> str:
    """The most telling line of an ngspice log for a failed run."""
    keys = ("error", "failed", "too small", "singular", "timed out", "no convergence",
            "not converge", "killed by signal")
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    hits = [ln for ln in lines if any(k in ln.lower() for k in keys)]
    return (hits[0] if hits else (lines[-1] if lines else "ngspice wrote no output"))[:300]
