"""Local (or mounted) directories: the simplest file source, same gates as SFTP and FTP."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from maas.collector.sources.base import Rejected
from maas.collector.sources.config import FilesystemConfig
from maas.collector.sources.files import FileSource, Listed, Unreadable, Vanished, unlisted
from maas.config.settings import TLSSettings
from maas.errors import SourceRefused, SourceUnavailable

T = TypeVar("T")


class FilesystemSource(FileSource):
    def __init__(self, config: FilesystemConfig, tls: TLSSettings | None = None) -> None:
        super().__init__(config)
        self.root = config.root.expanduser()

    def _list(self) -> Iterator[Listed | Rejected]:
        if not self.root.is_dir():
            raise SourceUnavailable(f"directory {self.root} does not exist (not mounted yet?)")
        excluded = {os.path.normpath(self.root / d) for d in self._excluded_dirs()}
        refused: list[Rejected] = []
        for directory, subdirs, names in os.walk(
            self.root, onerror=lambda e: refused.append(self._refuse(e))
        ):
            subdirs[:] = [] if not self.config.recursive else _descend(directory, subdirs, excluded)
            yield from _files(self.root, Path(directory), names)
        yield from refused

    def _stat(self, path: str) -> tuple[int, float] | None:
        try:
            st = os.stat(path, follow_symlinks=False)
        except FileNotFoundError:
            return None
        return st.st_size, st.st_mtime

    def _read(self, path: str) -> bytes:
        try:
            return Path(path).read_bytes()
        except FileNotFoundError as exc:
            raise Vanished(exc.strerror) from None
        except PermissionError as exc:
            raise Unreadable(exc.strerror) from None
        except OSError as exc:
            raise _error(path, exc) from None

    def _delete(self, path: str) -> None:
        _mapped(path, lambda: os.unlink(path))

    def _move(self, path: str, target: str) -> None:
        target_path = Path(self._located(target))
        target_path.parent.mkdir(parents=True, exist_ok=True)
        _mapped(path, lambda: os.replace(path, target_path))

    def _located(self, target: str) -> str:
        return str(self.root / target)

    def _url(self, path: str) -> str:
        return Path(path).resolve().as_uri()

    def _refuse(self, error: OSError) -> Rejected:
        """The root failing stops the poll; a subdirectory failing is reported and skipped."""
        if Path(error.filename or "") == self.root:
            raise _error(str(self.root), error)
        rel = Path(error.filename).relative_to(self.root).as_posix()
        return unlisted(rel, f"cannot list it ({error.strerror})")


def _descend(directory: str, subdirs: list[str], excluded: set[str]) -> list[str]:
    """Subdirectories to walk into: real directories only (no symlink loops), not move_to."""
    keep = []
    for name in subdirs:
        full = os.path.join(directory, name)
        if not os.path.islink(full) and os.path.normpath(full) not in excluded:
            keep.append(name)
    return keep


def _files(root: Path, directory: Path, names: list[str]) -> Iterator[Listed]:
    for name in names:
        path = directory / name
        try:
            st = path.lstat()
        except FileNotFoundError:  # removed between the listing and the stat
            continue
        if path.is_symlink() or not path.is_file():
            continue
        yield Listed(str(path), path.relative_to(root).as_posix(), st.st_size, st.st_mtime)


def _mapped(path: str, call: Callable[[], T]) -> T:
    try:
        return call()
    except OSError as exc:
        raise _error(path, exc) from None


def _error(path: str, exc: OSError) -> SourceRefused | SourceUnavailable:
    reason = f"{path}: {exc.strerror or exc}"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return SourceRefused(f"permission denied on {reason}")
    return SourceUnavailable(reason)
