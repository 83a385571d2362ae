"""``maas inspect``: investigate a DuckDB store or replay output."""

from __future__ import annotations

import sys
from contextlib import ExitStack, closing
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from cds.kpi.completeness import Status
from maas.catalog import Catalog
from maas.config import Settings
from maas.config.secrets import mask_url
from maas.errors import ConfigError
from maas.inspect.database import Database, NotADatabase, Rows, literal
from maas.inspect.export import Slice, output_store
from maas.inspect.export import export as export_slices
from maas.inspect.filters import parse_filters
from maas.inspect.listing import tables_sql, view_sql, views_rows
from maas.inspect.output import write
from maas.inspect.report import build as build_report
from maas.inspect.views import View
from maas.model import DocumentClass
from maas.store.factory import BACKENDS, create_store, duckdb_path
from maas_cli.defaults import catalog_for
from maas_cli.help import MaasTyper
from maas_cli.options import existing_out_directory, state

OPENSEARCH_MODULE = "maas.store.opensearch"

app = MaasTyper(help="Investigate with DuckDB SQL and ready-made views.", no_args_is_help=True)


class Format(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"
    PARQUET = "parquet"


DbOpt = Annotated[
    Path | None,
    typer.Option(
        "--db",
        help="DuckDB file to inspect (read-only); default: the configured embedded store.",
        show_default=False,
    ),
]
FormatOpt = Annotated[
    Format, typer.Option("--format", "-f", help="table, csv, json (one object per line) or parquet.")
]
OutputOpt = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write the result to this file instead of stdout.")
]
LimitOpt = Annotated[
    int, typer.Option("--limit", min=0, help="Rows shown by --format table (0: all); other formats: all.")
]
ValueArg = Annotated[
    str | None,
    typer.Argument(help="Only rows whose key column (the view's) has this value.", show_default=False),
]
FilterOpt = Annotated[
    list[str] | None, typer.Option("--filter", help="COLUMN=VALUE: only rows where COLUMN equals VALUE.")
]


@app.command()
def sql(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="One read-only SQL query (SELECT or EXPLAIN).")],
    db: DbOpt = None,
    fmt: FormatOpt = Format.TABLE,
    output: OutputOpt = None,
    limit: LimitOpt = 1000,
) -> None:
    """Run one read-only SQL query; tables are named like families with '-' → '_'.

    The file is opened read-only and only SELECT and EXPLAIN run: INSERT, CREATE, COPY, ATTACH,
    EXPORT and the like are refused with the reason. The catalog's views are there too.
    """
    with closing(_database(ctx, db)) as database:
        _emit(database, query, fmt, output, limit)


@app.command()
def tables(
    ctx: typer.Context, db: DbOpt = None, fmt: FormatOpt = Format.TABLE, output: OutputOpt = None
) -> None:
    """The tables of the file: the family each holds and its row count."""
    with closing(_database(ctx, db)) as database:
        _emit(database, tables_sql(database, _catalog(ctx).models), fmt, output, 0)


@app.command()
def views(ctx: typer.Context, db: DbOpt = None) -> None:
    """The catalog's ready-made views, and whether this file has the tables they need."""
    catalog = _catalog(ctx)
    with closing(_database(ctx, db)) as database:
        listing = views_rows(database, catalog.views)
    _table(Rows(["view", "description", "status"], list(listing), more=False), None)


@app.command()
def view(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="View name (see `maas inspect views`).")],
    value: ValueArg = None,
    filters: FilterOpt = None,
    db: DbOpt = None,
    fmt: FormatOpt = Format.TABLE,
    output: OutputOpt = None,
    limit: LimitOpt = 1000,
) -> None:
    """Show one of the catalog's views, optionally filtered."""
    _show_view(ctx, _find_view(_catalog(ctx), name), value, filters, db, fmt, output, limit)


# The business's ready-made investigations: each shows the catalog's view of the same name.
BUSINESS_VIEWS = {
    "product": "The journey of one product across interfaces (VALUE: its name, with or without extensions).",
    "datatake": "Completeness per type, missing periods and products of one datatake (VALUE: its key).",
    "timeliness": "Timeliness percentiles by product type, interface or day (VALUE: one of them).",
    "completeness": "Datatake completeness per product type (VALUE: a datatake key).",
    "interfaces": "Interface status timelines (VALUE: an interface name).",
}


