"""The KPIs the sample must give, computed from the ground truth alone.

This is the other side of the acceptance test, so it shares nothing with the engines: it does
not import ``cds.engines``, ``cds.kpi`` or ``cds.rules`` (a unit test checks), reads the
figures of ``cds/data/completeness.yaml`` as plain YAML, and works on the truth the generator
kept, never on parsed documents. Its arithmetic is deliberately naive:

- **coverage by elementary segments**: cut the window at every product boundary; a segment is
  covered when one product covers all of it. Quadratic, exact (integer milliseconds), and
  overlapping or nested products are counted once by construction;
- **attachment**: S1 by the datatake id the product was made for, S2 by the planned window of
  the same satellite it overlaps most (then the nearest centre), S3/S5P by orbit (domain.md);
- **plans**: each datatake as the plan with the latest application date lists it;
- **orbit dates**: the span of an orbit's products of a listed type (counted or not); an orbit
  without any is dated whole nominal periods from the nearest orbit that has some (the later
  one when two are as near), and lasts one period;
- **status timelines**: runs of equal status over the set of probes, sorted by time.

Where domain.md leaves a choice open, the reference states the choice it checks:
the global record of a datatake (product type ``ALL``) is the mean of the per-type
percentages, and its missing periods the union of the types' missing periods.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib.resources import files
from itertools import pairwise
from typing import Any

import yaml

from cds.sample.truth import MINUTE, GroundSegment, PlannedDatatake, Product, Publication, iso, ms_of

GLOBAL_TYPE = "ALL"
SCOPE = "production"
Segment = tuple[int, int]


@cache
def rules() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(files("cds").joinpath("data", "completeness.yaml").read_text())
    return data


# --- interval arithmetic (milliseconds) ----------------------------------------------------


def elementary(intervals: Sequence[Segment], window: Segment | None) -> list[tuple[Segment, bool]]:
    """The window (or the intervals' span) cut at every boundary, each piece with whether some
    interval covers all of it."""
    cuts = {t for interval in intervals for t in interval}
    if window is not None:
        cuts = {t for t in cuts if window[0] < t < window[1]} | set(window)
    points = sorted(cuts)
    return [
        ((a, b), any(start <= a and b <= stop for start, stop in intervals))
        for a, b in zip(points, points[1:], strict=False)
    ]


def covered_ms(intervals: Sequence[Segment], window: Segment | None = None) -> int:
    return sum(b - a for (a, b), covered in elementary(intervals, window) if covered)


def _runs(pieces: Iterable[tuple[Segment, bool]], covered: bool) -> list[Segment]:
    """Maximal runs of consecutive pieces that are (or are not) covered."""
    runs: list[Segment] = []
    for (a, b), flag in pieces:
        if flag != covered:
            continue
        if runs and runs[-1][1] == a:
            runs[-1] = (runs[-1][0], b)
        else:
            runs.append((a, b))
    return runs


def uncovered(intervals: Sequence[Segment], window: Segment, longer_than_ms: float) -> list[Segment]:
    """The window's uncovered runs longer than the threshold (missing periods)."""
    return [(a, b) for a, b in _runs(elementary(intervals, window), False) if b - a > longer_than_ms]


def merged(periods: Iterable[Segment]) -> list[Segment]:
    """The union of periods as maximal runs (touching periods join)."""
    return _runs(elementary(list(periods), None), True)


# --- KPI figures ---------------------------------------------------------------------------


def percentage(value: float, expected: float) -> float:
    if expected <= 0:
        return 100.0
    return min(100.0, max(0.0, 100.0 * value / expected))


def status(percent: float) -> str:
    if percent <= 0:
        return "Missing"
    return "Complete" if percent >= 100 else "Partial"


def seconds(ms: int | None) -> float | None:
    return None if ms is None else ms / 1000


# --- plans and attachment ------------------------------------------------------------------


@dataclass(frozen=True)
class Datatake:
    row: PlannedDatatake
    applied: int
    plan_name: str


def datatakes(world: GroundSegment) -> dict[str, Datatake]:
    """Each datatake as the plan with the latest application date (then file name) lists it."""
    best: dict[str, Datatake] = {}
    for plan in world.plans:
        for row in plan.rows:
            current = best.get(row.key)
            if current is None or (plan.applied, plan.name) > (current.applied, current.plan_name):
                best[row.key] = Datatake(row, plan.applied, plan.name)
    return best


def attached_to(product: Product, planned: Mapping[str, Datatake]) -> str | None:
    if product.auxiliary or product.mission == "unknown":
        return None
    if product.mission == "S1":
        return f"{product.satellite}-{product.datatake_id}"
    if product.mission == "S3":
        return f"{product.satellite}-{product.cycle:03d}-{product.relative_orbit:03d}"
    if product.mission == "S5P":
        return f"{product.satellite}-{product.absolute_orbit:05d}"
    return best_window(product, [d.row for d in planned.values() if d.row.satellite == product.satellite])


def best_window(product: Product, rows: Sequence[PlannedDatatake]) -> str | None:
    scored = []
    for row in rows:
        if product.start <= row.stop and product.stop >= row.start:
            overlap = min(product.stop, row.stop) - max(product.start, row.start)
            distance = abs((product.start - row.start) + (product.stop - row.stop))
            scored.append((-overlap, distance, row.key))
    return min(scored)[2] if scored else None


def counts(product: Product, prip: set[str]) -> bool:
    """Served by the satellite's designated production service (any, when none is designated)."""
    service = rules()["production_services"].get(product.satellite)
    return service is None or service in prip


# --- the expectations ----------------------------------------------------------------------


class Reference:
    def __init__(self, world: GroundSegment) -> None:
        self.world = world
        self.planned = datatakes(world)
        self.by_product: dict[str, list[Publication]] = defaultdict(list)
        for publication in world.publications:
            self.by_product[publication.product.key].append(publication)
        self.products = {p.key: p for p in world.products}
        self.attached = {key: attached_to(p, self.planned) for key, p in self.products.items()}
        self.counted = {
            key: counts(p, {x.interface for x in self.by_product[key] if x.kind == "PRIP"})
            for key, p in self.products.items()
        }

    def members(self, datatake_key: str, product_type: str) -> list[Product]:
        """The counted products of a (pseudo-)datatake and type."""
        return [
            p
            for key, p in self.products.items()
            if self.attached[key] == datatake_key and p.product_type == product_type and self.counted[key]
        ]

    def document(self) -> dict[str, Any]:
        return {
            "schema": 1,
            "seed": self.world.seed,
            "days": self.world.days,
            "first_day": iso(self.world.start),
            "datatakes": [self.datatake(d) for _, d in sorted(self.planned.items())],
            "completeness": [r for _, d in sorted(self.planned.items()) for r in self.completeness(d)],
            "orbit_completeness": self.orbit_records(),
            "publications": [publication(p) for p in sorted(self.world.publications, key=_publication_order)],
            "products": [self.product(key) for key in sorted(self.products)],
            "interface_status": timelines(self.world),
        }

    def datatake(self, datatake: Datatake) -> dict[str, Any]:
        row = datatake.row
        return {
            "datatake_key": row.key,
            "instrument_mode": row.mode,
            "observation_start": iso(row.start),
            "observation_stop": iso(row.stop),
            "plan_version": iso(datatake.applied),
            "plan_file_name": datatake.plan_name,
        }

    def completeness(self, datatake: Datatake) -> list[dict[str, Any]]:
        row = datatake.row
        mission = rules()["datatakes"].get(row.satellite[:2])
        expected_types = (mission or {}).get("modes", {}).get(row.mode, [])
        if not expected_types:
            return []
        records = [self.type_record(row, rule, mission["min_gap_s"]) for rule in expected_types]
        return [*records, global_record(row.key, records)]

    def type_record(self, row: PlannedDatatake, rule: Mapping[str, Any], min_gap_s: float) -> dict[str, Any]:
        products = self.members(row.key, rule["type"])
        window = (row.start, row.stop)
        if "count" in rule:
            value, expected, measure, holes = float(len(products)), float(rule["count"]), "count", []
        else:
            spans = [(p.start, p.stop) for p in products]
            value, measure = covered_ms(spans, window) / 1000, "seconds"
            expected = (row.stop - row.start) / 1000 + rule["tolerance_s"]
            holes = uncovered(spans, window, min_gap_s * 1000)
        percent = percentage(value, expected)
        return {
            "datatake_key": row.key,
            "product_type": rule["type"],
            "scope": SCOPE,
            "measure": measure,
            "value": value,
            "expected": expected,
            "percentage": percent,
            "status": status(percent),
            "products": len(products),
            "missing_periods": [[iso(a), iso(b)] for a, b in holes],
        }

    def orbit_records(self) -> list[dict[str, Any]]:
        out = []
        for mission, rule in sorted(rules()["orbits"].items()):
            orbits = self.orbits(mission, rule)
            period = round(rule["orbit_period_minutes"] * MINUTE)
            dates = orbit_dates(orbits, self.orbit_spans(mission, rule), period)
            for satellite, index in sorted(orbits):
                key = orbit_key(satellite, index, rule)
                out += [self.orbit_record(key, satellite, t, dates[satellite, index]) for t in rule["types"]]
        return out

    def orbit_spans(self, mission: str, rule: Mapping[str, Any]) -> dict[tuple[str, int], Segment]:
        """When each orbit with products was sensed: its products of a listed type, counted or not."""
        listed = {t["type"] for t in rule["types"]}
        spans: dict[tuple[str, int], Segment] = {}
        for p in self.products.values():
            if p.mission == mission and p.product_type in listed:
                orbit = (p.satellite, orbit_index(p, rule))
                low, high = spans.get(orbit, (p.start, p.stop))
                spans[orbit] = (min(low, p.start), max(high, p.stop))
        return spans

    def orbits(self, mission: str, rule: Mapping[str, Any]) -> set[tuple[str, int]]:
        """Orbits with a product of a listed type, and those back-filled around them."""
        listed = {t["type"] for t in rule["types"]}
        touched = {
            (p.satellite, orbit_index(p, rule))
            for p in self.products.values()
            if p.mission == mission and p.product_type in listed
        }
        back = rule.get("backfill_orbits", 0)
        return back_filled(touched, back, rule.get("max_backfill_orbits", back))

    def orbit_record(
        self, key: str, satellite: str, kind: Mapping[str, Any], dates: tuple[int, int, bool]
    ) -> dict[str, Any]:
        products = [p for p in self.members(key, kind["type"]) if p.timeliness in kind["timeliness"]]
        value_ms = covered_ms([(p.start, p.stop) for p in products])
        percent = percentage(value_ms, kind["minutes"] * 60_000)
        return {
            "orbit_key": key,
            "product_type": kind["type"],
            "satellite": satellite,
            "value_minutes": value_ms / 60_000,
            "expected_minutes": float(kind["minutes"]),
            "percentage": percent,
            "status": status(percent),
            "products": len(products),
            "orbit_start": iso(dates[0]),
            "orbit_stop": iso(dates[1]),
            "dates_estimated": dates[2],
        }

    def product(self, key: str) -> dict[str, Any]:
        product, seen = self.products[key], self.by_product[key]
        prip = _first(seen, "PRIP")
        dd = _first(seen, "DD")
        return {
            "product_key": key,
            "interfaces": sorted({p.interface for p in seen}),
            "datatake_key": self.attached[key],
            "prip_to_dd_seconds": seconds(dd - prip) if prip is not None and dd is not None else None,
            "prip_from_sensing_seconds": seconds(prip - product.stop) if prip is not None else None,
        }


def global_record(datatake_key: str, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    mean = sum(r["percentage"] for r in records) / len(records)
    holes = merged((_ms(a), _ms(b)) for r in records for a, b in r["missing_periods"])
    return {
        "datatake_key": datatake_key,
        "product_type": GLOBAL_TYPE,
        "scope": SCOPE,
        "measure": "mean",
        "value": mean,
        "expected": 100.0,
        "percentage": mean,
        "status": status(mean),
        "products": sum(r["products"] for r in records),
        "missing_periods": [[iso(a), iso(b)] for a, b in holes],
    }


def _ms(text: str) -> int:
    return ms_of(datetime.fromisoformat(text))


def back_filled(orbits: set[tuple[str, int]], back: int, gap: int) -> set[tuple[str, int]]:
    """The orbits with products, the ``back`` before each, and every orbit between two of a
    satellite's that have at most ``gap`` orbits between them (an outage, back-filled from the
    orbit before it; products are taken to arrive in orbit order)."""
    out = orbits | {(s, i - k) for s, i in orbits for k in range(1, back + 1)}
    for (satellite, low), (other, high) in pairwise(sorted(orbits)):
        if satellite == other and high - low - 1 <= gap:
            out |= {(satellite, i) for i in range(low + 1, high)}
    return out


def orbit_dates(
    orbits: Iterable[tuple[str, int]], spans: Mapping[tuple[str, int], Segment], period: int
) -> dict[tuple[str, int], tuple[int, int, bool]]:
    """(start, stop, estimated) per orbit: its span, or the nearest span of its satellite moved
    by whole periods (the later orbit when two are as near), one period long."""
    out = {}
    for satellite, index in orbits:
        if (satellite, index) in spans:
            out[satellite, index] = (*spans[satellite, index], False)
            continue
        near = min((i for s, i in spans if s == satellite), key=lambda i: (abs(i - index), -i))
        start = spans[satellite, near][0] + (index - near) * period
        out[satellite, index] = (start, start + period, True)
    return out


def orbit_index(product: Product, rule: Mapping[str, Any]) -> int:
    if rule["numbering"] == "absolute":
        assert product.absolute_orbit is not None
        return product.absolute_orbit
    assert product.cycle is not None and product.relative_orbit is not None
    return int(product.cycle * rule["orbits_per_cycle"] + product.relative_orbit - 1)


def orbit_key(satellite: str, index: int, rule: Mapping[str, Any]) -> str:
    if rule["numbering"] == "absolute":
        return f"{satellite}-{index:05d}"
    cycle, relative = divmod(index, rule["orbits_per_cycle"])
    return f"{satellite}-{cycle:03d}-{relative + 1:03d}"


def _first(publications: Sequence[Publication], kind: str) -> int | None:
    return min((p.published for p in publications if p.kind == kind), default=None)


def _publication_order(publication: Publication) -> tuple[str, str]:
    return publication.interface, publication.product.name


def publication(p: Publication) -> dict[str, Any]:
    return {
        "interface_name": p.interface,
        "product_name": p.product.name,
        "publication_date": iso(p.published),
        "from_sensing_seconds": seconds(p.published - p.product.stop),
        "transfer_seconds": seconds(p.published - p.origin) if p.origin is not None else None,
    }


def timelines(world: GroundSegment) -> list[dict[str, Any]]:
    """Per interface, runs of equal status over the distinct probes in time order."""
    probes: dict[str, dict[int, str]] = defaultdict(dict)
    for page in world.probe_pages:
        for probe in page.probes:
            probes[probe.interface][probe.time] = probe.status
    return [interval for name in sorted(probes) for interval in runs(name, probes[name])]


def runs(interface: str, statuses: Mapping[int, str]) -> list[dict[str, Any]]:
    times = sorted(statuses)
    starts = [t for i, t in enumerate(times) if i == 0 or statuses[times[i - 1]] != statuses[t]]
    out = []
    for i, start in enumerate(starts):
        stop = starts[i + 1] if i + 1 < len(starts) else None
        last = max(t for t in times if start <= t and (stop is None or t < stop))
        out.append(
            {
                "interface_name": interface,
                "status": statuses[start],
                "start": iso(start),
                "stop": iso(stop) if stop is not None else None,
                "duration_seconds": ((stop if stop is not None else last) - start) / 1000,
                "last_probe_time": iso(last),
                "open": stop is None,
            }
        )
    return out


def expected(world: GroundSegment) -> dict[str, Any]:
    """``expected.json``: every KPI of the sample, from the truth."""
    return Reference(world).document()


__all__ = ["GLOBAL_TYPE", "SCOPE", "Reference", "covered_ms", "expected", "merged", "uncovered"]
