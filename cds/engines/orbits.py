"""COMPUTE_ORBIT_COMPLETENESS: S3/S5P completeness per orbit and product type, from tables.

Per orbit the batch touched, every product type of the mission's table gets a record: the union
of the counted products' sensing intervals (designated production service, allowed timeliness)
in minutes against the table's expected minutes. Orbits with no product at all would otherwise
simply be absent from every dashboard; so the ``backfill_orbits`` orbits before each touched
orbit are checked (one read by id) and those without a record are computed too — at 0 % when
nothing arrived for them. The window is bounded, so a batch's cost does not grow with history.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cds.engines.completeness import sensing
from cds.kpi.completeness import Expectation, of_intervals
from cds.models import ORBIT_COMPLETENESS, PRODUCT
from cds.rules import CompletenessRules, MissionOrbits, OrbitType, rules
from maas.engine.base import Batch, Context, Engine, NoArgs, Writes
from maas.errors import PermanentError
from maas.model import Document
from maas.store.base import Store, Terms

Products = Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class Orbit:
    mission: str
    satellite: str
    index: int  # linear orbit number: cycles folded in (MissionOrbits.index)

    def fields(self, rule: MissionOrbits) -> dict[str, Any]:
        return {
            "mission": self.mission,
            "satellite": self.satellite,
            **rule.orbit(self.satellite, self.index),
        }

    def key(self, rule: MissionOrbits) -> str:
        return str(rule.orbit(self.satellite, self.index)["orbit_key"])


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
        orbits = touched | absent_before(ctx.store, touched, table)
        products = load_products(ctx.store, orbits, table)
        return Writes(
            [doc for orbit in sorted(orbits, key=_order) for doc in orbit_records(orbit, products, table)]
        )


def _order(orbit: Orbit) -> tuple[str, str, int]:
    return orbit.mission, orbit.satellite, orbit.index


def touched_orbits(products: Iterable[Document], table: CompletenessRules) -> set[Orbit]:
    """The orbits of the products whose mission has an orbit table and whose type it lists."""
    out = set()
    for doc in products:
        data = doc.data
        rule = table.orbit_rule(data.get("mission"))
        if rule is None or not data.get("satellite") or data.get("product_type") not in _types(rule):
            continue
        index = rule.index(data)
        if index is not None:
            out.add(Orbit(data["mission"], data["satellite"], index))
    return out


def _types(rule: MissionOrbits) -> dict[str, OrbitType]:
    return {t.type: t for t in rule.types}


def absent_before(store: Store, touched: set[Orbit], table: CompletenessRules) -> set[Orbit]:
    """Orbits of the back-fill windows missing a record for some product type (one read by id)."""
    window = {
        Orbit(o.mission, o.satellite, i)
        for o in touched
        for i in range(o.index - _rule(table, o).backfill_orbits, o.index)
    } - touched
    ids = {
        ORBIT_COMPLETENESS.id_for(o.key(_rule(table, o)), t.type): o
        for o in window
        for t in _rule(table, o).types
    }
    existing = store.get(ORBIT_COMPLETENESS, list(ids))
    return {orbit for doc_id, orbit in ids.items() if doc_id not in existing}


def _rule(table: CompletenessRules, orbit: Orbit) -> MissionOrbits:
    rule = table.orbit_rule(orbit.mission)
    assert rule is not None  # orbits are only built for missions with a rule
    return rule


def load_products(
    store: Store, orbits: set[Orbit], table: CompletenessRules
) -> dict[str, list[Mapping[str, Any]]]:
    """The counted products of these orbits, of the tables' types, by orbit key: one search."""
    keys = {o.key(_rule(table, o)) for o in orbits}
    types = {t.type for o in orbits for t in _rule(table, o).types}
    filters = [Terms("datatake_key", sorted(keys)), Terms("product_type", sorted(types))]
    by_orbit: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for product in store.find(PRODUCT, filters):
        if table.counts(product.data):
            by_orbit[product.data["datatake_key"]].append(product.data)
    return by_orbit


def orbit_records(orbit: Orbit, products: Mapping[str, Products], table: CompletenessRules) -> list[Document]:
    rule = _rule(table, orbit)
    mine = products.get(orbit.key(rule), ())
    return [
        type_record(orbit, rule, kind, [p for p in mine if p["product_type"] == kind.type])
        for kind in rule.types
    ]


def type_record(orbit: Orbit, rule: MissionOrbits, kind: OrbitType, products: Products) -> Document:
    """One orbit × type: products of an allowed timeliness, their sensing union in minutes."""
    counted = [p for p in products if p.get("timeliness") in kind.timeliness]
    result = of_intervals(Expectation(kind.type, "seconds", kind.minutes * 60), sensing(counted, None))
    return ORBIT_COMPLETENESS.make(
        {
            **orbit.fields(rule),
            "product_type": kind.type,
            "timeliness": ",".join(sorted(kind.timeliness)),
            "orbit_start": min((p["sensing_start"] for p in counted if p.get("sensing_start")), default=None),
            "orbit_stop": max((p["sensing_stop"] for p in counted if p.get("sensing_stop")), default=None),
            "value_minutes": result.value / 60,
            "expected_minutes": kind.minutes,
            "percentage": result.percentage,
            "status": result.status.value,
            "products": len(counted),
        }
    )