class By(StrEnum):
    TYPE = "type"
    INTERFACE = "interface"
    DAY = "day"


def _business(
    ctx: typer.Context,
    name: str,
    value: str | None,
    filters: list[str],
    db: Path | None,
    fmt: Format,
    output: Path | None,
    limit: int,
) -> None:
    catalog = _catalog(ctx)
    found = [v for v in catalog.views if v.name == name]
    if not found:
        known = ", ".join(v.name for v in catalog.views) or "none"
        raise ConfigError(
            f"maas inspect {name}: the catalogs in use provide no {name!r} view "
            f"(their views: {known}); the CDS catalog does"
        )
    _show_view(ctx, found[0], value, filters, db, fmt, output, limit)


def _business_command(name: str, summary: str) -> None:
    def command(
        ctx: typer.Context,
        value: ValueArg = None,
        filters: FilterOpt = None,
        db: DbOpt = None,
        fmt: FormatOpt = Format.TABLE,
        output: OutputOpt = None,
        limit: LimitOpt = 1000,
    ) -> None:
        _business(ctx, name, value, filters or [], db, fmt, output, limit)

    command.__doc__ = f"{summary} The catalog's {name!r} view."
    app.command(name=name)(command)


for _name, _summary in BUSINESS_VIEWS.items():
    if _name not in ("timeliness", "completeness"):  # these two have shortcut options, below
        _business_command(_name, _summary)


@app.command()
def timeliness(
    ctx: typer.Context,
    value: Annotated[
        str | None,
        typer.Argument(
            help="One bucket: a product type, an interface name or a UTC day (YYYY-MM-DD).",
            show_default=False,
        ),
    ] = None,
    by: Annotated[
        By | None,
        typer.Option(
            "--by",
            help="Group by product type, interface or UTC day; default: the grouping that has VALUE "
            "(type when no VALUE is given).",
            show_default=False,
        ),
    ] = None,
    filters: FilterOpt = None,
    db: DbOpt = None,
    fmt: FormatOpt = Format.TABLE,
    output: OutputOpt = None,
    limit: LimitOpt = 1000,
) -> None:
    """Timeliness percentiles p50/p90/p99, min (signed), max and count by product type, interface or day.

    Per interface kind and measure (from_sensing, transfer, prip_to_dd). VALUE picks one bucket;
    without --by, the grouping whose buckets hold it (an interface name, a day or a product type
    of the data), and a note on stderr when none does. The catalog's 'timeliness' view; --by
    picks its `grouping` column.

    Percentiles are exact: DuckDB's quantile_cont (linear interpolation between the closest
    ranks). The Grafana timeliness dashboard shows OpenSearch's TDigest estimates, which differ
    from these where few values make the tail (a p99 of a few hundred values or less).
    """
    grouping = _timeliness_grouping(ctx, value, by, db)
    _business(
        ctx, "timeliness", value, [f"grouping={grouping.value}", *(filters or [])], db, fmt, output, limit
    )


def _timeliness_grouping(ctx: typer.Context, value: str | None, by: By | None, db: Path | None) -> By:
    """``by``, else the grouping whose buckets hold ``value``; says on stderr when that is not
    where ``value`` is (the rows would be empty with nothing to tell why)."""
    if value is None or not any(v.name == "timeliness" for v in _catalog(ctx).views):
        return by or By.TYPE
    with closing(_database(ctx, db)) as database:
        if "timeliness" in database.unavailable:
            return by or By.TYPE
        found = database.rows(f"SELECT DISTINCT grouping FROM timeliness WHERE bucket = {literal(value)}")
    holding = [b for b in (By.INTERFACE, By.DAY, By.TYPE) if (b.value,) in found.rows]
    if holding and (by is None or by in holding):
        return by or holding[0]
    chosen = by or By.TYPE
    if holding:
        choices = " or ".join(f"--by {b.value}" for b in holding)
        message = f"no timeliness per {chosen.value} {value!r}: it is a bucket of {choices}"
    else:
        message = (
            f"no timeliness for {value!r}: no product type, interface or UTC day (YYYY-MM-DD) of the "
            "data is named so (--by type|interface|day picks the grouping)"
        )
    Console(stderr=True, highlight=False).print(Text(message))
    return chosen


