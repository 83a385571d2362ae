"""COMPUTE_ORBIT_COMPLETENESS through the real Chain on MemoryBus + DuckDB: S3/S5P tables, back-fill."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from kpi_chain import CountingStore, at, make_chain, product, publish

from cds.models import ORBIT_COMPLETENESS
from cds.naming import parse
from cds.rules import rules
from maas.bus.memory import MemoryBroker, MemoryBus
from maas.engine.pool import Chain
from maas.store.duckdb import DuckDBStore

pytestmark = pytest.mark.unit
S3 = rules().orbit_rule("S3")
S5P = rules().orbit_rule("S5P")
assert S3 is not None and S5P is not None
S3_TYPES = len(S3.types)
PERIOD = S3.orbit_period.total_seconds()


def s3(
    cycle: int, orbit: int, kind: str, start: float, stop: float, timeliness: str = "NR", **kw: Any
) -> Any:
    return product(
        f"S3A-{cycle:03d}-{orbit:03d}", kind, start, stop, prip=["S3A-ACRI"], satellite="S3A",
        cycle=cycle, relative_orbit=orbit, timeliness=timeliness, **kw,
    )  # fmt: skip


def orbits(kpi_store: DuckDBStore) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d.data["orbit_key"], d.data["product_type"]): d.data for d in kpi_store.scan(ORBIT_COMPLETENESS)}


def test_orbit_keys_are_the_naming_pseudo_datatakes() -> None:
    s3_name = "S3A_OL_1_EFR____20211214T151253_20211214T151553_20211214T165453_0180_079_339_2160_LN1_O_NR_002"
    s5p_name = "S5P_NRTI_L2__AER_LH_20220401T203521_20220401T204021_23146_02_020301_20220401T213615"
    for rule, name in ((S3, s3_name), (S5P, s5p_name)):
        parsed = parse(name)
        record = parsed.as_record()
        index = rule.index(record)
        assert index is not None
        assert rule.orbit(record["unit"], index)["orbit_key"] == parsed.datatake_key  # type: ignore[index]


def test_daylight_and_full_orbit_types_against_their_tables(
    kpi_store: DuckDBStore, kpi_bus: MemoryBus
) -> None:
    chain = make_chain(kpi_store, kpi_bus)
    publish(
        kpi_store,
        kpi_bus,
        [
            s3(79, 339, "OL_1_EFR___", 0, 180),
            s3(79, 339, "OL_1_EFR___", 170, 360),  # overlaps the previous frame
            s3(79, 339, "OL_1_EFR___", 360, 540),
            s3(79, 339, "OL_1_EFR___", 540, 2000, timeliness="NT"),  # not an allowed timeliness
            s3(79, 339, "SL_1_RBT___", 0, 101 * 60),
            s3(79, 339, "OL_2_LFR___", 0, 60),
        ],
    )
    assert chain.run_until_idle().dead_lettered == 0
    found = orbits(kpi_store)
    efr = found[("S3A-079-339", "OL_1_EFR___")]
    assert (efr["value_minutes"], efr["expected_minutes"], efr["products"]) == (9.0, 44.0, 3)
    assert efr["percentage"] == pytest.approx(100 * 9 / 44) and efr["status"] == "Partial"
    assert (efr["cycle"], efr["relative_orbit"], efr["satellite"], efr["timeliness"]) == (
        79,
        339,
        "S3A",
        "NR",
    )
    rbt = found[("S3A-079-339", "SL_1_RBT___")]
    assert (rbt["value_minutes"], rbt["expected_minutes"], rbt["status"]) == (101.0, 101.0, "Complete")
    assert found[("S3A-079-339", "SR_1_SRA___")]["status"] == "Missing"  # in the table, no product


def test_orbits_with_no_product_are_back_filled_at_zero(kpi_store: DuckDBStore, kpi_bus: MemoryBus) -> None:
    chain = make_chain(kpi_store, kpi_bus)
    publish(kpi_store, kpi_bus, [s3(79, 339, "SL_1_RBT___", 0, 6060)])
    chain.run_until_idle()
    found = orbits(kpi_store)
    window = range(339 - S3.backfill_orbits, 339)
    assert {key for key, _ in found} == {f"S3A-079-{o:03d}" for o in [*window, 339]}
    assert len(found) == (S3.backfill_orbits + 1) * S3_TYPES
    empty = found[("S3A-079-300", "SL_1_RBT___")]
    assert (empty["percentage"], empty["status"], empty["products"], empty["value_minutes"]) == (
        0,
        "Missing",
        0,
        0,
    )
    assert ("S3A-079-340", "SL_1_RBT___") not in found  # the future is not missing yet


def two_batches(
    store: DuckDBStore, bus: MemoryBus, first: list[Any], second: list[Any]
) -> tuple[Chain, CountingStore]:
    """One chain, two batches; the counting store holds the calls of the second only."""
    counting = CountingStore(store)
    chain = make_chain(counting, bus)  # type: ignore[arg-type]
    for products in (first, second):
        counting.calls.clear()
        publish(store, bus, products)
        chain.run_until_idle()
    return chain, counting


def test_back_fill_crosses_the_cycle_boundary_and_a_late_product_fills_its_orbit(
    kpi_store: DuckDBStore, kpi_bus: MemoryBus
) -> None:
    first, second = [s3(79, 380, "SL_1_RBT___", 0, 6060)], [s3(80, 3, "SL_1_RBT___", 0, 6060)]
    chain, counting = two_batches(kpi_store, kpi_bus, first, second)
    found = orbits(kpi_store)
    assert {
        ("S3A-079-381", "OL_1_EFR___"),
        ("S3A-079-385", "TM_0_NAT___"),
        ("S3A-080-002", "SL_1_RBT___"),
    } <= set(found)
    (get,) = [c for c in counting.reads("cds-orbit-completeness") if c.method == "get_with_hashes"]
    assert get.ids == (1 + S3.backfill_orbits) * S3_TYPES  # 80-003 and its window: not a scan of history
    # 79-345..380 existed; 79-381..385 and 80-001..002 did not: 7 orbits back-filled
    assert get.returned == (S3.backfill_orbits - 7) * S3_TYPES
    publish(kpi_store, kpi_bus, [s3(79, 383, "SL_1_RBT___", 0, 3030)])  # late: a back-filled orbit fills in
    chain.run_until_idle()
    late = orbits(kpi_store)[("S3A-079-383", "SL_1_RBT___")]
    assert (late["percentage"], late["status"], late["products"]) == (50.0, "Partial", 1)


def dates(found: dict[tuple[str, str], dict[str, Any]], key: str) -> tuple[datetime, datetime, bool]:
    """An orbit's dates, checked to be the same on every type record of it."""
    (shared,) = {
        (r["orbit_start"], r["orbit_stop"], r["dates_estimated"]) for (k, _), r in found.items() if k == key
    }
    return shared


