"""``maas collect``."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from prometheus_client import CollectorRegistry
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from maas.bus.base import Bus, declare_in_use
from maas.bus.factory import create_bus
from maas.catalog import Catalog
from maas.collector.archive import Archive
from maas.collector.config import CollectorConfig, load_collectors, select
from maas.collector.journal import JOURNAL_CLASSES
from maas.collector.run import CollectorRun, CollectorStats, HookChain, Hooks, Target, failed
from maas.collector.sources.base import Payload
from maas.config import Settings, redactor
from maas.engine.pool import Chain
from maas.engine.routing import RoutingFile
from maas.errors import BusInterrupted, ConfigError
from maas.logs import json_line, logs_json
from maas.model import Document
from maas.observe import CollectorMetrics, readiness, serve
from maas.store.base import Store
from maas.store.factory import create_store
from maas.store.lock import ProcessLock
from maas_cli.defaults import catalog_for
from maas_cli.options import MetricsPortOpt, state
from maas_cli.runtime import routing_for, stop_on_signals

log = logging.getLogger("maas.collect")


def collect(
    ctx: typer.Context,
    collector: Annotated[
        list[str] | None, typer.Option("--collector", help="Only this collector id (repeatable).")
    ] = None,
    once: Annotated[
        bool,
        typer.Option(
            "--once/--loop",
            help=(
                "One pass, or loop on each collector's period. An unreachable broker is "
                "retried for bus.one_shot_reconnect_max_s (15 s by default) with --once, for "
                "bus.reconnect_max_s (300 s) with --loop."
            ),
        ),
    ] = True,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Preview the next run: fetch and extract what the journal says is new, print the "
            "documents as JSON lines; write, archive, publish and journal nothing.",
        ),
    ] = False,
    since: Annotated[
        datetime | None, typer.Option("--since", help="Collect from this date (ISO 8601, UTC) for backfill.")
    ] = None,
    metrics_port: MetricsPortOpt = None,
) -> None:
    """Fetch new data from the configured interfaces, archive it, extract and store documents.

    In the embedded deployment the engine chain then runs in-process; with RabbitMQ the ids are
    published (confirmed) on the collect exchange for the engine pools. Prints a summary per
    collector and exits 1 if any collector failed, 3 if another run holds a collector's lock.
    """
    settings = state(ctx).settings
    catalog = catalog_for(settings)
    directory = settings.collectors_dir or catalog.collectors_dir
    if directory is None:
        raise ConfigError("no collectors directory: set 'collectors_dir' in the settings")
    chosen = _chosen(directory, catalog, collector)
    if since is not None and since.tzinfo is None:
        raise ConfigError("--since needs a UTC offset, e.g. 2024-01-01T00:00:00Z")
    locks = [
        ProcessLock(settings.state_dir / "locks" / f"collect-{c.id}.lock", f"collector {c.id}")
        for c in chosen
    ]
    for lock in locks:
        lock.acquire()  # LockHeldError: exit 3, an overlapping cron run
    try:
        hooks = _hooks(dry_run)
        if metrics_port is not None:
            registry = CollectorRegistry()
            hooks = HookChain(hooks, CollectorMetrics(registry))
            serve(metrics_port, registry, readiness(settings))
        _run(settings, catalog, chosen, hooks, dry_run=dry_run, since=since, loop=not once)
    finally:
        for lock in locks:
            lock.release()


def _chosen(directory: Path, catalog: Catalog, ids: list[str] | None) -> list[CollectorConfig]:
    """The collectors to run. None at all is a configuration error, not a quiet success: the
    packaged CDS collectors ship disabled, and a loop over nothing would never collect."""
    defined = load_collectors(directory, catalog.models)
    chosen = select(defined, ids)
    if not chosen:
        raise ConfigError(
            f"no collector to run: none is enabled in {directory}; set 'enabled: true' in one "
            "(in your own copy of the directory, named by 'collectors_dir') or name one with "
            f"--collector ID (defined: {', '.join(c.id for c in defined) or 'none'})"
        )
    return chosen


def _run(
    settings: Settings,
    catalog: Catalog,
    chosen: list[CollectorConfig],
    hooks: Hooks,
    *,
    dry_run: bool,
    since: datetime | None,
    loop: bool,
) -> None:
    routing = _routing(settings, catalog)
    store, bus = create_store(settings), create_bus(settings, "maas-collect", long_running=loop)
    # Before the first call to the broker: a stop must not wait out the reconnect budget.
    stop = stop_on_signals(bus.interrupt, "the current pass") if loop else None
    try:
        if routing is not None:
            declare_in_use(bus, routing.topology(settings.bus))
        if not dry_run:
            store.setup([*catalog.models, *JOURNAL_CLASSES])
        patterns = routing.patterns("collect") if routing else ()
        target = Target(store, bus, settings.bus.collect_exchange, patterns, Archive(settings.archive_dir))
        run = CollectorRun(target, catalog.models, settings.tls, dry_run=dry_run, since=since, hooks=hooks)
        chain = _chain(settings, catalog, routing, store, bus)
        if stop is not None:
            _loop(run, chosen, chain, stop)
            return
        stats = _pass(run, chosen, chain)
        if failed(stats):
            raise typer.Exit(1)
    except BusInterrupted as exc:  # stopped while waiting for the broker: nothing was settled
        log.info("collect stopped: %s", exc)
    finally:
        bus.close()
        store.close()


def _pass(run: CollectorRun, chosen: list[CollectorConfig], chain: Chain | None) -> list[CollectorStats]:
    stats = run.run(chosen)
    if chain is not None and not run.dry_run:
        steps = chain.run_until_idle()
        run.chain_idle()
        log.info(
            "engine chain: %d message(s), %d report(s), %d dead-lettered",
            steps.deliveries,
            steps.reports,
            steps.dead_lettered,
        )
        if steps.dead_lettered:
            _dead_lettered(steps.dead_lettered)
    _summary(stats)
    return stats


def _dead_lettered(count: int) -> None:
    message = f"{count} engine message(s) dead-lettered; see the log; replay the archive after a fix"
    if logs_json():
        _json_line(logging.ERROR, message, {"dead_lettered": count})
    else:
        Console(stderr=True).print(message, style="red", markup=False, highlight=False)


def _json_line(level: int, message: str, fields: dict[str, object]) -> None:
    """With JSON logs, what the command tells goes out as a JSON line too: journald and
    Kubernetes read every stderr line as one."""
    print(json_line(log.name, level, message, fields), file=sys.stderr)


def _loop(
    run: CollectorRun, chosen: list[CollectorConfig], chain: Chain | None, stop: threading.Event
) -> None:
    """Run each collector every ``period`` seconds until SIGTERM/Ctrl-C (after the current one)."""
    due = {c.id: 0.0 for c in chosen}
    while not stop.is_set():
        ready = [c for c in chosen if due[c.id] <= time.monotonic()]
        if ready:
            _pass(run, ready, chain)
            for c in ready:
                due[c.id] = time.monotonic() + c.period
        stop.wait(max(0.0, min(due.values()) - time.monotonic()))


def _routing(settings: Settings, catalog: Catalog) -> RoutingFile | None:
    if settings.routing_file is None and catalog.routing_file is None:
        log.warning("no routing file: documents are stored, no engine is triggered")
        return None
    return routing_for(settings, catalog)[0]


def _chain(
    settings: Settings, catalog: Catalog, routing: RoutingFile | None, store: Store, bus: Bus
) -> Chain | None:
    """The in-process engine chain of the embedded deployment (None when pools do the work)."""
    if routing is None or bus.capabilities.distributed:
        return None
    return Chain.from_routing(
        routing,
        bus=bus,
        store=store,
        models=catalog.models,
        engines=catalog.engines,
        bus_settings=settings.bus,
    )


class _Progress(Hooks):
    def __init__(self) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.tasks: dict[str, TaskID] = {}

    def payload_done(self, collector: CollectorConfig, payload: Payload, stats: CollectorStats) -> None:
        if collector.id not in self.tasks:
            self.progress.start()
            self.tasks[collector.id] = self.progress.add_task(collector.id, total=None, detail="")
        detail = f"{stats.payloads} payloads, {stats.records} records, {stats.rejected} rejected"
        self.progress.update(self.tasks[collector.id], completed=stats.bytes, detail=detail)

    def run_done(self) -> None:
        self.progress.stop()


class _DryRun(Hooks):
    def dry_run_document(self, collector: CollectorConfig, document: Document) -> None:
        record = {
            "collector": collector.id,
            "family": document.doc_class.family,
            "index": document.index,
            "id": document.id,
            "data": document.data,
        }
        print(json.dumps(record, default=str, ensure_ascii=False))


def _hooks(dry_run: bool) -> Hooks:
    """No progress bar with JSON logs: every stderr line must be JSON."""
    if dry_run:
        return _DryRun()
    return Hooks() if logs_json() else _Progress()


_SHOWN = 20  # problems per collector in the summary; the log has them all


def _summary(stats: list[CollectorStats]) -> None:
    """A table on a terminal; ``key=value`` lines for cron mail; JSON lines with JSON logs.
    Errors and rejections quote what servers answered, which may echo a secret: all is masked."""
    if logs_json():
        for s in stats:
            _json_line(_level(s), _line(s), _fields(s))
        return
    console = Console(stderr=True)
    if console.is_terminal:
        console.print(_table(stats))
    else:
        for s in stats:
            console.print(redactor.mask(_line(s)), markup=False, highlight=False, soft_wrap=True)
    for s in stats:
        _problems(console, s)


def _line(s: CollectorStats) -> str:
    status = f"FAILED: {s.error}" if s.error else "ok"
    return (
        f"collector {s.collector_id} ({s.interface}): payloads={s.payloads} records={s.records} "
        f"created={s.created} updated={s.updated} unchanged={s.unchanged} rejected={s.rejected} "
        f"archived={s.archived} reused={s.reused} status={status}"
    )


def _problems(console: Console, s: CollectorStats) -> None:
    for problem in s.problems[:_SHOWN]:
        line = f"  {s.collector_id}: {redactor.mask(problem)}"
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    if len(s.problems) > _SHOWN:
        console.print(f"  {s.collector_id}: … {len(s.problems) - _SHOWN} more in the log", markup=False)


def _level(s: CollectorStats) -> int:
    return logging.ERROR if s.error else logging.WARNING if s.problems else logging.INFO


def _fields(s: CollectorStats) -> dict[str, object]:
    """The summary's counts as keys of the JSON line (masked by json_line)."""
    fields = {"collector": s.collector_id, **asdict(s), "problems": s.problems[:_SHOWN]}
    del fields["collector_id"]
    return fields | {"problems_not_shown": max(0, len(s.problems) - _SHOWN)}


def _table(stats: list[CollectorStats]) -> Table:
    columns = ("collector", "interface", "payloads", "records", "created", "updated", "unchanged", "rejected")
    table = Table(*columns, "archived", "reused", "status", title="maas collect")
    for s in stats:
        # Text, not markup: an error quoting a server's answer may hold '[' or '[/x]'
        status = Text(f"FAILED: {redactor.mask(s.error)}", "red") if s.error else Text("ok", "green")
        rejected = Text(str(s.rejected), "yellow" if s.rejected else "")
        counts = (s.payloads, s.records, s.created, s.updated, s.unchanged)
        stored = (str(s.archived), str(s.reused))
        table.add_row(s.collector_id, s.interface, *map(str, counts), rejected, *stored, status)
    return table
