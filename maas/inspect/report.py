"""``maas inspect report``: one self-contained HTML page of a DuckDB file, for people without Grafana.

The page needs nothing but itself: CSS inline, figures as inline SVG drawn here
(:mod:`maas.inspect.svg`), no script, and a Content-Security-Policy that forbids loading
anything else, so it opens the same on a laptop with no network, attached to a ticket or
years later. What it shows is the catalogs' report sections (:mod:`maas.inspect.figures`).

It is deterministic: no generation time, no absolute path, rows in the order the queries
give (each orders its own), fixed number formatting. The same file gives the same bytes.

A section whose query cannot run (a replay of one interface lacks the tables of another) is
shown as unavailable with DuckDB's reason; the rest of the page is drawn.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from maas.inspect import svg
from maas.inspect.database import Database, QueryError, quote
from maas.inspect.figures import Distribution, Section, TableSection, Timeline, TimeSeries

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1000px;padding:16px;color:#222}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 4px}
p.note{color:#555;margin:2px 0 8px}p.unavailable{color:#a33}
nav a{margin-right:12px}
svg{max-width:100%;height:auto;display:block}svg text{font:11px system-ui,sans-serif;fill:#222}
ul.legend{list-style:none;padding:0;margin:4px 0}ul.legend li{display:inline-block;margin-right:14px}
ul.legend span{display:inline-block;width:11px;height:11px;margin-right:4px;vertical-align:-1px}
table{border-collapse:collapse;font-size:12px;margin:6px 0}
th,td{border:1px solid #ddd;padding:2px 6px;text-align:left}th{background:#f4f4f4}
td.null{color:#999}div.scroll{overflow-x:auto}details{margin:8px 0}
footer{margin-top:32px;color:#777;font-size:12px}
"""


@dataclass(frozen=True)
class Outcome:
    """What the page holds: sections drawn, and those unavailable with the reason."""

    html: str
    drawn: tuple[str, ...]
    unavailable: dict[str, str]


def build(database: Database, sections: Sequence[Section], source: str) -> Outcome:
    """The page for ``sections`` over ``database``; ``source`` names the file in the title."""
    parts: list[str] = []
    drawn: list[str] = []
    unavailable: dict[str, str] = {}
    for section in sections:
        try:
            parts.append(_section(section, _body(database, section)))
            drawn.append(section.name)
        except QueryError as exc:
            unavailable[section.name] = str(exc)
            parts.append(_section(section, f'<p class="unavailable">not available: {escape(str(exc))}</p>'))
    page = _page(source, sections, parts, _contents(database))
    return Outcome(page, tuple(drawn), unavailable)


def _body(database: Database, section: Section) -> str:
    if isinstance(section, TableSection):
        return _table(database, section.sql)
    rows = records(database, section.sql)
    if not rows:
        return svg.empty(section.name, section.title, "no data")
    return _FIGURES[type(section)](section, rows)


def records(database: Database, sql: str) -> list[dict[str, Any]]:
    """The rows of one checked SELECT as typed values (datetimes, floats), by column name."""
    cursor = database.execute(database.statement(sql).text)
    columns = [d[0] for d in cursor.description or []]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def _time_series(section: Any, rows: list[dict[str, Any]]) -> str:
    colors = svg.Colors(section.colors)
    figure = svg.time_series(section.name, section.title, rows, section.y_max, colors)
    lines = {f"— {name}": color for name, color in svg.series_colors(rows).items()}
    return figure + _legend_items({**_states(colors), **lines})


def _distribution(section: Any, rows: list[dict[str, Any]]) -> str:
    legend = _legend_items({"value ≥ 0": svg.POSITIVE, "value < 0": svg.NEGATIVE, "median": svg.INK})
    return svg.distribution(section.name, section.title, rows, section.unit) + legend


def _timeline(section: Any, rows: list[dict[str, Any]]) -> str:
    colors = svg.Colors(section.colors)
    return svg.timeline(section.name, section.title, rows, colors) + _legend_items(_states(colors))


_FIGURES: dict[type, Callable[[Any, list[dict[str, Any]]], str]] = {
    TimeSeries: _time_series,
    Distribution: _distribution,
    Timeline: _timeline,
}


def _states(colors: svg.Colors) -> dict[str, str]:
    return {state or "∅": color for state, color in colors.legend().items()}


def _legend_items(items: dict[str, str]) -> str:
    spans = "".join(
        f'<li><span style="background:{color}"></span>{escape(label)}</li>' for label, color in items.items()
    )
    return f'<ul class="legend">{spans}</ul>'


def _table(database: Database, sql: str) -> str:
    rows = database.rows(sql)
    head = "".join(f"<th>{escape(c)}</th>" for c in rows.columns)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows.rows)
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return f'<div class="scroll" data-table="{len(rows.rows)}">{table}</div>'


def _cell(value: str | None) -> str:
    return '<td class="null">∅</td>' if value is None else f"<td>{escape(value)}</td>"


def _contents(database: Database) -> list[tuple[str, int]]:
    """Every table of the file with its row count (what the page was drawn from)."""
    return [
        (table, int(database.execute(f"SELECT count(*) FROM {quote(table)}").fetchone()[0]))  # type: ignore[index]
        for table in database.tables()
    ]


def _section(section: Section, body: str) -> str:
    note = f'<p class="note">{escape(section.description)}</p>' if section.description else ""
    return (
        f'<section id="{escape(section.name)}" data-section="{escape(section.name)}">'
        f"<h2>{escape(section.title)}</h2>{note}{body}</section>"
    )


def _page(
    source: str, sections: Sequence[Section], parts: Sequence[str], tables: list[tuple[str, int]]
) -> str:
    title = f"MaaS report — {source}"
    nav = "".join(f'<a href="#{escape(s.name)}">{escape(s.title)}</a>' for s in sections)
    listed = "".join(f"<tr><td>{escape(t)}</td><td>{n}</td></tr>" for t, n in tables)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" href="data:,"><title>{escape(title)}</title><style>{STYLE}</style></head>\n'
        f"<body><header><h1>{escape(title)}</h1>"
        '<p class="note">Drawn by <code>maas inspect report</code>. Times are UTC; durations are '
        "signed (a negative one is a data or clock error). Hover a mark for its details.</p>"
        f"<nav>{nav}</nav></header>\n"
        + "\n".join(parts)
        + f"\n<details><summary>Tables of {escape(source)}</summary><table><thead><tr><th>table</th>"
        f"<th>rows</th></tr></thead><tbody>{listed}</tbody></table></details>"
        "<footer>MaaS — Monitoring as a Service</footer></body></html>\n"
    )


__all__ = ["Outcome", "build", "records"]
