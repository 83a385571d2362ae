"""COMPUTE_ORBIT_COMPLETENESS: S3/S5P completeness per orbit and product type, from tables.

Per orbit the batch touched, every product type of the mission's table gets a record: the union
of the counted products' sensing intervals (designated production service, allowed timeliness)
in minutes against the table's expected minutes. Orbits with no product at all would otherwise
simply be absent from every dashboard; so the ``backfill_orbits`` orbits before each touched
orbit are checked (one read by id) and those without a record are computed too — at 0 % when
nothing arrived for them. The window is bounded, so a batch's cost does not grow with history.

Every record carries its orbit's dates, since dashboards select records by time: the span of
the orbit's products of any listed type (whoever served them), shared by all its type records.
An orbit without product is dated from the nearest orbit of its satellite whose dates this
computation knows (touched orbits, and the window's records dated by products), whole
``orbit_period_minutes`` away, and marked ``dates_estimated``. The estimated orbits of a window
are estimated again with it, and rewritten when the estimate moved: the first estimate may come
from an orbit whose first products only had arrived, the final one follows all its products.

Every record this batch may write (touched orbits and their windows) is read with its stored
hash before anything else, and is written on condition that it did not change since
(``Writes.expected``): a replica computing the same orbit at once cannot be overwritten by
this batch's older view of its products.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property, lru_cache
from operator import itemgetter
from typing import Any

from cds.engines.completeness import sensing
from cds.kpi.completeness import Expectation, of_intervals
from cds.models import ORBIT_COMPLETENESS, PRODUCT
from cds.rules import CompletenessRules, MissionOrbits, OrbitType, rules
from maas.engine.base import Batch, Context, Engine, NoArgs, Writes, read_outputs
from maas.errors import PermanentError
from maas.model import Document
from maas.store.base import Store, Terms

Products = Sequence[Mapping[str, Any]]
Known = list[tuple[int, datetime]]  # (orbit index, start) of a satellite's dated orbits, sorted


@dataclass(frozen=True)
class Orbit:
    """One orbit of a satellite, with its mission's rule (looked up once, not per use)."""

    mission: str
    satellite: str
    index: int  # linear orbit number: cycles folded in (MissionOrbits.index)
    rule: MissionOrbits = field(compare=False, repr=False)

    def fields(self) -> dict[str, Any]:
        return {
            "mission": self.mission,
            "satellite": self.satellite,
            **self.rule.orbit(self.satellite, self.index),
        }

    @cached_property
    def key(self) -> str:
        return str(self.rule.orbit(self.satellite, self.index)["orbit_key"])


@dataclass(frozen=True)
class Dates:
    start: datetime | None
    stop: datetime | None
    estimated: bool = False


UNDATED = Dates(None, None)


class ComputeOrbitCompleteness(Engine[NoArgs]):
    """Recomputes the orbits a batch of products touched, and back-fills the empty ones before them."""

    ENGINE_ID = "COMPUTE_ORBIT_COMPLETENESS"

    def process(self, batch: Batch, ctx: Context) -> Writes:
        if batch.doc_class is not PRODUCT:
            raise PermanentError(f"{self.ENGINE_ID} does not take {batch.doc_class.family} documents")
        table = rules()
        touched = touched_orbits(batch.documents, table)
        if not touched:
            return Writes()
        before = window_orbits(touched)
        ids = [_record_id(o.key, t.type) for o in touched | before for t in o.rule.types]
        found, expected = read_outputs(ctx.store, ORBIT_COMPLETENESS, ids)
        window = read_window(found, before)
        orbits = touched | window.stale
        products = load_products(ctx.store, orbits)
        dates = date_orbits(orbits, products, window.dated)
        records = []
        for orbit in sorted(orbits, key=_order):
            mine = products.get(orbit.key, ())
            if orbit in touched or not window.keeps(orbit, dates[orbit], mine):
                records += orbit_records(orbit, mine, dates[orbit], table)
        return Writes(records, expected=expected)


def _order(orbit: Orbit) -> tuple[str, str, int]:
    return orbit.mission, orbit.satellite, orbit.index


def touched_orbits(products: Iterable[Document], table: CompletenessRules) -> set[Orbit]:
    """The orbits of the products whose mission has an orbit table and whose type it lists
    (the tables are looked up per mission of the batch, not per product)."""
    datas = [doc.data for doc in products]
    missions = {data.get("mission") for data in datas}
    by_mission = {m: rule for m in missions if (rule := table.orbit_rule(m)) is not None}
    types = {m: {t.type for t in rule.types} for m, rule in by_mission.items()}
    out = set()
    for data in datas:
        rule = by_mission.get(data.get("mission"))
        if (
            rule is None
            or not data.get("satellite")
            or data.get("product_type") not in types[data["mission"]]
        ):
            continue
        index = rule.index(data)
        if index is not None:
            out.add(Orbit(data["mission"], data["satellite"], index, rule))
    return out


@dataclass(frozen=True)
class Window:
    """The back-fill windows' stored records: what to (re)compute, and the dates they know."""

    stale: set[Orbit]  # a type without a record, or records not dated by products
    dated: dict[Orbit, datetime]  # the start of every other orbit of the windows
    stored: dict[Orbit, Dates]  # the dates all the records of a stale orbit share

    def keeps(self, orbit: Orbit, dates: Dates, products: Products) -> bool:
        """Whether a stale orbit's records already say it all: still no product, same estimate
        (re-estimating a window mostly changes nothing: nothing is rebuilt nor rewritten)."""
        return not products and self.stored.get(orbit) == dates


