"""The CDS investigations on a replay of the committed sample, through the console script:
every figure is checked against ``backups/sample/expected.json`` (computed from the generator's
ground truth, independently of the engines) or against the archive itself."""

from __future__ import annotations

import gzip
import json
import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from test_sample_replay import SAMPLE, maas

from cds.naming import parse
from cds.sample import EXPECTED_FILE

pytestmark = pytest.mark.unit  # no external service: subprocesses of our own console script

EXPECTED: dict[str, Any] = json.loads((SAMPLE / EXPECTED_FILE).read_text())
KINDS = {"AUXIP-1": "AUXIP", "DD-DHUS": "DD", "LTA-1": "LTA"}  # the sample's interfaces; others PRIP
Row = dict[str, Any]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample replayed once into a fresh DuckDB file (read-only for every test here)."""
    root = tmp_path_factory.mktemp("cds-inspect")
    done = maas(root, "replay", str(SAMPLE), "--out", "sample.duckdb")
    assert done.returncode == 0, done.stderr
    return root / "sample.duckdb"


def inspect(db: Path, *args: str) -> list[Row]:
    done = maas(db.parent, "inspect", *args, "--db", str(db), "--format", "json")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text).astimezone(UTC)


def periods(pairs: Iterable[list[str]]) -> str:
    """expected.json's missing periods the way the views show them (to the millisecond)."""
    return ", ".join(f"{clock(when(a))}–{clock(when(b))}" for a, b in pairs)


def clock(moment: datetime | None) -> str:
    assert moment is not None
    return f"{moment:%H:%M:%S}.{moment.microsecond // 1000:03d}"


