"""The collector journal: per interface and collector, what was durably collected, and a lease.

The journal lives in the store (it must survive the collector's machine) and advances only
after a payload is archived, its documents written and their message confirmed. A lease with
an expiry keeps two replicas of one collector from collecting the same interface at once; a
crashed holder's lease simply expires.

The files a file collector has seen are documents of their own (``JOURNAL_SEEN``), one per
path: a directory that keeps its files holds thousands of them, and writing the whole set
with every payload made a run quadratic in the directory's size. The journal entry holds only
the entries not yet written as documents (``seen`` in its state, at most ``SEEN_FLUSH`` of
them), so every save is still one durable update of bounded size, and the pending entries go
out as documents in one write every ``SEEN_FLUSH`` files. A journal entry from before holds its
whole seen set there: it is read the same way and flushed on the first save.

On a bus whose messages die with the process, what a collector announced is also kept, until
the engine chain has processed it, as documents of a third class (``OUTBOX``, see
:mod:`maas.collector.outbox`): the journal may then advance past a payload whose message the
chain has not processed yet, and still lose nothing.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from maas.collector.sources.base import Checkpoint, SeenFile, SourceState
from maas.errors import LockHeldError, StoreError
from maas.model import Document, DocumentClass, Field, FieldType
from maas.store.base import Store, Term, WriteReport

# Whose journal a document belongs to: the key of an entry, the start of a seen file's key.
_OWNER = {
    "interface": Field(FieldType.KEYWORD, required=True),
    "collector_id": Field(FieldType.KEYWORD, required=True),
}

JOURNAL = DocumentClass(
    name="CollectorJournal",
    family="maas-journal",
    fields={
        **_OWNER,
        "state": Field(FieldType.OBJECT),  # free-form: the source's SourceState as JSON
        "updated_at": Field(FieldType.DATETIME),
        "lease_owner": Field(FieldType.KEYWORD),
        "lease_expires": Field(FieldType.DATETIME),
        "payloads": Field(FieldType.LONG),
        "clean_exit": Field(FieldType.BOOLEAN),  # False while a run is in progress or after a crash
    },
    key=("interface", "collector_id"),
    description="collector checkpoints and leases",
)

JOURNAL_SEEN = DocumentClass(
    name="CollectorSeenFile",
    family="maas-journal-seen",
    fields={
        **_OWNER,
        "path": Field(FieldType.KEYWORD, required=True),
        "size": Field(FieldType.LONG, required=True),
        "mtime": Field(FieldType.FLOAT, required=True),
        "sha256": Field(FieldType.KEYWORD, required=True),
    },
    key=("interface", "collector_id", "path"),
    description="files a file collector collected, while they are listed",
)

OUTBOX = DocumentClass(
    name="CollectorOutbox",
    family="maas-journal-outbox",
    fields={
        **_OWNER,
        "message_id": Field(FieldType.KEYWORD, required=True),
        "routing_key": Field(FieldType.KEYWORD, required=True),
        "message": Field(FieldType.OBJECT, required=True),  # the Message as JSON: stored, not indexed
    },
    key=("interface", "collector_id", "message_id"),
    description="messages collectors published on an in-process bus, until its engine chain processed them",
)

JOURNAL_CLASSES = (JOURNAL, JOURNAL_SEEN, OUTBOX)  # what a collecting store is set up with
SEEN_FLUSH = 100  # pending seen entries: bounds the entry's size, one more write per this many files


def owner_id() -> str:
    """Who holds a lease: host, PID and a random part (PIDs repeat across containers)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Lease:
    """A held lease on one journal entry; ``save`` advances the state and renews the lease."""

    store: Store
    interface: str
    collector_id: str
    owner: str
    ttl: timedelta
    state: SourceState
    payloads: int = 0
    recovering: bool = False  # the previous run did not end cleanly (killed, publish failed)
    pending: dict[str, SeenFile] = field(default_factory=dict)  # seen, not yet written as documents

    @property
    def doc_id(self) -> str:
        return JOURNAL.id_for(self.interface, self.collector_id)

    def save(self, state: SourceState, checkpoint: Checkpoint) -> None:
        """Record the new state, ``checkpoint`` the one that made it (call only after the
        payload is durably processed)."""
        self._forget_gone(state.seen, checkpoint.seen)
        if checkpoint.seen is not None:
            self.pending[checkpoint.seen.path] = checkpoint.seen
        if len(self.pending) >= SEEN_FLUSH:  # written before the entry forgets them
            self._write_seen(self.pending.values())
            self.pending = {}
        self.payloads += 1
        self._update({"state": self._entry_state(state), "payloads": self.payloads}, renew=True)
        self.state = state

    def _forget_gone(self, seen: Mapping[str, SeenFile], entry: SeenFile | None) -> None:
        """Delete the entries the new state dropped (files gone from the listing), found by a
        set difference only when the sizes say some were: once per listing, not per file."""
        old = self.state.seen
        if len(old) + (entry is not None and entry.path not in old) == len(seen):
            return
        gone = old.keys() - seen.keys()
        self.pending = {path: e for path, e in self.pending.items() if path not in gone}
        self.store.delete(JOURNAL_SEEN, [self._seen_id(path) for path in gone])

    def _write_seen(self, entries: Iterable[SeenFile]) -> None:
        docs = [JOURNAL_SEEN.make(_seen_fields(self.interface, self.collector_id, e)) for e in entries]
        _checked(self.store.write(docs), f"seen files of {self.doc_id}")

    def _seen_id(self, path: str) -> str:
        return JOURNAL_SEEN.id_for(self.interface, self.collector_id, path)

    def _entry_state(self, state: SourceState) -> dict[str, Any]:
        """The journal entry's part of the state: the seen entries are only the pending ones."""
        return replace(state, seen=self.pending).to_json()

    def release(self, clean: bool = True) -> None:
        """Give the lease back; ``clean=False`` makes the next run a recovery run."""
        self._update({"lease_owner": None, "lease_expires": None, "clean_exit": clean}, renew=False)

    def _update(self, changes: dict[str, Any], renew: bool) -> None:
        now = datetime.now(UTC)

        def modify(current: Document | None) -> Document:
            _check_owner(current, self.owner, now)
            data = dict(current.data) if current else _fresh(self.interface, self.collector_id)
            data |= changes | {"updated_at": now}
            if renew:
                data |= {"lease_owner": self.owner, "lease_expires": now + self.ttl}
            return JOURNAL.make(data)

        _checked(self.store.update(JOURNAL, [self.doc_id], modify), self.doc_id)