@app.command()
def completeness(
    ctx: typer.Context,
    value: ValueArg = None,
    status: Annotated[
        Status | None,
        typer.Option(
            "--status",
            case_sensitive=False,
            help="Only this status: Missing, Partial or Complete (any case).",
            show_default=False,
        ),
    ] = None,
    filters: FilterOpt = None,
    db: DbOpt = None,
    fmt: FormatOpt = Format.TABLE,
    output: OutputOpt = None,
    limit: LimitOpt = 1000,
) -> None:
    """Datatake completeness per product type, with the missing periods (VALUE: a datatake key).

    The catalog's 'completeness' view; S3/S5P orbits: `maas inspect view orbit_completeness`.
    """
    chosen = [f"status={status.value}"] if status else []
    _business(ctx, "completeness", value, [*chosen, *(filters or [])], db, fmt, output, limit)


@app.command()
def export(
    ctx: typer.Context,
    families: Annotated[
        list[str],
        typer.Option("--from-opensearch", help="Family to copy from the configured store (repeatable)."),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="DuckDB file to write (the embedded store's layout), in a directory that exists."
        ),
    ],
    query: Annotated[
        list[str] | None,
        typer.Option(
            "--query",
            help="Filter, ANDed, on every family: 'FIELD = V', 'FIELD in A,B', "
            "'FIELD >= V' (>, <=, <), 'FIELD exists'.",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace --out if it exists (once the export succeeded).")
    ] = False,
    append: Annotated[
        bool,
        typer.Option("--append", help="Add to --out if it exists (in place: run again after a failure)."),
    ] = False,
) -> None:
    """Copy a slice of the live store (OpenSearch) into a DuckDB file for offline investigation.

    Every matching document is copied (a point-in-time scan: no 10,000-hit cap), into the
    tables the embedded store would use, so `maas inspect sql --db FILE` works on it. The file
    is written under a temporary name and appears only once the export succeeded. The
    configured store (store.url, MAAS_STORE_URL) must be OpenSearch.
    """
    settings = state(ctx).settings
    catalog = _catalog(ctx)
    slices = [Slice(c, parse_filters(c, query or [])) for c in _classes(catalog, families)]
    existing_out_directory(out)
    _require_opensearch(settings)
    with ExitStack() as stack:
        source = create_store(settings, read_only=True)
        stack.callback(source.close)
        target = stack.enter_context(output_store(out, replace=force, append=append))
        with _Copying() as progress:
            copied = export_slices(source, target, slices, progress.copied)
    for family, count in copied.items():
        print(f"{family}: {count} documents → {out}")


@app.command()
def report(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="HTML file to write.")] = Path("report.html"),
    db: DbOpt = None,
) -> None:
    """Write a self-contained HTML page with plots, for people without Grafana.

    Completeness over time, timeliness distributions (negative values visible), interface
    availability and the tables beside them — the catalog's report sections. The page loads
    nothing (inline CSS and SVG, no script, no network) and is the same for the same file.
    """
    sections = _catalog(ctx).report
    if not sections:
        raise ConfigError("maas inspect report: the catalogs in use declare no report sections")
    with closing(_database(ctx, db)) as database:
        outcome = build_report(database, sections, database.path.name)
    out.write_text(outcome.html, encoding="utf-8")
    for name, reason in outcome.unavailable.items():
        Console(stderr=True, highlight=False).print(Text(f"section {name} not available: {reason}"))
    print(f"wrote {out}: {len(outcome.drawn)} of {len(sections)} sections")


# --- helpers ---------------------------------------------------------------------------------


def _catalog(ctx: typer.Context) -> Catalog:
    return catalog_for(state(ctx).settings)


def _database(ctx: typer.Context, db: Path | None) -> Database:
    views = _catalog(ctx).views
    if db is None:
        return Database(_configured_file(state(ctx).settings), views)
    try:
        return Database(db, views)
    except NotADatabase as exc:
        raise typer.BadParameter(str(exc), param_hint="--db") from None


def _configured_file(settings: Settings) -> Path:
    if urlsplit(settings.store.url).scheme != "duckdb":
        raise ConfigError(
            f"the configured store ({mask_url(settings.store.url)}) is not a DuckDB file: "
            "pass --db FILE (a replay output, or an export: `maas inspect export`)"
        )
    return duckdb_path(settings.store.url)


