"""The outbox: what collectors announced on a bus that keeps no message, until the engine chain
has processed it.

The journal advances once a payload's message is published. A broker keeps that message until an
engine pool has processed it; the in-process bus of the embedded deployment keeps it only as long
as the process, and there the chain runs after the collectors. A kill, an OOM kill or a Ctrl-C
in between lost the messages while the journal already had the payloads as done: their derived
documents were never computed, and the next runs, which fetch only what is new, never knew.

So where the bus's messages do not survive the process (``BusCapabilities.persistent``), every
message a collector publishes is also written to the store before the journal advances, and
deleted once the chain has run to idle. The next run of that collector publishes again what is
left, before it collects, as ``force`` messages: every engine down the chain then reports its
outputs even when unchanged, since the messages between the engines were lost too. Engines write
with deterministic ids and skip unchanged documents, so a stop between the chain and the deletion
costs a second processing, never a loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from maas.bus.base import Bus
from maas.bus.message import Message
from maas.collector.journal import OUTBOX
from maas.errors import StoreError
from maas.model import Document
from maas.store.base import Store, Term

Announcement = tuple[str, Message]  # (routing key, message)


@dataclass
class Outbox:
    """One process's view of the outbox; ``held`` are the entries its chain will have processed
    once it runs to idle: those this process wrote and those it published again."""

    store: Store
    held: set[str] = field(default_factory=set)

    @classmethod
    def needed(cls, store: Store, bus: Bus) -> Outbox | None:
        """An outbox where the bus's messages die with the process; none where a broker keeps them."""
        return None if bus.capabilities.persistent else cls(store)

    def keep(self, interface: str, collector_id: str, announced: Sequence[Announcement]) -> None:
        """Once they are published, before the journal advances: a stop from then on finds them
        here, and one before finds the journal before their payload, which comes again."""
        docs = [OUTBOX.make(_entry(interface, collector_id, key, m)) for key, m in announced]
        failed = self.store.write(docs).failed
        if failed:  # the journal must not advance past messages kept nowhere
            raise StoreError(f"outbox entry {failed[0].id} of collector {collector_id}: {failed[0].reason}")
        self.held.update(doc.id for doc in docs)

    def left(self, interface: str, collector_id: str) -> list[Announcement]:
        """What an earlier process announced and its chain did not finish, as ``force`` messages."""
        self.store.refresh(OUTBOX)  # once per collector and run: written by another process
        filters = [Term("interface", interface), Term("collector_id", collector_id)]
        entries = list(self.store.scan(OUTBOX, filters))
        self.held.update(doc.id for doc in entries)
        return [_announcement(doc) for doc in entries]

    def processed(self) -> None:
        """The chain ran to idle: every message held was processed, its entry goes."""
        if self.held:
            self.store.delete(OUTBOX, sorted(self.held))
        self.held = set()


def _entry(interface: str, collector_id: str, key: str, message: Message) -> dict[str, Any]:
    return {
        "interface": interface,
        "collector_id": collector_id,
        "message_id": message.message_id,
        "routing_key": key,
        "message": message.model_dump(mode="json"),
    }


def _announcement(doc: Document) -> Announcement:
    message = Message.model_validate(doc.data["message"])
    return doc.data["routing_key"], message.model_copy(update={"force": True})