def window_orbits(touched: set[Orbit]) -> set[Orbit]:
    """The ``backfill_orbits`` before each touched orbit (touched ones excepted)."""
    return {
        Orbit(o.mission, o.satellite, i, o.rule)
        for o in touched
        for i in range(o.index - o.rule.backfill_orbits, o.index)
    } - touched


def read_window(found: Mapping[str, Document], window: set[Orbit]) -> Window:
    """The window's records among the stored ones (read by id with the touched orbits' in one
    bounded read: the window's are the most of them)."""
    ids = {_record_id(o.key, t.type): o for o in window for t in o.rule.types}
    records: dict[Orbit, list[Mapping[str, Any] | None]] = defaultdict(list)
    for doc_id, orbit in ids.items():
        records[orbit].append(found[doc_id].data if doc_id in found else None)
    stale, dated, stored = set(), {}, {}
    for orbit, datas in records.items():
        if any(d is None or d.get("orbit_start") is None or d.get("dates_estimated") for d in datas):
            stale.add(orbit)
            shared = {_stored_dates(d) for d in datas if d is not None}
            if None not in datas and len(shared) == 1:
                stored[orbit] = shared.pop()
        else:
            dated[orbit] = min(d["orbit_start"] for d in datas if d is not None)
    return Window(stale, dated, stored)


@lru_cache(maxsize=1 << 16)
def _record_id(orbit_key: str, product_type: str) -> str:
    """An orbit record's id (a hash, ~1-2 us): the back-fill windows of consecutive batches are
    mostly the same orbits, so each id is computed once rather than once per batch."""
    return ORBIT_COMPLETENESS.id_for(orbit_key, product_type)


def _stored_dates(data: Mapping[str, Any]) -> Dates:
    return Dates(data.get("orbit_start"), data.get("orbit_stop"), bool(data.get("dates_estimated")))


def load_products(store: Store, orbits: set[Orbit]) -> dict[str, list[Mapping[str, Any]]]:
    """The products of these orbits, of the tables' types, by orbit key: one search."""
    keys = {o.key for o in orbits}
    types = {t.type for o in orbits for t in o.rule.types}
    filters = [Terms("datatake_key", sorted(keys)), Terms("product_type", sorted(types))]
    by_orbit: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for product in store.find(PRODUCT, filters):
        by_orbit[product.data["datatake_key"]].append(product.data)
    return by_orbit


def date_orbits(
    orbits: set[Orbit],
    products: Mapping[str, Products],
    dated: Mapping[Orbit, datetime],
) -> dict[Orbit, Dates]:
    """Each orbit's products' span; the others estimated from the dated orbits around them."""
    spans = {o: span(products.get(o.key, ())) for o in orbits}
    starts = {**dated, **{o: d.start for o, d in spans.items() if d.start is not None}}
    known: dict[tuple[str, str], Known] = defaultdict(list)
    for orbit, start in sorted(starts.items(), key=lambda item: _order(item[0])):
        known[orbit.mission, orbit.satellite].append((orbit.index, start))
    return {
        o: d if d.start is not None else estimate(o.index, known[o.mission, o.satellite], o.rule)
        for o, d in spans.items()
    }


def span(products: Products) -> Dates:
    """When an orbit was sensed, by any of its products: counted or not, they were there."""
    starts = [p["sensing_start"] for p in products if p.get("sensing_start")]
    stops = [p["sensing_stop"] for p in products if p.get("sensing_stop")]
    return Dates(min(starts, default=None), max(stops, default=None))


def estimate(index: int, known: Known, rule: MissionOrbits) -> Dates:
    """Whole periods from the nearest dated orbit, the later one on a tie (a later orbit's
    dates are final whenever this orbit is recomputed); the estimated orbit lasts one period."""
    if not known:
        return UNDATED
    at = bisect_left(known, index, key=itemgetter(0))
    near, start = min(known[max(at - 1, 0) : at + 1], key=lambda k: (abs(k[0] - index), -k[0]))
    begin = start + (index - near) * rule.orbit_period
    return Dates(begin, begin + rule.orbit_period, estimated=True)


def orbit_records(orbit: Orbit, products: Products, dates: Dates, table: CompletenessRules) -> list[Document]:
    """A record per type of the table, from the products its production service served."""
    rule = orbit.rule
    counted = [p for p in products if table.counts(p)]
    return [
        type_record(orbit, rule, kind, [p for p in counted if p["product_type"] == kind.type], dates)
        for kind in rule.types
    ]


def type_record(
    orbit: Orbit, rule: MissionOrbits, kind: OrbitType, products: Products, dates: Dates
) -> Document:
    """One orbit × type: products of an allowed timeliness, their sensing union in minutes."""
    counted = [p for p in products if p.get("timeliness") in kind.timeliness]
    result = of_intervals(Expectation(kind.type, "seconds", kind.minutes * 60), sensing(counted, None))
    return ORBIT_COMPLETENESS.make(
        {
            **orbit.fields(),
            "product_type": kind.type,
            "timeliness": ",".join(sorted(kind.timeliness)),
            "orbit_start": dates.start,
            "orbit_stop": dates.stop,
            "dates_estimated": dates.estimated,
            "value_minutes": result.value / 60,
            "expected_minutes": kind.minutes,
            "percentage": result.percentage,
            "status": result.status.value,
            "products": len(counted),
        }
    )
