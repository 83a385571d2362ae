"""An exclusive lock held by one process, with the holder's PID written in the lock file.

The lock is a ``flock`` on the file, not the file's existence: the kernel drops it when the
holder dies, so a lock file left behind by a dead process is simply taken over, and two
processes can never both believe they hold it. Inside one process the lock is shared (counted),
because several stores or threads of one program are one writer.

A clean release removes the file, so none is left beside a closed database. Removing a lock
file is the classic race: another process may have opened it just before and lock the removed
file after, while a third creates and locks a new one. So the holder removes it while still
holding the lock, and whoever gets a lock checks that the path still names the file it locked,
starting again if not: only a holder removes the file, so a lock on the file the path names is
the lock.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from pathlib import Path

from maas.errors import LockHeldError

log = logging.getLogger(__name__)

_held: dict[Path, tuple[int, int]] = {}  # lock path -> (file descriptor, holders in this process)
_guard = threading.Lock()


class ProcessLock:
    """``with ProcessLock(path, "embedded store x.duckdb"):`` or acquire()/release()."""

    def __init__(self, path: Path, what: str) -> None:
        self.path = path.absolute()
        self.what = what
        self._acquired = False

    def acquire(self) -> None:
        with _guard:
            fd, holders = _held.get(self.path) or (self._lock_file(), 0)
            _held[self.path] = (fd, holders + 1)
        self._acquired = True

    def release(self) -> None:
        if not self._acquired:
            return
        self._acquired = False
        with _guard:
            fd, holders = _held.pop(self.path)
            if holders > 1:
                _held[self.path] = (fd, holders - 1)
                return
            try:
                os.ftruncate(fd, 0)
                self.path.unlink(missing_ok=True)  # still locked: see the module docstring
            except OSError as exc:  # left behind: harmless, the next holder takes it over
                log.warning("could not remove the lock file %s: %s", self.path, exc.strerror)
            finally:
                os.close(fd)  # closing the descriptor drops the flock

    def _lock_file(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while not _names(self.path, fd := self._try_lock()):
            os.close(fd)  # its holder removed it between our open and our lock: take the new one
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return fd

    def _try_lock(self) -> int:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LockHeldError(f"{self.what} is in use by PID {holder}") from None
        return fd

    def __enter__(self) -> ProcessLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def _names(path: Path, fd: int) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)
