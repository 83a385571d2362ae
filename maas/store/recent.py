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
- only what a writer *wrote* is remembered, never what it read (a read may be older than a
  commit that happens while it runs);
- documents are values: a snapshot of the data is kept and a copy handed out, so a caller
  changing the mapping it holds cannot change the store's memory (nested lists are shared and,
  like every document's, never changed in place);
- the memory is bounded, the oldest write leaving first; what is not remembered is read from
  DuckDB as before.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path

from maas.model import Document, DocumentClass

DEFAULT_CAPACITY = 20_000  # documents: a few engine batches of every family, tens of MB


class RecentDocuments:
    """Committed documents by id with their content hash, oldest write first."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self.commit_lock = threading.RLock()  # held across COMMIT and the update of the memory
        self._docs: OrderedDict[str, tuple[Document, str]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._docs)

    def remember(self, written: Iterable[tuple[Document, str]]) -> None:
        """Documents just committed, each with its content hash (call under ``commit_lock``)."""
        docs = self._docs
        for doc, digest in written:
            docs.pop(doc.id, None)
            docs[doc.id] = (Document(doc.doc_class, doc.id, doc.index, dict(doc.data)), digest)
        while len(docs) > self.capacity:
            docs.popitem(last=False)

    def forget(self, ids: Iterable[str]) -> None:
        """Documents just deleted (call under ``commit_lock``)."""
        for doc_id in ids:
            self._docs.pop(doc_id, None)

    def hashes(self, ids: Iterable[str]) -> dict[str, str]:
        """The stored content hashes of the remembered documents among ``ids``."""
        with self.commit_lock:
            found = [(doc_id, self._docs.get(doc_id)) for doc_id in ids]
        return {doc_id: entry[1] for doc_id, entry in found if entry is not None}

    def documents(
        self, doc_class: DocumentClass, ids: Sequence[str], indices: Collection[str] | None = None
    ) -> dict[str, Document]:
        """Copies of the remembered documents among ``ids`` (in ``indices`` when given).

        A document remembered under another version of its class (a model that grew while the
        store was open) is not returned: DuckDB reads it with the current columns.
        """
        with self.commit_lock:
            entries = [self._docs.get(doc_id) for doc_id in ids]
        out = {}
        for entry in entries:
            if entry is None:
                continue
            doc = entry[0]
            if doc.doc_class is doc_class and (indices is None or doc.index in indices):
                out[doc.id] = Document(doc_class, doc.id, doc.index, dict(doc.data))
        return out


_shared: dict[Path, tuple[RecentDocuments, int]] = {}  # database -> (memory, stores using it)
_guard = threading.Lock()


def attach(path: Path, capacity: int = DEFAULT_CAPACITY) -> RecentDocuments:
    """The memory of the writers of ``path`` in this process (created by the first one)."""
    key = path.absolute()
    with _guard:
        memory, users = _shared.get(key) or (RecentDocuments(capacity), 0)
        _shared[key] = (memory, users + 1)
        return memory


def detach(path: Path) -> None:
    """A writer of ``path`` closed; the last one frees the memory."""
    key = path.absolute()
    with _guard:
        memory, users = _shared.pop(key)
        if users > 1:
            _shared[key] = (memory, users - 1)
