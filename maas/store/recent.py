"""The documents an embedded store committed lately, kept in memory to be read back.

In an embedded chain every engine reads, a moment later, what the engine before it wrote: the
documents its messages name (by id), the ones its searches find, and the stored hashes that
tell a rewrite from a change. DuckDB fetches a row by id from a wide table for 10-30 us
(every column decompressed, an aware datetime built per timestamp); the last committed
documents in memory turn those reads into dictionary look-ups.

Coherent by construction, not by timing:

- DuckDB allows one writing process per file, and in that process every write goes through a
  ``DuckDBStore`` of the file; the writers of one file share one memory (``attach(path)``);
- a document is remembered (or forgotten, when deleted) only once its transaction committed,
  under the lock held across the COMMIT, so the memory never runs ahead of the database nor
  falls behind it, whatever the threads;
- what a writer reads by id is remembered too, ids it did not find included (as not
  stored), but only when no commit happened in the process while the read ran
  (``generation``: a read may be older than such a commit), and never a read inside a
  transaction (its snapshot may be older still); a delete remembers the id as not stored;
- documents are values: a snapshot of the data is kept and a copy handed out, so a caller
  changing the mapping it holds cannot change the store's memory (nested lists are shared and,
  like every document's, never changed in place);
- the memory is bounded, the oldest write leaving first; what is not remembered is read from
  DuckDB as before;
- beside it, a family may have a filter of every id its table holds (``Presence``), built
  from a scan under the same lock and told every id committed after: an id it does not hold
  is not stored, whatever the memory forgot;
- likewise, a family may have ``Lookups``: its remembered documents by lookup value, and a
  filter of the lookup values of every stored row that may not be remembered (all rows at
  the scan that builds it, then every document leaving the memory): a search by values that
  filter surely lacks finds every match in memory.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from maas.model import Document, DocumentClass
from maas.store.presence import Presence

DEFAULT_CAPACITY = 20_000  # documents: a few engine batches of every family, tens of MB


# id -> (class, index, a snapshot of the data, content hash), _ABSENT for an id known not to
# be stored, or (None, "", None, hash) for one known stored with that hash only. Tuples, not
# Documents: remembering is on every write's path, and a frozen dataclass costs several times
# a tuple to build; a Document is built when one is read back.
Entry = tuple[DocumentClass | None, str, dict[str, Any] | None, str]
_ABSENT: Entry = (None, "", None, "")


class RecentDocuments:
    """Committed documents by id with their content hash, oldest write first."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self.commit_lock = threading.RLock()  # held across COMMIT and the update of the memory
        self.generation = 0  # commits remembered so far: a read that saw none may be remembered
        self._docs: OrderedDict[str, Entry] = OrderedDict()
        self._presence: dict[str, Presence] = {}  # family -> every id its table may hold
        self._lookups: dict[str, Lookups] = {}  # family -> its documents by lookup value

    def __len__(self) -> int:
        return len(self._docs)

    def remember(self, written: Iterable[tuple[Document, str]]) -> None:
        """Documents just committed, each with its content hash (call under ``commit_lock``)."""
        self.generation += 1
        entries: list[tuple[str, Entry]] = [
            (doc.id, (doc.doc_class, doc.index, dict(doc.data), digest)) for doc, digest in written
        ]
        if self._presence:
            self._stored(entries)
        self._keep(entries)

    def _stored(self, entries: list[tuple[str, Entry]]) -> None:
        for family, ids in _ids_by_family(entries).items():
            presence = self._presence.get(family)
            if presence is not None:
                presence.add(ids)

    def presence(self, family: str) -> Presence | None:
        """The filter of the ids ``family``'s table may hold, if one was built."""
        return self._presence.get(family)

    def track(self, family: str, stored: Iterable[str], rows: int) -> Presence:
        """Start filtering ``family``'s ids with those its table holds now (``rows`` of them):
        call under ``commit_lock``, with ids read after every commit that preceded it."""
        presence = self._presence[family] = Presence(rows)
        presence.add(stored)
        return presence

    def forget(self, ids: Iterable[str]) -> None:
        """Documents just deleted (call under ``commit_lock``)."""
        self.generation += 1
        self._keep([(doc_id, _ABSENT) for doc_id in ids])

    def remember_read(
        self, read: Iterable[tuple[Document, str]], absent: Iterable[str], generation: int
    ) -> None:
        """What a read by id found (and did not: ``absent``), outside a transaction, started at
        ``generation``: kept unless a commit happened meanwhile."""
        with self.commit_lock:
            if generation == self.generation:
                self._keep([(d.id, (d.doc_class, d.index, dict(d.data), digest)) for d, digest in read])
                self._keep([(doc_id, _ABSENT) for doc_id in absent])

    def remember_hashes(self, found: Mapping[str, str], generation: int) -> None:
        """Stored hashes read without their documents (see ``remember_read``), for ids not
        remembered otherwise: a conditional write asks for the hashes its engine just read."""
        with self.commit_lock:
            if generation == self.generation:
                docs = self._docs
                self._keep([(i, (None, "", None, digest)) for i, digest in found.items() if i not in docs])

    def _keep(self, entries: list[tuple[str, Entry]]) -> None:
        if self._lookups:
            self._keep_indexed(entries)
            return
        docs = self._docs
        pop = docs.pop
        for doc_id, entry in entries:
            pop(doc_id, None)  # a rewritten id moves to the newest end
            docs[doc_id] = entry
        for _ in range(len(docs) - self.capacity):
            docs.popitem(last=False)

    def _keep_indexed(self, entries: list[tuple[str, Entry]]) -> None:
        """``_keep``, the families' lookups following: a replaced version leaves the index (no
        longer stored), an evicted document leaves it for the filter (still stored)."""
        docs, lookups = self._docs, self._lookups
        for doc_id, entry in entries:
            old = docs.pop(doc_id, None)
            if old is not None and old[0] is not None and (family := lookups.get(old[0].family)):
                family.leave(doc_id, old)
            docs[doc_id] = entry
            if entry[0] is not None and (family := lookups.get(entry[0].family)):
                family.enter(doc_id, entry)
        evicted: dict[str, list[Hashable]] = {name: [] for name in lookups}
        for _ in range(len(docs) - self.capacity):
            doc_id, old = docs.popitem(last=False)
            if old[0] is not None and (family := lookups.get(old[0].family)):
                evicted[old[0].family] += family.leave(doc_id, old)
        for name, values in evicted.items():  # still stored: no longer all remembered
            if values:
                lookups[name].cold.add(values)

    def lookups(self, doc_class: DocumentClass) -> Lookups | None:
        """The family's lookups, if built for this version of its class."""
        found = self._lookups.get(doc_class.family)
        return found if found is not None and found.doc_class is doc_class else None

    def track_lookups(self, doc_class: DocumentClass, rows: Iterable[Sequence[Hashable]]) -> Lookups:
        """Start indexing ``doc_class``'s lookup fields, every row of its table (their values in
        ``doc_class.lookups`` order) taken as not remembered: call under ``commit_lock``, with
        rows read after every commit that preceded it."""
        built = Lookups(doc_class)
        built.cold.add(value for row in rows for value in row if value is not None)
        for doc_id, entry in self._docs.items():
            if entry[0] is not None and entry[0].family == doc_class.family:
                built.enter(doc_id, entry)
        self._lookups[doc_class.family] = built
        return built

    def hashes(self, ids: Iterable[str]) -> dict[str, str | None]:
        """The stored content hash of every id the memory knows (None: not stored)."""
        with self.commit_lock:
            found = [(doc_id, self._docs.get(doc_id)) for doc_id in ids]
        return {doc_id: entry[3] or None for doc_id, entry in found if entry}

    def documents(
        self, doc_class: DocumentClass, ids: Sequence[str], indices: Collection[str] | None = None
    ) -> tuple[dict[str, Document], set[str]]:
        """Copies of the remembered documents among ``ids`` (in ``indices`` when given), and
        the ids known not to be there: neither needs a read.

        A document remembered under another version of its class (a model that grew while the
        store was open) is neither: DuckDB reads it with the current columns.
        """
        with self.commit_lock:
            entries = [(doc_id, self._docs.get(doc_id)) for doc_id in ids]
        found, absent = {}, set()
        for doc_id, entry in entries:
            if entry is None:
                continue
            remembered_class, index, data, digest = entry
            if data is None and digest:  # stored, its hash only remembered
                continue
            if data is not None and remembered_class is not doc_class:
                continue
            if data is None or (indices is not None and index not in indices):
                absent.add(doc_id)
            else:
                found[doc_id] = Document(doc_class, doc_id, index, dict(data))
        return found, absent


