"""What every source hands the collector: payloads (raw bytes) with the checkpoint to record.

A source *lists then fetches*, for files and API pages alike, and never decides what is
durable: it yields one :class:`Payload` at a time, and the orchestrator archives it, extracts
and writes the documents, confirms the message, and only then folds ``payload.checkpoint``
into the journal (``state.advance(checkpoint)``) and calls ``source.after_success(payload)``
(move/delete of the remote file). A crash anywhere before that re-fetches the payload on the
next run: no gap, and the deterministic document ids make the repeat harmless.

What "new" means (the rule the journal relies on):

* files: a file is new when its path (relative to the source root) is not in ``state.seen``,
  changed when its size or mtime differs from the seen entry. A rewrite that keeps both size
  and mtime is not detectable without reading every file on every poll and is not collected.
  The sha256 of the bytes is recorded for audit; identical bytes under a new mtime are
  collected again and then deduplicated by the archive (same sha256) and the store (same ids).
* OData: records whose watermark is above ``state.watermark - overlap``; a page made only of
  records already seen inside the overlap window (``state.recent``) is skipped.
* HTTP: resume from ``state.resume.cursor``; the page fetched there is skipped when its sha256
  equals ``state.resume.digest`` (nothing was appended since).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import MappingProxyType, TracebackType
from typing import Any, Literal, Protocol, Self

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SeenFile:
    """One entry of the seen set: a file as it was when it was collected."""

    path: str
    size: int
    mtime: float
    sha256: str

    def same_listing(self, size: int, mtime: float) -> bool:
        return self.size == size and self.mtime == mtime


@dataclass(frozen=True)
class Resume:
    """Where an HTTP source starts next time: the cursor (None: the first page) and the sha256
    of the page last fetched there (None: not fetched yet), to skip it when it did not grow."""

    cursor: str | None = None
    digest: str | None = None


@dataclass(frozen=True)
class Checkpoint:
    """What the journal records once the payload is durably processed.

    Files fill ``seen`` and ``present`` (every path the poll listed: the seen entries of files
    gone from the source are forgotten, so the seen set stays the size of the directory, not of
    its history; a file that comes back later is collected again, onto the same document ids);
    OData fills ``watermark`` (the max watermark of the page), ``recent`` (record key ->
    watermark, for the records inside the overlap window) and ``keep_after`` (entries of
    ``recent`` older than this can be forgotten); HTTP fills ``resume``.
    """

    seen: SeenFile | None = None
    present: frozenset[str] | None = None
    watermark: datetime | None = None
    recent: Mapping[str, datetime] = field(default_factory=lambda: _EMPTY)
    keep_after: datetime | None = None
    resume: Resume | None = None


@dataclass(frozen=True)
class SourceState:
    """What the journal knows about one interface; sources only read it."""

    seen: Mapping[str, SeenFile] = field(default_factory=lambda: _EMPTY)
    watermark: datetime | None = None
    recent: Mapping[str, datetime] = field(default_factory=lambda: _EMPTY)
    resume: Resume = Resume()

    def advance(self, checkpoint: Checkpoint) -> SourceState:
        """The state after ``checkpoint`` was durably processed (pure: returns a new state)."""
        return replace(
            self,
            seen=_with_seen(self.seen, checkpoint.seen, checkpoint.present),
            watermark=_max(self.watermark, checkpoint.watermark),
            recent=_merge_recent(self.recent, checkpoint.recent, checkpoint.keep_after),
            resume=checkpoint.resume or self.resume,
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form for the journal (datetimes as UTC ISO strings)."""
        return {
            "seen": {p: [s.size, s.mtime, s.sha256] for p, s in self.seen.items()},
            "watermark": _iso(self.watermark),
            "recent": {k: _iso(v) for k, v in self.recent.items()},
            "cursor": self.resume.cursor,
            "digest": self.resume.digest,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SourceState:
        seen = {p: SeenFile(p, int(v[0]), float(v[1]), str(v[2])) for p, v in data.get("seen", {}).items()}
        return cls(
            seen=seen,
            watermark=_parse_iso(data.get("watermark")),
            recent={k: _from_iso(v) for k, v in data.get("recent", {}).items()},
            resume=Resume(data.get("cursor"), data.get("digest")),
        )


def _with_seen(
    seen: Mapping[str, SeenFile], entry: SeenFile | None, present: frozenset[str] | None
) -> Mapping[str, SeenFile]:
    if present is not None:
        seen = {path: known for path, known in seen.items() if path in present}
    return seen if entry is None else {**seen, entry.path: entry}


def _max(old: datetime | None, new: datetime | None) -> datetime | None:
    if old is None or new is None:
        return old or new
    return max(old, new)


def _merge_recent(
    old: Mapping[str, datetime], new: Mapping[str, datetime], keep_after: datetime | None
) -> Mapping[str, datetime]:
    if not new and keep_after is None:
        return old
    merged = {**old, **new}
    if keep_after is not None:
        merged = {k: v for k, v in merged.items() if v >= keep_after}
    return merged


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _from_iso(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse_iso(value: str | None) -> datetime | None:
    return None if value is None else _from_iso(value)


@dataclass(frozen=True)
class Payload:
    """Raw bytes as fetched, with where they came from and what to record once processed.

    ``name`` is relative and meant for the archive (which still neutralises it: a hostile
    server can put anything in a listing); ``source_url`` never carries credentials;
    ``remote_path`` is what ``after_success`` moves or deletes (None for API pages).
    """

    name: str
    data: bytes
    source_url: str
    checkpoint: Checkpoint
    fetched_at: datetime = field(default_factory=utc_now)
    remote_path: str | None = None
    sha256: str = ""

    def __post_init__(self) -> None:
        if not self.sha256:  # file sources pass the digest they already computed for the seen set
            object.__setattr__(self, "sha256", hashlib.sha256(self.data).hexdigest())

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class Rejected:
    """An entry the listing showed but the source cannot collect as it is: a name that is not
    UTF-8, a file it cannot read or no longer finds, a sub-directory it cannot list.

    Reported as a rejection of the collector; the entry stays on the source and is not recorded
    as seen, so it is collected on the first poll after it is fixed (renamed, made readable).
    """

    name: str  # printable: valid UTF-8, undecodable bytes shown as ``\\xe9``
    reason: str
    kind: Literal["file", "directory"] = "file"

    def render(self) -> str:
        return f"{self.kind} {self.name}: {self.reason}"


@dataclass(frozen=True)
class Capabilities:
    """How a source family differs, as data for the orchestrator (no isinstance checks)."""

    listing: Literal["files", "pages"]
    removes_after_success: bool = False


class Source(Protocol):
    """One configured interface. Use as a context manager: the connection opens lazily on the
    first poll, stays open across ``poll`` and ``after_success``, and closes on exit."""

    capabilities: Capabilities

    def poll(self, state: SourceState) -> Iterator[Payload | Rejected]:
        """Yield what is new since ``state``, one payload at a time (lazily: list, then fetch),
        and each new entry that cannot be collected as it is (see :class:`Rejected`)."""
        ...

    def after_success(self, payload: Payload) -> None:
        """Move or delete the remote file; call ONLY after the payload is durably processed.
        A file whose size or mtime changed since it was read is left in place for the next poll."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class Closing:
    """Context-manager plumbing shared by the implementations."""

    def close(self) -> None:
        """Nothing to release by default."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
