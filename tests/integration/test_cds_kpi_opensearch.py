"""The KPI engines on the real OpenSearch (MemoryBus in process): the same answers as embedded.

Searches there see writes after a refresh, booleans and nulls are indexed differently, results
are paged: this runs completeness, orbit back-fill and a status timeline with a late probe,
batch after batch with no pause. Keys carry a random part (datatake ids, an S3 cycle, an
interface name), so the shared ``cds-*`` families need no wipe; this test's documents are deleted.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from kpi_chain import BUS, at, datatake, make_chain, probe, product, publish

from cds.models import (
    COMPLETENESS,
    DATATAKE,
    INTERFACE_STATUS,
    MODELS,
    ORBIT_COMPLETENESS,
    PRODUCT,
    RAW_INTERFACE_PROBE,
)
from cds.rules import rules
from maas.bus.memory import MemoryBroker, MemoryBus
from maas.config.settings import Settings, StoreSettings
from maas.model import DocumentClass
from maas.store.base import Filter, Store, Term, Terms
from maas.store.factory import create_store

pytestmark = pytest.mark.integration
TOKEN = secrets.randbelow(10**6)


Cleanup = list[tuple[DocumentClass, Filter]]


@pytest.fixture
def store(opensearch_url: str) -> Iterator[Store]:
    store = create_store(Settings(store=StoreSettings(url=opensearch_url)))
    store.setup(list(MODELS))
    yield store
    store.close()


@pytest.fixture
def cleanup(store: Store) -> Iterator[Cleanup]:
    """What the test wrote, by filter: deleted afterwards, pass or fail."""
    mine: Cleanup = []
    yield mine
    store.refresh()
    for doc_class, where in mine:
        store.delete(doc_class, [d.id for d in store.find(doc_class, [where])])


def test_kpis_on_opensearch(store: Store, cleanup: Cleanup) -> None:
    bus = MemoryBus(MemoryBroker(), "test")
    chain = make_chain(store, bus)
    key, interface, cycle = f"S1A-{TOKEN}", f"PRIP-{TOKEN}", 500 + TOKEN % 400
    s3_keys = [f"S3A-{cycle:03d}-{o:03d}" for o in range(1, 386)]
    cleanup += [
        (COMPLETENESS, Term("datatake_key", key)),
        (PRODUCT, Terms("datatake_key", [key, *s3_keys])),
        (PRODUCT, Term("left_datatake_keys", key)),
        (ORBIT_COMPLETENESS, Terms("orbit_key", s3_keys)),
        (INTERFACE_STATUS, Term("interface_name", interface)),
        (RAW_INTERFACE_PROBE, Term("interface_name", interface)),
        (DATATAKE, Term("datatake_key", key)),
    ]
    publish(store, bus, [datatake(key, 0, 120)])
    products = [product(key, "IW_RAW__0S", a, b) for a, b in [(0, 50), (40, 90), (10, 20)]]
    for one in products:  # one product per batch
        publish(store, bus, [one])
        chain.run_until_idle()

    def raw_0s() -> dict[str, Any]:
        where = [Term("datatake_key", key), Term("product_type", "IW_RAW__0S")]
        (record,) = [d.data for d in store.find(COMPLETENESS, where)]
        return record

    raw = raw_0s()
    assert (raw["value"], raw["percentage"], raw["status"]) == (90.0, 75.0, "Partial")
    assert raw["missing_periods"] == [{"start": at(90), "stop": at(120)}]

    # a product detached by a newer plan: the datatake it left is recomputed without it
    publish(store, bus, [products[1].replace(datatake_key=None, left_datatake_keys=[key])])
    chain.run_until_idle()
    assert (raw_0s()["value"], raw_0s()["products"]) == (50.0, 2)
    # a newer plan changes the mode: the old mode's records go
    publish(store, bus, [datatake(key, 0, 120, mode="EW")])
    chain.run_until_idle()
    types = {d.data["product_type"] for d in store.find(COMPLETENESS, [Term("datatake_key", key)])}
    assert types == {*(t.type for t in rules().expected_types("S1", "EW")), "ALL"}

    s3 = product(s3_keys[99], "SL_1_RBT___", 0, 6060, prip=["S3A-ACRI"], satellite="S3A", cycle=cycle,
                 relative_orbit=100, timeliness="NR")  # fmt: skip
    publish(store, bus, [s3])
    chain.run_until_idle()
    orbit_rule = rules().orbit_rule("S3")
    assert orbit_rule is not None
    found = store.find(ORBIT_COMPLETENESS, [Terms("orbit_key", s3_keys)])
    assert len(found) == (orbit_rule.backfill_orbits + 1) * len(orbit_rule.types)
    after = product(s3_keys[299], "SL_1_RBT___", 0, 6060, prip=["S3A-ACRI"], satellite="S3A", cycle=cycle,
                    relative_orbit=300, timeliness="NR")  # fmt: skip
    publish(store, bus, [after])  # 199 orbits without product: back-filled from orbit 100 (a search)
    chain.run_until_idle()
    found = store.find(ORBIT_COMPLETENESS, [Terms("orbit_key", s3_keys)])
    assert len(found) == (orbit_rule.backfill_orbits + 201) * len(orbit_rule.types)

    for pairs in [
        [(0, "up"), (1, "up")],
        [(2, "up"), (3, "down")],
        [(4, "down"), (5, "up")],
        [(1, "degraded")],
    ]:
        publish(store, bus, [probe(interface, m, s) for m, s in pairs], exchange=BUS.collect_exchange)
        chain.run_until_idle()
    spans = sorted((d.data for d in store.find(INTERFACE_STATUS, [Term("interface_name", interface)])),
                   key=lambda d: d["start"])  # fmt: skip
    assert [(d["status"], d["start"], d.get("stop"), d["open"]) for d in spans] == [
        ("up", at(0), at(60), False),
        ("degraded", at(60), at(120), False),
        ("up", at(120), at(180), False),
        ("down", at(180), at(300), False),
        ("up", at(300), None, True),
    ]
