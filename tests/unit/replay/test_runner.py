"""The replay through the collector pipeline and the engine chain, on the embedded backends."""

from __future__ import annotations

import gc
from datetime import timedelta
from pathlib import Path

import pytest
from chain_catalog import CATALOG, RAW, TRIPLED
from replay_site import csv_collector
from replay_units import T0, Put, collector

from maas.collector.config import CollectorConfig
from maas.engine.routing import load_routing
from maas.gc_pacing import GC_YOUNG_THRESHOLD
from maas.replay import Collectors, Hooks, Replayer, ReplayReport, plan
from maas.store.duckdb import DuckDBStore

pytestmark = pytest.mark.unit
ROUTING = load_routing(CATALOG.routing_file, CATALOG.engines)


def replay(
    store: DuckDBStore, archive: Path, configs: list[CollectorConfig] | None = None, **options: int
) -> ReplayReport:
    found = Collectors(configs if configs is not None else [collector()], "collectors/")
    return Replayer(store, CATALOG, ROUTING, found, **options).replay(plan([archive]))


def contents(store: DuckDBStore) -> tuple[dict[str, int], dict[str, int]]:
    raw = {d.data["name"]: d.data["value"] for d in store.scan(RAW)}
    return raw, {d.data["name"]: d.data["tripled"] for d in store.scan(TRIPLED)}


def test_payloads_are_extracted_written_and_chained(store: DuckDBStore, archive: Path, put: Put) -> None:
    put("a.csv", "name,value\na,1\nb,2\n")
    put("b.csv", "name,value\nc,3\nbad,x\n", T0 + timedelta(minutes=5))
    report = replay(store, archive)
    assert contents(store) == ({"a": 1, "b": 2, "c": 3}, {"a": 6, "b": 12, "c": 18})
    stats = report.collectors["inbox-csv"]
    assert (stats.payloads, stats.records, stats.created, stats.rejected) == (2, 4, 3, 1)
    assert "b.csv" in stats.problems[0] and "value" in stats.problems[0]
    assert report.ok and report.engine.deliveries > 0 and report.engine.dead_lettered == 0


def test_a_later_payload_updates_what_an_earlier_one_wrote(
    store: DuckDBStore, archive: Path, put: Put
) -> None:
    put("second.csv", "name,value\na,5\n", T0 + timedelta(hours=1))  # archived first, fetched later
    put("first.csv", "name,value\na,1\n", T0)
    replay(store, archive)
    assert contents(store) == ({"a": 5}, {"a": 30})


def test_unknown_collector_is_reported_and_the_rest_replays(
    store: DuckDBStore, archive: Path, put: Put
) -> None:
    put("a.csv", "name,value\na,1\n")
    stranger = put("s.csv", "name,value\ns,1\n", config=collector("gone-csv", "Gone"))
    report = replay(store, archive)
    assert [(f.path, f.reason) for f in report.failures] == [
        (
            stranger.path,
            "unknown collector 'gone-csv': no collector file in collectors/ defines it (see --config-dir)",
        )
    ]
    assert contents(store)[0] == {"a": 1}
    assert not report.ok


def test_a_changed_configuration_is_used_with_one_warning(
    store: DuckDBStore, archive: Path, put: Put
) -> None:
    put("a.csv", "name,value\na,1\n")
    put("b.csv", "name,value\nb,2\n", T0 + timedelta(minutes=1))
    fixed = collector().model_copy(update={"period": 60.0})  # another version of the same collector
    report = replay(store, archive, [fixed])
    assert len(report.warnings) == 1
    assert "inbox-csv" in report.warnings[0] and fixed.config_hash() in report.warnings[0]
    assert report.ok and contents(store)[0] == {"a": 1, "b": 2}


