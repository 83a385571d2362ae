"""COMPUTE_COMPLETENESS: datatake completeness per expected product type, and globally.

Incremental by construction: a batch of product (or datatake) reports names the datatakes it
touched (a product's own, and those it left: ``left_datatake_keys``); the engine loads those
datatakes and all their products of the expected types (two queries per batch, whatever its
size) and recomputes only them. Every record is rewritten from scratch, which is what keeps it
order-independent; the store's change detection keeps the ones that did not move quiet (no
write, no report). Records of types the datatake's mode no longer expects (a newer plan
changed the mode) are deleted.

The system this replaces recomputed every datatake for every product (about 0.1 products/s);
here the cost of a batch is the size of the datatakes it touches, not of the archive.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from cds.engines.attach import LEFT
from cds.kpi.completeness import Result, of_count, of_intervals, overall
from cds.kpi.intervals import Interval
from cds.models import COMPLETENESS, DATATAKE, PRODUCT
from cds.rules import CompletenessRules, DatatakeType, rules
from maas.engine.base import Batch, Context, Engine, NoArgs, Writes, read_hashes
from maas.errors import PermanentError
from maas.model import Document
from maas.store.base import Expected, Store, Terms

log = logging.getLogger(__name__)

GLOBAL = "ALL"  # the product_type of a datatake's global record
SCOPE = "production"  # products served by the satellite's designated production service


class ComputeCompleteness(Engine[NoArgs]):
    """Recomputes the completeness records of the datatakes a batch of products/datatakes touched."""

    ENGINE_ID = "COMPUTE_COMPLETENESS"

    def process(self, batch: Batch, ctx: Context) -> Writes:
        table = rules()
        keys = touched_datatakes(batch, table)
        if not keys:
            return Writes()
        expected = read_hashes(ctx.store, COMPLETENESS, record_ids(keys, table))
        datatakes = load_datatakes(ctx.store, batch, keys)
        products = load_products(ctx.store, datatakes, table)
        records = [doc for dt in datatakes for doc in datatake_records(dt.data, products, table)]
        return Writes(records, stale_records(ctx.store, datatakes, records, expected), expected=expected)


def record_ids(keys: Mapping[str, str], table: CompletenessRules) -> list[str]:
    """The ids of every record the touched datatakes (key -> mission) may have, whatever their
    mode: read before the datatakes and their products, so that another replica's write of any
    of them after this read is seen by this batch's write (ids that will not be written cost a
    lookup)."""
    return [
        _record_id(key, product_type)
        for key in sorted(keys)
        for product_type in (*table.datatake_types(keys[key]), GLOBAL)
    ]


def stale_records(
    store: Store, datatakes: Sequence[Document], records: Sequence[Document], expected: Expected
) -> list[Document]:
    """The stored records of these datatakes that were not rewritten: types their mode no
    longer expects (a newer plan changed it, maybe to a mode without rules), which would stay
    beside the new mode's records, Missing forever. ``expected`` tells which records existed
    (one hash read for every type of the mission): read by id only when some are stale."""
    written = {doc.id for doc in records}
    stale = [doc_id for doc_id, stored in expected.items() if stored is not None and doc_id not in written]
    if not stale:
        return []
    keys = {dt.data["datatake_key"] for dt in datatakes}  # not a touched key with no datatake
    return [doc for doc in store.get(COMPLETENESS, stale).values() if doc.data["datatake_key"] in keys]


@lru_cache(maxsize=1 << 16)
def _record_id(datatake_key: str, product_type: str) -> str:
    """A record's id (a hash): consecutive batches mostly touch the same datatakes."""
    return COMPLETENESS.id_for(datatake_key, product_type, SCOPE)


def touched_datatakes(batch: Batch, table: CompletenessRules) -> dict[str, str]:
    """The datatakes of the batch's documents whose mission has datatake rules, key -> mission:
    the ones they are attached to, and the ones products left (moved or detached by a newer
    plan, a product is still counted where it was until that datatake is recomputed)."""
    if batch.doc_class not in (PRODUCT, DATATAKE):
        raise PermanentError(f"COMPUTE_COMPLETENESS does not take {batch.doc_class.family} documents")
    missions = {d.data.get("mission") for d in batch.documents}
    counted = {mission for mission in missions if table.has_datatakes(mission)}  # per mission, not product
    counted_docs = [d.data for d in batch.documents if d.data.get("mission") in counted]
    touched: dict[str, str] = {d["datatake_key"]: d["mission"] for d in counted_docs if d.get("datatake_key")}
    touched.update((key, d["mission"]) for d in counted_docs for key in d.get(LEFT, ()))
    return touched


