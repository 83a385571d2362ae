"""The sample generator: deterministic, faithful to the collectors, covering every KPI case,
and a reference calculation that owes nothing to the engines."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from cds.naming import Unknown, parse
from cds.sample import EXPECTED_FILE, generate
from cds.sample.expected import (
    attached_to,
    back_filled,
    best_window,
    covered_ms,
    merged,
    orbit_dates,
    runs,
    uncovered,
)
from cds.sample.payloads import PLAN_COLLECTOR, PROBE_COLLECTOR, PRODUCT_COLLECTORS, packaged_collectors
from cds.sample.scenario import build
from cds.sample.truth import PlannedDatatake, Product, iso, ms_of
from maas.collector.archive import read_archive

pytestmark = pytest.mark.unit

SAMPLE = Path(__file__).resolve().parents[3] / "backups" / "sample"
SEED, DAYS = 1, 1  # what backups/sample was generated with (its README says so too)
REGENERATE = f"maas cds sample --out backups/sample --seed {SEED} --days {DAYS} --force"


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def expected() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SAMPLE / EXPECTED_FILE).read_text())
    return data


def test_the_committed_sample_is_what_the_generator_writes(tmp_path: Path) -> None:
    """Byte for byte, every file: the sample cannot drift from the generator (nor from the
    packaged collector configurations, whose hashes are in the sidecars)."""
    generate(tmp_path / "again", SEED, DAYS)
    committed, regenerated = files(SAMPLE), files(tmp_path / "again")
    assert sorted(committed) == sorted(regenerated), f"file set differs; regenerate: {REGENERATE}"
    changed = [name for name in committed if committed[name] != regenerated[name]]
    assert not changed, f"{len(changed)} files differ (first {changed[:5]}); regenerate: {REGENERATE}"
    assert sum(len(data) for data in committed.values()) < 2_000_000


def test_another_seed_gives_another_ground_segment() -> None:
    one, other = build(1, 1), build(2, 1)
    assert [p.name for p in one.products] != [p.name for p in other.products]
    assert [p.name for p in build(1, 1).products] == [p.name for p in one.products]
    with pytest.raises(ValueError, match="at least 1"):
        build(1, 0)


def test_every_payload_names_the_packaged_collector_that_reads_it() -> None:
    configs = packaged_collectors()
    entries = list(read_archive(SAMPLE))
    assert entries and all(e.ok for e in entries), [e.problem for e in entries if not e.ok][:3]
    used = Counter(e.sidecar.collector_id for e in entries if e.sidecar)
    assert set(used) == {*PRODUCT_COLLECTORS.values(), PLAN_COLLECTOR, PROBE_COLLECTOR}
    for entry in entries:
        assert entry.sidecar is not None
        config = configs[entry.sidecar.collector_id]
        assert (entry.sidecar.config_hash, entry.sidecar.interface) == (
            config.config_hash(),
            config.interface_name,
        )
        assert entry.sidecar.extractor == config.extract_format


def test_names_parse_to_the_truth() -> None:
    """What a name says (type, unit, sensing) is what the truth says; the one unknown stays unknown."""
    for product in build(SEED, DAYS).products:
        parsed = parse(product.name)
        if product.mission == "unknown":
            assert isinstance(parsed, Unknown)
            continue
        assert not isinstance(parsed, Unknown), product.name
        assert (parsed.key, parsed.unit, parsed.product_type) == (
            product.key,
            product.satellite,
            product.product_type,
        )
        if parsed.sensing_start is not None:
            assert ms_of(parsed.sensing_start) == product.start, product.name
        if parsed.sensing_stop is not None:
            assert ms_of(parsed.sensing_stop) == product.stop, product.name
        assert parsed.datatake_key == attached_to(product, {}), product.name  # S2: none in the name


def test_the_sample_holds_every_case_the_acceptance_relies_on(expected: dict[str, Any]) -> None:
    completeness = expected["completeness"]
    assert {r["status"] for r in completeness} == {"Missing", "Partial", "Complete"}
    assert {r["measure"] for r in completeness} == {"seconds", "count", "mean"}
    assert any(r["missing_periods"] for r in completeness if r["measure"] == "seconds")
    assert any(r["value"] > r["expected"] for r in completeness if r["measure"] == "count")  # capped
    orbits = expected["orbit_completeness"]
    assert {r["satellite"] for r in orbits} == {"S3A", "S5P"}
    assert {r["status"] for r in orbits} == {"Missing", "Partial", "Complete"}
    assert sum(r["products"] == 0 for r in orbits) > len(orbits) // 2  # back-filled orbits at 0 %
    assert all(r["orbit_start"] and r["orbit_stop"] for r in orbits)  # every orbit dated...
    assert {r["dates_estimated"] for r in orbits if r["products"] == 0} == {
        True,
        False,
    }  # ...estimated or not
    publications = expected["publications"]
    assert any(p["from_sensing_seconds"] < 0 for p in publications)  # published before sensing stop
    assert any(p["transfer_seconds"] is None for p in publications)
    assert any(p["from_sensing_seconds"] > 20 * 3600 for p in publications)  # late
    products = expected["products"]
    assert any(len(p["interfaces"]) >= 3 for p in products)
    assert any(p["prip_to_dd_seconds"] is not None for p in products)
    granules = Counter(
        p["datatake_key"] for p in products if p["product_key"].startswith("S2A_OPER_MSI_L0__GR")
    )
    planned = {d["datatake_key"] for d in expected["datatakes"]}
    assert len(set(granules) & planned) == 3  # attached by window to each S2A datatake
    assert 0 < granules[None] < granules.total() // 4  # a few left outside windows the newer plan narrowed
    assert any(d["plan_file_name"].endswith("_UPDATE.csv") for d in expected["datatakes"])
    assert {s["status"] for s in expected["interface_status"]} == {"up", "down", "degraded"}


@pytest.mark.parametrize("satellite", ["S1A", "S2A"])
def test_plans_supersede_by_application_date_not_by_arrival(satellite: str, expected: dict[str, Any]) -> None:
    """The stale plan arrives last (fetch order) and lists the same datatakes: it loses."""
    plans = [p for p in build(SEED, DAYS).plans if p.satellite == satellite]
    stale = max(plans, key=lambda p: p.fetched)
    others = [p for p in plans if p is not stale]
    assert stale.label == "PRELIMINARY" and stale.applied < min(p.applied for p in others)
    assert {r.key for r in stale.rows} <= {r.key for p in others for r in p.rows}
    assert stale.name not in {d["plan_file_name"] for d in expected["datatakes"]}


def test_s2_products_are_attached_after_their_plan_changed_in_the_second_half() -> None:
    world = build(SEED, DAYS)
    nominal, update = (p for p in world.plans if p.satellite == "S2A" and p.label != "PRELIMINARY")
    moved = {r.key: r for r in update.rows}
    assert moved and all(moved[r.key] != r for r in nominal.rows if r.key in moved)
    assert nominal.fetched > min(p.published for p in world.publications if p.product.satellite == "S2A")


# --- the reference calculation ---------------------------------------------------------------


def test_union_counts_overlaps_and_nested_intervals_once() -> None:
    assert covered_ms([(0, 10), (2, 3), (5, 12)]) == 12
    assert covered_ms([(5, 12), (0, 10), (2, 3)], window=(1, 11)) == 10
    assert covered_ms([(0, 5), (5, 9)], window=(0, 10)) == 9


def test_missing_periods_are_the_uncovered_runs_longer_than_the_threshold() -> None:
    assert uncovered([(2, 4), (6, 8)], (0, 10), 1) == [(0, 2), (4, 6), (8, 10)]
    assert uncovered([(2, 4), (5, 8)], (0, 10), 1) == [(0, 2), (8, 10)]  # one second is not above one
    assert merged([(0, 2), (2, 3), (5, 6), (1, 2)]) == [(0, 3), (5, 6)]


def test_a_product_goes_to_the_window_it_overlaps_most_then_the_nearest_centre() -> None:
    def row(key: str, start: int, stop: int) -> PlannedDatatake:
        return PlannedDatatake("S2A", key, start, stop, "NOBS", "", 0)

    product = Product("k", "", "S2A", "S2", "MSI_L0__GR", 90, 130)
    assert best_window(product, [row("a", 0, 100), row("b", 100, 200)]) == "S2A-b"  # 30 > 10
    assert best_window(product, [row("a", 0, 110), row("b", 110, 300)]) == "S2A-a"  # 20 = 20, centre
    assert best_window(product, [row("a", 0, 50)]) is None


def test_an_orbit_without_product_is_dated_whole_periods_from_the_nearest_one_with_some() -> None:
    spans = {("S3A", 10): (1000, 1500), ("S3A", 12): (3050, 3600), ("S5P", 11): (0, 50)}
    got = orbit_dates([("S3A", 8), ("S3A", 10), ("S3A", 11), ("S3A", 13)], spans, 1000)
    assert got == {
        ("S3A", 8): (-1000, 0, True),  # before the first: back from it
        ("S3A", 10): (1000, 1500, False),
        ("S3A", 11): (2050, 3050, True),  # as near to 10 as to 12: the later one
        ("S3A", 13): (4050, 5050, True),  # never from another satellite
    }


def test_orbits_are_back_filled_before_each_and_across_gaps_up_to_the_bound() -> None:
    got = back_filled({("S3A", 100), ("S3A", 110), ("S3A", 120), ("S3A", 201), ("S5P", 105)}, 3, 79)
    s3 = {i for s, i in got if s == "S3A"}
    assert s3 == {*range(97, 121), *range(198, 202)}  # 120 to 201: 80 orbits between, one too many
    assert {i for s, i in got if s == "S5P"} == {102, 103, 104, 105}  # never across satellites
    assert {i for s, i in back_filled({("S3A", 100), ("S3A", 180)}, 3, 79) if s == "S3A"} == {*range(97, 181)}


def test_a_late_probe_inside_an_interval_splits_it() -> None:
    statuses = {0: "up", 900: "up", 450: "down", 1800: "up"}
    got = [(r["status"], r["start"], r["stop"], r["last_probe_time"]) for r in runs("X", statuses)]
    assert got == [
        ("up", iso(0), iso(450), iso(0)),
        ("down", iso(450), iso(900), iso(450)),
        ("up", iso(900), None, iso(1800)),
    ]


def test_the_reference_owes_nothing_to_the_engines() -> None:
    code = (
        "import sys, cds.sample.expected, cds.sample.scenario;"
        "print(sorted(m for m in sys.modules if m.startswith(('cds.engines', 'cds.kpi', 'cds.rules'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
