"""The part every file source shares: patterns, new-or-changed, minimum age, size stability.

A backend (local directory, SFTP, FTP) only knows how to list, stat, read, delete and move;
the gates are applied here, in one place, so the three behave the same. Order matters for
cost: listing and the seen-set comparison are free, the age gate is free, the stability gate
costs one pause per check for *all* candidates together (not per file), and only the files
that pass are read.
"""

from __future__ import annotations

import hashlib
import logging
import time
from abc import abstractmethod
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath

from maas.collector import renaming
from maas.collector.names import name_bytes, not_utf8, printable, shown
from maas.collector.sources.base import (
    Capabilities,
    Checkpoint,
    Closing,
    Payload,
    Rejected,
    SeenFile,
    SourceState,
    utc_now,
)
from maas.collector.sources.config import FilesystemConfig, FtpConfig, SftpConfig
from maas.errors import SourceRefused

log = logging.getLogger(__name__)
FileConfig = FilesystemConfig | SftpConfig | FtpConfig


class Unreadable(Exception):
    """One file cannot be read (permissions, a server's refusal): reported as a rejection and
    skipped this poll, the others collected; it is tried again at the next poll."""


class Vanished(Unreadable):
    """Listed, then gone before it was read (moved or deleted meanwhile): nothing to report."""


@dataclass(frozen=True)
class Listed:
    """A file as the listing saw it: ``path`` as the backend addresses it, ``rel`` under root."""

    path: str
    rel: str
    size: int
    mtime: float

    @property
    def signature(self) -> tuple[int, float]:
        return self.size, self.mtime


