"""The raw-bytes archive: every fetched payload, kept before parsing, replayable offline.

Layout::

    <root>/
      <interface>/                      one directory per interface (name made safe, see below)
        <YYYY>/<MM>/<DD>/               UTC day of the fetch
          <name>.gz                     the bytes exactly as fetched, gzip-compressed
          <name>.gz.json                the sidecar (below); its presence marks a complete entry
          <other>.gz.json               a sidecar alone: a fetch of bytes already archived that
                                        day, whose ``data_file`` names the data file that holds them
        .index/<ab>/<sha256>            content index: path of the newest data file of these bytes

Sidecar (JSON object, UTF-8)::

    schema        1
    collector_id  the collector that fetched it
    config_hash   hash of that collector's configuration at the time
    interface     interface name as configured
    name          the payload name as the source gave it (remote path, page name)
    source_url    where it came from (file://, sftp://, ftp(s)://, http(s)://), never with a password
    fetched_at    UTC ISO-8601 time of the fetch
    size          length of the raw (uncompressed) bytes
    sha256        hex sha256 of the raw bytes
    extractor     the extract format it is meant for (xml, json, csv, ...)
    compression   "gzip"
    data_file     only in a sidecar alone: the data file holding its bytes, relative to the
                  interface directory (``<YYYY>/<MM>/<DD>/<name>.gz``), of the sidecar's own day

``<name>`` is the payload name made safe: ``/`` and ``\\`` separate components, components
``.``, ``..`` and empty ones are dropped, characters other than letters, digits and ``._+=@,-``
become ``_``, leading dots are removed, components are joined with ``~`` (so a remote
``../../etc/x`` is archived as ``etc~x`` inside the day directory), and overlong names are
shortened with a hash. When another entry already holds that name on that day, the name gets
``.<first 16 hex of sha256>`` appended, then ``.<16 hex>-2``, ``-3``...; a sidecar alone
that finds its name taken gets the fetch time instead (``.<YYYYMMDDTHHMMSS.ffffff>Z``,
then ``-2``, ``-3``...). Both follow ``maas.collector.renaming``: after ``NAME_TRIES`` names,
all taken, the payload is refused (``ArchiveNamesTaken``, permanent: a retry finds them taken).

Guarantees: writes are atomic (temporary files, fsync, rename, fsync of the directory; the
sidecar's bytes are encoded and both temporaries written before anything is renamed into place,
data first, sidecar last, and the data file is removed if its sidecar cannot follow, so a name
that cannot be stored or a full disk refuses the payload without leaving a data file behind —
only a kill between the two renames can); identical bytes already archived for the interface
that UTC day are not stored twice, but every fetch gets a sidecar of its own (``reused=True``: a
sidecar alone, pointing at the data file), so a replay sees each payload that was fetched, under
its own name and time, in the order of the collection; and writing never leaves the root: every
directory below the root is opened with ``O_NOFOLLOW``, so a symlink planted inside the tree is
refused (``ArchiveUnsafePath``) instead of followed.

Retention: whole days (``<YYYY>/<MM>/<DD>``, or whole months and years) can be deleted, in any
order, and the days kept still read back whole: bytes are reused within their UTC day only, so
a sidecar alone points at a data file of its own day, never of another. Single files inside a
day must not be deleted (a sidecar there may point at a data file of that day). The content
index is a cache: a pointer to a deleted or other day is ignored, and the fetch stores its bytes.

Reading (``read_archive``/``Archive.entries``) walks a file, a day, an interface or the whole
root in day order, and yields every entry with its bytes — or with the reason it cannot be
used (corrupt gzip, sha256 or size mismatch, unreadable sidecar, sidecar without its data), so
one bad file is reported and the replay goes on. A data file without its sidecar is no payload
but a write cut short (the payload was never journaled, so it was fetched again): it comes with
a ``warning``, not a ``problem``.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import hashlib
import json
import os
import re
import secrets
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from maas.collector import renaming
from maas.collector.names import shown
from maas.errors import ArchiveNamesTaken, ArchiveUnsafePath, ArchiveWriteFailed

SCHEMA = 1
DATA_SUFFIX = ".gz"
SIDECAR_SUFFIX = ".gz.json"
INDEX_DIR = ".index"
_UNSAFE = re.compile(r"[^\w.+=@,-]")
_SEPARATORS = re.compile(r"[/\\]+")
_MAX_NAME = 200  # bytes; leaves room for the suffixes within the usual 255-byte limit
_DATA_FILE = re.compile(r"\d{4}/\d{2}/\d{2}/[^./\x00][^/\x00]*\.gz")  # a sidecar's data_file
NO_SIDECAR = (
    "data file without its sidecar, not replayed: an archive write cut short (disk full, a kill) "
    "before its sidecar, so the payload was never journaled and was fetched again; if the file "
    "was copied here without its sidecar, copy that too"
)


class Fetched(Protocol):
    """What the archive needs from a payload (``sources.Payload`` fits)."""

    @property
    def name(self) -> str: ...
    @property
    def data(self) -> bytes: ...
    @property
    def source_url(self) -> str: ...
    @property
    def fetched_at(self) -> datetime: ...
    @property
    def sha256(self) -> str: ...


@dataclass(frozen=True)
class ArchiveContext:
    """What the collector knows about a payload that the payload does not carry."""

    collector_id: str
    config_hash: str
    interface: str
    extractor: str


@dataclass(frozen=True)
class Sidecar:
    collector_id: str
    config_hash: str
    interface: str
    name: str
    source_url: str
    fetched_at: str
    size: int
    sha256: str
    extractor: str
    compression: str = "gzip"
    schema: int = SCHEMA
    data_file: str | None = None  # set in a sidecar alone (see the module doc)

    def to_bytes(self) -> bytes:
        """Without ``data_file`` when unset: a sidecar beside its data is what it always was."""
        fields = {k: v for k, v in asdict(self).items() if k != "data_file" or v is not None}
        return json.dumps(fields, indent=2, ensure_ascii=False).encode() + b"\n"

    @classmethod
    def from_bytes(cls, raw: bytes) -> Sidecar:
        """Raises ValueError naming what is wrong (bad JSON, missing or unknown keys)."""
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("sidecar is not a JSON object")
        if not isinstance(data.get("data_file", ""), str):
            raise ValueError("sidecar data_file is not a path")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValueError(f"sidecar keys: {exc}") from None


@dataclass(frozen=True)
class Stored:
    """Where a payload is archived: ``path`` is the data file holding its bytes, ``reused`` when
    they were already there (then only this fetch's sidecar was written, at ``reference``)."""

    path: Path
    sidecar: Sidecar
    reused: bool
    reference: Path | None = None

    @property
    def sidecar_path(self) -> Path:
        return self.reference or Path(str(self.path) + ".json")


@dataclass(frozen=True)
class ArchivedEntry:
    """One entry read back: ``data`` and ``sidecar`` when usable, else ``problem`` says why it
    cannot be used, or ``warning`` why it is no payload at all (a data file without its sidecar:
    a write cut short, whose payload was never journaled, so nothing is lost)."""

    path: Path
    sidecar: Sidecar | None = None
    data: bytes | None = None
    problem: str | None = None
    warning: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None and self.warning is None


def safe_name(name: str) -> str:
    """A single file name that keeps the original readable and cannot climb out (see module doc)."""
    parts = [_UNSAFE.sub("_", p).lstrip(".") for p in _SEPARATORS.split(name) if p not in ("", ".", "..")]
    joined = "~".join(p for p in parts if p) or "payload"
    if len(joined.encode()) <= _MAX_NAME:
        return joined
    digest = hashlib.sha256(joined.encode()).hexdigest()[:16]
    return joined.encode()[: _MAX_NAME - 17].decode(errors="ignore") + "." + digest


def strip_credentials(url: str) -> str:
    """Drop a password from a URL (sources never put one there; this is the last line)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{parts.username}@{host}" if parts.username else host
    return urlunsplit(parts._replace(netloc=netloc))


class Archive:
    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, payload: Fetched, context: ArchiveContext) -> Stored:
        """Archive ``payload`` durably: its bytes unless the interface already holds them that
        UTC day, and its sidecar in any case, so that a replay sees this fetch too."""
        interface = safe_name(context.interface)
        sidecar = _sidecar(payload, context)
        encoded = _encoded(sidecar)  # refused before any write when its sidecar cannot be stored
        day = _day(sidecar)
        with self._root_fd() as root_fd:
            held = self._indexed(root_fd, interface, day, payload.sha256)
            stored = self._write(root_fd, [interface, *day], payload, sidecar, encoded, held)
            if held is None:
                self._index(root_fd, interface, stored)
        return stored

    def entries(self, *under: str) -> Iterator[ArchivedEntry]:
        """Entries below the root, or below ``root/<under...>`` (an interface, a day, a file)."""
        return read_archive(self.root.joinpath(*under))

    # writing --------------------------------------------------------------------------
    @contextlib.contextmanager
    def _root_fd(self) -> Iterator[int]:
        with _os_errors(self.root):
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            yield fd
        finally:
            os.close(fd)

    def _write(
        self,
        root_fd: int,
        parts: list[str],
        payload: Fetched,
        sidecar: Sidecar,
        encoded: bytes,
        held: Stored | None,
    ) -> Stored:
        """This fetch in its day (``parts``: interface, year, month, day): data file and sidecar
        (``encoded``: its bytes, encoded once), or its sidecar alone when ``held`` (or an entry
        of the same name that day) holds the bytes."""
        day = self.root.joinpath(*parts)
        with _os_errors(day), _dirs(root_fd, parts, self.root) as dir_fd:
            name, same = _free_name(dir_fd, day, safe_name(payload.name), payload.sha256)
            path = day / (name + DATA_SUFFIX)
            held = held or (Stored(path, same, reused=True) if same else None)
            if held is not None:
                return _refer(dir_fd, day, sidecar, held)
            _write_entry(dir_fd, name, gzip.compress(payload.data, mtime=0), encoded)
            os.fsync(dir_fd)
        return Stored(path, sidecar, reused=False)

    def _index(self, root_fd: int, interface: str, stored: Stored) -> None:
        """Point the index at ``stored``, the newest data file of its bytes: the one the next
        fetch of these bytes that day reuses."""
        sha = stored.sidecar.sha256
        parts = [interface, INDEX_DIR, sha[:2]]
        target = stored.path.relative_to(self.root / interface).as_posix()
        with _os_errors(self.root.joinpath(*parts)), _dirs(root_fd, parts, self.root) as dir_fd:
            _write_atomic(dir_fd, sha, target.encode())

    def _indexed(self, root_fd: int, interface: str, day: list[str], sha: str) -> Stored | None:
        """The entry the index points to for ``sha``, if it is of ``day``, still there and
        matches. Bytes are reused within their UTC day only: a sidecar pointing at an earlier
        day would lose its bytes when retention deletes that day."""
        relative = _pointer(root_fd, interface, sha)
        if relative is None or not relative.startswith("/".join(day) + "/"):
            return None
        sidecar = _sidecar_at(root_fd, f"{interface}/{relative}".removesuffix(DATA_SUFFIX) + SIDECAR_SUFFIX)
        if sidecar is None or sidecar.sha256 != sha or not _exists_at(root_fd, f"{interface}/{relative}"):
            return None
        return Stored(self.root / interface / relative, sidecar, reused=True)


def _pointer(root_fd: int, interface: str, sha: str) -> str | None:
    """Where the index says the bytes of ``sha`` are (``<YYYY>/<MM>/<DD>/<name>.gz``), if it
    says so in the archive layout (the index is a cache: anything else is ignored)."""
    pointer = _read_at(root_fd, f"{interface}/{INDEX_DIR}/{sha[:2]}/{sha}")
    relative = None if pointer is None else pointer.decode(errors="replace")
    return relative if relative is not None and _DATA_FILE.fullmatch(relative) else None


def _day(sidecar: Sidecar) -> list[str]:
    """The UTC day of the fetch as directory names: year, month, day."""
    fetched = datetime.fromisoformat(sidecar.fetched_at)
    return [f"{fetched:%Y}", f"{fetched:%m}", f"{fetched:%d}"]


def _sidecar(payload: Fetched, context: ArchiveContext) -> Sidecar:
    return Sidecar(
        collector_id=context.collector_id,
        config_hash=context.config_hash,
        interface=context.interface,
        name=payload.name,
        source_url=strip_credentials(payload.source_url),
        fetched_at=payload.fetched_at.astimezone(UTC).isoformat(),
        size=len(payload.data),
        sha256=payload.sha256,
        extractor=context.extractor,
    )


def _encoded(sidecar: Sidecar) -> bytes:
    """The sidecar's bytes, or the refusal naming the payload (a name that is not UTF-8)."""
    try:
        return sidecar.to_bytes()
    except UnicodeEncodeError as exc:
        reason = f"sidecar cannot be written ({exc.reason})"
        raise ArchiveUnsafePath(f"archive: payload {shown(sidecar.name)}: {reason}") from None


@contextlib.contextmanager
def _os_errors(where: Path) -> Iterator[None]:
    try:
        yield
    except ArchiveUnsafePath:
        raise
    except OSError as exc:
        raise ArchiveWriteFailed(f"archive {where}: {exc.strerror or exc}") from None


@contextlib.contextmanager
def _dirs(root_fd: int, parts: list[str], root: Path) -> Iterator[int]:
    """Open (creating) ``parts`` below ``root_fd`` one level at a time, never following a link."""
    fd = os.dup(root_fd)
    try:
        for depth, part in enumerate(parts):
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o755, dir_fd=fd)
            child = _descend(fd, part, root.joinpath(*parts[: depth + 1]))
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def _descend(fd: int, part: str, shown: Path) -> int:
    try:
        return os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            reason = "is a symlink or not a directory; refusing to write through it"
            raise ArchiveUnsafePath(f"archive path {shown} {reason}") from None
        raise