def test_identical_bytes_fetched_under_other_names_are_each_replayed_in_fetch_order(
    store: DuckDBStore, archive: Path, put: Put
) -> None:
    """A plan re-issued as ..._V2.csv with the same bytes that day: the collection stored
    documents for both names; the archive keeps the bytes once, and the replay sees every fetch."""
    fields = {"name": {"from": "context.name"}, "value": {"path": "value", "type": "int"}}
    by_name = CollectorConfig.model_validate(
        {**csv_collector(Path("/nowhere")), "extract": {"format": "csv", "fields": fields}}
    )
    plan_text = "name,value\nx,7\n"
    put("MP_V1.csv", plan_text, T0, by_name)
    put("MP_V3.csv", plan_text, T0 + timedelta(hours=2), by_name)
    put("MP_V2.csv", plan_text, T0 + timedelta(hours=1), by_name)
    assert len(list(archive.rglob("*.gz"))) == 1
    replay(store, archive, [by_name])
    assert sorted(d.data["name"] for d in store.scan(RAW)) == ["MP_V1.csv", "MP_V2.csv", "MP_V3.csv"]
    assert [p.sidecar.name for p in plan([archive]).payloads if p.sidecar] == [
        "MP_V1.csv",
        "MP_V2.csv",
        "MP_V3.csv",
    ]


def test_a_file_changed_then_changed_back_replays_to_its_last_content(
    store: DuckDBStore, archive: Path, put: Put
) -> None:
    """The third fetch has the bytes of the first: the collection left a=1, so must the replay."""
    put("a.csv", "name,value\na,1\n", T0)
    put("a.csv", "name,value\na,2\n", T0 + timedelta(hours=1))
    put("a.csv", "name,value\na,1\n", T0 + timedelta(hours=2))
    replay(store, archive)
    assert contents(store) == ({"a": 1}, {"a": 6})


def test_a_data_file_without_its_sidecar_is_a_warning_and_the_replay_succeeds(
    store: DuckDBStore, archive: Path, put: Put
) -> None:
    cut_short = put("Products-p0001.csv", "name,value\na,1\n").path
    Path(str(cut_short) + ".json").unlink()
    put("Products-p0001-again.csv", "name,value\na,1\nb,2\n", T0 + timedelta(minutes=1))
    report = replay(store, archive)
    assert report.ok and report.failures == [] and contents(store)[0] == {"a": 1, "b": 2}
    [warning] = report.warnings
    assert warning.startswith(f"{cut_short}: data file without its sidecar")


def test_a_corrupt_sidecar_still_fails_the_replay(store: DuckDBStore, archive: Path, put: Put) -> None:
    broken = put("a.csv", "name,value\na,1\n").path
    Path(str(broken) + ".json").write_text("{not json")
    report = replay(store, archive)
    assert not report.ok and [f.path for f in report.failures] == [broken]
    assert report.failures[0].reason.startswith("unreadable sidecar")


def test_draining_the_chain_often_gives_the_same_result(tmp_path: Path, archive: Path, put: Put) -> None:
    for hour in range(6):
        rows = "".join(f"n{i},{i * hour}\n" for i in range(40))
        put(f"p{hour}.csv", "name,value\n" + rows, T0 + timedelta(hours=hour))
    results = []
    for name, every in (("often", 1), ("once", 10**9)):
        store = DuckDBStore(tmp_path / f"{name}.duckdb")
        try:
            report = replay(store, archive, drain_every=every)
            results.append(contents(store))
        finally:
            store.close()
        assert report.ok
    assert results[0] == results[1]
    assert results[0][1] == {f"n{i}": i * 5 * 6 for i in range(40)}


def test_replaying_into_a_store_that_has_the_data_changes_nothing(
    store: DuckDBStore, archive: Path, put: Put
) -> None:
    put("a.csv", "name,value\na,1\nb,2\n")
    replay(store, archive)
    again = replay(store, archive)
    stats = again.collectors["inbox-csv"]
    assert (stats.created, stats.updated, stats.unchanged) == (0, 0, 2)
    # The raw ids go out again (a replay after an engine fix must recompute), and the chain
    # stays quiet after that one hop because nothing downstream changed either.
    assert again.engine.deliveries == 1 and again.engine.reports == 0


def test_the_cycle_collector_is_paced_while_payloads_replay_and_restored_after(
    store: DuckDBStore, archive: Path, put: Put
) -> None:
    """At the default pace it took a fifth of a raw replay's CPU (bench/replay.py)."""
    put("a.csv", "name,value\na,1\n")
    seen: list[int] = []

    class Watch(Hooks):
        def payload_done(self, report: ReplayReport) -> None:
            seen.append(gc.get_threshold()[0])

    before = gc.get_threshold()
    found = Collectors([collector()], "collectors/")
    Replayer(store, CATALOG, ROUTING, found, hooks=Watch()).replay(plan([archive]))
    assert seen == [GC_YOUNG_THRESHOLD] and gc.get_threshold() == before
