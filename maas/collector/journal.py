"""The collector journal: per interface and collector, what was durably collected, and a lease.

The journal lives in the store (it must survive the collector's machine) and advances only
after a payload is archived, its documents written and their message confirmed. A lease with
an expiry keeps two replicas of one collector from collecting the same interface at once; a
crashed holder's lease simply expires.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from maas.collector.sources.base import SourceState
from maas.errors import LockHeldError, StoreError
from maas.model import Document, DocumentClass, Field, FieldType
from maas.store.base import Outcome, Store

JOURNAL = DocumentClass(
    name="CollectorJournal",
    family="maas-journal",
    fields={
        "interface": Field(FieldType.KEYWORD, required=True),
        "collector_id": Field(FieldType.KEYWORD, required=True),
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

    @property
    def doc_id(self) -> str:
        return JOURNAL.id_for(self.interface, self.collector_id)

    def save(self, state: SourceState) -> None:
        """Record the new state (call only after the payload is durably processed)."""
        self.payloads += 1
        self._update({"state": state.to_json(), "payloads": self.payloads}, renew=True)
        self.state = state

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
    seen: dict[str, Document | None] = {}

    def modify(current: Document | None) -> Document:
        _check_owner(current, owner, now)
        seen["current"] = current
        data = dict(current.data) if current else _fresh(interface, collector_id)
        fields = {"lease_owner": owner, "lease_expires": now + ttl, "updated_at": now, "clean_exit": False}
        return JOURNAL.make(data | fields)

    _checked(store.update(JOURNAL, [doc_id], modify), doc_id)
    current = seen.get("current")
    state = SourceState.from_json(current.data.get("state") or {}) if current else SourceState()
    payloads = int(current.data.get("payloads") or 0) if current else 0
    recovering = current is not None and current.data.get("clean_exit") is False
    return Lease(store, interface, collector_id, owner, ttl, state, payloads, recovering)


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


def _checked(report: Any, doc_id: str) -> None:
    for item in report.items:
        if item.outcome in (Outcome.RETRYABLE, Outcome.PERMANENT):
            raise StoreError(f"journal entry {doc_id}: {item.reason}")