def _free_name(dir_fd: int, day: Path, name: str, sha: str) -> tuple[str, Sidecar | None]:
    """``name`` if free (or holding these very bytes: then its sidecar), else the next name of
    ``renaming.names_to_try`` marked with the first 16 hex of ``sha``. A sidecar takes its name
    whatever it holds: pointing at bytes elsewhere, or unreadable (its data file may be the only
    copy of a fetch). A data file alone is a kill's leftover, never journaled (the fetch comes
    again): its name is free."""
    for candidate in renaming.names_to_try(name, sha[:16]):
        sidecar = _sidecar_at(dir_fd, candidate + SIDECAR_SUFFIX)
        if sidecar is None and not _exists_at(dir_fd, candidate + SIDECAR_SUFFIX):
            return candidate, None
        if sidecar is not None and sidecar.sha256 == sha and sidecar.data_file is None:
            return candidate, sidecar
    raise _all_taken(day, name)


def _refer(dir_fd: int, day: Path, sidecar: Sidecar, held: Stored) -> Stored:
    """This fetch's sidecar alone in its ``day``, pointing at the data file ``held`` that holds
    its bytes; nothing new when this very fetch is archived again (same sidecar, beside or alone)."""
    if held.sidecar == sidecar:
        return held
    own = replace(sidecar, data_file=held.path.relative_to(day.parents[2]).as_posix())
    name, existing = _free_reference(dir_fd, day, safe_name(sidecar.name), own)
    if existing is None:
        _write_atomic(dir_fd, name + SIDECAR_SUFFIX, own.to_bytes())
        os.fsync(dir_fd)
    return Stored(held.path, own, reused=True, reference=day / (name + SIDECAR_SUFFIX))