def quantile(values: list[float], q: float) -> float:
    """Linear interpolation between the closest ranks (what the views document)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


def summary(values: list[float]) -> dict[str, float]:
    return {
        "count": len(values),
        "negatives": sum(v < 0 for v in values),
        "min_s": min(values),
        "p50_s": quantile(values, 0.5),
        "p90_s": quantile(values, 0.9),
        "p99_s": quantile(values, 0.99),
        "max_s": max(values),
    }


SHOWN = ("value", "expected", "percentage", "status", "products", "missing_periods")


def completeness_shown(record: Row) -> Row:
    """An expected.json completeness record as the views show it (rounded, periods as text)."""
    return {
        "value": round(record["value"], 3),
        "expected": round(record["expected"], 3),
        "percentage": round(record["percentage"], 2),
        "status": record["status"],
        "products": record["products"],
        "missing_periods": periods(record["missing_periods"]),
    }


# --- completeness --------------------------------------------------------------------------


def test_completeness_equals_the_expected_kpis(db: Path) -> None:
    shown = {
        (r["datatake_key"], r["product_type"], r["scope"]): {k: r[k] for k in SHOWN}
        for r in inspect(db, "completeness")
    }
    expected = {
        (e["datatake_key"], e["product_type"], e["scope"]): completeness_shown(e)
        for e in EXPECTED["completeness"]
    }
    assert shown == expected
    assert len(shown) == 49


def test_completeness_status_option(db: Path) -> None:
    for status in ("Partial", "Missing", "Complete"):
        keys = [
            (r["datatake_key"], r["product_type"]) for r in inspect(db, "completeness", "--status", status)
        ]
        expected = sorted(
            (e["datatake_key"], e["product_type"]) for e in EXPECTED["completeness"] if e["status"] == status
        )
        assert keys and sorted(keys) == expected
    lower = inspect(db, "completeness", "--status", "partial")
    assert {r["status"] for r in lower} == {"Partial"}


def test_an_unknown_status_is_a_usage_error_naming_the_allowed_ones(db: Path) -> None:
    done = maas(db.parent, "inspect", "completeness", "--status", "Bogus", "--db", str(db))
    message = " ".join(done.stderr.split()).lower()
    assert done.returncode == 2 and done.stdout == ""
    assert "--status" in message and "'bogus' is not one of 'missing', 'partial', 'complete'" in message
    assert "traceback" not in message


def test_completeness_rows_follow_observation_time(db: Path) -> None:
    starts = [when(r["observation_start"]) for r in inspect(db, "completeness")]
    assert starts == sorted(starts)  # type: ignore[type-var]


# --- datatake -------------------------------------------------------------------------------


def test_datatake_shows_completeness_per_type_then_its_products(db: Path) -> None:
    key = "S1A-434177"
    rows = inspect(db, "datatake", key)
    assert {r["datatake_key"] for r in rows} == {key}
    records = {r["product_type"]: r for r in rows if r["row"] == "completeness (production)"}
    expected = {
        e["product_type"]: completeness_shown(e) for e in EXPECTED["completeness"] if e["datatake_key"] == key
    }
    assert {t: {k: r[k] for k in SHOWN} for t, r in records.items()} == expected
    products = {r["product_key"] for r in rows if r["row"] == "product"}
    assert products == {p["product_key"] for p in EXPECTED["products"] if p["datatake_key"] == key}
    for row in rows:  # each type's completeness row comes before its products
        if row["row"] == "product" and row["product_type"] in records:
            assert rows.index(records[row["product_type"]]) < rows.index(row)
    assert records["IW_RAW__0S"]["missing_periods"] == "07:21:18.000–07:21:32.000, 07:22:02.000–07:22:32.000"


def test_missing_periods_are_shown_to_the_millisecond(db: Path) -> None:
    """A gap of 13.392 s must not read as 09:58:42–09:58:56 (14 s)."""
    (row,) = inspect(
        db, "completeness", "S2A-GS2A_20240304T095831_045204_N05.10", "--filter", "product_type=MSI_L0__GR"
    )
    assert row["missing_periods"] == "09:58:42.608–09:58:56.000"


def test_an_orbit_is_a_datatake_too(db: Path) -> None:
    key = "S3A-110-100"
    rows = inspect(db, "datatake", key)
    orbits = {r["product_type"]: r for r in rows if r["row"] == "completeness (orbit)"}
    expected = {e["product_type"]: e for e in EXPECTED["orbit_completeness"] if e["orbit_key"] == key}
    assert orbits.keys() == expected.keys()
    for product_type, row in orbits.items():
        assert row["status"] == expected[product_type]["status"]
        assert row["value"] == pytest.approx(expected[product_type]["value_minutes"] * 60, abs=1e-3)
    products = {r["product_key"] for r in rows if r["row"] == "product"}
    assert products == {p["product_key"] for p in EXPECTED["products"] if p["datatake_key"] == key}


# --- timeliness -----------------------------------------------------------------------------


def measures() -> list[tuple[str, str, str, str, float]]:
    """(product type, interface, kind, day, measure, seconds) from expected.json alone."""
    found = []
    dd_publication = {}
    for pub in EXPECTED["publications"]:
        kind = KINDS.get(pub["interface_name"], "PRIP")
        parsed = parse(pub["product_name"])
        product_type = getattr(parsed, "product_type", None) or "(unparsed)"
        day = pub["publication_date"][:10]
        if kind == "DD":
            dd_publication[parsed.key] = (pub["interface_name"], day, product_type)
        for measure in ("from_sensing", "transfer"):
            if pub[f"{measure}_seconds"] is not None:
                found.append(
                    (product_type, pub["interface_name"], kind, day, measure, pub[f"{measure}_seconds"])
                )
    for product in EXPECTED["products"]:
        if product["prip_to_dd_seconds"] is not None:
            interface, day, product_type = dd_publication[product["product_key"]]
            found.append((product_type, interface, "DD", day, "prip_to_dd", product["prip_to_dd_seconds"]))
    return found


@pytest.mark.parametrize("by", ["type", "interface", "day"])
def test_timeliness_percentiles(db: Path, by: str) -> None:
    position = {"type": 0, "interface": 1, "day": 3}[by]
    groups: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for found in measures():
        groups[(found[position], found[2], found[4])].append(found[5])
    rows = inspect(db, "timeliness", "--by", by)
    shown = {(r["bucket"], r["kind"], r["measure"]): r for r in rows}
    assert {r["grouping"] for r in rows} == {by}
    assert shown.keys() == groups.keys()
    for key, values in groups.items():
        for column, value in summary(values).items():
            assert shown[key][column] == pytest.approx(value, abs=1.5e-3), (key, column)


def test_timeliness_of_one_value_finds_the_grouping_that_has_it(db: Path) -> None:
    """VALUE is a product type, an interface or a UTC day: without --by, the rows of the grouping
    whose buckets hold it; --by still chooses."""
    for value, by in (("DD-DHUS", "interface"), ("2024-03-05", "day"), ("IW_GRDH_1S", "type")):
        rows = inspect(db, "timeliness", value)
        assert rows and {(r["grouping"], r["bucket"]) for r in rows} == {(by, value)}, value
        assert rows == inspect(db, "timeliness", value, "--by", by)
    assert inspect(db, "timeliness", "DD-DHUS", "--by", "type") == []


def test_timeliness_of_a_value_no_grouping_has_names_by(db: Path) -> None:
    for args in (("NO_SUCH_TYPE",), ("DD-DHUS", "--by", "day")):
        done = maas(db.parent, "inspect", "timeliness", *args, "--db", str(db), "--format", "json")
        message = " ".join(done.stderr.split())
        assert done.returncode == 0 and done.stdout == "", args
        assert "--by" in message and args[0] in message, message
    done = maas(db.parent, "inspect", "timeliness", "DD-DHUS", "--by", "day", "--db", str(db))
    assert "--by interface" in " ".join(done.stderr.split())


def test_a_negative_timeliness_stays_negative(db: Path) -> None:
    negative = [p for p in EXPECTED["publications"] if (p["from_sensing_seconds"] or 0) < 0]
    assert negative, "the sample has a publication before its sensing stop"
    product_type = parse(negative[0]["product_name"]).product_type  # type: ignore[union-attr]
    (row,) = inspect(
        db,
        "timeliness",
        product_type,
        "--by",
        "type",
        "--filter",
        "kind=PRIP",
        "--filter",
        "measure=from_sensing",
    )
    assert row["negatives"] == 1 and row["min_s"] == pytest.approx(
        negative[0]["from_sensing_seconds"], abs=1e-3
    )


# --- interfaces ------------------------------------------------------------------------------


def test_interfaces_timeline_equals_the_expected_status_intervals(db: Path) -> None:
    rows = inspect(db, "interfaces")
    shown = [
        (
            r["interface_name"],
            r["status"],
            when(r["start"]),
            when(r["stop"]),
            r["duration_s"],
            r["open"],
            when(r["last_probe_time"]),
        )
        for r in rows
    ]
    expected = sorted(
        (
            e["interface_name"],
            e["status"],
            when(e["start"]),
            when(e["stop"]),
            e["duration_seconds"],
            e["open"],
            when(e["last_probe_time"]),
        )
        for e in EXPECTED["interface_status"]
    )
    assert shown == sorted(
        expected, key=lambda interval: (interval[0], interval[2])
    )  # per interface, by start
    shares: dict[str, float] = defaultdict(float)
    for row in rows:
        shares[row["interface_name"]] += row["share_pct"]
    assert all(total == pytest.approx(100, abs=0.02) for total in shares.values())
    (lta,) = inspect(db, "view", "availability", "LTA-1")
    down = sum(
        e["duration_seconds"]
        for e in EXPECTED["interface_status"]
        if e["interface_name"] == "LTA-1" and e["status"] == "down"
    )
    assert lta["outages"] == 1 and lta["longest_outage_s"] == down


# --- product ---------------------------------------------------------------------------------


def journey_product() -> Row:
    """A product the sample published on three interfaces, one with a negative timeliness."""
    negative = {p["product_name"] for p in EXPECTED["publications"] if (p["from_sensing_seconds"] or 0) < 0}
    return next(
        p
        for p in EXPECTED["products"]
        if len(p["interfaces"]) >= 2 and any(parse(n).key == p["product_key"] for n in negative)
    )


def test_product_journey(db: Path) -> None:
    product = journey_product()
    rows = inspect(db, "product", product["product_key"])
    assert sorted(r["interface"] for r in rows) == sorted(product["interfaces"])
    assert {r["datatake_key"] for r in rows} == {product["datatake_key"]}
    published = {
        p["interface_name"]: p
        for p in EXPECTED["publications"]
        if parse(p["product_name"]).key == product["product_key"]
    }
    first = min(when(p["publication_date"]) for p in published.values())
    for row in rows:
        expected = published[row["interface"]]
        assert when(row["publication_date"]) == when(expected["publication_date"])
        assert row["from_sensing_s"] == pytest.approx(expected["from_sensing_seconds"], abs=1e-3)
        assert row["after_first_s"] == pytest.approx(
            (when(row["publication_date"]) - first).total_seconds(), abs=1e-3
        )  # type: ignore[operator]
    assert [when(r["publication_date"]) for r in rows] == sorted(when(r["publication_date"]) for r in rows)  # type: ignore[type-var]
    by_name = inspect(db, "product", rows[0]["product_name"])  # as published, extensions and all
    assert by_name == rows


def test_product_journey_names_the_archived_payloads_it_came_from(db: Path) -> None:
    """archive_day + fetched_at find exactly the sidecar of a payload that lists the product."""
    rows = inspect(db, "product", journey_product()["product_key"])
    assert rows, "the journey's product is not found"
    for row in rows:
        day = SAMPLE / row["archive_day"]
        fetched = when(row["fetched_at"])
        matches = [
            sidecar
            for sidecar in sorted(day.glob("*.gz.json"))
            if when(json.loads(sidecar.read_text())["fetched_at"]) == fetched
        ]
        assert matches, f"no payload fetched at {fetched} in {day}"
        payloads = [gzip.decompress(Path(str(m).removesuffix(".json")).read_bytes()) for m in matches]
        assert any(row["product_name"].encode() in payload for payload in payloads)


def test_a_product_nobody_published_gives_no_rows(db: Path) -> None:
    assert inspect(db, "product", "S1A_NOT_A_PRODUCT' OR '1'='1") == []
