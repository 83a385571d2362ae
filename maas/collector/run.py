"""``maas collect``: fetch, archive, extract, write, publish, then advance the journal.

The order is the whole point. For each payload: the raw bytes are archived, the records
extracted and validated, the documents written in bulk, their ids published (confirmed), and
only then is the journal advanced and the remote file moved or deleted. A crash anywhere
re-fetches the payload next time: no gap; deterministic ids make the repeat a no-op.

A record that cannot be extracted or validated is reported (source, record, field, reason)
and the rest of the payload goes on; its raw bytes stay in the archive for a replay after a
fix. A source that cannot be reached fails its collector only; the others go on.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from maas.bus.base import Bus, Envelope
from maas.bus.message import DEFAULT_IDS_PER_MESSAGE, chunk_messages
from maas.bus.topology import routed
from maas.collector.archive import Archive, ArchiveContext
from maas.collector.config import CollectorConfig
from maas.collector.extract import SOURCE_KEY, ExtractError, extract
from maas.collector.journal import Lease, acquire, peek
from maas.collector.outbox import Announcement, Outbox
from maas.collector.sources.base import Payload, Rejected, Source, SourceState
from maas.collector.sources.factory import create_source
from maas.config.settings import TLSSettings
from maas.errors import MaasError, TransientError, UnreadableNotArchived, ValidationError
from maas.gc_pacing import batch_gc
from maas.model import Document, DocumentClass, ModelRegistry
from maas.store.base import ItemResult, Outcome, Store, WriteReport

log = logging.getLogger(__name__)
_ACTIONS = {Outcome.CREATED: "new", Outcome.UPDATED: "update"}
_NOT_ARCHIVED = (
    "archive: false, so it is not journaled and left on the source, to be read again next run: "
    "fix the collector or the file, or turn the archive on to keep its bytes and go on past it"
)
_ANNOUNCED = ((Outcome.CREATED, Outcome.UPDATED), (Outcome.UNCHANGED,))  # changed first, then unchanged


@dataclass
class CollectorStats:
    """The summary line of one collector."""

    collector_id: str
    interface: str
    payloads: int = 0
    records: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    archived: int = 0  # payloads whose bytes the archive stored
    reused: int = 0  # payloads whose bytes it held already: only their sidecar was written
    bytes: int = 0
    problems: list[str] = field(default_factory=list)
    error: str | None = None

    def count(self, counts: Counter[Outcome]) -> None:
        self.created += counts[Outcome.CREATED]
        self.updated += counts[Outcome.UPDATED]
        self.unchanged += counts[Outcome.UNCHANGED]


class Hooks:
    """Progress and dry-run output; each does nothing unless overridden."""

    def payload_done(self, collector: CollectorConfig, payload: Payload, stats: CollectorStats) -> None:
        """One payload went through (or was rejected)."""

    def dry_run_document(self, collector: CollectorConfig, document: Document) -> None:
        """With --dry-run: a document that would have been written."""

    def collector_done(self, stats: CollectorStats) -> None:
        """One collector finished its pass (``stats.error`` says whether it failed)."""

    def run_done(self) -> None:
        """Every collector of the run has finished."""


class HookChain(Hooks):
    """Several hooks (progress bar, metrics) called in order, like middleware."""

    def __init__(self, *hooks: Hooks) -> None:
        self.hooks = hooks

    def payload_done(self, collector: CollectorConfig, payload: Payload, stats: CollectorStats) -> None:
        for hook in self.hooks:
            hook.payload_done(collector, payload, stats)

    def dry_run_document(self, collector: CollectorConfig, document: Document) -> None:
        for hook in self.hooks:
            hook.dry_run_document(collector, document)

    def collector_done(self, stats: CollectorStats) -> None:
        for hook in self.hooks:
            hook.collector_done(stats)

    def run_done(self) -> None:
        for hook in self.hooks:
            hook.run_done()


@dataclass(frozen=True)
class Target:
    """Where collected documents go: the store, the bus exchange and what it routes."""

    store: Store
    bus: Bus
    exchange: str
    patterns: tuple[str, ...]  # routing-file bindings on the collect exchange
    archive: Archive | None
    ids_per_message: int = DEFAULT_IDS_PER_MESSAGE


class CollectorRun:
    """Runs collectors once; ``dry_run`` fetches and extracts but writes nothing.

    ``unreadable_raises``: a payload that cannot be read at all raises its ExtractError instead of
    counting as a rejection. A collection goes on past it when its bytes are archived (a replay
    after a fix reads them), while for a replay it is an archive entry that failed. A collector
    that keeps no archive cannot go on past it: that would lose it (UnreadableNotArchived).
    """

    def __init__(
        self,
        target: Target,
        models: ModelRegistry,
        tls: TLSSettings,
        *,
        dry_run: bool = False,
        since: datetime | None = None,
        lease_ttl: timedelta = timedelta(minutes=30),
        hooks: Hooks | None = None,
        unreadable_raises: bool = False,
    ) -> None:
        self.target, self.models, self.tls = target, models, tls
        self.dry_run, self.since, self.lease_ttl = dry_run, since, lease_ttl
        self.hooks = hooks or Hooks()
        self.unreadable_raises = unreadable_raises
        self.outbox = Outbox.needed(target.store, target.bus)

    def run(self, collectors: Sequence[CollectorConfig]) -> list[CollectorStats]:
        try:
            with batch_gc():  # each payload allocates its records and documents by the thousand
                return [self.run_one(collector) for collector in collectors]
        finally:
            self.hooks.run_done()

    def run_one(self, collector: CollectorConfig) -> CollectorStats:
        """One collector, its failure contained: the stats carry the error."""
        stats = CollectorStats(collector.id, collector.interface_name)
        try:
            self._collect(collector, stats)
        except MaasError as exc:
            stats.error = str(exc)
            log.error("collector %s failed: %s", collector.id, exc)
        self.hooks.collector_done(stats)
        return stats

    def _collect(self, collector: CollectorConfig, stats: CollectorStats) -> None:
        lease = (
            None
            if self.dry_run
            else acquire(self.target.store, collector.interface_name, collector.id, self.lease_ttl)
        )
        state = lease.state if lease else peek(self.target.store, collector.interface_name, collector.id)
        if self.since is not None:
            state = replace(state, watermark=self.since)
        clean = False
        try:
            if lease:
                self._announce_again(collector)
            with create_source(collector.source, self.tls) as source:
                self._poll(collector, source, state, lease, stats)
            clean = True
        finally:
            if lease:
                lease.release(clean)

    def _announce_again(self, collector: CollectorConfig) -> None:
        """What an earlier run announced on a bus that lost it before its chain processed it
        (maas.collector.outbox), published before collecting: the journal is past it already."""
        if self.outbox is None:
            return
        left = self.outbox.left(collector.interface_name, collector.id)
        wanted = [(key, message) for key, message in left if routed(self.target.patterns, key)]
        if wanted:
            log.warning(
                "collector %s: %d message(s) of an earlier run announced again: it stopped before "
                "its engine chain had processed them",
                collector.id,
                len(wanted),
            )
            self._send(wanted, None)

    def _poll(
        self,
        collector: CollectorConfig,
        source: Source,
        state: SourceState,
        lease: Lease | None,
        stats: CollectorStats,
    ) -> None:
        for payload in source.poll(state):
            if isinstance(payload, Rejected):  # left on the source, not journaled: taken once fixed
                self._reject(stats, payload.render())
                continue
            second_pass = lease.recovering if lease else True
            self.ingest(collector, payload, stats, second_pass, self.outbox)
            state = state.advance(payload.checkpoint)
            if lease:
                lease.save(state, payload.checkpoint)  # only now: archived, written, published
                self._after_success(source, payload, stats)
            self.hooks.payload_done(collector, payload, stats)

    def _after_success(self, source: Source, payload: Payload, stats: CollectorStats) -> None:
        """Move/delete the remote file. The payload is already durable and journaled, so a
        failure here is reported and the run goes on (the file stays where it was)."""
        try:
            source.after_success(payload)
        except MaasError as exc:
            self._reject(stats, f"{payload.name}: collected, but not moved/deleted on the source: {exc}")

    def ingest(
        self,
        collector: CollectorConfig,
        payload: Payload,
        stats: CollectorStats,
        second_pass: bool = True,
        outbox: Outbox | None = None,
    ) -> None:
        """One payload: archive (if the target keeps one), extract, validate, write, publish.

        The journal is the caller's business: ``maas collect`` advances it afterwards, and
        ``maas replay`` feeds archived payloads here with no archive and no journal at all.
        ``second_pass``: the documents may already be stored while their message never went out
        (a run killed between write and publish, a broker that refused the publish, a replay
        after a fix), so unchanged documents are published too; engines downstream stay quiet
        after one hop if nothing changed for them either. ``outbox``: where the messages are kept
        until the chain has processed them, when the bus does not keep them.
        """
        doc_class = self.models[collector.model]
        stats.payloads += 1
        stats.bytes += payload.size
        if collector.archive and self.target.archive and not self.dry_run:
            if self.target.archive.put(payload, _archive_context(collector)).reused:
                stats.reused += 1
            else:
                stats.archived += 1
        docs = self._documents(collector, doc_class, payload, stats)
        if self.dry_run:
            for doc in docs:
                self.hooks.dry_run_document(collector, doc)
            return
        report = self._write(docs, stats)
        phases = _ANNOUNCED if second_pass else _ANNOUNCED[:1]  # a first pass: changed documents only
        self._publish(collector, doc_class, report.items, phases, outbox)

    def _documents(
        self, collector: CollectorConfig, doc_class: DocumentClass, payload: Payload, stats: CollectorStats
    ) -> list[Document]:
        try:
            result = extract(collector.extract, payload.data, _context(collector, payload))
        except ExtractError as exc:  # its message already starts with the source (payload.name)
            if self.unreadable_raises:
                raise
            if not (collector.archive and self.target.archive):  # its bytes would be nowhere
                raise UnreadableNotArchived(f"{exc} ({_NOT_ARCHIVED})") from exc
            self._reject(stats, str(exc))
            return []
        for error in result.errors:
            self._reject(stats, error.render())
        stats.records += len(result.records) + len(result.errors)
        return self._validated(doc_class, payload.name, result.records, result.numbers, stats)

    def _validated(
        self,
        doc_class: DocumentClass,
        source: str,
        records: list[dict[str, Any]],
        numbers: list[int],
        stats: CollectorStats,
    ) -> list[Document]:
        """Model validation; a refusal names the record as the extractor numbers it (CSV: its line)."""
        docs = []
        for number, record in zip(numbers, records, strict=True):
            try:
                docs.append(doc_class.make(record))
            except ValidationError as exc:
                self._reject(stats, f"{source}: record {number}: {exc}")
        return docs

    def _write(self, docs: list[Document], stats: CollectorStats) -> WriteReport:
        report = self.target.store.write(docs) if docs else WriteReport()
        counts = report.counts()
        # Not written yet: the journal does not advance, this payload comes again next run.
        if counts[Outcome.RETRYABLE] or counts[Outcome.CONFLICT]:
            retryable = report.with_outcome(Outcome.RETRYABLE, Outcome.CONFLICT)
            raise TransientError(f"{len(retryable)} document(s) not written: {retryable[0].reason}")
        if counts[Outcome.PERMANENT]:
            for item in report.with_outcome(Outcome.PERMANENT):
                self._reject(stats, f"document {item.id}: refused by the store: {item.reason}")
        stats.count(counts)
        return report

    def _publish(
        self,
        collector: CollectorConfig,
        doc_class: DocumentClass,
        items: list[ItemResult],
        phases: tuple[tuple[Outcome, ...], ...],
        outbox: Outbox | None,
    ) -> None:
        announced = [
            (key, message)
            for key, ids, indices in self._announced(collector, doc_class, items, phases)
            for message in chunk_messages(doc_class.name, ids, indices, self.target.ids_per_message)
        ]
        if announced:
            self._send(announced, doc_class)
            if outbox is not None:  # before the journal advances; a publish that failed comes again
                outbox.keep(collector.interface_name, collector.id, announced)

    def _send(self, announced: list[Announcement], doc_class: DocumentClass | None) -> None:
        """Publish, confirmed before the journal advances; ``doc_class`` None: refresh them all."""
        if self.target.store.capabilities.needs_refresh:  # engines search what we wrote
            self.target.store.refresh(doc_class)
        self.target.bus.publish([Envelope.of(self.target.exchange, key, m) for key, m in announced])

    def chain_idle(self) -> None:
        """The engine chain ran to idle: what this process kept in the outbox is processed."""
        if self.outbox is not None:
            self.outbox.processed()

    def _announced(
        self,
        collector: CollectorConfig,
        doc_class: DocumentClass,
        items: list[ItemResult],
        phases: tuple[tuple[Outcome, ...], ...],
    ) -> list[tuple[str, list[str], list[str]]]:
        """``(routing key, ids, indices)`` of the documents to announce, phase by phase (changed
        ones first, then unchanged ones), each in write order.

        The key depends on the outcome only, so it is chosen and checked against the bindings
        once per outcome, and items whose key nobody consumes are not even looked at: most
        collectors in a replay without engines announce nothing.
        """
        by_key: dict[str, list[ItemResult]] = {}
        for outcomes in phases:
            keys = {
                o: k for o in outcomes if routed(self.target.patterns, k := _key(collector, doc_class, o))
            }
            if not keys:
                continue
            for item in items:
                key = keys.get(item.outcome)
                if key is not None:
                    by_key.setdefault(key, []).append(item)
        return [(key, [i.id for i in group], [i.index for i in group]) for key, group in by_key.items()]

    def _reject(self, stats: CollectorStats, problem: str) -> None:
        stats.rejected += 1
        if len(stats.problems) < 1000:  # the log has them all; the summary keeps the first ones
            stats.problems.append(problem)
        log.warning("rejected: %s", problem)


def _key(collector: CollectorConfig, doc_class: DocumentClass, outcome: Outcome) -> str:
    return collector.routing_key or f"{_ACTIONS.get(outcome, 'update')}.{doc_class.family}"


def _archive_context(collector: CollectorConfig) -> ArchiveContext:
    return ArchiveContext(
        collector.id, collector.config_hash(), collector.interface_name, collector.extract_format
    )


def _context(collector: CollectorConfig, payload: Payload) -> dict[str, Any]:
    """Values a collector file may use with ``from: context.<name>``."""
    return {
        SOURCE_KEY: payload.name,
        "interface_name": collector.interface_name,
        "collector_id": collector.id,
        "source_url": payload.source_url,
        "fetched_at": payload.fetched_at,
        "name": payload.name,
    }


def failed(stats: Sequence[CollectorStats]) -> bool:
    return any(s.error for s in stats)


__all__ = ["CollectorRun", "CollectorStats", "Hooks", "Target", "failed"]