def computed(
    store: DuckDBStore, bus: MemoryBus, products: list[Any]
) -> dict[tuple[str, str], dict[str, Any]]:
    """The orbit records once these products went through the chain."""
    chain = make_chain(store, bus)
    publish(store, bus, products)
    chain.run_until_idle()
    return orbits(store)


def test_an_orbit_is_dated_by_its_products_of_any_type_even_not_counted(
    kpi_store: DuckDBStore, kpi_bus: MemoryBus
) -> None:
    products = [
        s3(79, 339, "OL_1_EFR___", 600, 1920),
        s3(79, 339, "OL_1_EFR___", 1920, 4000, timeliness="NT"),  # not counted, but sensed then
        s3(79, 339, "SL_1_RBT___", 300, 3030),
    ]
    found = computed(kpi_store, kpi_bus, products)
    assert dates(found, "S3A-079-339") == (at(300), at(4000), False)  # SR_1_SRA___ has no product: same dates
    assert found[("S3A-079-339", "SR_1_SRA___")]["status"] == "Missing"
    assert found[("S3A-079-339", "OL_1_EFR___")]["products"] == 1


def test_an_orbit_without_product_is_dated_whole_periods_from_the_nearest_dated_one(
    kpi_store: DuckDBStore, kpi_bus: MemoryBus
) -> None:
    late = 2 * PERIOD + 5  # 79-341 starts 5 s later than 79-339's period says
    products = [s3(79, 339, "SL_1_RBT___", 0, 3030), s3(79, 341, "SL_1_RBT___", late, late + 3030)]
    found = computed(kpi_store, kpi_bus, products)
    assert dates(found, "S3A-079-339") == (at(0), at(3030), False)
    # between two dated orbits as near: from the later one, one period long
    assert dates(found, "S3A-079-340") == (at(late - PERIOD), at(late), True)
    # before the batch's first orbit: back from it
    first = 339 - S3.backfill_orbits
    assert dates(found, f"S3A-079-{first:03d}") == (at(-43 * PERIOD), at(-42 * PERIOD), True)


