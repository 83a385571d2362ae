"""The embedded store's SQL, compiled once per document class from ``duckdb_columns``.

Bulk writes load newline-delimited JSON with ``read_json`` and explicit column types: each
document is already serialised once for its content hash, and DuckDB parses and types JSON in
C++ several times faster than it converts Python values bound one by one. When DuckDB refuses a
value, one ``TRY`` query over the same lines finds every refused document and field.
Filter values always travel as typed parameters; identifiers come from the model and are quoted.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

from maas.errors import ValidationError
from maas.model import Document, DocumentClass, Field
from maas.model.schema import HASH_FIELD, ID_COLUMN, PARTITION_COLUMN, duckdb_columns
from maas.store.base import Exists, Filter, Range, SortKey, Term, Terms

Convert = Callable[[Any], Any]
Match = Callable[[Document], bool]
_PRIMARY_KEY = " PRIMARY KEY"
_MAX_DOC_BYTES = 256 * 1024 * 1024  # read_json's default (16 MB) would fail a chunk, not an item
_RANGE_OPS = (("gte", ">="), ("gt", ">"), ("lte", "<="), ("lt", "<"))
# Ids as one list parameter. ``list_contains`` becomes an IN filter on the scan, which DuckDB
# answers from the primary key's index for up to ``index_scan_max_count`` ids: the cost follows
# the ids asked for, not the table. ``id IN (SELECT UNNEST(?))`` is a join that reads every id
# of the table (1,000 ids: 8 ms at 100,000 rows, 50 ms at 1,000,000 on the test machine).
BY_IDS = f"list_contains(?::VARCHAR[], {ID_COLUMN})"


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def table_name(doc_class: DocumentClass) -> str:
    """``raw-prip-product`` -> ``raw_prip_product``: families never hold '_', so this is 1:1."""
    return doc_class.family.replace("-", "_")


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC)  # DuckDB hands back ZoneInfo('UTC'); keep one UTC object


def _utc_list(values: list[datetime | None]) -> list[datetime | None]:
    return [None if v is None else v.replace(tzinfo=UTC) for v in values]


def _from_json(converter: Convert | None) -> Convert:
    """Decode a JSON column; typed objects go back through their converter (datetimes)."""
    if converter is None:
        return json.loads
    return lambda text: converter(json.loads(text))


@dataclass(frozen=True)
class Column:
    """One table column: its DDL, its JSON shape for loading, how it is filtered and read back."""

    name: str
    ddl: str
    element: str  # SQL type of one value: the parameter type in filters
    many: bool
    json: bool
    field: Field | None = None

    @property
    def sql(self) -> str:
        return quote(self.name)

    @property
    def type(self) -> str:
        return self.ddl.removesuffix(_PRIMARY_KEY)

    @property
    def select(self) -> str:
        """How the column is read: timestamps as UTC wall time (naive), made aware again by
        ``decode``. DuckDB builds an aware Python datetime per value several times slower than
        a naive one (about 4 us each), and documents carry a dozen of them."""
        if self.element != "TIMESTAMPTZ":
            return self.sql
        if self.many:
            return f"list_transform({self.sql}, lambda x: timezone('UTC', x))"
        return f"timezone('UTC', {self.sql})"

    @property
    def json_shape(self) -> str:
        """The ``json_transform`` structure of this column's values."""
        return json.dumps([self.element] if self.many else self.type)

    @property
    def decode(self) -> Convert | None:
        if self.json:
            typed = self.field if self.field and self.field.properties is not None else None
            return _from_json(typed.converter if typed else None)
        if self.element == "TIMESTAMPTZ":
            return _utc_list if self.many else _utc
        return None

    @functools.cached_property
    def scalar(self) -> Convert:
        """Converter for one filter value, so filters accept what documents accept (compiled
        once: a search for a thousand product keys converts a thousand values)."""
        if self.field is None:
            return str
        return replace(self.field, many=False).converter