def _require_opensearch(settings: Settings) -> None:
    """Checked before the store is opened: the embedded one would export its own documents (or
    fail on a file not written yet), which is not what --from-opensearch asks for. Store
    capabilities exist only once a store is open, so the factory's backend table decides."""
    module, _ = BACKENDS.get(urlsplit(settings.store.url).scheme, ("", ""))
    if module != OPENSEARCH_MODULE:
        raise ConfigError(
            f"--from-opensearch: the configured store ({mask_url(settings.store.url)}) is not "
            "OpenSearch: set store.url (or MAAS_STORE_URL) to http(s)://host:9200"
        )


def _classes(catalog: Catalog, families: list[str]) -> list[DocumentClass]:
    known = {c.family: c for c in catalog.models}
    unknown = [f for f in families if f not in known]
    if unknown:
        known_text = ", ".join(sorted(known)) or "none"
        raise typer.BadParameter(
            f"unknown family {', '.join(unknown)} (known: {known_text})", param_hint="--from-opensearch"
        )
    return [known[f] for f in dict.fromkeys(families)]


def _find_view(catalog: Catalog, name: str) -> View:
    for candidate in catalog.views:
        if candidate.name == name:
            return candidate
    known = ", ".join(v.name for v in catalog.views) or "none"
    raise typer.BadParameter(f"no view {name!r} in the catalog (views: {known})", param_hint="NAME")


def _show_view(
    ctx: typer.Context,
    chosen: View,
    value: str | None,
    filters: list[str] | None,
    db: Path | None,
    fmt: Format,
    output: Path | None,
    limit: int,
) -> None:
    given = [_pair(f) for f in filters or []]
    pairs = list(given)
    if value is not None:
        if chosen.key is None:
            raise typer.BadParameter(f"view {chosen.name!r} takes no value (it has no key column)")
        pairs.insert(0, (chosen.key, value))
    with closing(_database(ctx, db)) as database:
        if chosen.name in database.unavailable:
            raise ConfigError(
                f"view {chosen.name!r} is not available in {database.path}: "
                f"{database.unavailable[chosen.name]}"
            )
        _check_columns(chosen.name, database.columns(chosen.name), given)
        _emit(database, view_sql(chosen, pairs), fmt, output, limit)


def _check_columns(view_name: str, columns: list[str], pairs: list[tuple[str, str]]) -> None:
    """Refused before the query: DuckDB's binder error names neither the option nor the columns."""
    known = {column.casefold() for column in columns}  # DuckDB's names ignore case
    unknown = [column for column, _ in pairs if column.casefold() not in known]
    if unknown:
        raise typer.BadParameter(
            f"view {view_name!r} has no column {', '.join(map(repr, unknown))} "
            f"(its columns: {', '.join(columns)})",
            param_hint="--filter",
        )


def _pair(text: str) -> tuple[str, str]:
    column, sep, value = text.partition("=")
    if not sep or not column.strip():
        raise typer.BadParameter(f"{text!r}: expected COLUMN=VALUE", param_hint="--filter")
    return column.strip(), value.strip()


def _emit(database: Database, query: str, fmt: Format, output: Path | None, limit: int) -> None:
    if fmt is Format.TABLE:
        _table(database.rows(query, limit or None), output)
    else:
        write(database, query, fmt.value, output, sys.stdout.buffer)


def _table(rows: Rows, output: Path | None) -> None:
    """Values are data, never markup: ``[x, y]`` stays ``[x, y]``; NULL shows as ∅."""
    table = Table(show_lines=False)
    for column in rows.columns:
        table.add_column(Text(column), overflow="fold")  # a name cut short cannot be copied
    for row in rows.rows:
        table.add_row(*(Text("∅", style="dim") if v is None else Text(v) for v in row))
    if output is None:  # piped (grep, less -S, a file): whole rows, not wrapped at 80 columns
        Console(highlight=False, width=None if sys.stdout.isatty() else 10_000).print(table)
    else:
        with output.open("w", encoding="utf-8") as handle:
            Console(file=handle, width=10_000, highlight=False, color_system=None).print(table)
    if rows.more:
        Console(stderr=True).print(f"… only the first {len(rows.rows)} rows: use --limit 0, or --format csv")


class _Copying:
    """A spinner with the documents copied per family."""

    def __init__(self) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> _Copying:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def copied(self, doc_class: DocumentClass, count: int) -> None:
        if doc_class.family not in self.tasks:
            self.tasks[doc_class.family] = self.progress.add_task(doc_class.family)
        description = f"{doc_class.family}: {count} documents"
        self.progress.update(self.tasks[doc_class.family], description=description)
