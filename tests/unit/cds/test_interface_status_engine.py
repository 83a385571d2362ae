"""CONSOLIDATE_INTERFACE_STATUS through the real Chain on MemoryBus + DuckDB."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from kpi_chain import BUS, CountingStore, at, make_chain, probe, publish

from cds.models import INTERFACE_STATUS
from maas.bus.memory import MemoryBroker, MemoryBus
from maas.store.base import Outcome
from maas.store.duckdb import DuckDBStore

pytestmark = pytest.mark.unit
Row = tuple[str, int, int | None, int, bool]  # status, start, stop, last probe (minutes), open


def minute(moment: object) -> int | None:
    return None if moment is None else int((moment - at(0)).total_seconds() // 60)  # type: ignore[operator]


def timeline(kpi_store: DuckDBStore, interface: str) -> list[Row]:
    docs = sorted((d.data for d in kpi_store.scan(INTERFACE_STATUS) if d.data["interface_name"] == interface),
                  key=lambda d: d["start"])  # fmt: skip
    return [
        (d["status"], minute(d["start"]), minute(d.get("stop")), minute(d["last_probe_time"]), d["open"])
        for d in docs
    ]  # type: ignore[misc]


def feed(
    kpi_store: DuckDBStore, kpi_bus: MemoryBus, interface: str, *pairs: tuple[int, str], again: bool = False
) -> None:
    docs = [probe(interface, m, s) for m, s in pairs]
    publish(kpi_store, kpi_bus, docs, exchange=BUS.collect_exchange, again=again)


def test_extend_close_and_split(kpi_store: DuckDBStore, kpi_bus: MemoryBus) -> None:
    chain = make_chain(kpi_store, kpi_bus)
    feed(kpi_store, kpi_bus, "S1A-Serco", (0, "up"), (1, "up"), (2, "up"))
    chain.run_until_idle()
    assert timeline(kpi_store, "S1A-Serco") == [("up", 0, None, 2, True)]
    feed(kpi_store, kpi_bus, "S1A-Serco", (3, "up"), (4, "up"), (5, "down"), (6, "down"), (7, "up"))
    chain.run_until_idle()
    assert timeline(kpi_store, "S1A-Serco") == [
        ("up", 0, 5, 4, False),
        ("down", 5, 7, 6, False),
        ("up", 7, None, 7, True),
    ]
    feed(kpi_store, kpi_bus, "S1A-Serco", (2, "degraded"))  # a late probe inside the first interval
    chain.run_until_idle()
    assert timeline(kpi_store, "S1A-Serco") == [
        ("up", 0, 2, 1, False),
        ("degraded", 2, 3, 2, False),
        ("up", 3, 5, 4, False),
        ("down", 5, 7, 6, False),
        ("up", 7, None, 7, True),
    ]


def test_a_late_probe_can_merge_intervals_and_the_vanished_one_is_deleted(
    kpi_store: DuckDBStore, kpi_bus: MemoryBus
) -> None:
    chain = make_chain(kpi_store, kpi_bus)
    feed(kpi_store, kpi_bus, "AUX", (0, "up"), (1, "up"), (4, "down"), (5, "down"))
    chain.run_until_idle()
    feed(kpi_store, kpi_bus, "AUX", (2, "down"))  # the outage began earlier than its first seen probe
    chain.run_until_idle()
    assert timeline(kpi_store, "AUX") == [("up", 0, 2, 1, False), ("down", 2, None, 5, True)]
    assert kpi_store.count(INTERFACE_STATUS) == 2


def test_order_of_arrival_does_not_matter_and_replays_are_quiet(tmp_path: Path) -> None:
    pairs = [(m, random.Random(m).choice(["up", "up", "up", "down", "degraded"])) for m in range(60)]
    results = []
    for seed in range(3):
        order = list(pairs)
        random.Random(seed).shuffle(order)
        kpi_store = DuckDBStore(tmp_path / f"order{seed}.duckdb")
        counting = CountingStore(kpi_store)
        kpi_bus = MemoryBus(MemoryBroker(), "test")
        chain = make_chain(counting, kpi_bus)  # type: ignore[arg-type]
        for start in range(0, 60, 7):
            feed(kpi_store, kpi_bus, "DD-DHUS", *order[start : start + 7])
            chain.run_until_idle()
        results.append(timeline(kpi_store, "DD-DHUS"))
        counting.calls.clear()
        feed(kpi_store, kpi_bus, "DD-DHUS", *pairs, again=True)  # a replay of every probe
        chain.run_until_idle()
        assert set(counting.written("cds-interface-status")) == {Outcome.UNCHANGED}
        assert timeline(kpi_store, "DD-DHUS") == results[-1]
        kpi_store.close()
    assert results[0] == results[1] == results[2]
    assert len(results[0]) > 3


def test_a_batch_reads_the_tail_of_the_timeline_only(kpi_store: DuckDBStore, kpi_bus: MemoryBus) -> None:
    counting = CountingStore(kpi_store)
    chain = make_chain(counting, kpi_bus)  # type: ignore[arg-type]
    history = [(m, "up" if (m // 10) % 2 == 0 else "down") for m in range(200)]  # 20 intervals
    feed(kpi_store, kpi_bus, "LTA", *history)
    chain.run_until_idle()
    counting.calls.clear()
    feed(kpi_store, kpi_bus, "LTA", (200, "up"), (201, "up"))
    chain.run_until_idle()
    reads = counting.reads("cds-interface-status")
    assert sum(c.returned for c in reads) == 1  # the open interval; no raw probes reloaded
    assert not counting.reads("raw-interface-probe")[1:]  # only the framework's load of the batch
    assert timeline(kpi_store, "LTA")[-2:] == [("down", 190, 200, 199, False), ("up", 200, None, 201, True)]
    assert len(timeline(kpi_store, "LTA")) == 21


def test_a_probe_at_the_first_instant_of_an_interval_can_extend_the_previous_one(
    kpi_store: DuckDBStore, kpi_bus: MemoryBus
) -> None:
    chain = make_chain(kpi_store, kpi_bus)
    feed(kpi_store, kpi_bus, "PRIP", (0, "degraded"), (1, "degraded"), (2, "up"), (3, "up"))
    chain.run_until_idle()
    feed(kpi_store, kpi_bus, "PRIP", (2, "degraded"))  # same instant as "up": the worse status wins
    chain.run_until_idle()
    assert timeline(kpi_store, "PRIP") == [("degraded", 0, 3, 2, False), ("up", 3, None, 3, True)]


def test_the_tail_is_searched_after_a_refresh(kpi_store: DuckDBStore, kpi_bus: MemoryBus) -> None:
    """On OpenSearch a search sees writes after a refresh; the batch before may have been a dead
    replica's, whose refresh never came (the processor's comes after the write)."""
    counting = CountingStore(kpi_store)
    chain = make_chain(counting, kpi_bus)  # type: ignore[arg-type]
    feed(kpi_store, kpi_bus, "S2B-ATOS", (0, "up"))
    chain.run_until_idle()
    calls = [(c.method, c.family) for c in counting.calls if c.family == "cds-interface-status"]
    first_search = calls.index(("find", "cds-interface-status"))
    assert ("refresh", "cds-interface-status") in calls[:first_search]