def test_estimates_follow_the_stored_dated_orbits_and_unchanged_ones_are_not_rewritten(
    kpi_store: DuckDBStore, kpi_bus: MemoryBus
) -> None:
    later = 6 * PERIOD + 100  # 79-345, 100 s off the period from 79-339
    first, second = [s3(79, 339, "SL_1_RBT___", 0, 6060)], [s3(79, 345, "SL_1_RBT___", later, later + 6060)]
    _, counting = two_batches(kpi_store, kpi_bus, first, second)
    found = orbits(kpi_store)
    for orbit, start in ((340, PERIOD), (341, 2 * PERIOD), (342, later - 3 * PERIOD), (344, later - PERIOD)):
        assert dates(found, f"S3A-079-{orbit}") == (at(start), at(start + PERIOD), True), orbit
    reads = counting.reads("cds-orbit-completeness")
    # 79-339's dates come with the window's; a new orbit reads the orbits after it by id (no search)
    assert [c.method for c in reads] == ["get_with_hashes", "get"]
    # 79-302..338 were re-estimated from 79-339 again: the same as the first batch wrote, not rewritten
    assert dates(found, "S3A-079-338") == (at(-PERIOD), at(0), True)
    assert counting.written("cds-orbit-completeness").total() == 6 * S3_TYPES  # 79-340..345


def test_s5p_orbits_are_absolute(kpi_store: DuckDBStore, kpi_bus: MemoryBus) -> None:
    chain = make_chain(kpi_store, kpi_bus)
    granules = [
        product("S5P-23146", "NRTI_L2__NO2___", 300 * i, 300 * i + 300, prip=["S5P-DLR"], satellite="S5P",
                absolute_orbit=23146, timeliness="NRTI")
        for i in range(4)
    ]  # fmt: skip
    publish(kpi_store, kpi_bus, granules)
    chain.run_until_idle()
    found = orbits(kpi_store)
    no2 = found[("S5P-23146", "NRTI_L2__NO2___")]
    assert (no2["value_minutes"], no2["expected_minutes"], no2["absolute_orbit"]) == (20.0, 50.0, 23146)
    assert no2["percentage"] == 40.0
    assert found[(f"S5P-{23146 - S5P.backfill_orbits}", "NRTI_L2__NO2___")]["status"] == "Missing"
    assert len(found) == (S5P.backfill_orbits + 1) * len(S5P.types)


def keys_of(found: dict[tuple[str, str], dict[str, Any]]) -> set[str]:
    return {key for key, _ in found}


def s3_key(cycle: int, orbit: int, ahead: int = 0) -> str:
    """The key of the S3A orbit ``ahead`` orbits after (cycle, orbit), across cycles."""
    index = S3.index({"cycle": cycle, "relative_orbit": orbit})
    assert index is not None
    return str(S3.orbit("S3A", index + ahead)["orbit_key"])


@pytest.mark.parametrize(
    ("first", "then"),
    [((80, 1), (80, 200)), ((79, 300), (80, 100))],
    ids=["outage-in-a-cycle", "outage-across-the-cycle-boundary"],
)
def test_an_outage_longer_than_the_window_is_back_filled_from_the_last_recorded_orbit(
    kpi_store: DuckDBStore, kpi_bus: MemoryBus, first: tuple[int, int], then: tuple[int, int]
) -> None:
    """The audit's case: products for an orbit, none for the next 198, then again: every orbit
    between shows at 0 %, not only the window before the new one."""
    one, two = (s3(cycle, orbit, "SL_1_RBT___", 0, 6060) for cycle, orbit in (first, then))
    _, counting = two_batches(kpi_store, kpi_bus, [one], [two])
    found = orbits(kpi_store)
    last = s3_key(*then)
    gap = {s3_key(*first, ahead) for ahead in range(1, 386) if s3_key(*first, ahead) < last}
    assert len(gap) > 4 * S3.backfill_orbits  # 198 and 184 orbits without product
    assert {k for k in keys_of(found) if k > s3_key(*first)} == gap | {last}
    for key in gap:
        assert len([t for k, t in found if k == key]) == S3_TYPES
        empty = found[(key, "SL_1_RBT___")]
        assert (empty["percentage"], empty["status"], empty["dates_estimated"]) == (0, "Missing", True)
    searches = [c for c in counting.reads("cds-orbit-completeness") if c.method == "find"]
    # one search finds the last recorded orbit: one record per recorded orbit (the first batch's)
    assert [c.returned for c in searches] == [1 + S3.backfill_orbits]