class FileSource(Closing):
    """Template for file sources; subclasses implement the five backend operations."""

    capabilities = Capabilities(listing="files", removes_after_success=True)

    def __init__(self, config: FileConfig) -> None:
        self.config = config
        self._made_dirs: set[str] = set()  # move_to directories already made (or found)

    def poll(self, state: SourceState) -> Iterator[Payload | Rejected]:
        found = list(self._list())
        yield from (item for item in found if isinstance(item, Rejected))
        listing = [item for item in found if isinstance(item, Listed)]
        present = frozenset(f.rel for f in listing)
        candidates = [f for f in listing if self._matches(f.rel) and _is_new(f, state)]
        refused = {f.rel: r for f in candidates if (r := _unusable_name(f.rel)) is not None}
        yield from refused.values()
        candidates = [f for f in candidates if f.rel not in refused]
        stable, lost = self._stable(self._old_enough(candidates))
        yield from (_not_found(listed) for listed in lost)
        for listed in stable:
            payload = self._fetch(listed, present)
            if payload is not None:
                yield payload

    def after_success(self, payload: Payload) -> None:
        """Delete or move the file collected, unless it changed since it was read: bytes a
        producer appended meanwhile are in no archive and no store, so the file stays where it
        is and the next poll collects it again (its size or mtime no longer match the journal)."""
        path, seen = payload.remote_path, payload.checkpoint.seen
        if path is None or seen is None or self.config.after_success == "keep":
            return
        if not self._as_read(path, seen):
            return
        if self.config.after_success == "delete":
            self._delete(path)
        else:
            self._move(path, self._free_target(path, payload.fetched_at))

    def _as_read(self, path: str, seen: SeenFile) -> bool:
        """True when ``path`` still has the size and mtime it had when it was read."""
        now = self._stat(path)
        if now is None:
            log.info("%s is gone since it was collected: nothing to delete or move", seen.path)
            return False
        if seen.same_listing(*now):
            return True
        log.warning(
            "%s changed since it was collected (size %d, mtime %s then; size %d, mtime %s now): "
            "left in place, the next poll collects it again",
            shown(seen.path),
            seen.size,
            seen.mtime,
            *now,
        )
        return False

    def _free_target(self, path: str, fetched_at: datetime) -> str:
        """``move_to/<name>``, or, when an earlier file of that name is there, the name stamped
        with the fetch time (``a.20240309T235958Z.csv``, then ``-2``, ``-3``...): the copy already
        in move_to is the operator's and is never overwritten."""
        assert self.config.move_to is not None  # enforced by the config model
        for candidate in _move_names(_basename(path), fetched_at):
            target = self._join(self.config.move_to, candidate)
            if self._stat(self._located(target)) is None:
                return target
        tried = renaming.NAME_TRIES
        raise SourceRefused(
            f"{shown(path)}: not moved, {tried} files of that name already in {self.config.move_to}"
        )

    def _matches(self, rel: str) -> bool:
        path = PurePosixPath(rel)
        return any(path.match(pattern) for pattern in self.config.patterns)

    def _old_enough(self, files: list[Listed]) -> list[Listed]:
        limit = utc_now().timestamp() - self.config.min_age_s
        return [f for f in files if f.mtime <= limit]

    def _stable(self, files: list[Listed]) -> tuple[list[Listed], list[Listed]]:
        """The files whose size and mtime did not move over ``stable_checks`` samples; and those
        listed but then not found (the others changed: taken at a later poll)."""
        lost: list[Listed] = []
        for _ in range(self.config.stable_checks):
            if not files:
                break
            time.sleep(self.config.stable_interval_s)
            sampled = [(f, self._stat(f.path)) for f in files]
            lost += [f for f, now in sampled if now is None]
            files = [f for f, now in sampled if now == f.signature]
        return files, lost

    def _fetch(self, listed: Listed, present: frozenset[str]) -> Payload | Rejected | None:
        try:
            data = self._read(listed.path)
        except Vanished as exc:
            log.info("%s is gone since it was listed (%s)", listed.rel, exc)
            return None
        except Unreadable as exc:
            return Rejected(shown(listed.rel), f"cannot be read ({exc}); tried again at the next poll")
        if len(data) != listed.size:  # grew or shrank after the stability gate: next poll
            log.info("%s changed while it was read; it will be taken at a later poll", listed.rel)
            return None
        digest = hashlib.sha256(data).hexdigest()
        seen = SeenFile(listed.rel, listed.size, listed.mtime, digest)
        return Payload(
            name=listed.rel,
            data=data,
            source_url=self._url(listed.path),
            checkpoint=Checkpoint(seen=seen, present=present),
            remote_path=listed.path,
            sha256=digest,
        )

    def _excluded_dirs(self) -> set[str]:
        """Directories a recursive listing must not enter (the move_to target inside root)."""
        return {self._join(self.config.move_to, "")} if self.config.move_to else set()

    @staticmethod
    def _join(directory: str, name: str) -> str:
        return (PurePosixPath(directory) / name).as_posix() if name else PurePosixPath(directory).as_posix()

    # backend operations -------------------------------------------------------------
    @abstractmethod
    def _list(self) -> Iterable[Listed | Rejected]:
        """Every regular file under root (recursively when configured), symlinks skipped."""

    @abstractmethod
    def _stat(self, path: str) -> tuple[int, float] | None:
        """(size, mtime) now, or None if the file vanished."""

    @abstractmethod
    def _read(self, path: str) -> bytes:
        """The whole file; raises Unreadable when this one file cannot be read."""

    @abstractmethod
    def _delete(self, path: str) -> None: ...

    @abstractmethod
    def _move(self, path: str, target: str) -> None: ...

    @abstractmethod
    def _located(self, target: str) -> str:
        """The path a move ``target`` (``move_to/<name>``, as ``_move`` takes it) has for ``_stat``."""

    @abstractmethod
    def _url(self, path: str) -> str:
        """Where the file came from, for the archive sidecar: never with credentials."""


Entry = tuple[str, str, int, float]  # name, "file" | "dir", size, mtime


