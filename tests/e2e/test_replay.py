"""``maas replay`` end to end: an archive written by a real ``maas collect``, replayed offline."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

import pytest
from replay_site import Site, csv_collector

pytestmark = pytest.mark.unit

EVERY_TABLE = ("test_raw", "test_doubled", "test_tripled")


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """Three payloads collected on the embedded deployment, one with a bad row."""
    site = Site.create(tmp_path_factory.mktemp("collected") / "site")
    site.drop("a.csv", "name,value\na,1\nb,2\n")
    site.drop("b.csv", "name,value\nc,3\nd,4\n")
    site.drop("c.csv", "name,value\ne,12abc\nf,6\n")
    site.ok("collect")
    return site


@pytest.fixture
def site(collected: Site, tmp_path: Path) -> Site:
    return collected.clone(tmp_path / "site")


def export(site: Site, db: str, table: str) -> str:
    """The canonical dump of one table, as a user would take it."""
    return site.sql(f"SELECT * FROM {table} ORDER BY id", db)


def replay_json(site: Site, *args: str) -> tuple[int, Any]:
    result = site.maas("replay", *args, "--json")
    return result.returncode, json.loads(result.stdout)


def test_replay_gives_the_documents_of_the_collect_run(site: Site) -> None:
    result = site.ok("replay", str(site.archive), "--out", "replay.duckdb")
    for table in EVERY_TABLE:
        assert export(site, "replay.duckdb", table) == export(site, "maas.duckdb", table), table
    assert export(site, "replay.duckdb", "test_tripled").count("\n") == 1 + 5  # header + a,b,c,d,f
    assert "c.csv:2: record 2: value" in result.stderr  # the bad row, reported again
    assert "payloads=3 records=6 created=5" in result.stderr


def test_the_summary_says_how_to_investigate_the_output(site: Site) -> None:
    """``maas inspect`` takes the file by --db, not as an argument: the replay names the command."""
    (site.root / "two words").mkdir()
    result = site.ok("replay", str(site.archive), "--out", "two words/replay.duckdb")
    hint = "investigate it: maas inspect views --db 'two words/replay.duckdb'"
    assert hint in result.stderr
    assert "test_tripled" in site.ok("inspect", "tables", "--db", "two words/replay.duckdb").stdout


def test_two_replays_give_byte_identical_query_results(site: Site) -> None:
    site.ok("replay", str(site.archive), "--out", "one.duckdb")
    site.ok("replay", str(site.archive / "Inbox"), "--out", "two.duckdb")
    for table in EVERY_TABLE:
        sql = f"SELECT * FROM {table} ORDER BY name"
        one, two = site.sql(sql, "one.duckdb", "json"), site.sql(sql, "two.duckdb", "json")
        assert one == two and one.count("\n") == 5


def test_a_tampered_payload_is_reported_and_skipped_and_the_rest_replays(site: Site) -> None:
    tampered = next(p for p in site.payloads() if p.name == "b.csv.gz")
    tampered.write_bytes(gzip.compress(b"name,value\nc,300\nd,400\n"))
    code, report = replay_json(site, str(site.archive), "--out", "replay.duckdb")
    assert code == 1
    assert [f["path"] for f in report["failures"]] == [str(tampered)]
    assert "sha256 mismatch" in report["failures"][0]["reason"]
    assert report["totals"]["payloads"] == 2
    names = site.sql("SELECT string_agg(name, ' ' ORDER BY name) AS names FROM test_tripled", "replay.duckdb")
    assert names.splitlines() == ["names", "a b f"]


def test_the_output_is_fresh_unless_forced(site: Site) -> None:
    site.ok("replay", str(site.archive), "--out", "replay.duckdb")
    refused = site.maas("replay", str(site.archive), "--out", "replay.duckdb")
    assert refused.returncode == 2 and "replay.duckdb exists" in refused.stderr
    site.ok(
        "replay",
        str(site.archive / "Inbox"),
        "--out",
        "replay.duckdb",
        "--force",
        "--from",
        "2000-01-01",
        "--to",
        "2000-01-02",
    )  # nothing in that window
    assert site.ok("inspect", "tables", "--db", "replay.duckdb", "-f", "csv").stdout.splitlines()[1:] == [
        "test-doubled,test_doubled,0",
        "test-raw,test_raw,0",
        "test-tripled,test_tripled,0",
    ]


def test_ctrl_c_says_the_output_is_partial_and_a_forced_rerun_replaces_it(site: Site) -> None:
    sidecar = site.payloads()[0].with_name(site.payloads()[0].name + ".json")
    kept = sidecar.read_bytes()
    sidecar.unlink()
    os.mkfifo(sidecar)  # reading it blocks: the replay waits there for the Ctrl-C
    out = site.root / "replay.duckdb"
    result = site.interrupted("replay", str(site.archive), "--out", out.name, ready=lambda _: out.exists())
    assert result.returncode == 130, result.stderr
    assert "Traceback" not in result.stderr
    assert f"replay interrupted: {out.name} holds part of it; run again with --force to replace it" in (
        result.stderr
    )
    sidecar.unlink()
    sidecar.write_bytes(kept)
    site.ok("replay", str(site.archive), "--out", out.name, "--force")
    assert export(site, out.name, "test_tripled") == export(site, "maas.duckdb", "test_tripled")


def test_nothing_to_replay_is_said_not_silent(site: Site) -> None:
    """A path that holds no archive (a typo, the wrong directory) must not look like a replay."""
    (site.root / "empty").mkdir()
    code, report = replay_json(site, str(site.root / "empty"), "--out", "empty.duckdb")
    assert code == 0
    assert report["warnings"] == [f"nothing to replay: no archived payload in {site.root / 'empty'}"]
    code, report = replay_json(site, str(site.archive), "--out", "window.duckdb", "--to", "2000-01-01")
    assert report["warnings"] == ["nothing to replay: all 3 archived payload(s) are outside the selection"]


def test_into_the_configured_store_creates_nothing_new_and_leaves_the_journal(site: Site) -> None:
    journal = "SELECT * FROM maas_journal ORDER BY id"
    before = site.sql(journal, fmt="json")
    code, report = replay_json(site, str(site.archive), "--into-configured-store")
    assert code == 0, report
    assert report["totals"] == {
        "payloads": 3,
        "records": 6,
        "created": 0,
        "updated": 0,
        "unchanged": 5,
        "rejected": 1,
    }
    assert report["engine"]["reports"] == 0
    assert site.sql(journal, fmt="json") == before


def test_replay_with_fixed_configs_after_a_bug_fix(site: Site) -> None:
    fixed = csv_collector(site.inbox)
    fixed["extract"]["fields"]["value"]["regex"] = r"^(\d+)"
    fixes = site.write_collectors([fixed], site.root / "fixed")
    code, report = replay_json(site, str(site.archive), "--out", "fixed.duckdb", "--config-dir", str(fixes))
    assert code == 0
    assert "configuration changed" in report["warnings"][0]
    assert report["totals"]["rejected"] == 0
    row = site.sql("SELECT tripled FROM test_tripled WHERE name = 'e'", "fixed.duckdb")
    assert row.splitlines() == ["tripled", "72"]


def test_filters_select_the_payloads(site: Site) -> None:
    code, report = replay_json(site, str(site.archive), "--out", "none.duckdb", "--interface", "Elsewhere")
    assert code == 0 and report["totals"]["payloads"] == 0 and report["payloads"]["skipped"] == 3
    code, report = replay_json(
        site,
        str(site.archive),
        "--out",
        "all.duckdb",
        "--collector",
        "inbox-csv",
        "--from",
        "2000-01-01T00:00:00Z",
    )
    assert code == 0 and report["totals"]["payloads"] == 3


def test_an_unknown_collector_is_reported(site: Site) -> None:
    other = site.write_collectors([csv_collector(site.inbox, "renamed-csv")], site.root / "renamed")
    code, report = replay_json(site, str(site.archive), "--out", "r.duckdb", "--config-dir", str(other))
    assert code == 1
    reasons = {f["reason"] for f in report["failures"]}
    assert reasons == {
        f"unknown collector 'inbox-csv': no collector file in {other} defines it (see --config-dir)"
    }


def test_bad_time_filter_is_a_usage_error(site: Site) -> None:
    result = site.maas("replay", str(site.archive), "--from", "yesterday")
    assert result.returncode == 2 and "'yesterday' is not an ISO 8601 date or time" in result.stderr
    assert not Path(site.root / "replay.duckdb").exists()


def test_a_missing_path_is_a_usage_error_that_creates_no_output(site: Site) -> None:
    """Found before --out is created, so the corrected command needs no --force."""
    typo = site.root / "archiv"
    result = site.maas("replay", str(site.archive), str(typo), "--out", "typo.duckdb")
    assert result.returncode == 2, result.stderr
    assert f"{typo}: no such file or directory" in result.stderr
    assert not list(site.root.glob("typo.duckdb*"))
    site.ok("replay", str(site.archive), "--out", "typo.duckdb")


@pytest.mark.parametrize(
    ("out", "reason"),
    [("typo/dir/r.duckdb", "no such directory"), ("maas.yaml/r.duckdb", "is not a directory")],
)
def test_a_typo_in_the_out_directory_is_a_usage_error_that_creates_nothing(
    site: Site, out: str, reason: str
) -> None:
    result = site.maas("replay", str(site.archive), "--out", out)
    assert result.returncode == 2, result.stderr
    assert f"{Path(out).parent}: {reason}" in result.stderr and "Traceback" not in result.stderr
    assert not (site.root / "typo").exists()


def test_a_config_dir_defining_no_collector_is_a_usage_error_that_creates_nothing(site: Site) -> None:
    (site.root / "empty").mkdir()
    result = site.maas("replay", str(site.archive), "--config-dir", "empty", "--out", "r.duckdb")
    assert result.returncode == 2, result.stderr
    assert "collectors directory empty defines no collector" in result.stderr
    assert "FAILED" not in result.stderr and not list(site.root.glob("r.duckdb*"))


def test_a_payload_that_cannot_be_read_fails_the_replay_and_every_problem_names_its_archive_path(
    tmp_path: Path,
) -> None:
    """Collect goes on past an unreadable payload (a rejection); for a replay it is a failed entry."""
    site = Site.create(tmp_path / "site")
    site.drop("c.csv", "name,value\ne,12abc\nf,6\n")  # one bad record in a readable payload
    site.drop("z.csv", "name,other\nx,1\n")  # no 'value' column: the whole payload is unreadable
    site.ok("collect")
    unreadable, bad_row = (next(p for p in site.payloads() if p.name == n) for n in ("z.csv.gz", "c.csv.gz"))
    result = site.maas("replay", str(site.archive), "--out", "r.duckdb")
    assert result.returncode == 1, result.stderr
    assert f"FAILED {unreadable}: " in result.stderr and "value" in result.stderr
    assert f"{bad_row}: c.csv:2: record 2: value" in result.stderr  # still a rejection, exit 1 or not
    code, report = replay_json(site, str(site.archive), "--out", "r2.duckdb")
    assert code == 1 and [f["path"] for f in report["failures"]] == [str(unreadable)]
    assert report["totals"]["payloads"] == 1 and report["totals"]["rejected"] == 1