class Lookups:
    """A family's remembered documents by lookup value, and a filter of the lookup values of
    the stored rows that may not be among them.

    Values, not (field, value) pairs: a string's hash is cached, a tuple's is not, and this is
    on every commit's path. A value of one lookup field found under another is a superset the
    search's own test (``TableSpec.exact_search``) narrows."""

    def __init__(self, doc_class: DocumentClass) -> None:
        self.doc_class = doc_class
        self.cold = Presence()
        self._fields = doc_class.lookups
        self._ids: dict[Hashable, set[str]] = {}

    def values(self, entry: Entry) -> list[Hashable]:
        data = entry[2]
        if data is None:
            return []
        if len(self._fields) == 1:
            value = data.get(self._fields[0])
            return [] if value is None else [value]
        return [value for value in map(data.get, self._fields) if value is not None]

    def enter(self, doc_id: str, entry: Entry) -> None:
        if entry[0] is not self.doc_class:  # another version of the model: not searched here
            self.cold.add(self.values(entry))
            return
        index = self._ids
        for value in self.values(entry):
            ids = index.get(value)
            if ids is None:
                index[value] = {doc_id}
            else:
                ids.add(doc_id)

    def leave(self, doc_id: str, entry: Entry) -> list[Hashable]:
        """Unindex a document; its lookup values (for the filter, if it is still stored)."""
        if entry[0] is not self.doc_class:
            return []  # not indexed (and, if stored, in the filter already)
        values = self.values(entry)
        index = self._ids
        for value in values:
            ids = index.get(value)
            if ids is not None:
                ids.discard(doc_id)
                if not ids:
                    del index[value]
        return values

    def split(self, values: Sequence[Hashable]) -> tuple[set[str], list[Hashable]]:
        """The ids of the remembered documents holding one of ``values`` that no document out
        of memory holds (in some lookup field), and the values that one may hold."""
        cold = self.cold.possible(values)
        found: set[str] = set()
        skip = set(cold)
        for value in values:
            if value not in skip:
                found |= self._ids.get(value, set())
        return found, cold


_shared: dict[Path, tuple[RecentDocuments, int]] = {}  # database -> (memory, stores using it)
_guard = threading.Lock()


def attach(path: Path, capacity: int = DEFAULT_CAPACITY) -> RecentDocuments:
    """The memory of the writers of ``path`` in this process (created by the first one; every
    writer attaches, so every commit updates it, and the largest capacity asked for holds)."""
    key = path.absolute()
    with _guard:
        memory, users = _shared.get(key) or (RecentDocuments(capacity), 0)
        memory.capacity = max(memory.capacity, capacity)
        _shared[key] = (memory, users + 1)
        return memory


def detach(path: Path) -> None:
    """A writer of ``path`` closed; the last one frees the memory."""
    key = path.absolute()
    with _guard:
        memory, users = _shared.pop(key)
        if users > 1:
            _shared[key] = (memory, users - 1)


def _ids_by_family(entries: list[tuple[str, Entry]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for doc_id, (doc_class, _, _, _) in entries:
        if doc_class is not None:
            found.setdefault(doc_class.family, []).append(doc_id)
    return found
