"""``maas replay``."""

from __future__ import annotations

import json
import logging
import shlex
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from maas.catalog import Catalog
from maas.collector.config import load_collectors
from maas.config import Settings
from maas.engine.routing import RoutingFile
from maas.errors import ConfigError
from maas.inspect.export import fresh_duckdb
from maas.replay import Collectors, Hooks, Plan, Replayer, ReplayReport, Selection, plan
from maas.store.base import Store
from maas.store.factory import create_store
from maas_cli.defaults import catalog_for
from maas_cli.options import JsonOpt, existing_out_directory, state
from maas_cli.runtime import routing_for

log = logging.getLogger("maas.replay")
DEFAULT_OUT = Path("replay.duckdb")
_COLUMNS = ("payloads", "records", "created", "updated", "unchanged", "rejected")


def replay(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Archive file, day, interface or whole archive.")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Fresh DuckDB file to replay into, in an existing directory (default: replay.duckdb).",
            show_default=False,
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace --out if it exists.")] = False,
    into_configured_store: Annotated[
        bool,
        typer.Option(
            "--into-configured-store",
            help="Replay into the configured store (e.g. OpenSearch) instead of --out; "
            "deterministic ids make it a no-op for data already there.",
        ),
    ] = False,
    config_dir: Annotated[
        Path | None,
        typer.Option(
            "--config-dir",
            help="Collector files to replay with (e.g. after a fix) instead "
            "of the configured collectors directory.",
        ),
    ] = None,
    interface: Annotated[
        list[str] | None, typer.Option("--interface", help="Only this interface (repeatable).")
    ] = None,
    collector: Annotated[
        list[str] | None, typer.Option("--collector", help="Only this collector id (repeatable).")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--from", help="Only payloads fetched at or after this UTC time (ISO 8601).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--to", help="Only payloads fetched before this UTC time (ISO 8601).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Replay archived raw payloads offline through the same extraction and engine chain.

    Reads only the archive and its sidecars, never the remote interface; each payload is
    re-extracted with the collector configuration its sidecar names. By default it writes a
    fresh DuckDB file, so a replay never touches production. Unusable archive entries (a
    payload that cannot be read at all included) are listed with their archive path and the
    reason, and the rest is replayed; a single bad record is a rejection, named the same way.
    Exits 1 if any entry failed or an engine message was dead-lettered. The collector journal
    is never touched.
    """
    _exist(paths)
    existing_out_directory(out or DEFAULT_OUT)
    settings = state(ctx).settings
    catalog = catalog_for(settings)
    collectors = _collectors(settings, catalog, config_dir)
    selection = Selection(
        frozenset(interface or ()), frozenset(collector or ()), _utc(since, "--from"), _utc(until, "--to")
    )
    routing = _routing(settings, catalog)
    store, where = _target(settings, out, force=force, into_configured_store=into_configured_store)
    try:
        store.setup(list(catalog.models))
        report = _run(store, catalog, routing, collectors, settings, paths, selection, quiet=as_json)
    except KeyboardInterrupt:
        again = "replaying again is safe" if into_configured_store else "run again with --force to replace it"
        _plain(Console(stderr=True), f"replay interrupted: {where} holds part of it; {again}")
        raise
    finally:
        store.close()
    _show(report, where, as_json)
    if not into_configured_store:
        _next_steps(where, quiet=as_json)
    if not report.ok:
        raise typer.Exit(1)


def _run(
    store: Store,
    catalog: Catalog,
    routing: RoutingFile | None,
    collectors: Collectors,
    settings: Settings,
    paths: list[Path],
    selection: Selection,
    *,
    quiet: bool,
) -> ReplayReport:
    progress = _Progress(enabled=not quiet)
    replayer = Replayer(store, catalog, routing, collectors, bus_settings=settings.bus, hooks=progress)
    with progress.progress:
        chosen = plan(paths, selection)
        report = replayer.replay(chosen)
    if not chosen.payloads and not chosen.bad:  # a typo'd path must not look like a replay
        report.warnings.append(_nothing(chosen, paths))
    return report


def _nothing(chosen: Plan, paths: list[Path]) -> str:
    if chosen.skipped:
        return f"nothing to replay: all {chosen.skipped} archived payload(s) are outside the selection"
    return f"nothing to replay: no archived payload in {', '.join(map(str, paths))}"


def _exist(paths: list[Path]) -> None:
    """A typo'd path is a usage error found before --out is created (the rerun needs no --force)."""
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise typer.BadParameter(f"{', '.join(missing)}: no such file or directory", param_hint="PATHS")


def _collectors(settings: Settings, catalog: Catalog, config_dir: Path | None) -> Collectors:
    directory = config_dir or settings.collectors_dir or catalog.collectors_dir
    if directory is None:
        raise ConfigError("no collectors directory: set 'collectors_dir' or pass --config-dir")
    configs = load_collectors(directory, catalog.models)  # refuses a directory that is not there
    if not configs:  # every payload would fail as 'unknown collector', one line each
        raise ConfigError(f"collectors directory {directory} defines no collector (see --config-dir)")
    return Collectors(configs, str(directory))


def _routing(settings: Settings, catalog: Catalog) -> RoutingFile | None:
    if settings.routing_file is None and catalog.routing_file is None:
        log.warning("no routing file: raw documents are replayed, no engine runs")
        return None
    return routing_for(settings, catalog)[0]


def _utc(text: str | None, option: str) -> datetime | None:
    """An ISO 8601 date or time; without an offset it is UTC (MaaS times are UTC throughout)."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 date or time", param_hint=option) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _target(
    settings: Settings, out: Path | None, *, force: bool, into_configured_store: bool
) -> tuple[Store, str]:
    """The store to replay into and how to name it in the summary."""
    if into_configured_store:
        if out is not None:
            raise typer.BadParameter("give either --out or --into-configured-store", param_hint="--out")
        return create_store(settings), "the configured store"
    path = out or DEFAULT_OUT
    return fresh_duckdb(path, replace=force), str(path)


class _Progress(Hooks):
    """Payloads as a bar; records, documents and engine messages as running counts."""

    def __init__(self, *, enabled: bool) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
            disable=not enabled,
        )
        self.task = self.progress.add_task("reading the archive", total=None, detail="")

    def started(self, report: ReplayReport) -> None:
        self.progress.update(self.task, description="replaying", total=report.total, completed=report.done)

    def payload_done(self, report: ReplayReport) -> None:
        self.progress.update(self.task, completed=report.done, detail=_detail(report))

    def chain_ran(self, report: ReplayReport) -> None:
        self.progress.update(self.task, detail=_detail(report))


def _detail(report: ReplayReport) -> str:
    documents = report.sum("created") + report.sum("updated") + report.sum("unchanged")
    return (
        f"{report.sum('records')} records, {documents} documents, "
        f"{report.engine.deliveries} engine messages, {len(report.failures)} failed"
    )


def _show(report: ReplayReport, where: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"target": where, **report.to_json()}, indent=2, default=str))
        return
    console = Console(stderr=True)
    if console.is_terminal:
        console.print(_table(report, where))
    else:
        for s in report.collectors.values():
            counts = " ".join(f"{name}={getattr(s, name)}" for name in _COLUMNS)
            _plain(console, f"collector {s.collector_id} ({s.interface}): {counts}")
    engine = report.engine
    _plain(
        console,
        f"replayed into {where}: engine messages={engine.deliveries} reports={engine.reports} "
        f"retried={engine.retried} dead_lettered={engine.dead_lettered} skipped={report.skipped}",
    )
    _problems(console, report)


def _next_steps(where: str, *, quiet: bool) -> None:
    """The output file is only useful through ``maas inspect``, which takes it by ``--db``."""
    if not quiet:
        _plain(
            Console(stderr=True),
            f"investigate it: maas inspect views --db {shlex.quote(where)} (then view, product, datatake …)",
        )


def _problems(console: Console, report: ReplayReport) -> None:
    for s in report.collectors.values():
        for problem in s.problems[:20]:
            _plain(console, f"  {s.collector_id}: {problem}")
        if len(s.problems) > 20:
            _plain(console, f"  {s.collector_id}: … {len(s.problems) - 20} more in the log")
    for warning in report.warnings:
        _plain(console, f"warning: {warning}")
    for failure in report.failures:
        _plain(console, f"FAILED {failure.path}: {failure.reason}")
    if report.engine.dead_lettered:
        _plain(console, f"{report.engine.dead_lettered} engine message(s) dead-lettered; see the log")


def _plain(console: Console, text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _table(report: ReplayReport, where: str) -> Table:
    table = Table("collector", "interface", *_COLUMNS, title=f"maas replay → {where}")
    for s in report.collectors.values():
        table.add_row(s.collector_id, s.interface, *(str(getattr(s, name)) for name in _COLUMNS))
    table.add_row("total", "", *(str(report.sum(name)) for name in _COLUMNS), style="bold")
    return table