class RemoteFileSource(FileSource):
    """SFTP and FTP: a POSIX tree below ``config.root``; every remote call is error-mapped."""

    config: SftpConfig | FtpConfig
    scheme = "sftp"

    def _list(self) -> Iterator[Listed | Rejected]:
        root = self.config.root
        with self._errors(f"list {root}"):
            yield from self._walk(root, {self._join(root, d) for d in self._excluded_dirs()})

    def _walk(self, directory: str, excluded: set[str]) -> Iterator[Listed | Rejected]:
        for name, kind, size, mtime in self._entries(directory):
            path = self._join(directory, name)
            if kind == "file":
                yield Listed(path, self._rel(path), size, mtime)
            elif kind == "dir" and self.config.recursive and path not in excluded:
                yield from self._walk_below(path, excluded)

    def _walk_below(self, directory: str, excluded: set[str]) -> Iterator[Listed | Rejected]:
        """A sub-directory the server refuses to list (permissions, a name it cannot address)
        is reported and skipped; the rest of the tree is walked. A transient error still stops
        the poll: the next one lists everything again."""
        try:
            with self._errors(f"list {directory}"):
                yield from self._walk(directory, excluded)
        except SourceRefused as exc:
            yield unlisted(self._rel(directory), str(exc))

    def _rel(self, path: str) -> str:
        return PurePosixPath(path).relative_to(PurePosixPath(self.config.root)).as_posix()

    def _delete(self, path: str) -> None:
        with self._errors(f"delete {path}"):
            self._remove(path)

    def _move(self, path: str, target: str) -> None:
        """Rename into move_to, made first if missing (as the filesystem source does)."""
        destination = self._located(target)
        directory = str(PurePosixPath(destination).parent)
        with self._errors(f"move {path} to {target}"):
            if directory not in self._made_dirs:
                self._make_dirs(directory)
                self._made_dirs.add(directory)
            self._rename(path, destination)

    def _located(self, target: str) -> str:
        return self._join(self.config.root, target)

    def _url(self, path: str) -> str:
        cfg = self.config
        absolute = path if path.startswith("/") else f"/{path}"
        return f"{self.scheme}://{cfg.username}@{cfg.host}:{cfg.port}{absolute}"

    @abstractmethod
    def _errors(self, action: str) -> AbstractContextManager[None]:
        """Map the library's errors to SourceUnavailable/SourceRefused, naming host and action."""

    @abstractmethod
    def _entries(self, directory: str) -> Iterable[Entry]:
        """The safe (see ``safe_child``) files and directories of one directory."""

    @abstractmethod
    def _remove(self, path: str) -> None: ...

    @abstractmethod
    def _rename(self, path: str, target: str) -> None: ...

    @abstractmethod
    def _make_dirs(self, directory: str) -> None:
        """Make ``directory`` and its missing parents; one that exists is fine."""


def levels(directory: str) -> list[str]:
    """``/a/b`` -> ``['/a', '/a/b']``: the directories to make, outermost first (not the root)."""
    path = PurePosixPath(directory)
    return [str(p) for p in [*reversed(path.parents), path] if p.name]


def _is_new(listed: Listed, state: SourceState) -> bool:
    seen = state.seen.get(listed.rel)
    return seen is None or not seen.same_listing(listed.size, listed.mtime)


def _basename(path: str) -> str:
    return PurePosixPath(path).name


def _move_names(name: str, fetched_at: datetime) -> Iterator[str]:
    """``renaming.names_to_try`` marked with the fetch time before the suffix: ``name``, then
    ``<stem>.<fetch time><suffix>``, then with ``-2``, ``-3``... (a moved ``.csv`` stays one)."""
    suffix = PurePosixPath(name).suffix
    stamp = fetched_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return renaming.names_to_try(name.removesuffix(suffix), stamp, suffix)


def unlisted(rel: str, reason: str) -> Rejected:
    """A sub-directory that could not be listed (``reason`` says why): reported at every poll,
    its files are collected at the first poll that can list it."""
    return Rejected(shown(rel), f"{reason}; its files are collected once it can be listed", "directory")


def _not_found(listed: Listed) -> Rejected:
    """Listed, then not found: reported, as it may be a name the server lists but cannot address
    (some FTP servers list a name that is not UTF-8 with '?'); one removed meanwhile is not
    listed again, so it is reported once."""
    reason = (
        "listed, then not found when checked again (removed meanwhile, or a name the server "
        "cannot address: some FTP servers show bytes that are not UTF-8 as '?'); tried again at the next poll"
    )
    return Rejected(shown(listed.rel), reason)


def _unusable_name(rel: str) -> Rejected | None:
    """The rejection of a listed name that is not UTF-8 (a local listing keeps such bytes as
    surrogate escapes), or None: it could not be archived, journaled or named in a message."""
    raw = name_bytes(rel)
    reason = not_utf8(raw)
    return None if reason is None else Rejected(printable(raw), f"{reason}; rename it to collect it")


def safe_child(name: str) -> bool:
    """False for directory entries a hostile server could use to climb out of the listed tree."""
    return name not in ("", ".", "..") and "/" not in name and "\x00" not in name
