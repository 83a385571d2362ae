"""Process one batch of messages through a queue's engines: load, compute, write, report.

Transport-agnostic on purpose: RabbitMQ pools and the in-process chain call the same code, so
embedded mode and replay behave exactly like production.

Failure rules:
- a transient error (store down, 429 after bounded retries) or a write conflict (an aggregate
  changed by another writer since it was read) fails the whole batch with a TransientError:
  the caller retries every message through its delay queue (a running pool holds the batch
  through a store that cannot be reached instead: see ``Pool._through_outages``). Writes are idempotent
  (deterministic ids, unchanged documents skipped), so a retry is harmless;
- a permanent error (engine bug, mapping violation) in a batch of several messages is isolated
  by processing each message alone: only the guilty messages are dead-lettered, with the
  reason; the others are acknowledged.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain
from typing import NamedTuple

from maas.bus.message import DEFAULT_IDS_PER_MESSAGE, Action, Message, parse_routing_key
from maas.engine.base import Batch, Context, Writes
from maas.engine.routing import BoundEngine
from maas.errors import MaasError, PermanentError, StoreRefused, TransientError, WriteConflict
from maas.model import Document, DocumentClass, ModelRegistry
from maas.store.base import Expected, Outcome, Store, WriteReport

log = logging.getLogger(__name__)
_ACTION_OF = {Outcome.CREATED: Action.NEW, Outcome.UPDATED: Action.UPDATE}


class Incoming(NamedTuple):
    """A decoded message with the routing key it arrived on.

    ``second_pass``: the message may have been processed before (redelivered after a crash,
    retried, replayed from a DLQ, or forced). Its outputs may then already be written while
    their reports were never published, so unchanged outputs are reported too.

    A named tuple, not a frozen dataclass: one is built per message consumed, and a frozen
    dataclass's ``__init__`` costs several times more.
    """

    routing_key: str
    message: Message
    second_pass: bool = False


@dataclass
class BatchResult:
    """What the caller must do: publish ``reports`` (confirmed), then ack all but ``dead``."""

    reports: list[tuple[str, Message]] = field(default_factory=list)
    dead: dict[str, str] = field(default_factory=dict)  # message_id -> reason
    written: WriteReport = field(default_factory=WriteReport)
    deleted: int = 0
    documents_in: int = 0


@dataclass
class _Outputs:
    writes: Writes = field(default_factory=Writes)
    reported: set[int] = field(default_factory=set)  # id() of documents whose writes are reported


class Processor:
    """Runs a queue's engines, in order, over batches of messages."""

    def __init__(
        self,
        engines: Sequence[BoundEngine],
        store: Store,
        models: ModelRegistry,
        ids_per_message: int = DEFAULT_IDS_PER_MESSAGE,
    ) -> None:
        self.engines, self.store, self.models = list(engines), store, models
        self.ids_per_message = ids_per_message

    def process(self, incoming: Sequence[Incoming]) -> BatchResult:
        """Process the batch; on a permanent failure isolate the guilty messages."""
        try:
            return self._process(incoming)
        except (TransientError, StoreRefused):  # the store's state or ours, not the messages'
            raise
        except Exception as exc:
            if len(incoming) == 1:
                return BatchResult(dead={incoming[0].message.message_id: _reason(exc)})
            log.warning("batch of %d messages failed (%s); isolating", len(incoming), _reason(exc))
            return self._one_by_one(incoming)

    def _one_by_one(self, incoming: Sequence[Incoming]) -> BatchResult:
        total = BatchResult()
        for item in incoming:
            result = self.process([item])
            total.reports += result.reports
            total.dead |= result.dead
            total.written.extend(result.written)
            total.deleted += result.deleted
            total.documents_in += result.documents_in
        return total

    def _process(self, incoming: Sequence[Incoming]) -> BatchResult:
        """Each (action, family) group is computed *and written* before the next one is: an
        engine that reads its own earlier output (a status timeline's tail, a stored datatake)
        must see what the previous group of the same delivery wrote, or the two computations
        overwrite each other (two open intervals of one timeline)."""
        result = BatchResult()
        outputs = _Outputs()
        batches = self._load(incoming)
        for number, batch in enumerate(batches):
            result.documents_in += len(batch.documents)
            step = _Outputs()
            self._run_engines(batch, step)
            result.written.extend(self._write(step.writes.upserts, step.writes.expected))
            result.deleted += self._delete(step.writes.deletes)
            if number + 1 < len(batches):
                self._make_visible(step.writes)
            outputs.writes.extend(step.writes)
            outputs.reported |= step.reported
        parent = incoming[0].message
        second_pass = any(item.second_pass or item.message.force for item in incoming)
        result.reports = self._reports(parent, outputs, result.written, second_pass)
        result.reports += self._delete_reports(parent, outputs)
        if result.reports:
            self._make_visible(outputs.writes)
        return result

    def _make_visible(self, writes: Writes) -> None:
        """Engines downstream *search* what this batch wrote (all products of a datatake...).
        Where writes become searchable only after a refresh, refresh the written families once
        per batch before the reports go out; never per document."""
        if self.store.capabilities.needs_refresh:
            for doc_class in {doc.doc_class for doc in (*writes.upserts, *writes.deletes)}:
                self.store.refresh(doc_class)

    def _load(self, incoming: Sequence[Incoming]) -> list[Batch]:
        """One bulk read per (action, family): the documents every engine of the queue shares.

        A routing key *is* ``<action>.<family>``, so messages are grouped by the key itself
        (one dict lookup per message) and each key is parsed once per batch."""
        groups: dict[str, list[Message]] = {}
        for item in incoming:
            groups.setdefault(item.routing_key, []).append(item.message)
        return [self._batch(*parse_routing_key(key), messages) for key, messages in groups.items()]

    def _batch(self, action: Action, family: str, messages: list[Message]) -> Batch:
        doc_class = self.models[family]
        ids = _ids(messages)
        force = any(message.force for message in messages)
        if action is Action.DELETE:
            return Batch(doc_class, action, [], list(ids), force)
        found = self.store.get(doc_class, list(ids), list(ids.values()))
        if not found:
            return Batch(doc_class, action, [], list(ids), force)
        missing = [doc_id for doc_id in ids if doc_id not in found]
        return Batch(doc_class, action, [found[i] for i in ids if i in found], missing, force)

    def _run_engines(self, batch: Batch, outputs: _Outputs) -> None:
        ctx = Context(self.store, self.models, datetime.now(UTC))
        for bound in self.engines:
            writes = bound.engine.process(batch, ctx)
            if bound.send_reports:
                outputs.reported.update(id(doc) for doc in (*writes.upserts, *writes.deletes))
            outputs.writes.extend(writes)

    def _write(self, upserts: list[Document], expected: Expected) -> WriteReport:
        """Conflicting and retryable documents fail the batch: it is retried, and recomputed,
        later. The other documents of the batch are written already, which a retry finds
        unchanged."""
        report = self.store.write(upserts, expected=expected) if upserts else WriteReport()
        conflicts = report.conflicts
        if conflicts:
            raise WriteConflict(
                f"{len(conflicts)} aggregate(s) changed by another writer since read: retrying the"
                f" batch ({conflicts[0].reason})"
            )
        retryable = report.with_outcome(Outcome.RETRYABLE)
        if retryable:
            raise TransientError(
                f"{len(retryable)} document(s) could not be written yet: {retryable[0].reason}"
            )
        permanent = report.with_outcome(Outcome.PERMANENT)
        if permanent:
            raise PermanentError(f"{len(permanent)} document(s) refused by the store: {permanent[0].reason}")
        return report

    def _delete(self, docs: list[Document]) -> int:
        by_class: dict[DocumentClass, list[str]] = defaultdict(list)
        for doc in docs:
            by_class[doc.doc_class].append(doc.id)
        return sum(self.store.delete(doc_class, ids) for doc_class, ids in by_class.items())

    def _reports(
        self, parent: Message, outputs: _Outputs, report: WriteReport, second_pass: bool
    ) -> list[tuple[str, Message]]:
        """One report per (action, family) with the changed ids, chunked; unchanged ones stay
        quiet, except on a second pass, where a crash may have lost their first report."""
        reported = {doc.id: doc.doc_class for doc in outputs.writes.upserts if id(doc) in outputs.reported}
        grouped: dict[tuple[Action, DocumentClass], list[tuple[str, str]]] = defaultdict(list)
        items = report.items if second_pass else report.changed
        for item in items:
            action = _ACTION_OF.get(item.outcome, Action.UPDATE)
            if item.id in reported and (item.outcome.changed or item.outcome is Outcome.UNCHANGED):
                grouped[(action, reported[item.id])].append((item.id, item.index))
        return self._messages(parent, grouped.items())

    def _delete_reports(self, parent: Message, outputs: _Outputs) -> list[tuple[str, Message]]:
        grouped: dict[tuple[Action, DocumentClass], list[tuple[str, str]]] = defaultdict(list)
        for doc in outputs.writes.deletes:
            if id(doc) in outputs.reported:
                grouped[(Action.DELETE, doc.doc_class)].append((doc.id, doc.index))
        return self._messages(parent, grouped.items())

    def _messages(
        self, parent: Message, grouped: Iterable[tuple[tuple[Action, DocumentClass], list[tuple[str, str]]]]
    ) -> list[tuple[str, Message]]:
        out = []
        for (action, doc_class), pairs in grouped:
            ids, indices = [p[0] for p in pairs], [p[1] for p in pairs]
            key = f"{action.value}.{doc_class.family}"
            out += [(key, m) for m in parent.children(doc_class.name, ids, indices, self.ids_per_message)]
        return out


def _ids(messages: list[Message]) -> dict[str, str]:
    """Every id of the messages once, in order of first appearance, with its index (the last
    message naming an id wins, as when they were merged one by one)."""
    ids = chain.from_iterable(message.document_ids for message in messages)
    indices = chain.from_iterable(message.document_indices for message in messages)
    return dict(zip(ids, indices, strict=True))


def _reason(exc: BaseException) -> str:
    kind = "" if isinstance(exc, MaasError) else f"{type(exc).__name__}: "
    return f"{kind}{exc}"
