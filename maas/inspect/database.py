"""A DuckDB file opened for investigation: read-only, one SELECT at a time.

Two locks, because each alone leaves a door open:

- the connection is DuckDB's ``read_only``: the database itself cannot change (INSERT, CREATE,
  UPDATE, DELETE, ALTER are refused by DuckDB);
- a read-only connection may still write *elsewhere* (``COPY ... TO`` a file, ``EXPORT DATABASE``,
  ``ATTACH`` another file, ``INSTALL``), so statements are parsed first with DuckDB's own parser
  and only ``SELECT`` and ``EXPLAIN`` run. Results leave through :mod:`maas.inspect.output`,
  which wraps an accepted SELECT in its own ``COPY``.

Times are shown in UTC (the connection's TimeZone), like every time MaaS stores.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from maas.errors import LockHeldError, MaasError, StoreError
from maas.inspect.views import View
from maas.store.duckdb import restored_interrupts

ALLOWED = frozenset({duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN})
_LOCK_PID = re.compile(r"\(PID (\d+)\)")
_MAGIC = b"DUCK"


class QueryError(MaasError):
    """A query inspect will not run (a write, several statements) or DuckDB could not run."""

    exit_code = 2


class NotADatabase(StoreError):
    """The path names no DuckDB file: the user gave the wrong one (exit 2, as for usage errors)."""

    exit_code = 2


@dataclass(frozen=True)
class Statement:
    """A checked statement: one SELECT (or EXPLAIN), its semicolon removed."""

    text: str
    explain: bool = False

    def as_text(self) -> str:
        """The same rows with every value rendered by DuckDB as text."""
        return f"SELECT COLUMNS(*)::VARCHAR FROM (\n{self.text}\n)"


@dataclass(frozen=True)
class Rows:
    """A result as text, the way DuckDB renders each value (``--format table``)."""

    columns: list[str]
    rows: list[tuple[str | None, ...]]
    more: bool  # rows beyond the limit were left out


class Database:
    """One read-only DuckDB file with the catalog's views installed; close it (``contextlib.closing``)."""

    def __init__(self, path: Path, views: Sequence[View] = ()) -> None:
        self.path = path
        self._conn = _connect(path)
        self.unavailable: dict[str, str] = {}  # view name -> why it could not be installed
        for view in views:
            self._install(view)

    def close(self) -> None:
        self._conn.close()

    def _install(self, view: View) -> None:
        try:
            self._conn.execute(f"CREATE TEMP VIEW {quote(view.name)} AS {view.sql}")
        except duckdb.Error as exc:
            self.unavailable[view.name] = _first_line(exc)

    def statement(self, sql: str) -> Statement:
        """The one SELECT or EXPLAIN in ``sql``, or a clear refusal."""
        try:
            statements = duckdb.extract_statements(sql)
        except duckdb.Error as exc:
            raise QueryError(f"query: {_first_line(exc)}") from None
        if len(statements) != 1:
            raise QueryError(f"one statement at a time, please (got {len(statements)})")
        statement = statements[0]
        if statement.type not in ALLOWED:
            kind = statement.type.name
            raise QueryError(
                f"{kind} statements are refused: maas inspect opens {self.path} read-only and runs "
                "only SELECT or EXPLAIN, writing neither the database nor other files; "
                "save a result with --output FILE --format csv|json|parquet"
            )
        text = str(statement.query).strip().rstrip(";")
        return Statement(text, statement.type == duckdb.StatementType.EXPLAIN)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> duckdb.DuckDBPyConnection:
        """Run SQL MaaS itself built or checked (never unchecked user text)."""
        try:
            with restored_interrupts():  # Ctrl-C on a long query: exit 130, no traceback
                return self._conn.execute(sql, list(params))
        except duckdb.Error as exc:
            raise QueryError(f"query failed: {_first_line(exc)}") from None

    def rows(self, sql: str, limit: int | None = None) -> Rows:
        """A checked query's result with every value rendered by DuckDB as text."""
        statement = self.statement(sql)
        cursor = self.execute(statement.text if statement.explain else statement.as_text())
        columns = [d[0] for d in cursor.description or []]
        with restored_interrupts():
            fetched = cursor.fetchall() if limit is None else cursor.fetchmany(limit + 1)
        more = limit is not None and len(fetched) > limit
        return Rows(columns, [tuple(_text(v) for v in row) for row in fetched[:limit]], more)

    def columns(self, relation: str) -> list[str]:
        """The columns of a table or view, in order (no row is read)."""
        cursor = self.execute(f"SELECT * FROM {quote(relation)} LIMIT 0")
        return [d[0] for d in cursor.description or []]

    def tables(self) -> list[str]:
        """The store's tables (not the temporary views), by name."""
        cursor = self.execute(
            "SELECT table_name FROM duckdb_tables() WHERE NOT temporary AND database_name = "
            "current_database() ORDER BY table_name"
        )
        return [str(row[0]) for row in cursor.fetchall()]


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def literal(value: str) -> str:
    """A SQL string literal (DuckDB strings know no backslash escapes: doubling quotes is enough)."""
    return "'" + value.replace("'", "''") + "'"


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _connect(path: Path) -> duckdb.DuckDBPyConnection:
    if not path.is_file():
        raise NotADatabase(f"{path}: no such DuckDB file (a replay output, an export or the embedded store)")
    try:
        conn = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise _open_error(path, exc) from None
    conn.execute("SET TimeZone = 'UTC'")
    return conn


def _open_error(path: Path, exc: duckdb.Error) -> MaasError:
    """DuckDB's own words mislead for some files (a ``.json`` one is taken for an in-memory
    database), so a file without DuckDB's magic bytes is named for what it is first."""
    message = _first_line(exc)
    pid = _LOCK_PID.search(message)
    if isinstance(exc, duckdb.IOException) and "lock" in message.lower():
        holder = pid.group(1) if pid else "unknown"
        return LockHeldError(
            f"{path} is being written by PID {holder} (DuckDB allows no reader beside "
            "a writer): inspect it when that run ends, or inspect a replay output"
        )
    if not _has_duckdb_magic(path):
        return NotADatabase(f"{path} is not a DuckDB database file")
    return StoreError(f"{path} cannot be opened: {message}")


def _has_duckdb_magic(path: Path) -> bool:
    """DuckDB's file header: an 8-byte checksum, then ``DUCK``."""
    with path.open("rb") as handle:
        return handle.read(len(_MAGIC) + 8)[8:] == _MAGIC


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0]