def acquire(
    store: Store, interface: str, collector_id: str, ttl: timedelta, owner: str | None = None
) -> Lease:
    """Take the lease (or raise LockHeldError naming the holder) and read the state."""
    owner = owner or owner_id()
    now = datetime.now(UTC)
    doc_id = JOURNAL.id_for(interface, collector_id)
    captured: dict[str, Document | None] = {}

    def modify(current: Document | None) -> Document:
        _check_owner(current, owner, now)
        captured["current"] = current
        data = dict(current.data) if current else _fresh(interface, collector_id)
        fields = {"lease_owner": owner, "lease_expires": now + ttl, "updated_at": now, "clean_exit": False}
        return JOURNAL.make(data | fields)

    _checked(store.update(JOURNAL, [doc_id], modify), doc_id)
    current = captured.get("current")
    entry_state = (current.data.get("state") or {}) if current else {}
    payloads = int(current.data.get("payloads") or 0) if current else 0
    recovering = current is not None and current.data.get("clean_exit") is False
    state = SourceState.from_json(entry_state)
    seen = _with_seen(store, interface, collector_id, state)
    return Lease(store, interface, collector_id, owner, ttl, seen, payloads, recovering, dict(state.seen))


def peek(store: Store, interface: str, collector_id: str) -> SourceState:
    """The state the next run would start from, read without the lease and without writing, so
    that a dry run previews what that run would collect (and never blocks it)."""
    doc_id = JOURNAL.id_for(interface, collector_id)
    current = store.get(JOURNAL, [doc_id]).get(doc_id)
    state = SourceState.from_json((current.data.get("state") or {}) if current else {})
    return _with_seen(store, interface, collector_id, state)


def _with_seen(store: Store, interface: str, collector_id: str, state: SourceState) -> SourceState:
    """The entry's pending seen files over those already written as documents."""
    return replace(state, seen={**_load_seen(store, interface, collector_id), **state.seen})


def _load_seen(store: Store, interface: str, collector_id: str) -> dict[str, SeenFile]:
    store.refresh(JOURNAL_SEEN)  # once per run: the last run's entries may be a second old
    filters = [Term("interface", interface), Term("collector_id", collector_id)]
    return {
        d.data["path"]: SeenFile(d.data["path"], d.data["size"], d.data["mtime"], d.data["sha256"])
        for d in store.scan(JOURNAL_SEEN, filters)
    }


def _seen_fields(interface: str, collector_id: str, entry: SeenFile) -> dict[str, Any]:
    return {
        "interface": interface,
        "collector_id": collector_id,
        "path": entry.path,
        "size": entry.size,
        "mtime": entry.mtime,
        "sha256": entry.sha256,
    }


def _fresh(interface: str, collector_id: str) -> dict[str, Any]:
    return {"interface": interface, "collector_id": collector_id, "state": {}, "payloads": 0}


def _check_owner(current: Document | None, owner: str, now: datetime) -> None:
    if current is None:
        return
    holder, expires = current.data.get("lease_owner"), current.data.get("lease_expires")
    if holder and holder != owner and expires and expires > now and not _dead_here(holder):
        raise LockHeldError(
            f"interface {current.data['interface']} (collector {current.data['collector_id']}) is being "
            f"collected by {holder} until {expires.isoformat()}"
        )


def _dead_here(holder: str) -> bool:
    """A holder on this host whose process is gone (killed, crashed): no need to wait for expiry."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _checked(report: WriteReport, doc_id: str) -> None:
    failed = report.failed
    if failed:
        raise StoreError(f"journal entry {doc_id}: {failed[0].reason}")
