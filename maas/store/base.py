"""The Store protocol, its write report and the small filter language both backends implement."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from operator import attrgetter
from typing import Any, Literal, NamedTuple, Protocol

from maas.model import Document, DocumentClass


class Outcome(StrEnum):
    """What happened to one document of a write."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"  # same content: not rewritten, no report emitted
    # Not written: another writer changed it since the writer read its hash (``expected``).
    # What the writer computed may be stale: recompute, then write again.
    CONFLICT = "conflict"
    RETRYABLE = "retryable"  # 429, 5xx, rejected execution... still failing after bounded retries
    PERMANENT = "permanent"  # mapping or validation error: retrying will not help

    @property
    def changed(self) -> bool:
        return self in (Outcome.CREATED, Outcome.UPDATED)

    @property
    def failed(self) -> bool:
        return self in (Outcome.CONFLICT, Outcome.RETRYABLE, Outcome.PERMANENT)


_OUTCOME = attrgetter("outcome")


class ItemResult(NamedTuple):
    """One document's outcome. A named tuple: a write builds one per document, at a third of a
    frozen dataclass' cost."""

    id: str
    index: str  # type: ignore[assignment]  # the field hides tuple.index(), which nobody calls
    outcome: Outcome
    reason: str | None = None


@dataclass
class WriteReport:
    """Per-document outcome of a write; engines emit reports for ``changed`` ones only."""

    items: list[ItemResult] = field(default_factory=list)

    def add(self, doc: Document, outcome: Outcome, reason: str | None = None) -> None:
        self.items.append(ItemResult(doc.id, doc.index, outcome, reason))

    def extend(self, other: WriteReport) -> None:
        self.items.extend(other.items)

    def counts(self) -> Counter[Outcome]:
        """How many of each outcome: one pass in C (collectors ask it for every payload)."""
        return Counter(map(_OUTCOME, self.items))

    def with_outcome(self, *outcomes: Outcome) -> list[ItemResult]:
        return [item for item in self.items if item.outcome in outcomes]

    @property
    def changed(self) -> list[ItemResult]:
        return [item for item in self.items if item.outcome.changed]

    @property
    def failed(self) -> list[ItemResult]:
        return [item for item in self.items if item.outcome.failed]

    @property
    def conflicts(self) -> list[ItemResult]:
        """The documents not written because another writer changed them since they were read."""
        return self.with_outcome(Outcome.CONFLICT)


# --- filter language: a list of filters means AND --------------------------------------------


@dataclass(frozen=True)
class Term:
    field: str
    value: Any


@dataclass(frozen=True)
class Terms:
    field: str
    values: Sequence[Any]


@dataclass(frozen=True)
class Range:
    field: str
    gte: Any = None
    gt: Any = None
    lte: Any = None
    lt: Any = None


@dataclass(frozen=True)
class Exists:
    field: str


Filter = Term | Terms | Range | Exists
SortKey = tuple[str, Literal["asc", "desc"]]
# A read-modify-write function: the current document (None if absent) -> the new one (None: no change).
Modify = Callable[[Document | None], Document | None]
# What a writer computed on: id -> the content hash it read before reading its inputs (None: absent).
Expected = Mapping[str, str | None]
NOTHING_EXPECTED: Expected = {}
CHANGED_SINCE_READ = "changed since it was read (another writer)"


def unexpected(expected: Expected, doc_id: str, stored: str | None, new: str) -> str | None:
    """Why a document must not be written (None: it may): another writer changed it since the
    writer read its hash, so what it computed may be stale. A result equal to what is stored
    is no conflict: writing nothing leaves the store as the writer wants it."""
    if doc_id not in expected or stored in (expected[doc_id], new):
        return None
    return f"{doc_id} {CHANGED_SINCE_READ}: read {expected[doc_id] or 'absent'}, now {stored or 'absent'}"


@dataclass(frozen=True)
class StoreCapabilities:
    """Backend differences as data, so callers never test which backend they have."""

    name: str
    distributed: bool  # several processes on several machines may write at once
    needs_refresh: bool  # writes become searchable only after a refresh
    max_bulk_docs: int
    sql: bool  # DuckDB: ad-hoc SQL for ``maas inspect``


class Store(Protocol):
    """Where every collector, engine, replay and inspection reads and writes."""

    capabilities: StoreCapabilities

    def setup(self, classes: Iterable[DocumentClass]) -> None:
        """Create tables / install index templates, idempotently."""

    def write(self, docs: Iterable[Document], *, expected: Expected = NOTHING_EXPECTED) -> WriteReport:
        """Bulk upsert by id; unchanged content is not rewritten; every item classified.

        ``expected``: for ids computed from what was stored (an aggregate), the hash read before
        computing. One stored with another hash since is not written but a CONFLICT (the caller
        recomputes), checked atomically with the write."""

    def hashes(
        self, doc_class: DocumentClass, ids: Sequence[str], indices: Sequence[str] | None = None
    ) -> dict[str, str]:
        """The stored content hash of each id (absent ids left out): what a write's ``expected``
        is compared with. Realtime wherever the index is known, as for ``get``: unpartitioned
        families, or ``indices`` (where the ids probably are) given. A partitioned family read
        without ``indices`` may go through a search, which on OpenSearch sees a write only
        after a refresh: an engine passes the partitions its outputs may be in."""

    def get_with_hashes(
        self, doc_class: DocumentClass, ids: Sequence[str], indices: Sequence[str] | None = None
    ) -> tuple[dict[str, Document], dict[str, str]]:
        """``get`` and ``hashes`` of the same ids, in one read where the backend can (an engine
        rewriting its stored outputs reads both). No hash is read after its document: a write
        in between must fail the check, not pass over the older document."""

    def update(self, doc_class: DocumentClass, ids: Sequence[str], modify: Modify) -> WriteReport:
        """Read-modify-write with optimistic concurrency: no lost update between writers."""

    def get(
        self, doc_class: DocumentClass, ids: Sequence[str], indices: Sequence[str] | None = None
    ) -> dict[str, Document]:
        """Documents by id (missing ids are absent from the result)."""

    def find(
        self,
        doc_class: DocumentClass,
        filters: Sequence[Filter] = (),
        sort: Sequence[SortKey] = (),
        limit: int | None = None,
    ) -> list[Document]:
        """Matching documents; ``limit=None`` means all of them (never a silent cap)."""

    def scan(
        self, doc_class: DocumentClass, filters: Sequence[Filter] = (), batch_size: int = 1000
    ) -> Iterator[Document]:
        """Stream every matching document, in id order, with bounded memory."""

    def count(self, doc_class: DocumentClass, filters: Sequence[Filter] = ()) -> int: ...

    def delete(self, doc_class: DocumentClass, ids: Sequence[str]) -> int:
        """Delete by id; returns how many existed."""

    def refresh(self, doc_class: DocumentClass | None = None) -> None:
        """Make writes searchable now (tests, replay, an engine searching its own earlier output:
        once per batch at most, never per write)."""

    def close(self) -> None: ...
