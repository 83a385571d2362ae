"""The process lock removes its file on release without letting two processes hold it."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from maas.store.lock import ProcessLock

pytestmark = pytest.mark.unit


def locked_elsewhere(path: Path) -> bool:
    """Whether another open file description of ``path`` is refused the lock (as another process)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_a_released_lock_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "x.duckdb.lock"
    with ProcessLock(path, "x"):
        assert path.read_text().strip() == str(os.getpid()) and locked_elsewhere(path)
    assert not path.exists()


def test_a_lock_on_a_file_its_holder_removed_meanwhile_is_taken_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race of removing lock files: opened by us, released and removed by its holder, then
    locked by us. Without the check we would hold a lock on a removed file, and a third process
    would lock a new file at the same path."""
    path = tmp_path / "x.duckdb.lock"
    holder = os.open(path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(holder, fcntl.LOCK_EX)
    real_flock = fcntl.flock

    released: list[bool] = []

    def holder_releases_first(fd: int, operation: int) -> None:
        if not released:  # once, between our first open and our first flock
            released.append(True)
            path.unlink()  # what ProcessLock.release does, lock still held
            os.close(holder)
        real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", holder_releases_first)
    lock = ProcessLock(path, "x")
    with lock:
        monkeypatch.setattr(fcntl, "flock", real_flock)
        assert locked_elsewhere(path)  # the file the path names now is the one we hold
    assert not path.exists()