def _column(name: str, ddl: str, field: Field | None) -> Column:
    many = ddl.endswith("[]")
    return Column(name, ddl, ddl.removesuffix("[]").removesuffix(_PRIMARY_KEY), many, ddl == "JSON", field)


class TableSpec:
    """Everything SQL about one document class, built once and reused for every call."""

    def __init__(self, doc_class: DocumentClass) -> None:
        self.doc_class = doc_class
        self.table = quote(table_name(doc_class))
        fields = doc_class.fields
        self.columns = tuple(_column(n, ddl, fields.get(n)) for n, ddl in duckdb_columns(doc_class))
        self.by_name = {c.name: c for c in self.columns}
        self.readable = tuple(c for c in self.columns if c.name != HASH_FIELD)
        self._decoders = [(i, c.name, c.decode) for i, c in enumerate(self.readable) if i > 1]
        self._prefix = doc_class.family + "-"
        self._heads: dict[str, bytes] = {}  # index -> the line's partition and hash keys, encoded

    # --- statements ---------------------------------------------------------------------

    def create_sql(self) -> str:
        defs = ", ".join(f"{c.sql} {c.ddl}" for c in self.columns)
        return f"CREATE TABLE IF NOT EXISTS {self.table} ({defs})"

    def add_column_sql(self, column: Column) -> str:
        return f"ALTER TABLE {self.table} ADD COLUMN {column.sql} {column.type}"

    def index_sql(self) -> list[str]:
        """An ART index per lookup field: a search by value reads the rows it finds, where a
        scan reads the column of every row (zone maps rarely help: values interleave)."""
        name = table_name(self.doc_class)
        return [
            f"CREATE INDEX IF NOT EXISTS {quote(f'{name}__{field}')} ON {self.table} ({quote(field)})"
            for field in self.doc_class.lookups
        ]

    def insert_sql(self) -> str:
        """Insert every line of a JSON-lines file (its path is the one parameter).

        A plain insert: the documents it replaces are deleted first (``delete_sql``). DuckDB's
        ``INSERT OR REPLACE`` costs 2.5x an INSERT for a new row, and 1.7x a delete and insert
        for an existing one (a 60-column table, 1,000 rows). ``COPY`` takes the columns and
        their types from the table (by name; a key without a column is refused before, by
        the store): ``INSERT ... SELECT FROM read_json(columns=...)`` bound the ~50 typed
        columns on every call, a fixed 4-8 ms, and cost 1.4-1.7x as much per 1,000 rows."""
        return f"COPY {self.table} FROM ? (FORMAT json, MAXIMUM_OBJECT_SIZE {_MAX_DOC_BYTES})"

    def refused_sql(self) -> str:
        """Which of the bound JSON texts DuckDB cannot store, and in which fields.

        Yields ``(position, [field, ...])``; ``['(document)']`` when the text is not JSON at all.
        """
        checks = ", ".join(
            f"CASE WHEN json_type(j->'$.{c.name}') <> 'NULL' AND "
            f"TRY(json_transform_strict(j->'$.{c.name}', {_literal(c.json_shape)})) IS NULL "
            f"THEN {_literal(c.name)} END"
            for c in self.columns[3:]
        )
        rows = "SELECT UNNEST(range(len($1))) AS i, UNNEST($1::VARCHAR[]) AS text"
        found = f"[x FOR x IN [{checks}] IF x IS NOT NULL]"
        fields = f"CASE WHEN j IS NULL THEN ['(document)'] ELSE {found} END"
        return (
            f"SELECT i, bad FROM (SELECT i, {fields} AS bad FROM "
            f"(SELECT i, TRY(text::JSON) AS j FROM ({rows}))) WHERE len(bad) > 0"
        )

    def refusal_sql(self, column: Column) -> str:
        """Convert one field of one bound JSON text, to get DuckDB's own reason."""
        return f"SELECT json_transform_strict(?::JSON->'$.{column.name}', {_literal(column.json_shape)})"

    def delete_sql(self) -> str:
        return f"DELETE FROM {self.table} WHERE {BY_IDS}"

    def hashes_sql(self) -> str:
        return f"SELECT {ID_COLUMN}, {HASH_FIELD} FROM {self.table} WHERE {BY_IDS}"

    def select_sql(
        self, where: str = "", order: str = "", limit: int | None = None, with_hash: bool = False
    ) -> str:
        """The readable columns (``document`` turns a row into a document), then the content
        hash when asked for."""
        names = ", ".join([*(c.select for c in self.readable), *([HASH_FIELD] if with_hash else [])])
        return self._select(names, where, order, limit)

    def ids_sql(
        self, filters: Sequence[Filter], sort: Sequence[SortKey], limit: int | None
    ) -> tuple[str, list[Any]]:
        """The ids of the matching documents only, in ``find``'s order, and the parameters.

        With other filters beside one on a lookup field, that one is applied first, alone, in a
        materialised CTE: DuckDB answers a filter from an index only when it is alone on its scan.
        """
        order = self.order_by(sort)
        lookups = self.doc_class.lookups
        lookup = next((f for f in filters if isinstance(f, Term | Terms) and f.field in lookups), None)
        if lookup is None or len(filters) == 1:
            where, params = self.where(filters)
            return self._select(ID_COLUMN, where, order, limit), params
        first, params = self.where([lookup])
        rest, more = self.where([f for f in filters if f is not lookup])
        needed = dict.fromkeys([ID_COLUMN, *(f.field for f in filters), *(name for name, _ in sort)])
        columns = ", ".join(self.by_name[name].sql for name in needed)
        cte = f"WITH m AS MATERIALIZED (SELECT {columns} FROM {self.table} WHERE {first}) "
        return cte + self._select(ID_COLUMN, rest, order, limit, source="m"), params + more

    def _select(self, names: str, where: str, order: str, limit: int | None, source: str = "") -> str:
        sql = f"SELECT {names} FROM {source or self.table}"
        sql += f" WHERE {where}" if where else ""
        sql += f" ORDER BY {order}" if order else ""
        return sql + (f" LIMIT {int(limit)}" if limit is not None else "")

    # --- values -------------------------------------------------------------------------

    def partition(self, doc: Document) -> str:
        return doc.index.removeprefix(self._prefix)

    def line(self, doc: Document, encoded: bytes, content_hash: str) -> bytes:
        """One JSON line: the id, partition and hash columns spliced before the encoded data
        (the partition's part encoded once per index)."""
        head = self._heads.get(doc.index)
        if head is None:
            partition = encode_basestring(self.partition(doc))
            head = self._heads[doc.index] = f',"{PARTITION_COLUMN}":{partition},"{HASH_FIELD}":"'.encode()
        start = b'{"id":' + encode_basestring(doc.id).encode() + head + content_hash.encode()
        return start + (b'"}' if encoded == b"{}" else b'",' + encoded[1:])

    def unknown_fields(self, doc: Document) -> set[str]:
        return set(doc.data.keys() - self.doc_class.fields.keys())

    def document(self, row: tuple[Any, ...]) -> Document:
        data: dict[str, Any] = {}
        for i, name, decode in self._decoders:
            value = row[i]
            if value is not None:
                data[name] = decode(value) if decode else value
        return Document(self.doc_class, row[0], self._prefix + row[1], data)

    def partitions(self, indices: Sequence[str]) -> list[str]:
        return [i.removeprefix(self._prefix) for i in indices if i.startswith(self._prefix)]

    # --- filters and sort ---------------------------------------------------------------

    def column(self, name: str, purpose: str) -> Column:
        column = self.by_name.get(name)
        if column is None or name in (PARTITION_COLUMN, HASH_FIELD):
            raise ValidationError(f"{self.doc_class.name}: cannot {purpose} on unknown field {name!r}")
        return column

    def where(self, filters: Sequence[Filter]) -> tuple[str, list[Any]]:
        """AND of the filters as SQL text with its parameters."""
        parts: list[str] = []
        params: list[Any] = []
        for f in filters:
            sql, values = self._condition(f)
            parts.append(sql)
            params.extend(values)
        return " AND ".join(parts), params

    def _condition(self, f: Filter) -> tuple[str, list[Any]]:
        column = self.column(f.field, "filter")
        if isinstance(f, Exists):
            return (f"len({column.sql}) > 0" if column.many else f"{column.sql} IS NOT NULL"), []
        if column.json:
            raise ValidationError(
                f"{self.doc_class.name}: field {f.field!r} is an object; only 'exists' applies to it"
            )
        if isinstance(f, Term):
            return _term(column, _value(column, f.value))
        if isinstance(f, Terms):
            return _terms(column, [_value(column, v) for v in f.values])
        return _range(column, f)

    def exact_search(self, filters: Sequence[Filter]) -> tuple[str, list[Any], Match] | None:
        """A search by exact values (``Term``/``Terms``, one on a lookup field) as that lookup
        field, its values, and a test of a document against every filter, as SQL would (a
        missing value matches nothing); None for any other search."""
        if not filters or not all(isinstance(f, Term | Terms) for f in filters):
            return None
        lookup = next((f for f in filters if f.field in self.doc_class.lookups), None)
        if lookup is None:
            return None
        tests: list[tuple[str, bool, set[Any]]] = []
        for f in filters:
            column = self.column(f.field, "filter")
            if column.json:
                return None
            raw = [f.value] if isinstance(f, Term) else list(f.values)  # type: ignore[union-attr]
            tests.append((f.field, column.many, {_value(column, v) for v in raw}))
        values = next(list(wanted) for name, _, wanted in tests if name == lookup.field)
        return lookup.field, values, functools.partial(_matches, tests)

    def order_by(self, sort: Sequence[SortKey]) -> str:
        """Missing values last in both directions (as OpenSearch does); id breaks ties."""
        keys = [f"{self.column(name, 'sort').sql} {_direction(d)} NULLS LAST" for name, d in sort]
        return ", ".join([*keys, f"{ID_COLUMN} ASC"])


