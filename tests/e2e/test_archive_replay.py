"""What ``maas collect`` archives, ``maas replay`` sees: every fetch, identical bytes under another
name included; and an archive write cut short is said, not failed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from replay_site import Site, csv_collector

pytestmark = pytest.mark.unit


@pytest.fixture
def site(tmp_path: Path) -> Site:
    site = Site.create(tmp_path / "site")
    site.drop("a.csv", "name,value\na,1\n")
    site.ok("collect")
    return site


def test_a_data_file_left_without_its_sidecar_is_a_warning_and_the_replay_exits_0(site: Site) -> None:
    """What a full disk left behind before the fix (the data file fit, its sidecar did not): the
    payload was never journaled and was collected again, so the replay names it and goes on."""
    [data] = site.payloads()
    cut_short = data.with_name("Products-p0001.json.gz")
    shutil.copy(data, cut_short)
    result = site.ok("replay", str(site.archive), "--out", "replay.duckdb")
    assert f"warning: {cut_short}: data file without its sidecar" in result.stderr
    assert "FAILED" not in result.stderr and "payloads=1 records=1 created=1" in result.stderr


def test_a_corrupt_sidecar_still_fails_the_replay(site: Site) -> None:
    [data] = site.payloads()
    Path(str(data) + ".json").write_text("{not json")
    result = site.maas("replay", str(site.archive), "--out", "replay.duckdb")
    assert result.returncode == 1 and f"FAILED {data}: unreadable sidecar" in result.stderr


def test_a_file_reissued_under_another_name_with_the_same_bytes_replays_as_collected(tmp_path: Path) -> None:
    """A mission plan re-issued as ..._V2.csv with the same bytes, its documents keyed by file name:
    the archive stores the bytes once and counts the second fetch as reused, and the replay gives
    the documents of both files, as the collection did."""
    site = Site.create(tmp_path / "site")
    by_name = csv_collector(site.inbox)
    by_name["extract"]["fields"]["name"] = {"from": "context.name"}
    site.write_collectors([by_name])
    site.drop("S1A_MP_V1.csv", "name,value\nx,7\n")
    first = site.ok("collect")
    site.drop("S1A_MP_V2.csv", "name,value\nx,7\n")
    second = site.ok("collect")
    assert "created=1 updated=0 unchanged=0 rejected=0 archived=1 reused=0 status=ok" in first.stderr
    assert "created=1 updated=0 unchanged=0 rejected=0 archived=0 reused=1 status=ok" in second.stderr
    assert len(site.payloads()) == 1

    site.ok("replay", str(site.archive), "--out", "replay.duckdb")
    query = "SELECT name, value FROM test_raw ORDER BY name"
    assert (
        site.sql(query, "replay.duckdb")
        == site.sql(query)
        == "name,value\nS1A_MP_V1.csv,7\nS1A_MP_V2.csv,7\n"
    )
