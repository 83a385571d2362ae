"""The replay itself: archived payloads through the collector's own pipeline and the engine chain.

Nothing here is a second implementation. Each payload goes through
:meth:`CollectorRun.ingest` (extract, validate, bulk write, publish) exactly as ``maas collect``
does, minus the archive (the bytes come from it) and the journal (a replay never moves a
collector's checkpoint). The engine chain is :class:`~maas.engine.pool.Chain` on an in-process
bus, whatever bus production uses: a replay is self-contained, runs to quiescence, and never
publishes to the production broker. The chain is drained every ``drain_every`` changed
documents and at the end, so the bus holds a bounded number of ids however large the archive.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from maas.bus.memory import MemoryBroker, MemoryBus
from maas.bus.topology import Topology
from maas.catalog import Catalog
from maas.collector.archive import ArchivedEntry, Sidecar
from maas.collector.config import CollectorConfig
from maas.collector.extract import ExtractError
from maas.collector.run import CollectorRun, Target
from maas.collector.sources.base import Checkpoint, Payload
from maas.config.settings import BusSettings, TLSSettings
from maas.engine.pool import Chain
from maas.engine.routing import RoutingFile
from maas.errors import MaasError
from maas.gc_pacing import batch_gc
from maas.replay.report import ReplayReport
from maas.replay.selection import Plan, Planned, reload
from maas.store.base import Store

log = logging.getLogger(__name__)
DRAIN_EVERY = 50_000


class Hooks:
    """Progress points; each does nothing unless overridden."""

    def started(self, report: ReplayReport) -> None:
        """The plan is made: ``report.total`` payloads to go."""

    def payload_done(self, report: ReplayReport) -> None:
        """One payload replayed or failed."""

    def chain_ran(self, report: ReplayReport) -> None:
        """The engine chain was drained (``report.engine`` has the running totals)."""


@dataclass(frozen=True)
class Collectors:
    """The collector configurations a replay resolves sidecars against, and where they came from."""

    configs: Sequence[CollectorConfig]
    origin: str  # shown in errors: the directory they were loaded from

    def find(self, sidecar: Sidecar) -> CollectorConfig | None:
        return next((c for c in self.configs if c.id == sidecar.collector_id), None)


class Replayer:
    """Replays a :class:`Plan` into ``store``; one instance per replay."""

    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        routing: RoutingFile | None,
        collectors: Collectors,
        *,
        bus_settings: BusSettings | None = None,
        hooks: Hooks | None = None,
        drain_every: int = DRAIN_EVERY,
    ) -> None:
        self.store, self.collectors = store, collectors
        self.hooks = hooks or Hooks()
        self.drain_every = drain_every
        settings = bus_settings or BusSettings()
        bus = MemoryBus(MemoryBroker(), client_name="maas-replay")
        topology = routing.topology(settings) if routing else Topology()
        bus.declare(topology)
        self.chain = (
            Chain.from_routing(
                routing,
                bus=bus,
                store=store,
                models=catalog.models,
                engines=catalog.engines,
                bus_settings=settings,
            )
            if routing
            else None
        )
        patterns = _patterns(topology, settings.collect_exchange)
        target = Target(store, bus, settings.collect_exchange, patterns, archive=None)
        self.run = CollectorRun(target, catalog.models, TLSSettings(), unreadable_raises=True)
        self._pending = 0  # changed documents published since the chain last ran
        self._warned: set[tuple[str, str]] = set()
        self._hashes: dict[str, str] = {}  # collector id -> its configuration hash

    def replay(self, plan: Plan) -> ReplayReport:
        report = ReplayReport(total=len(plan.payloads) + len(plan.bad), skipped=plan.skipped)
        for bad in plan.bad:
            report.fail(bad.path, bad.problem or "unusable")
        _warn_incomplete(plan, report)
        self.hooks.started(report)
        with batch_gc():  # each payload allocates its documents by the thousand, like a batch
            for planned in plan.payloads:
                self._payload(planned, report)
                self.hooks.payload_done(report)
                if self._pending >= self.drain_every:
                    self._drain(report)
            self._drain(report)
        self.store.refresh()
        return report

    def _payload(self, planned: Planned, report: ReplayReport) -> None:
        entry = reload(planned)
        collector = self.collectors.find(entry.sidecar) if entry.sidecar else None
        if entry.data is None or entry.sidecar is None:
            report.fail(planned.path, entry.problem or "unusable")
        elif collector is None:
            report.fail(
                planned.path,
                f"unknown collector {entry.sidecar.collector_id!r}: no collector "
                f"file in {self.collectors.origin} defines it (see --config-dir)",
            )
        else:
            self._check_version(collector, entry.sidecar, report)
            self._ingest(collector, entry, report)

    def _ingest(self, collector: CollectorConfig, entry: ArchivedEntry, report: ReplayReport) -> None:
        stats = report.stats_for(collector)
        before, problems = stats.created + stats.updated, len(stats.problems)
        try:
            self.run.ingest(collector, _payload(entry), stats)
        except MaasError as exc:
            stats.payloads -= 1  # counted as a failure instead
            report.fail(entry.path, exc.reason if isinstance(exc, ExtractError) else str(exc))
            log.error("replay of %s failed: %s", entry.path, exc)
        # A rejected record is named by its payload's base name: the archive path says which one.
        stats.problems[problems:] = [f"{entry.path}: {p}" for p in stats.problems[problems:]]
        self._pending += stats.created + stats.updated - before

    def _check_version(self, collector: CollectorConfig, sidecar: Sidecar, report: ReplayReport) -> None:
        """Say once per configuration version that the payload is read with another one."""
        current = self._config_hash(collector)
        if current == sidecar.config_hash or (collector.id, sidecar.config_hash) in self._warned:
            return
        self._warned.add((collector.id, sidecar.config_hash))
        warning = (
            f"collector {collector.id}: its configuration changed since some payloads were "
            f"archived (sidecar {sidecar.config_hash}, now {current}); they are replayed "
            "with the current one"
        )
        report.warnings.append(warning)
        log.warning(warning)

    def _config_hash(self, collector: CollectorConfig) -> str:
        """Hashing dumps the whole configuration to JSON: once per collector, not per payload."""
        if collector.id not in self._hashes:
            self._hashes[collector.id] = collector.config_hash()
        return self._hashes[collector.id]

    def _drain(self, report: ReplayReport) -> None:
        self._pending = 0
        if self.chain is None:
            return
        report.engine.add(self.chain.run_until_idle())
        self.hooks.chain_ran(report)


def _warn_incomplete(plan: Plan, report: ReplayReport) -> None:
    """Data files without their sidecar are archive writes cut short: their payload was never
    journaled and was fetched again, so they are said, not failed."""
    for entry in plan.incomplete:
        report.warnings.append(f"{entry.path}: {entry.warning}")
        log.warning("%s: %s", entry.path, entry.warning)


def _patterns(topology: Topology, exchange: str) -> tuple[str, ...]:
    """The routing file's bindings on the collect exchange: only those keys are published."""
    return tuple(b.pattern for q in topology.queues for b in q.bindings if b.exchange == exchange)


def _payload(entry: ArchivedEntry) -> Payload:
    """The payload as it was fetched, rebuilt from the archived bytes and sidecar."""
    assert entry.sidecar is not None and entry.data is not None
    sidecar = entry.sidecar
    return Payload(
        name=sidecar.name,
        data=entry.data,
        source_url=sidecar.source_url,
        checkpoint=Checkpoint(),
        fetched_at=datetime.fromisoformat(sidecar.fetched_at),
        sha256=sidecar.sha256,
    )
