"""COMPUTE_ORBIT_COMPLETENESS: S3/S5P completeness per orbit and product type, from tables.

Per orbit the batch touched, every product type of the mission's table gets a record: the union
of the counted products' sensing intervals (designated production service, allowed timeliness)
in minutes against the table's expected minutes. Orbits with no product at all would otherwise
simply be absent from every dashboard; so the ``backfill_orbits`` orbits before each touched
orbit are checked (one read by id) and those without a record are computed too — at 0 % when
nothing arrived for them. The window is bounded, so a batch's cost does not grow with history.

An outage outlasts any window: when no orbit of a touched orbit's window has a record, one
search (for the whole batch, of one type's records) finds the satellite's last recorded orbit
within ``max_backfill_orbits``, and every orbit since is computed too. In steady operation the
window always holds the previous orbit: the search is not made. When nothing is recorded that
far back (a satellite's first records, or a longer outage) the window alone is back-filled, and
a warning says so: orbits are never left absent silently. Products do not always come in orbit
order (replicas, late publications): an orbit recorded for the first time also fills the gap up
to the next orbit with products (read by id), so the records are the same in any order.

Every record carries its orbit's dates, since dashboards select records by time: the span of
the orbit's products of any listed type (whoever served them), shared by all its type records.
An orbit without product is dated from the nearest orbit of its satellite whose dates this
computation knows (touched orbits, the window's records dated by products, and the last
recorded orbit before a gap), whole ``orbit_period_minutes`` away, and marked
``dates_estimated``. The estimated orbits of a window are estimated again with it, and
rewritten when the estimate moved: the first estimate may come from an orbit whose first
products only had arrived, the final one follows all its products.

Every record this batch may write (touched orbits, their windows and gaps) is read with its
stored hash before anything else, and is written on condition that it did not change since
(``Writes.expected``): a replica computing the same orbit at once cannot be overwritten by
this batch's older view of its products.
"""

from __future__ import annotations

import logging
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
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

log = logging.getLogger(__name__)
Products = Sequence[Mapping[str, Any]]
Known = list[tuple[int, datetime]]  # (orbit index, start) of a satellite's dated orbits, sorted
Satellite = tuple[str, str]  # mission, satellite: whose orbits follow each other


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
        window, expected = read_back_fill(ctx.store, touched)
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
    dated: dict[Orbit, datetime]  # the start of every other orbit of the windows and gaps, and
    # of the recorded orbits found before gaps (dated by products)
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


def read_back_fill(store: Store, touched: set[Orbit]) -> tuple[Window, dict[str, str | None]]:
    """The stored records this batch may write and their hashes (``Writes.expected``): the
    touched orbits and their windows in one read by id; after an outage, the gaps in another."""
    before = window_orbits(touched)
    found, expected = read_outputs(store, ORBIT_COMPLETENESS, _ids(touched | before))
    recorded = {o for o in touched | before if any(_record_id(o.key, t.type) in found for t in o.rule.types)}
    gaps, anchors = gap_orbits(store, touched, touched | recorded, touched - recorded)
    gaps -= before | touched
    if gaps:
        more, hashes = read_outputs(store, ORBIT_COMPLETENESS, _ids(gaps))
        found, expected = {**found, **more}, {**expected, **hashes}
    window = read_window(found, before | gaps)
    return replace(window, dated={**anchors, **window.dated}), expected


def _ids(orbits: Iterable[Orbit]) -> list[str]:
    return [_record_id(o.key, t.type) for o in orbits for t in o.rule.types]


def gap_orbits(
    store: Store, touched: set[Orbit], known: set[Orbit], new: set[Orbit]
) -> tuple[set[Orbit], dict[Orbit, datetime]]:
    """The orbits of the gaps around the touched ones, and the start of the recorded orbits
    that bound them (they date the gaps' orbits). Before: since the satellite's last recorded
    orbit, for each touched orbit whose window holds no known orbit (recorded or touched): one
    search, only after an outage. After: up to the next orbit with products, for each orbit
    recorded for the first time: a product may arrive after those of later orbits (replicas,
    late publications), whose gaps were then left open; closing them here makes the records
    the same in any order. That is a read by id of the orbits after (mostly absent: answered
    from the store's memory of what it holds on the embedded store)."""
    indices = _indices(known)
    outages = [o for o in touched if not _in_window(o, _last_below(indices[_satellite(o)], o.index))]
    searched = {orbit.key: orbit for o in outages for orbit in _unknown_before(o, indices[_satellite(o)])}
    last = _last_records(store, searched)
    after = _recorded(store, {orbit for o in new for orbit in _after(o)})
    gaps = _gaps_before(outages, _indices([*known, *last])) | _gaps_after(new, _products(touched, after))
    return gaps, {o: start for o, start in (last | after).items() if start is not None}


