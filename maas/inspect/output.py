"""Results out of a :class:`~maas.inspect.database.Database`: csv, json or parquet, by DuckDB itself.

DuckDB renders the values (times in UTC, lists, JSON) and writes the file, so a result has one
spelling whatever the size, and the same query on the same data gives the same bytes. ``json``
is one object per line (what ``jq`` and DuckDB's own ``read_json`` take). Without a file the
result is written to a private temporary file and streamed to the caller's output.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from maas.inspect.database import Database, QueryError, literal

FORMATS = ("table", "csv", "json", "parquet")
_COPY_OPTIONS = {"csv": "FORMAT csv, HEADER true", "json": "FORMAT json", "parquet": "FORMAT parquet"}


def write(db: Database, sql: str, fmt: str, out: Path | None, stream: BinaryIO) -> None:
    """The checked query's result as ``fmt`` into ``out``, or onto ``stream`` when ``out`` is None."""
    if fmt not in _COPY_OPTIONS:
        raise QueryError(f"format {fmt!r}: expected one of {', '.join(_COPY_OPTIONS)}")
    if fmt == "parquet" and out is None:
        raise QueryError("parquet is a binary format: give --output FILE")
    if out is not None:
        _copy(db, sql, fmt, out)
        return
    with tempfile.TemporaryDirectory(prefix="maas-inspect-") as scratch:
        path = Path(scratch) / f"result.{fmt}"
        _copy(db, sql, fmt, path)
        with path.open("rb") as result:
            shutil.copyfileobj(result, stream)
    stream.flush()


def _copy(db: Database, sql: str, fmt: str, path: Path) -> None:
    statement = db.statement(sql)
    if statement.explain:
        raise QueryError("EXPLAIN is shown as a table only (--format table)")
    db.execute(f"COPY (\n{statement.text}\n) TO {literal(str(path))} ({_COPY_OPTIONS[fmt]})")