@pytest.mark.parametrize("gap", [60, 300])
def test_the_records_do_not_depend_on_the_order_products_arrive_in(tmp_path: Path, gap: int) -> None:
    """Replicas, or a late publication, hand over a later orbit's products first: the gap
    before it was left open then (nothing recorded below), and is closed by the earlier
    orbit's arrival, so both orders end with the same records (what the distributed chain
    is checked against)."""
    early = s3(80, 10, "SL_1_RBT___", 0, 6060)
    late = s3(80, 10 + gap, "SL_1_RBT___", gap * PERIOD, gap * PERIOD + 6060)
    results = []
    for order, batches in (("in order", ([early], [late])), ("reversed", ([late], [early]))):
        store = DuckDBStore(tmp_path / f"{order}.duckdb")
        try:
            two_batches(store, MemoryBus(MemoryBroker(), "test"), *batches)
            results.append({key: _kpis(data) for key, data in orbits(store).items()})
        finally:
            store.close()
    in_order, reversed_ = results
    assert set(in_order) == set(reversed_) and in_order == reversed_
    between = {s3_key(80, 10, ahead) for ahead in range(1, gap)}
    assert between <= keys_of(in_order)  # the gap is filled (60 and 300 are within 385)


def _kpis(record: dict[str, Any]) -> tuple[Any, ...]:
    fields = ("status", "percentage", "value_minutes", "orbit_start", "orbit_stop", "dates_estimated")
    return tuple(record.get(f) for f in fields)


def test_s5p_outages_are_back_filled_too(kpi_store: DuckDBStore, kpi_bus: MemoryBus) -> None:
    def granule(orbit: int) -> Any:
        return product(f"S5P-{orbit}", "NRTI_L2__NO2___", 0, 600, prip=["S5P-DLR"], satellite="S5P",
                       absolute_orbit=orbit, timeliness="NRTI")  # fmt: skip

    two_batches(kpi_store, kpi_bus, [granule(23000)], [granule(23300)])
    found = orbits(kpi_store)
    assert {f"S5P-{o}" for o in range(23000 - S5P.backfill_orbits, 23301)} == keys_of(found)
    assert found[("S5P-23150", "OFFL_L2__CH4___")]["status"] == "Missing"


@pytest.mark.parametrize("gap", [S3.max_gap, S3.max_gap + 1], ids=["longest-filled", "too-long"])
def test_a_gap_longer_than_the_maximum_is_left_with_a_warning(
    kpi_store: DuckDBStore, kpi_bus: MemoryBus, caplog: pytest.LogCaptureFixture, gap: int
) -> None:
    """The bound keeps a batch's cost sane; the orbits it leaves without record are logged."""
    new = s3_key(80, 1, gap + 1)
    cycle, orbit = (int(n) for n in new.split("-")[1:])
    first, then = s3(80, 1, "SL_1_RBT___", 0, 6060), s3(cycle, orbit, "SL_1_RBT___", 0, 6060)
    with caplog.at_level("WARNING", logger="cds.engines.orbits"):
        two_batches(kpi_store, kpi_bus, [first], [then])
    later = {k for k in keys_of(orbits(kpi_store)) if k > "S3A-080-001"}
    too_long = gap > S3.max_gap
    assert len(later) == (S3.backfill_orbits if too_long else gap) + 1  # the new orbit too
    assert (f"{new}: none of the {S3.max_gap + 1} orbits" in caplog.text) == too_long
