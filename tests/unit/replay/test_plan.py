"""Planning a replay: which entries, in which order, and which are set aside with their reason."""

from __future__ import annotations

import gzip
from datetime import timedelta
from pathlib import Path

import pytest
from replay_units import T0, Put, collector

from maas.replay import Selection, plan

pytestmark = pytest.mark.unit


def names(archive: Path, selection: Selection | None = None, *paths: Path) -> list[str]:
    return [p.path.name for p in plan(list(paths) or [archive], selection or Selection()).payloads]


def test_payloads_come_in_fetch_order_across_interfaces_whatever_the_path_order(
    archive: Path, put: Put
) -> None:
    other = collector("other-csv", "Other")
    put("late.csv", "name,value\na,1\n", T0 + timedelta(days=2))
    put("early.csv", "name,value\nb,1\n", T0, other)
    put("middle.csv", "name,value\nc,1\n", T0 + timedelta(hours=1))
    expected = ["early.csv.gz", "middle.csv.gz", "late.csv.gz"]
    assert names(archive) == expected
    assert names(archive, Selection(), archive / "Other", archive / "Inbox") == expected


def test_overlapping_paths_name_each_entry_once(archive: Path, put: Put) -> None:
    stored = put("a.csv", "name,value\na,1\n")
    chosen = plan([archive, stored.path.parent, stored.path, Path(str(stored.path) + ".json")])
    assert [p.path for p in chosen.payloads] == [stored.path]


def test_paths_through_links_name_each_entry_once(archive: Path, put: Put, tmp_path: Path) -> None:
    stored = put("a.csv", "name,value\na,1\n")
    (tmp_path / "day").symlink_to(stored.path.parent)  # another way into the same day
    (tmp_path / "copy.gz").symlink_to(stored.path)
    (tmp_path / "copy.gz.json").symlink_to(Path(str(stored.path) + ".json"))
    chosen = plan([archive, tmp_path / "day", tmp_path / "copy.gz"])
    assert [p.path for p in chosen.payloads] == [stored.path]


def test_filters_on_interface_collector_and_fetch_window(archive: Path, put: Put) -> None:
    other = collector("other-csv", "Other")
    put("a.csv", "name,value\na,1\n", T0)
    put("b.csv", "name,value\nb,1\n", T0 + timedelta(hours=1), other)
    put("c.csv", "name,value\nc,1\n", T0 + timedelta(hours=2))
    assert names(archive, Selection(interfaces=frozenset({"Other"}))) == ["b.csv.gz"]
    assert names(archive, Selection(collectors=frozenset({"inbox-csv"}))) == ["a.csv.gz", "c.csv.gz"]
    window = Selection(since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=2))  # [from, to)
    assert names(archive, window) == ["b.csv.gz"]
    assert plan([archive], window).skipped == 2


def test_bad_entries_are_set_aside_with_their_reason(archive: Path, put: Put) -> None:
    tampered = put("tampered.csv", "name,value\na,1\n").path
    tampered.write_bytes(gzip.compress(b"name,value\na,999\n"))
    corrupt = put("corrupt.csv", "name,value\nb,1\n").path
    corrupt.write_bytes(b"not gzip at all")
    broken = put("broken.csv", "name,value\nc,1\n").path
    Path(str(broken) + ".json").write_text('{"schema": 1}')
    put("good.csv", "name,value\nd,1\n")
    chosen = plan([archive])
    assert [p.path.name for p in chosen.payloads] == ["good.csv.gz"]
    reasons = {p.path.name: p.problem or "" for p in chosen.bad}
    assert "sha256 mismatch" in reasons["tampered.csv.gz"]
    assert "corrupt gzip" in reasons["corrupt.csv.gz"]
    assert "unreadable sidecar" in reasons["broken.csv.gz"]


def test_a_data_file_without_its_sidecar_is_set_aside_as_a_write_cut_short(archive: Path, put: Put) -> None:
    """Disk full or a kill between the data file and its sidecar: the payload was never journaled
    and was fetched again, so it is no failure of the replay, only a warning naming it."""
    orphan = put("orphan.csv", "name,value\nc,1\n").path
    Path(str(orphan) + ".json").unlink()
    put("good.csv", "name,value\nd,1\n")
    chosen = plan([archive])
    assert [p.path.name for p in chosen.payloads] == ["good.csv.gz"]
    assert chosen.bad == [] and [p.path for p in chosen.incomplete] == [orphan]
    assert (chosen.incomplete[0].warning or "").startswith("data file without its sidecar")


@pytest.mark.parametrize("damage", ["unreadable", "missing"])
def test_an_entry_without_usable_sidecar_is_judged_by_where_it_lies(
    archive: Path, put: Put, damage: str
) -> None:
    entry = put("orphan.csv", "name,value\nc,1\n").path
    sidecar = Path(str(entry) + ".json")
    if damage == "unreadable":
        sidecar.write_text("{not json")
    else:
        sidecar.unlink()

    def set_aside(selection: Selection) -> int:
        chosen = plan([archive], selection)
        return len(chosen.bad) + len(chosen.incomplete)

    assert set_aside(Selection(interfaces=frozenset({"Inbox"}))) == 1
    assert set_aside(Selection(interfaces=frozenset({"Other"}))) == 0
    assert set_aside(Selection(since=T0 + timedelta(days=1))) == 0
    assert set_aside(Selection(until=T0 + timedelta(hours=1))) == 1


def test_a_missing_path_is_a_bad_entry(tmp_path: Path) -> None:
    chosen = plan([tmp_path / "nope"])
    assert [p.problem for p in chosen.bad] == ["no such file or directory"]
