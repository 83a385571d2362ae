"""COMPUTE_COMPLETENESS through the real Chain on MemoryBus + DuckDB."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from kpi_chain import CountingStore, at, datatake, make_chain, product, publish

from cds.models import COMPLETENESS
from cds.rules import rules
from maas.bus.memory import MemoryBroker, MemoryBus
from maas.store.base import Outcome, Terms
from maas.store.duckdb import DuckDBStore

pytestmark = pytest.mark.unit
IW_TYPES = [t.type for t in rules().expected_types("S1", "IW")]
EW_TYPES = [t.type for t in rules().expected_types("S1", "EW")]


def records(kpi_store: DuckDBStore, key: str) -> dict[str, dict[str, Any]]:
    return {
        d.data["product_type"]: d.data for d in kpi_store.find(COMPLETENESS, [Terms("datatake_key", [key])])
    }


def test_overlapping_products_reach_exactly_the_union(kpi_store: DuckDBStore, kpi_bus: MemoryBus) -> None:
    chain = make_chain(kpi_store, kpi_bus)
    publish(kpi_store, kpi_bus, [datatake("S1A-1001", 0, 120)])
    publish(
        kpi_store,
        kpi_bus,
        [
            product("S1A-1001", "IW_RAW__0S", 0, 50),
            product("S1A-1001", "IW_RAW__0S", 40, 90),
            product("S1A-1001", "IW_RAW__0S", 10, 20),  # nested: counted once
            product("S1A-1001", "IW_RAW__0S", 90, 120, prip=["S1A-Other"]),  # not the production service
            product("S1A-1001", "IW_SLC__1S", -5, 130),  # beyond the plan: capped at 117 s expected
            product("S1A-1001", "IW_RAW__0N", 0, 1),
            product("S1A-1001", "AUX_PP1", 0, 1),  # not an expected type: no record
        ],
    )
    assert chain.run_until_idle().dead_lettered == 0
    found = records(kpi_store, "S1A-1001")
    assert set(found) == {*IW_TYPES, "ALL"}
    raw = found["IW_RAW__0S"]
    assert (raw["value"], raw["expected"], raw["products"]) == (90.0, 120.0, 3)
    assert raw["percentage"] == pytest.approx(75.0)
    assert raw["status"] == "Partial" and raw["measure"] == "seconds" and raw["scope"] == "production"
    assert raw["missing_periods"] == [{"start": at(90), "stop": at(120)}]
    slc = found["IW_SLC__1S"]
    assert (slc["value"], slc["expected"], slc["percentage"], slc["status"]) == (
        120.0,
        117.0,
        100.0,
        "Complete",
    )
    noise = found["IW_RAW__0N"]
    assert (noise["measure"], noise["value"], noise["expected"], noise["status"]) == (
        "count",
        1,
        2,
        "Partial",
    )
    assert found["IW_GRDH_1S"]["status"] == "Missing" and found["IW_GRDH_1S"]["percentage"] == 0
    overall = found["ALL"]
    assert overall["percentage"] == pytest.approx((75 + 100 + 50) / len(IW_TYPES))
    assert overall["status"] == "Partial" and overall["products"] == 5
    assert overall["observation_start"] == at(0) and overall["instrument_mode"] == "IW"


def test_products_before_their_plan_are_counted_when_it_arrives(
    kpi_store: DuckDBStore, kpi_bus: MemoryBus
) -> None:
    chain = make_chain(kpi_store, kpi_bus)
    publish(kpi_store, kpi_bus, [product("S1A-2002", "IW_RAW__0S", 0, 60)])
    chain.run_until_idle()
    assert records(kpi_store, "S1A-2002") == {}  # no plan yet: nothing known to be expected
    publish(kpi_store, kpi_bus, [datatake("S1A-2002", 0, 60)])
    chain.run_until_idle()
    raw = records(kpi_store, "S1A-2002")["IW_RAW__0S"]
    assert (raw["percentage"], raw["status"], raw["missing_periods"]) == (100.0, "Complete", [])


def test_status_follows_each_new_product_and_quiet_when_nothing_moves(
    kpi_store: DuckDBStore, kpi_bus: MemoryBus
) -> None:
    counting = CountingStore(kpi_store)
    chain = make_chain(counting, kpi_bus)  # type: ignore[arg-type]
    publish(kpi_store, kpi_bus, [datatake("S1A-3003", 0, 100)])
    chain.run_until_idle()
    assert records(kpi_store, "S1A-3003")["IW_RAW__0C"]["status"] == "Missing"
    publish(kpi_store, kpi_bus, [product("S1A-3003", "IW_RAW__0C", 0, 1)])
    chain.run_until_idle()
    assert records(kpi_store, "S1A-3003")["IW_RAW__0C"]["status"] == "Partial"
    publish(kpi_store, kpi_bus, [product("S1A-3003", "IW_RAW__0C", 99, 100)])
    chain.run_until_idle()
    assert records(kpi_store, "S1A-3003")["IW_RAW__0C"]["status"] == "Complete"
    publish(kpi_store, kpi_bus, [product("S1A-3003", "IW_RAW__0C", 50, 51)])  # a third: stays capped
    counting.calls.clear()
    chain.run_until_idle()
    assert records(kpi_store, "S1A-3003")["IW_RAW__0C"]["percentage"] == 100.0
    # only the product counts of IW_RAW__0C and of the global record moved; the rest is not rewritten
    assert counting.written("cds-completeness") == {Outcome.UPDATED: 2, Outcome.UNCHANGED: len(IW_TYPES) - 1}


@pytest.mark.parametrize(("mode", "types"), [("EW", {*EW_TYPES, "ALL"}), ("SM", set())])
def test_a_newer_plan_changing_the_mode_leaves_only_the_new_modes_records(
    kpi_store: DuckDBStore, kpi_bus: MemoryBus, mode: str, types: set[str]
) -> None:
    """The old mode's types are no longer expected: their records go (all of them when the new
    mode has no rules: SM is not in the rules), they do not stay Missing beside the new ones."""
    chain = make_chain(kpi_store, kpi_bus)
    publish(kpi_store, kpi_bus, [datatake("S1A-6006", 0, 100), datatake("S1A-6007", 0, 100)])
    publish(kpi_store, kpi_bus, [product("S1A-6006", "EW_GRDM_1S", 0, 100)])
    chain.run_until_idle()
    assert set(records(kpi_store, "S1A-6006")) == {*IW_TYPES, "ALL"}
    publish(kpi_store, kpi_bus, [datatake("S1A-6006", 0, 100, mode=mode)])
    chain.run_until_idle()
    found = records(kpi_store, "S1A-6006")
    assert set(found) == types
    assert all(record["instrument_mode"] == mode for record in found.values())
    if types:
        assert found["EW_GRDM_1S"]["status"] == "Complete"
    assert set(records(kpi_store, "S1A-6007")) == {*IW_TYPES, "ALL"}  # another datatake: untouched


def test_missing_periods_ignore_gaps_below_the_minimum(kpi_store: DuckDBStore, kpi_bus: MemoryBus) -> None:
    chain = make_chain(kpi_store, kpi_bus)
    publish(kpi_store, kpi_bus, [datatake("S1A-4004", 0, 100)])
    gap_s = rules().min_gap_s("S1")
    publish(
        kpi_store,
        kpi_bus,
        [
            product("S1A-4004", "IW_RAW__0A", 0, 30),
            product("S1A-4004", "IW_RAW__0A", 30 + gap_s / 2, 60),  # jitter between slices
            product("S1A-4004", "IW_RAW__0A", 70, 100),
        ],
    )
    chain.run_until_idle()
    assert records(kpi_store, "S1A-4004")["IW_RAW__0A"]["missing_periods"] == [
        {"start": at(60), "stop": at(70)}
    ]


def test_s2_granules_with_only_a_start_cover_their_default_duration(
    kpi_store: DuckDBStore, kpi_bus: MemoryBus
) -> None:
    chain = make_chain(kpi_store, kpi_bus)
    publish(kpi_store, kpi_bus, [datatake("S2A-5005", 0, 36.08, mode="NOBS", mission="S2")])
    step = rules().expected_types("S2", "NOBS")[1].default_duration_s
    assert step is not None
    granules = [
        product("S2A-5005", "MSI_L0__GR", i * step, None, prip=["S2A-ATOS"], satellite="S2A")
        for i in range(5)
        for d in (1, 2)
    ]
    publish(kpi_store, kpi_bus, granules)
    chain.run_until_idle()
    granule = records(kpi_store, "S2A-5005")["MSI_L0__GR"]
    assert granule["value"] == pytest.approx(5 * step)
    assert granule["expected"] == pytest.approx(36.08 - 4)
    assert granule["percentage"] == pytest.approx(100 * 5 * step / (36.08 - 4))


def test_a_batch_loads_only_the_datatakes_it_touched(kpi_store: DuckDBStore, kpi_bus: MemoryBus) -> None:
    counting = CountingStore(kpi_store)
    chain = make_chain(counting, kpi_bus)  # type: ignore[arg-type]
    keys = [f"S1A-{7000 + i}" for i in range(20)]
    publish(kpi_store, kpi_bus, [datatake(key, 0, 600) for key in keys])
    publish(
        kpi_store,
        kpi_bus,
        [product(key, "IW_SLC__1S", 25 * i, 25 * i + 25) for key in keys for i in range(24)],
    )
    chain.run_until_idle()
    counting.calls.clear()
    publish(
        kpi_store, kpi_bus, [product(keys[3], "IW_GRDH_1S", 0, 25), product(keys[3], "IW_GRDH_1S", 25, 50)]
    )
    chain.run_until_idle()
    (dt_read,) = counting.reads("cds-datatake")
    assert (dt_read.method, dt_read.ids, dt_read.returned) == ("get", 1, 1)  # by id: realtime
    product_reads = counting.reads("cds-product")
    (search,) = [c for c in product_reads if c.method == "find"]
    assert search.filters[0] == Terms("datatake_key", [keys[3]])
    assert search.returned == 24 + 2  # that datatake's products, not the 482 stored
    # the rest are the framework's loads of the batch by id (one per queue bound to products)
    assert {(c.method, c.ids) for c in product_reads if c is not search} == {("get", 2)}
    assert not [c for c in counting.calls if c.method == "scan"]
    assert records(kpi_store, keys[3])["IW_GRDH_1S"]["value"] == 50.0


def reference_seconds(intervals: list[tuple[int, int]], low: int, high: int) -> int:
    """Whole seconds of [low, high) that some interval covers: a brute force, independent of cds.kpi."""
    return sum(1 for s in range(low, high) if any(a <= s and s + 1 <= b for a, b in intervals))


def test_any_arrival_order_and_batching_gives_the_reference_values(tmp_path: Path) -> None:
    rnd = random.Random(6)
    plans = {f"S1A-{9000 + i}": (100 * i, 100 * i + 60) for i in range(3)}
    products = []
    for key, (low, high) in plans.items():
        for _ in range(15):
            start = rnd.randint(low - 20, high)
            products.append((key, start, start + rnd.randint(1, 30), rnd.random() < 0.8))
    results = []
    for seed in range(3):
        order = list(products)
        random.Random(seed).shuffle(order)
        store = DuckDBStore(tmp_path / f"order{seed}.duckdb")
        bus = MemoryBus(MemoryBroker(), "test")
        chain = make_chain(store, bus)
        publish(store, bus, [datatake(key, low, high) for key, (low, high) in plans.items()])
        for cut in range(0, len(order), 4 + seed * 7):
            docs = [
                product(key, "IW_RAW__0A", a, b, prip=["S1A-Serco" if ours else "S1A-Other"])
                for key, a, b, ours in order[cut : cut + 4 + seed * 7]
            ]
            publish(store, bus, docs)
            chain.run_until_idle()
        results.append({key: records(store, key)["IW_RAW__0A"]["value"] for key in plans})
        store.close()
    expected = {
        key: reference_seconds([(a, b) for k, a, b, ours in products if k == key and ours], low, high)
        for key, (low, high) in plans.items()
    }
    assert results == [expected] * 3
