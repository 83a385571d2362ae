"""``maas inspect`` end to end on a replay output and on the embedded store of a real collect run."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from replay_site import Site

pytestmark = pytest.mark.unit

ROWS = "SELECT name, tripled FROM test_tripled ORDER BY name"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """A collect run, its replay in replay.duckdb, and a catalog with views (read-only: shared)."""
    site = Site.create(tmp_path_factory.mktemp("inspect") / "site")
    site.write_settings(
        f"duckdb:///{site.root / 'maas.duckdb'}", catalogs=["chain_catalog:CATALOG", "replay_site:VIEWS"]
    )
    site.drop("a.csv", "name,value\na,1\nb,2\n")
    site.drop("b.csv", "name,value\nc,3\n")
    site.ok("collect")
    site.ok("replay", str(site.archive), "--out", "replay.duckdb")
    return site


def counts(site: Site, db: str) -> str:
    return site.ok("inspect", "tables", "--db", db, "-f", "csv").stdout


def test_sql_formats(site: Site, tmp_path: Path) -> None:
    table = site.ok("inspect", "sql", ROWS, "--db", "replay.duckdb").stdout
    assert [line.split() for line in table.splitlines() if " a " in line or " c " in line] == [
        ["│", "a", "│", "6", "│"],
        ["│", "c", "│", "18", "│"],
    ]
    assert site.sql(ROWS, "replay.duckdb") == "name,tripled\na,6\nb,12\nc,18\n"
    lines = site.sql(ROWS, "replay.duckdb", "json").splitlines()
    assert [json.loads(line) for line in lines] == [
        {"name": "a", "tripled": 6},
        {"name": "b", "tripled": 12},
        {"name": "c", "tripled": 18},
    ]
    parquet = tmp_path / "rows.parquet"
    assert site.sql(ROWS, "replay.duckdb", "parquet", "--output", str(parquet)) == ""
    read_back = f"SELECT * FROM '{parquet}' ORDER BY name"
    assert site.sql(read_back, "replay.duckdb") == "name,tripled\na,6\nb,12\nc,18\n"


def test_times_lists_and_nulls_are_rendered_by_duckdb(site: Site) -> None:
    sql = "SELECT TIMESTAMPTZ '2024-03-01 12:00:00+02' AS t, ['x', 'y'] AS l, NULL::INT AS n"
    assert site.sql(sql, "replay.duckdb") == 't,l,n\n2024-03-01 10:00:00+00,"[x, y]",\n'
    table = site.ok("inspect", "sql", sql, "--db", "replay.duckdb").stdout
    assert "2024-03-01 10:00:00+00" in table and "[x, y]" in table and "∅" in table


def test_output_file_and_table_limit(site: Site, tmp_path: Path) -> None:
    out = tmp_path / "rows.csv"
    result = site.ok("inspect", "sql", ROWS, "--db", "replay.duckdb", "-f", "csv", "-o", str(out))
    assert result.stdout == "" and out.read_text() == "name,tripled\na,6\nb,12\nc,18\n"
    limited = site.ok("inspect", "sql", ROWS, "--db", "replay.duckdb", "--limit", "2")
    assert " b " in limited.stdout and " c " not in limited.stdout
    assert "only the first 2 rows" in limited.stderr


@pytest.mark.parametrize(
    ("statement", "kind"),
    [
        ("INSERT INTO test_raw (id, name, value) VALUES ('x', 'x', 1)", "INSERT"),
        ("CREATE TABLE scratch AS SELECT 1 AS x", "CREATE"),
        ("COPY test_raw TO '{tmp}/leak.csv'", "COPY"),
        ("COPY (SELECT * FROM test_raw) TO '{tmp}/leak.csv' (FORMAT csv)", "COPY"),
        ("ATTACH '{tmp}/other.duckdb' AS other", "ATTACH"),
        ("EXPORT DATABASE '{tmp}/dump'", "EXPORT"),
        ("DELETE FROM test_raw", "DELETE"),
    ],
)
def test_writes_are_refused_with_the_reason(site: Site, tmp_path: Path, statement: str, kind: str) -> None:
    before = counts(site, "replay.duckdb")
    result = site.maas("inspect", "sql", statement.format(tmp=tmp_path), "--db", "replay.duckdb")
    assert result.returncode == 2
    message = " ".join(result.stderr.split())
    assert f"{kind} statements are refused: maas inspect opens replay.duckdb read-only" in message
    assert list(tmp_path.iterdir()) == []  # no file written
    assert counts(site, "replay.duckdb") == before


def test_one_statement_at_a_time_and_errors_are_clear(site: Site) -> None:
    several = site.maas("inspect", "sql", "SELECT 1; DROP TABLE test_raw", "--db", "replay.duckdb")
    assert several.returncode == 2 and "one statement at a time" in several.stderr
    missing = site.maas("inspect", "sql", "SELECT * FROM nope", "--db", "replay.duckdb")
    assert missing.returncode == 2 and "Table with name nope does not exist" in missing.stderr
    parquet = site.maas("inspect", "sql", ROWS, "--db", "replay.duckdb", "-f", "parquet")
    assert parquet.returncode == 2 and "give --output FILE" in parquet.stderr


def test_tables_lists_families_and_rows_of_the_configured_store(site: Site) -> None:
    assert site.ok("inspect", "tables", "-f", "csv").stdout.splitlines() == [
        "family,table,rows",
        "test-doubled,test_doubled,3",
        "test-raw,test_raw,3",
        "test-tripled,test_tripled,3",
        ",maas_journal,1",  # the collector's journal: no family of the catalog
        ",maas_journal_outbox,0",  # its messages, until the chain processed them: it did
        ",maas_journal_seen,0",  # its seen files: fewer than a flush, still in the entry
    ]


def test_catalog_views(site: Site) -> None:
    listing = " ".join(site.ok("inspect", "views", "--db", "replay.duckdb").stdout.split())
    assert "chain │ each raw value with what the engines made of it │ available" in listing
    assert "orphans │ needs a table this database lacks │ unavailable: Catalog Error" in listing
    assert site.ok("inspect", "view", "chain", "b", "--db", "replay.duckdb", "-f", "csv").stdout == (
        "name,value,doubled,tripled\nb,2,4,12\n"
    )
    in_sql = site.sql("SELECT count(*) AS n FROM chain WHERE tripled = value * 6", "replay.duckdb")
    assert in_sql == "n\n3\n"
    complete = site.ok(
        "inspect", "completeness", "--filter", "status=Complete", "--db", "replay.duckdb", "-f", "csv"
    )
    assert complete.stdout == "name,status\na,Complete\nb,Complete\nc,Complete\n"
    any_case = (
        "inspect",
        "completeness",
        "--filter",
        "STATUS=Complete",
        "--db",
        "replay.duckdb",
        "-f",
        "csv",
    )
    assert site.ok(*any_case).stdout == complete.stdout  # column names ignore case, as in DuckDB
    unavailable = site.maas("inspect", "view", "orphans", "--db", "replay.duckdb")
    assert unavailable.returncode == 2 and "not available in replay.duckdb" in unavailable.stderr


def test_a_filter_on_an_unknown_column_names_the_option_and_the_columns(site: Site) -> None:
    result = site.maas("inspect", "view", "chain", "--filter", "nosuchcol=1", "--db", "replay.duckdb")
    message = " ".join(result.stderr.split())
    assert result.returncode == 2 and "--filter" in message, message
    assert "view 'chain' has no column 'nosuchcol' (its columns: name, value, doubled, tripled)" in message
    assert "Binder Error" not in message and "Traceback" not in message


def test_investigations_need_a_catalog_view(site: Site) -> None:
    result = site.maas("inspect", "product", "S1A_X", "--db", "replay.duckdb")
    assert result.returncode == 2 and "the catalogs in use provide no 'product' view" in result.stderr
    assert "chain, completeness, orphans" in " ".join(result.stderr.split())


def test_a_file_being_written_is_named_with_its_writer(site: Site, tmp_path: Path) -> None:
    busy = tmp_path / "busy.duckdb"
    writer = duckdb.connect(str(busy))
    try:
        writer.execute("CREATE TABLE t (x INT)")
        result = site.maas("inspect", "sql", "SELECT 1", "--db", str(busy))
    finally:
        writer.close()
    assert result.returncode == 3
    assert "is being written by PID" in " ".join(result.stderr.split())


def test_a_store_that_is_not_a_file_needs_db(site: Site, tmp_path: Path) -> None:
    elsewhere = Site(tmp_path)
    elsewhere.write_settings("http://127.0.0.1:9")
    result = elsewhere.maas("inspect", "tables")
    assert result.returncode == 2 and "pass --db FILE" in " ".join(result.stderr.split())


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("comp.jsonl", '{"a": 1}\n', "comp.jsonl is not a DuckDB database file"),  # DuckDB: in-memory
        ("notes.txt", "hello\n", "notes.txt is not a DuckDB database file"),
        ("nope.duckdb", None, "nope.duckdb: no such DuckDB file"),
    ],
)
def test_db_that_is_no_duckdb_file_is_a_usage_error(
    site: Site, tmp_path: Path, name: str, content: str | None, reason: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    result = site.maas("inspect", "tables", "--db", str(path))
    message = " ".join(result.stderr.split())
    assert result.returncode == 2 and "--db" in message and reason in message, message
    assert "Traceback" not in message and "Catalog Error" not in message


def test_export_refuses_a_store_that_is_not_opensearch(site: Site, tmp_path: Path) -> None:
    out = tmp_path / "e1.duckdb"
    result = site.maas("inspect", "export", "--from-opensearch", "test-raw", "--out", str(out))
    message = " ".join(result.stderr.split())
    assert result.returncode == 2 and result.stdout == "", message
    assert "--from-opensearch: the configured store (duckdb:///" in message and "is not OpenSearch" in message
    assert "store.url" in message and "MAAS_STORE_URL" in message
    assert not out.exists()


def test_a_failed_export_leaves_no_output_and_keeps_a_replaced_one(tmp_path: Path) -> None:
    down = Site(tmp_path)
    down.write_settings("http://127.0.0.1:1")
    out, kept = tmp_path / "e2.duckdb", tmp_path / "kept.duckdb"
    kept.write_bytes(b"the file --force would have replaced")
    for _ in range(2):  # the second run fails the same way: no leftover asks for --force
        failed = down.maas("inspect", "export", "--from-opensearch", "test-raw", "--out", str(out))
        assert failed.returncode == 1 and "exists" not in failed.stderr, failed.stderr
    forced = down.maas("inspect", "export", "--from-opensearch", "test-raw", "--out", str(kept), "--force")
    assert forced.returncode == 1, forced.stderr
    assert kept.read_bytes() == b"the file --force would have replaced"
    assert sorted(p.name for p in tmp_path.iterdir() if "duckdb" in p.name) == ["kept.duckdb"]  # no lock


@pytest.mark.parametrize(
    ("out", "reason"), [("typo/dir/e.duckdb", "no such directory"), ("file/e.duckdb", "is not a directory")]
)
def test_a_typo_in_the_export_directory_is_a_usage_error_that_creates_nothing(
    tmp_path: Path, out: str, reason: str
) -> None:
    """As ``maas replay --out`` (README: a path that cannot be used as given is exit 2)."""
    site = Site(tmp_path)
    site.write_settings("http://127.0.0.1:1")  # found before the store is asked anything
    (tmp_path / "file").write_text("not a directory")
    result = site.maas("inspect", "export", "--from-opensearch", "test-raw", "--out", str(tmp_path / out))
    assert result.returncode == 2, result.stderr
    assert f"{tmp_path / Path(out).parent}: {reason}" in " ".join(result.stderr.split())
    assert not (tmp_path / "typo").exists() and "Traceback" not in result.stderr