def _matches(tests: list[tuple[str, bool, set[Any]]], doc: Document) -> bool:
    for name, many, wanted in tests:
        value = doc.data.get(name)
        if value is None:
            return False
        if not (wanted.intersection(value) if many else value in wanted):
            return False
    return True


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _direction(direction: str) -> str:
    if direction not in ("asc", "desc"):
        raise ValidationError(f"sort direction must be 'asc' or 'desc', not {direction!r}")
    return direction.upper()


def _value(column: Column, value: Any) -> Any:
    try:
        return column.scalar(value)
    except ValueError as exc:
        raise ValidationError(f"filter on {column.name!r}: {exc}") from None


def _term(column: Column, value: Any) -> tuple[str, list[Any]]:
    if column.many:
        return f"list_contains({column.sql}, ?::{column.element})", [value]
    return f"{column.sql} = ?::{column.element}", [value]


def _terms(column: Column, values: list[Any]) -> tuple[str, list[Any]]:
    if column.many:
        return f"list_has_any({column.sql}, ?::{column.element}[])", [values]
    return f"list_contains(?::{column.element}[], {column.sql})", [values]


def _range(column: Column, f: Range) -> tuple[str, list[Any]]:
    bounds = [
        (op, _value(column, getattr(f, attr))) for attr, op in _RANGE_OPS if getattr(f, attr) is not None
    ]
    if not bounds:
        raise ValidationError(f"range filter on {column.name!r} has no bound")
    subject = "x" if column.many else column.sql
    sql = " AND ".join(f"{subject} {op} ?::{column.element}" for op, _ in bounds)
    if column.many:  # like OpenSearch: a list matches when one of its values is in range
        sql = f"EXISTS (SELECT 1 FROM UNNEST({column.sql}) AS u(x) WHERE {sql})"
    return f"({sql})", [v for _, v in bounds]