def _free_reference(dir_fd: int, day: Path, name: str, own: Sidecar) -> tuple[str, Sidecar | None]:
    """A name taken by neither a data file nor a sidecar for the sidecar alone ``own``, or the one
    already holding it, in the order of ``renaming.names_to_try`` marked with the fetch time."""
    stamp = datetime.fromisoformat(own.fetched_at).astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    for candidate in renaming.names_to_try(name, stamp):
        existing = _sidecar_at(dir_fd, candidate + SIDECAR_SUFFIX)
        if existing == own:
            return candidate, existing
        if not any(_exists_at(dir_fd, candidate + suffix) for suffix in (DATA_SUFFIX, SIDECAR_SUFFIX)):
            return candidate, None
    raise _all_taken(day, name)


def _all_taken(day: Path, name: str) -> ArchiveNamesTaken:
    """Permanent: a retry would find the same names taken (the operator must look at ``day``)."""
    return ArchiveNamesTaken(f"archive {day}: {renaming.NAME_TRIES} names tried for {shown(name)}, all taken")


def _write_entry(dir_fd: int, name: str, data: bytes, sidecar: bytes) -> None:
    """Data file and sidecar, so that the data file is never left alone: both are written and
    synced as temporaries first (a full disk fails there, before anything is in place), then
    renamed data first, sidecar last; if the sidecar's rename fails, the data file is removed.
    Only a kill between the two renames leaves a data file alone (the reader warns of it)."""
    data_name, sidecar_name = name + DATA_SUFFIX, name + SIDECAR_SUFFIX
    with (
        _temporary(dir_fd, data_name, data) as data_temp,
        _temporary(dir_fd, sidecar_name, sidecar) as sidecar_temp,
    ):
        _rename(dir_fd, data_temp, data_name)
        try:
            _rename(dir_fd, sidecar_temp, sidecar_name)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(data_name, dir_fd=dir_fd)
            raise


