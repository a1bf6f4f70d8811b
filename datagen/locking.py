"""One writer per output directory at a time.

:func:`directory_lock` holds an exclusive ``flock`` on a lock file in a directory for as
long as a job writes there; :func:`sweep_lock` is its sweeps' form
(``<directory>/.sweep.lock``), and the study stages take one per stage
(``<directory>/.<stage>.lock``, :mod:`functional_sim.studies.stage`). The operating system releases it when the holder exits,
however it ends (a SIGKILL included), so a lock is never left stale; the file records
the holder's pid for the message a second job gets. The file is removed when the
job ends normally. Process-pool workers forked by the sweep share the lock, so a
directory stays locked while any of them still runs.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path
from typing import Iterator

LOCK_FILE = ".sweep.lock"


class DirectoryLockedError(RuntimeError):
    """Another job is writing into the same directory."""


class SweepLockedError(DirectoryLockedError):
    """Another sweep is writing into the same directory."""


def _holder(path: Path) -> str:
    """The pid recorded in a lock file, as text ('' when unknown)."""
    try:
        text = path.read_text().strip()
    except OSError:
        return ""
    return text if text.isdigit() else ""


@contextlib.contextmanager
def directory_lock(directory: str | Path, lock_file: str, what: str,
                   error: type[DirectoryLockedError] = DirectoryLockedError) -> Iterator[Path]:
    """Hold the lock ``<directory>/<lock_file>`` (creating the directory) while the block
    runs; yields the lock file's path. Raises ``error`` naming the directory, ``what``
    holds it (e.g. "another sweep") and, when recorded, the holder's pid if the lock is
    held; never waits."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / lock_file
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            pid = _holder(path)
            who = f"{what} (pid {pid})" if pid else what
            raise error(
                f"{directory} is in use by {who}: one at a time per output directory; "
                f"wait for it to finish, or stop it, then run this again "
                f"(it resumes)") from None
        # the holder before us may have removed the file while we opened it: our lock
        # is only good on the file the path names now
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield path
    finally:
        with contextlib.suppress(OSError):
            path.unlink()          # while still holding it: see the samestat check
        os.close(fd)


@contextlib.contextmanager
def sweep_lock(directory: str | Path) -> Iterator[Path]:
    """Hold ``directory``'s sweep lock (``.sweep.lock``) while the block runs: raises
    :class:`SweepLockedError` naming the directory and the holder's pid if another
    sweep holds it (:func:`directory_lock`)."""
    with directory_lock(directory, LOCK_FILE, "another sweep", SweepLockedError) as path:
        yield path
