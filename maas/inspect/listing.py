"""What is in a database: the store's tables with their family and row count, and the views."""

from __future__ import annotations

from collections.abc import Iterable

from maas.inspect.database import Database, literal, quote
from maas.inspect.views import View
from maas.model import DocumentClass
from maas.store.duckdb_sql import table_name

_EMPTY = 'SELECT NULL::VARCHAR AS family, NULL::VARCHAR AS "table", NULL::BIGINT AS "rows" WHERE false'


def tables_sql(db: Database, models: Iterable[DocumentClass]) -> str:
    """One row per table: the family it holds (NULL if the catalog does not know it) and its rows."""
    families = {table_name(doc_class): doc_class.family for doc_class in models}
    selects = [
        f"SELECT {literal(families[t]) if t in families else 'NULL'} AS family"
        f', {literal(t)} AS "table", count(*) AS "rows" '
        f"FROM {quote(t)}"
        for t in db.tables()
    ]
    return "\nUNION ALL\n".join(selects) + '\nORDER BY family, "table"' if selects else _EMPTY


def views_rows(db: Database, views: Iterable[View]) -> list[tuple[str, str, str]]:
    """(name, description, status) of every view a catalog contributes."""
    return [
        (
            v.name,
            v.description,
            f"unavailable: {db.unavailable[v.name]}" if v.name in db.unavailable else "available",
        )
        for v in views
    ]


def view_sql(view: View, filters: Iterable[tuple[str, str]]) -> str:
    """``SELECT * FROM view WHERE column = 'value' AND ... ORDER BY ...`` (DuckDB casts the text).

    A filter on the view's key matches its aliases too: ``(key = 'v' OR alias = 'v')``.
    """
    where = " AND ".join(_condition(view, column, value) for column, value in filters)
    sql = f"SELECT * FROM {quote(view.name)}" + (f" WHERE {where}" if where else "")
    return sql + (f" ORDER BY {', '.join(quote(c) for c in view.order_by)}" if view.order_by else "")


def _condition(view: View, column: str, value: str) -> str:
    columns = (column, *view.aliases) if column == view.key else (column,)
    matches = [f"{quote(c)} = {literal(value)}" for c in columns]
    return matches[0] if len(matches) == 1 else "(" + " OR ".join(matches) + ")"