def _write_atomic(dir_fd: int, name: str, data: bytes) -> None:
    with _temporary(dir_fd, name, data) as temp:
        _rename(dir_fd, temp, name)


@contextlib.contextmanager
def _temporary(dir_fd: int, name: str, data: bytes) -> Iterator[str]:
    """A hidden temporary holding ``data``, synced; removed on the way out unless renamed."""
    temp = f".{name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=dir_fd)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        yield temp
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp, dir_fd=dir_fd)


def _rename(dir_fd: int, temp: str, name: str) -> None:
    os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)


def _exists_at(dir_fd: int, relative: str) -> bool:
    """Whether anything (a link included, not followed) is at ``relative`` below ``dir_fd``."""
    try:
        os.stat(relative, dir_fd=dir_fd, follow_symlinks=False)
    except (FileNotFoundError, NotADirectoryError):
        return False
    return True


def _read_at(dir_fd: int, relative: str) -> bytes | None:
    """A small file below ``dir_fd`` (no link followed at the last step), or None."""
    try:
        fd = os.open(relative, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dir_fd)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def _sidecar_at(dir_fd: int, relative: str) -> Sidecar | None:
    raw = _read_at(dir_fd, relative)
    if raw is None:
        return None
    try:
        return Sidecar.from_bytes(raw)
    except ValueError:
        return None


