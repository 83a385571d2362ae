"""The read-only investigation database, its outputs, and the export of a store slice."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from chain_catalog import CATALOG, DOUBLED, RAW

from maas.inspect.database import Database, QueryError
from maas.inspect.export import OutputExists, Slice, export, fresh_duckdb, output_store
from maas.inspect.filters import parse_filters
from maas.inspect.listing import tables_sql, view_sql
from maas.inspect.output import write
from maas.inspect.views import View
from maas.store.base import Range
from maas.store.duckdb import DuckDBStore

pytestmark = pytest.mark.unit


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """A store file holding 30 raw and 10 doubled documents."""
    path = tmp_path / "store.duckdb"
    store = DuckDBStore(path)
    store.setup(list(CATALOG.models))
    store.write([RAW.make({"name": f"n{i:02}", "value": i}) for i in range(30)])
    store.write([DOUBLED.make({"name": f"n{i:02}", "doubled": 2 * i}) for i in range(10)])
    store.close()
    return path


@pytest.fixture
def db(path: Path) -> Iterator[Database]:
    with closing(Database(path)) as db:
        yield db


def output(db: Database, sql: str, fmt: str) -> bytes:
    stream = io.BytesIO()
    write(db, sql, fmt, None, stream)
    return stream.getvalue()


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO test_raw (id, name) VALUES ('x', 'x')",
        "UPDATE test_raw SET value = 0",
        "CREATE TEMP TABLE t AS SELECT 1",
        "COPY test_raw TO '/tmp/maas-inspect-leak.csv'",
        "ATTACH ':memory:' AS m",
        "INSTALL httpfs",
        "LOAD json",
        "SET enable_external_access = true",
        "CALL checkpoint()",
        "PRAGMA enable_profiling",
    ],
)
def test_only_select_and_explain_run(db: Database, sql: str) -> None:
    with pytest.raises(QueryError, match="statements are refused: maas inspect opens .* read-only"):
        db.rows(sql)


def test_rows_are_text_with_a_limit(db: Database) -> None:
    rows = db.rows("SELECT name, value FROM test_raw ORDER BY value;", limit=3)
    assert rows.columns == ["name", "value"]
    assert rows.rows == [("n00", "0"), ("n01", "1"), ("n02", "2")] and rows.more
    assert not db.rows("SELECT 1 AS x", limit=3).more
    assert db.rows("EXPLAIN SELECT 1").columns == ["explain_key", "explain_value"]


def test_outputs_are_duckdbs_own_and_deterministic(db: Database) -> None:
    sql = "SELECT name, value FROM test_raw WHERE value < 2 ORDER BY name"
    assert output(db, sql, "csv") == b"name,value\nn00,0\nn01,1\n"
    assert [json.loads(line) for line in output(db, sql, "json").splitlines()] == [
        {"name": "n00", "value": 0},
        {"name": "n01", "value": 1},
    ]
    assert output(db, sql, "csv") == output(db, sql, "csv")
    with pytest.raises(QueryError, match="give --output FILE"):
        output(db, sql, "parquet")
    with pytest.raises(QueryError, match="EXPLAIN is shown as a table only"):
        output(db, "EXPLAIN " + sql, "csv")


def test_a_comment_at_the_end_cannot_break_out_of_the_copy(db: Database, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    write(db, "SELECT 1 AS x -- ) TO 'elsewhere.csv'", "csv", out, io.BytesIO())
    assert out.read_text() == "x\n1\n"


def test_tables_and_views(path: Path) -> None:
    views = (
        View(
            "pairs",
            "SELECT r.name, r.value, d.doubled FROM test_raw r JOIN test_doubled d USING (name)",
            key="name",
            order_by=("name",),
        ),
        View("broken", "SELECT * FROM test_missing"),
    )
    with closing(Database(path, views)) as db:
        assert db.rows(tables_sql(db, CATALOG.models)).rows == [
            ("test-doubled", "test_doubled", "10"),
            ("test-raw", "test_raw", "30"),
            ("test-tripled", "test_tripled", "0"),
        ]
        assert "test_missing does not exist" in db.unavailable["broken"]
        assert db.rows(view_sql(views[0], [("name", "n03")])).rows == [("n03", "3", "6")]
        assert db.rows(view_sql(views[0], [("name", "n03' OR '1'='1")])).rows == []  # a value, not SQL


def test_view_names_are_plain_identifiers() -> None:
    with pytest.raises(ValueError, match="lower-case letters"):
        View("Drop Table", "SELECT 1")


def test_export_copies_a_slice_with_the_store_layout(path: Path, tmp_path: Path) -> None:
    source = DuckDBStore(path, read_only=True)
    target = fresh_duckdb(tmp_path / "slice.duckdb")
    try:
        copied = export(source, target, [Slice(RAW, parse_filters(RAW, ["value >= 25"])), Slice(DOUBLED)])
        assert copied == {"test-raw": 5, "test-doubled": 10}
        assert {d.data["value"] for d in target.scan(RAW)} == {25, 26, 27, 28, 29}
        assert list(target.scan(DOUBLED)) == list(source.scan(DOUBLED))
    finally:
        source.close()
        target.close()
    with closing(Database(tmp_path / "slice.duckdb")) as db, closing(Database(path)) as original:
        same = "SELECT * FROM test_raw WHERE value >= 25 ORDER BY id"
        assert output(db, same, "csv") == output(original, same, "csv")  # ids, hashes and all


def test_export_output_is_fresh_replaced_or_extended(path: Path, tmp_path: Path) -> None:
    out = tmp_path / "slice.duckdb"
    source = DuckDBStore(path, read_only=True)
    try:
        for options, low, expected in (({}, 25, 5), ({"append": True}, 20, 10), ({"replace": True}, 28, 2)):
            with output_store(out, **options) as target:
                export(source, target, [Slice(RAW, [Range("value", gte=low)])])
            with closing(DuckDBStore(out, read_only=True)) as written:
                assert written.count(RAW) == expected
        with pytest.raises(OutputExists, match="slice.duckdb exists: pass --force"):
            fresh_duckdb(out)
        with pytest.raises(OutputExists, match="slice.duckdb exists: pass --force"), output_store(out):
            pass
    finally:
        source.close()


def test_export_output_appears_only_when_the_export_succeeded(path: Path, tmp_path: Path) -> None:
    out = tmp_path / "slice.duckdb"
    with closing(DuckDBStore(path, read_only=True)) as source:
        for options, low, expected in (({}, 25, 5), ({"append": True}, 20, 10), ({"replace": True}, 28, 2)):
            with output_store(out, **options) as target:
                export(source, target, [Slice(RAW, [Range("value", gte=low)])])
            with closing(DuckDBStore(out, read_only=True)) as written:
                assert written.count(RAW) == expected
        before = out.read_bytes()
        with pytest.raises(RuntimeError), output_store(out, replace=True) as target:
            export(source, target, [Slice(RAW)])
            raise RuntimeError("the source failed half-way")
        assert out.read_bytes() == before  # --force: the old file stays until the new one is whole
        with pytest.raises(RuntimeError), output_store(tmp_path / "new.duckdb"):
            raise RuntimeError("the source failed at once")
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == [
        "slice.duckdb",
        "store.duckdb",
    ]