def load_datatakes(store: Store, batch: Batch, keys: Mapping[str, str]) -> list[Document]:
    """The batch's own datatakes, or the touched ones read by id (realtime, unlike a search)."""
    if batch.doc_class is DATATAKE:
        return [d for d in batch.documents if d.data["datatake_key"] in keys]
    return list(store.get(DATATAKE, [DATATAKE.id_for(key) for key in sorted(keys)]).values())


def load_products(
    store: Store, datatakes: Sequence[Document], table: CompletenessRules
) -> dict[str, list[Mapping[str, Any]]]:
    """Every counted product of these datatakes, of an expected type, by datatake key: one search.

    The framework makes every batch's writes searchable before its reports go out, so the
    search sees the products whose reports triggered this batch, and all reported before.
    """
    types = {t.type for dt in datatakes for t in _expected(dt.data, table)}
    if not types:
        return {}
    keys = sorted(dt.data["datatake_key"] for dt in datatakes)
    found = store.find(PRODUCT, [Terms("datatake_key", keys), Terms("product_type", sorted(types))])
    by_datatake: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for product in found:
        if table.counts(product.data):
            by_datatake[product.data["datatake_key"]].append(product.data)
    return by_datatake


def _expected(datatake: Mapping[str, Any], table: CompletenessRules) -> list[DatatakeType]:
    return table.expected_types(datatake.get("mission"), datatake.get("instrument_mode"))


def datatake_records(
    datatake: Mapping[str, Any], products: Mapping[str, Sequence[Mapping[str, Any]]], table: CompletenessRules
) -> list[Document]:
    """The per-type records and the global one of one datatake (none for an unknown mode)."""
    expected = _expected(datatake, table)
    if not expected:
        log.debug(
            "datatake %s: no expected product types for mode %r",
            datatake["datatake_key"],
            datatake.get("instrument_mode"),
        )
        return []
    by_type: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for product in products.get(datatake["datatake_key"], ()):
        by_type[product["product_type"]].append(product)
    window = (datatake["observation_start"].timestamp(), datatake["observation_stop"].timestamp())
    min_gap = table.min_gap_s(datatake.get("mission"))
    results = [
        (type_result(rule, by_type[rule.type], window, min_gap), len(by_type[rule.type])) for rule in expected
    ]
    total = overall([result for result, _ in results], GLOBAL)
    results.append((total, sum(count for _, count in results)))
    return [record(datatake, result, count) for result, count in results]


def type_result(
    rule: DatatakeType, products: Sequence[Mapping[str, Any]], window: Interval, min_gap: float
) -> Result:
    observation = window[1] - window[0]
    if rule.count is not None:
        return of_count(rule.expectation(observation), len(products))
    return of_intervals(
        rule.expectation(observation), sensing(products, rule.default_duration_s), window, min_gap
    )


def sensing(products: Iterable[Mapping[str, Any]], default_duration_s: float | None) -> list[Interval]:
    """Sensing intervals in epoch seconds; a start-only product lasts ``default_duration_s``."""
    out = []
    for product in products:
        start, stop = product.get("sensing_start"), product.get("sensing_stop")
        if start is None:
            continue
        if stop is None:
            stop = start + timedelta(seconds=default_duration_s or 0.0)
        out.append((start.timestamp(), stop.timestamp()))
    return out


def record(datatake: Mapping[str, Any], result: Result, products: int) -> Document:
    return COMPLETENESS.make(
        {
            "datatake_key": datatake["datatake_key"],
            "product_type": result.product_type,
            "scope": SCOPE,
            **{name: datatake.get(name) for name in _FROM_DATATAKE},
            "plan_version": datatake.get("plan_version"),
            "measure": result.measure,
            "value": result.value,
            "expected": result.expected,
            "percentage": result.percentage,
            "status": result.status.value,
            "products": products,
            "missing_periods": [
                {"start": _instant(a), "stop": _instant(b)} for a, b in result.missing_periods
            ],
        }
    )


_FROM_DATATAKE = (
    "satellite", "mission", "instrument_mode", "timeliness_category", "observation_start", "observation_stop",
)  # fmt: skip


def _instant(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