# reading --------------------------------------------------------------------------------
def read_archive(path: Path) -> Iterator[ArchivedEntry]:
    """Every entry at or below ``path`` (a ``.gz``, a sidecar, or a directory), in day order."""
    if path.is_file():
        yield _file_entry(path)
        return
    if not path.is_dir():
        yield ArchivedEntry(path, problem="no such file or directory")
        return
    for directory, subdirs, names in os.walk(path):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        yield from _directory(Path(directory), names)


def _directory(directory: Path, names: list[str]) -> Iterator[ArchivedEntry]:
    visible = {n for n in names if not n.startswith(".")}
    data = sorted(n for n in visible if n.endswith(DATA_SUFFIX))
    sidecars = (n for n in visible if n.endswith(SIDECAR_SUFFIX))
    alone = sorted(n for n in sidecars if n.removesuffix(".json") not in visible)
    entries = [_entry(directory / n) for n in data] + [_alone(directory / n) for n in alone]
    yield from sorted(entries, key=_order)


def _file_entry(path: Path) -> ArchivedEntry:
    """The entry a data file or a sidecar named on its own belongs to."""
    if path.name.endswith(DATA_SUFFIX):
        return _entry(path)
    if not path.name.endswith(SIDECAR_SUFFIX):
        return ArchivedEntry(path, problem=f"not an archive entry ({DATA_SUFFIX} or {SIDECAR_SUFFIX})")
    data = Path(str(path).removesuffix(".json"))
    return _entry(data) if data.exists() else _alone(path)