def _gaps_before(outages: Iterable[Orbit], indices: Mapping[Satellite, list[int]]) -> set[Orbit]:
    gaps: set[Orbit] = set()
    for o in outages:
        before = _last_below(indices.get(_satellite(o), []), o.index)
        if before is None or before < _gap_floor(o):
            _warn_unrecorded(o)
        else:
            gaps |= set(_orbits(o, range(before + 1, o.index - o.rule.backfill_orbits)))
    return gaps


def _gaps_after(new: Iterable[Orbit], products: Mapping[Satellite, list[int]]) -> set[Orbit]:
    """The orbits up to the next orbit with products (touched, or recorded and dated by
    products: a back-filled orbit is no bound) when it is within ``max_backfill_orbits``."""
    gaps: set[Orbit] = set()
    for o in new:
        above = products.get(_satellite(o), [])
        at = bisect_right(above, o.index)
        if at < len(above) and above[at] <= _gap_ceiling(o):
            gaps |= set(_orbits(o, range(o.index + 1, above[at])))
    return gaps


def _products(touched: Iterable[Orbit], last: Mapping[Orbit, datetime | None]) -> dict[Satellite, list[int]]:
    """Each satellite's orbits known to have products: touched, or recorded with real dates."""
    return _indices([*touched, *(o for o, start in last.items() if start is not None)])


def _satellite(orbit: Orbit) -> Satellite:
    return orbit.mission, orbit.satellite


def _indices(orbits: Iterable[Orbit]) -> defaultdict[Satellite, list[int]]:
    """Each satellite's orbit indices, sorted (for bisection)."""
    out: defaultdict[Satellite, list[int]] = defaultdict(list)
    for orbit in orbits:
        out[_satellite(orbit)].append(orbit.index)
    for indices in out.values():
        indices.sort()
    return out


def _last_below(indices: list[int], index: int) -> int | None:
    at = bisect_left(indices, index)
    return indices[at - 1] if at else None


def _in_window(orbit: Orbit, index: int | None) -> bool:
    return index is not None and index >= orbit.index - orbit.rule.backfill_orbits


def _after(orbit: Orbit) -> list[Orbit]:
    """Where the next orbit with products may be, for a gap after this one to be filled."""
    return _orbits(orbit, range(orbit.index + 1, _gap_ceiling(orbit) + 1))


def _gap_ceiling(orbit: Orbit) -> int:
    """The highest orbit with products a gap after this one may end at."""
    return orbit.index + orbit.rule.max_gap + 1


def _gap_floor(orbit: Orbit) -> int:
    """The lowest orbit a gap back-filled up to this one may start after."""
    return orbit.index - orbit.rule.max_gap - 1


def _unknown_before(orbit: Orbit, known: list[int]) -> list[Orbit]:
    """The orbits between a touched orbit's gap floor and its window not known to have a record
    (those above the last known one): where its last recorded orbit may be."""
    before = _last_below(known, orbit.index)
    start = _gap_floor(orbit) if before is None else max(before + 1, _gap_floor(orbit))
    return _orbits(orbit, range(start, orbit.index - orbit.rule.backfill_orbits))


def _orbits(orbit: Orbit, indices: range) -> list[Orbit]:
    return [Orbit(orbit.mission, orbit.satellite, i, orbit.rule) for i in indices]


def _recorded(store: Store, orbits: set[Orbit]) -> dict[Orbit, datetime | None]:
    """Which of these orbits have records (the first type of the table tells, as every type
    record of an orbit is written at once), with their start when dated by products."""
    ids = {_record_id(o.key, o.rule.types[0].type): o for o in orbits}
    found = store.get(ORBIT_COMPLETENESS, list(ids)) if ids else {}
    return {ids[doc_id]: _start(doc.data) for doc_id, doc in found.items()}


def _last_records(store: Store, orbits: Mapping[str, Orbit]) -> dict[Orbit, datetime | None]:
    """Which of these orbits have records, with their start when dated by products. Every type
    record of an orbit is written at once, so the first type of each table tells: at most one
    record per orbit read."""
    if not orbits:
        return {}
    types = sorted({o.rule.types[0].type for o in orbits.values()})
    filters = [Terms("orbit_key", sorted(orbits)), Terms("product_type", types)]
    return {orbits[d.data["orbit_key"]]: _start(d.data) for d in store.find(ORBIT_COMPLETENESS, filters)}


def _start(record: Mapping[str, Any]) -> datetime | None:
    """An orbit record's start, when products dated it (a back-filled orbit's is a guess)."""
    return None if record.get("dates_estimated") else record.get("orbit_start")


def _warn_unrecorded(orbit: Orbit) -> None:
    """Either a satellite's first records or a gap beyond the bound: telling them apart would
    take a search of the satellite's whole history, so the warning names both."""
    log.warning(
        "%s: none of the %d orbits before it has a record, so only the %d just before it are"
        " back-filled: %s's first records, or a gap longer than max_backfill_orbits (%d) whose"
        " older orbits stay without record",
        orbit.key,
        orbit.rule.max_gap + 1,
        orbit.rule.backfill_orbits,
        orbit.satellite,
        orbit.rule.max_gap,
    )


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