def _order(entry: ArchivedEntry) -> tuple[str, str]:
    return (entry.sidecar.fetched_at if entry.sidecar else "", entry.path.name)


def _entry(data_path: Path) -> ArchivedEntry:
    sidecar, problem = _load_sidecar(Path(str(data_path) + ".json"))
    if sidecar is None and problem is None:
        return ArchivedEntry(data_path, warning=NO_SIDECAR)
    if sidecar is None:
        return ArchivedEntry(data_path, problem=problem)
    return _read(data_path, sidecar, data_path)


def _alone(path: Path) -> ArchivedEntry:
    """A sidecar without a data file beside it: a fetch of bytes archived before, read from the
    data file its ``data_file`` names; or, without ``data_file``, a data file lost."""
    sidecar, problem = _load_sidecar(path)
    if sidecar is None or sidecar.data_file is None:
        return ArchivedEntry(path, problem=problem or "sidecar without its data file")
    data_path = _referenced(path, sidecar.data_file)
    if data_path is None:
        reason = f"sidecar data_file {sidecar.data_file!r} is not a data file of the archive layout"
        return ArchivedEntry(path, sidecar, problem=reason)
    entry = _read(path, sidecar, data_path)
    return entry if entry.ok else replace(entry, problem=f"{entry.problem} (data file {data_path})")


def _referenced(sidecar: Path, data_file: str) -> Path | None:
    """The data file ``data_file`` names, below the sidecar's interface directory (three levels
    above its day); None when it is not a ``<YYYY>/<MM>/<DD>/<name>.gz`` that stays there."""
    parents = sidecar.absolute().parents
    if len(parents) < 4 or _DATA_FILE.fullmatch(data_file) is None:
        return None
    return parents[3] / data_file


def _read(path: Path, sidecar: Sidecar, data_path: Path) -> ArchivedEntry:
    """The entry at ``path`` with the bytes of ``data_path``, verified against ``sidecar``."""
    data, problem = _load_data(data_path)
    if data is not None:
        problem = _verify(data, sidecar)
    return ArchivedEntry(path, sidecar, data if problem is None else None, problem)


def _load_sidecar(path: Path) -> tuple[Sidecar | None, str | None]:
    """The sidecar, or why it is unreadable; (None, None) when there is none."""
    try:
        return Sidecar.from_bytes(path.read_bytes()), None
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError) as exc:
        return None, f"unreadable sidecar {path.name}: {exc}"


def _load_data(path: Path) -> tuple[bytes | None, str | None]:
    try:
        return gzip.decompress(path.read_bytes()), None
    except FileNotFoundError:
        return None, "missing data file"
    except (OSError, EOFError, zlib.error) as exc:
        return None, f"corrupt gzip: {exc}"


def _verify(data: bytes, sidecar: Sidecar) -> str | None:
    digest = hashlib.sha256(data).hexdigest()
    if digest != sidecar.sha256:
        return f"sha256 mismatch: sidecar says {sidecar.sha256}, data is {digest}"
    if len(data) != sidecar.size:
        return f"size mismatch: sidecar says {sidecar.size}, data is {len(data)} bytes"
    return None


__all__ = [
    "Archive",
    "ArchiveContext",
    "ArchivedEntry",
    "Fetched",
    "Sidecar",
    "Stored",
    "read_archive",
    "safe_name",
    "strip_credentials",
]
