"""Two replicas of a pool recompute one aggregate at once: the older computation must not win.

Replica A runs its batch up to its write: its store runs replica B's whole batch for the same
key just before A writes (a hook, not a sleep: the interleaving is exact). B's result is newer
(it saw both inputs); A's write then finds the aggregate changed since A read its hash, fails the
batch with a TransientError (the pool retries it through the delay queues), and A's batch run
again converges on the result that holds both inputs.

On each backend (DuckDB: the embedded unit test; OpenSearch: two stores, as two replicas on two
machines). On OpenSearch the documents are in the real ``cds-*`` families, which the acceptance
tests of this directory own and wipe: this module lives here so that one pytest run never runs
it beside them; its documents have names of their own, dated 2031, and are deleted afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cds.catalog import CATALOG
from cds.engines.attach import AttachDatatake, DatatakeIndex
from cds.engines.completeness import GLOBAL, ComputeCompleteness
from cds.engines.mission_plan import ConsolidateMissionPlan
from cds.engines.orbits import ComputeOrbitCompleteness
from cds.engines.product import ConsolidateProduct
from cds.engines.publication import draft
from cds.models import COMPLETENESS, DATATAKE, ORBIT_COMPLETENESS, PRODUCT, PUBLICATION, RAW_MP_DATATAKE
from cds.rules import rules
from maas.bus.message import chunk_messages
from maas.config import Settings
from maas.config.settings import StoreSettings
from maas.engine.base import Engine, NoArgs
from maas.engine.processor import BatchResult, Incoming, Processor
from maas.engine.routing import BoundEngine
from maas.errors import TransientError
from maas.model import Document, DocumentClass
from maas.store.base import NOTHING_EXPECTED, Expected, Outcome, Store, Terms, WriteReport
from maas.store.factory import create_store

BACKENDS = (
    pytest.param("duckdb", marks=pytest.mark.unit),
    pytest.param("opensearch", marks=pytest.mark.integration),
)
T0 = datetime(2031, 1, 6, 12, 0, tzinfo=UTC)
CONFLICT = "changed by another writer since read: retrying the batch"


class PausingStore:
    """Replica A's store: runs ``meanwhile`` once, just before A's first write (every read of
    A's batch is done by then), and keeps what A asked to write."""

    def __init__(self, inner: Store, meanwhile: Callable[[], None]) -> None:
        self.inner, self.meanwhile = inner, meanwhile
        self.attempted: list[Document] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def write(self, docs: Iterable[Document], *, expected: Expected = NOTHING_EXPECTED) -> WriteReport:
        docs = list(docs)
        if not self.attempted:
            self.attempted = docs
            self.meanwhile()
        return self.inner.write(docs, expected=expected)


class Replicas:
    """Two stores on one backend, as two replicas of a pool have; the documents to clean up."""

    def __init__(self, settings: Settings) -> None:
        self.a, self.b = create_store(settings), create_store(settings)
        self.a.setup(list(CATALOG.models))
        self.written: dict[DocumentClass, set[str]] = {}

    def put(self, docs: list[Document]) -> list[Incoming]:
        """What a collector or an upstream engine does: write, make searchable, report."""
        self.b.write(docs)
        self.b.refresh(docs[0].doc_class)
        return self.incoming(docs)

    def incoming(self, docs: list[Document]) -> list[Incoming]:
        doc_class = docs[0].doc_class
        self.written.setdefault(doc_class, set()).update(d.id for d in docs)
        (message,) = chunk_messages(doc_class.name, [d.id for d in docs], [d.index for d in docs], 100)
        return [Incoming(f"new.{doc_class.family}", message)]

    def run(self, store: Store | PausingStore, engine: Engine[Any], incoming: list[Incoming]) -> BatchResult:
        processor = Processor([BoundEngine(engine, True)], store, CATALOG.models)  # type: ignore[arg-type]
        result = processor.process(incoming)
        assert not result.dead, result.dead
        store.refresh()
        return result

    def close(self) -> None:
        self.b.refresh()
        for doc_class, ids in self.written.items():
            self.b.delete(doc_class, sorted(ids))
        self.a.close()
        self.b.close()


@pytest.fixture(params=BACKENDS)
def replicas(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Replicas]:
    if request.param == "duckdb":
        settings = Settings(store=StoreSettings(url=f"duckdb:///{tmp_path / 'store.duckdb'}"))
    else:
        settings = Settings(store=StoreSettings(url=request.getfixturevalue("opensearch_url")))
    rig = Replicas(settings)
    yield rig
    rig.close()


def publication(name: str, interface: str, kind: str, minutes: int) -> Document:
    raw = {"name": name, "interface_name": interface, "publication_date": T0 + timedelta(minutes=minutes)}
    fields, subject = draft(raw, kind)
    return PUBLICATION.make(fields | DatatakeIndex([]).attach(subject))  # attached as to no plan yet


def race(
    replicas: Replicas,
    engine: Engine[Any],
    first: list[Document],
    second: list[Document],
    other: Engine[Any] | None = None,
) -> list[Document]:
    """Replica A processes ``first`` and, just before it writes, replica B puts and processes
    ``second`` (with ``other``, or the same engine): A's batch must fail on the conflict.
    Returns what A tried to write."""
    incoming = replicas.put(first)

    def replica_b() -> None:
        replicas.run(replicas.b, other or engine, replicas.put(second))

    a = PausingStore(replicas.a, replica_b)
    with pytest.raises(TransientError, match=CONFLICT):
        replicas.run(a, engine, incoming)
    for doc in a.attempted:
        replicas.written.setdefault(doc.doc_class, set()).add(doc.id)
    return a.attempted


def test_a_product_merged_twice_at_once_keeps_both_interfaces(replicas: Replicas) -> None:
    name = f"S1A_IW_SLC__1SDV_20310106T115955_20310106T120022_029904_0391E7_{uuid.uuid4().hex[:4].upper()}"
    prip = publication(name, "S1A-Serco", "PRIP", 40)
    lta = publication(name, "LTA-1", "LTA", 60)
    (stale,) = race(replicas, ConsolidateProduct(NoArgs()), [prip], [lta])

    assert stale.data["interfaces"] == ["S1A-Serco"], "A computed without B's publication"
    assert interfaces(replicas.b, stale) == ["LTA-1", "S1A-Serco"], "B's product stays"
    again = replicas.run(replicas.a, ConsolidateProduct(NoArgs()), replicas.incoming([prip]))
    assert again.written.counts() == {Outcome.UNCHANGED: 1}
    assert interfaces(replicas.a, stale) == ["LTA-1", "S1A-Serco"]


def test_a_product_re_attached_while_merged_keeps_both_interfaces(replicas: Replicas) -> None:
    """ATTACH_DATATAKE rewrites whole products: one merged meanwhile must not lose an interface."""
    number = uuid.uuid4().int % 0xFFFFFF
    name = (
        f"S1A_IW_SLC__1SDV_20310106T115955_20310106T120022_029904_{number:06X}_{uuid.uuid4().hex[:4].upper()}"
    )
    prip = publication(name, "S1A-Serco", "PRIP", 40)
    replicas.run(replicas.b, ConsolidateProduct(NoArgs()), replicas.put([prip]))
    plan = datatake(f"S1A-{number}", start=-10)
    lta = publication(name, "LTA-1", "LTA", 60)
    attempted = race(replicas, AttachDatatake(NoArgs()), [plan], [lta], ConsolidateProduct(NoArgs()))
    (stale,) = [doc for doc in attempted if doc.doc_class is PRODUCT]  # and the publication, written

    assert (stale.data["interfaces"], stale.data["planned"]) == (["S1A-Serco"], True)
    assert interfaces(replicas.b, stale) == ["LTA-1", "S1A-Serco"], "B's merge stays"
    again = replicas.run(replicas.a, AttachDatatake(NoArgs()), replicas.incoming([plan]))
    assert stale.id not in {i.id for i in again.written.changed}, "B's merge attached the product already"
    assert interfaces(replicas.a, stale) == ["LTA-1", "S1A-Serco"]


def interfaces(store: Store, product: Document) -> list[str]:
    return list(store.get(PRODUCT, [product.id], [product.index])[product.id].data["interfaces"])


def test_a_datatake_computed_twice_at_once_counts_both_products(replicas: Replicas) -> None:
    key = f"S1A-{uuid.uuid4().int % 10**9}"
    replicas.put([datatake(key)])
    product_type = "IW_RAW__0S"
    assert product_type in {t.type for t in rules().expected_types("S1", "IW")}
    mine = product(key, product_type, 0, 50)
    attempted = race(replicas, ComputeCompleteness(NoArgs()), [mine], [product(key, product_type, 50, 120)])

    assert counted(attempted) == {product_type: 1, GLOBAL: 1}, "A computed without B's product"
    assert counted(records(replicas.b, key)) == {product_type: 2, GLOBAL: 2}, "B's records stay"
    again = replicas.run(replicas.a, ComputeCompleteness(NoArgs()), replicas.incoming([mine]))
    assert not again.written.changed
    stored = records(replicas.a, key)
    assert counted(stored) == {product_type: 2, GLOBAL: 2}
    assert {d.data["product_type"]: d.data["value"] for d in stored}[product_type] == 120.0


def test_an_older_plan_consolidated_beside_a_newer_one_never_wins(replicas: Replicas) -> None:
    number = str(uuid.uuid4().int % 10**9)
    older, newer = plan_row(number, days_ago=2, mode="IW"), plan_row(number, days_ago=1, mode="EW")
    (stale,) = race(replicas, ConsolidateMissionPlan(NoArgs()), [older], [newer])

    assert stale.data["instrument_mode"] == "IW", "A found no datatake: the older plan looked new"
    assert replicas.b.get(DATATAKE, [stale.id])[stale.id].data["instrument_mode"] == "EW"
    again = replicas.run(replicas.a, ConsolidateMissionPlan(NoArgs()), replicas.incoming([older]))
    assert not again.written.items, "the older plan supersedes nothing"
    assert replicas.a.get(DATATAKE, [stale.id])[stale.id].data["instrument_mode"] == "EW"


def plan_row(number: str, days_ago: int, mode: str) -> Document:
    return RAW_MP_DATATAKE.make(
        {
            "satellite": "S1A",
            "datatake_id": number,
            "observation_start": at(0),
            "observation_stop": at(120),
            "instrument_mode": mode,
            "plan_application_date": T0 - timedelta(days=days_ago),
            "plan_file_name": f"plan-{days_ago}-{number}.xml",
        }
    )


def test_an_orbit_computed_twice_at_once_counts_both_products(replicas: Replicas) -> None:
    cycle, orbit = 500 + uuid.uuid4().int % 400, 100 + uuid.uuid4().int % 200
    kind = "SL_1_RBT___"
    mine = s3_product(cycle, orbit, kind, 0, 600)
    attempted = race(
        replicas, ComputeOrbitCompleteness(NoArgs()), [mine], [s3_product(cycle, orbit, kind, 600, 1200)]
    )

    key = mine.data["datatake_key"]
    assert by_type(attempted, key)[kind] == 1, "A computed without B's product"
    assert by_type(orbit_records(replicas.b, key), key)[kind] == 2, "B's records stay"
    again = replicas.run(replicas.a, ComputeOrbitCompleteness(NoArgs()), replicas.incoming([mine]))
    assert not again.written.changed
    assert by_type(orbit_records(replicas.a, key), key)[kind] == 2


def s3_product(cycle: int, orbit: int, kind: str, start: float, stop: float) -> Document:
    return PRODUCT.make(
        {
            "product_key": f"S3A_{kind}_{cycle}_{orbit}_{start:g}",
            "name_parsed": True,
            "mission": "S3",
            "satellite": "S3A",
            "product_type": kind,
            "timeliness": "NR",
            "cycle": cycle,
            "relative_orbit": orbit,
            "sensing_start": at(start),
            "sensing_stop": at(stop),
            "reference_date": at(start),
            "prip_interfaces": ["S3A-ACRI"],
            "datatake_key": f"S3A-{cycle:03d}-{orbit:03d}",
        }
    )


def by_type(docs: Iterable[Document], orbit_key: str) -> dict[str, int]:
    return {d.data["product_type"]: d.data["products"] for d in docs if d.data["orbit_key"] == orbit_key}


def orbit_records(store: Store, orbit_key: str) -> list[Document]:
    store.refresh(ORBIT_COMPLETENESS)
    return store.find(ORBIT_COMPLETENESS, [Terms("orbit_key", [orbit_key])])


def counted(docs: Iterable[Document]) -> dict[str, int]:
    """Products counted per record, for the records that count any (types, and the global one)."""
    return {d.data["product_type"]: d.data["products"] for d in docs if d.data["products"]}


def records(store: Store, key: str) -> list[Document]:
    store.refresh(COMPLETENESS)
    return store.find(COMPLETENESS, [Terms("datatake_key", [key])])


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def datatake(key: str, start: float = 0) -> Document:
    unit, number = key.split("-", 1)
    return DATATAKE.make(
        {
            "datatake_key": key,
            "satellite": unit,
            "mission": "S1",
            "datatake_id": number,
            "observation_start": at(start),
            "observation_stop": at(120),
            "instrument_mode": "IW",
            "plan_version": T0 - timedelta(days=3),
        }
    )


def product(key: str, product_type: str, start: float, stop: float) -> Document:
    return PRODUCT.make(
        {
            "product_key": f"S1A_{product_type}_{key}_{start:g}",
            "name_parsed": True,
            "mission": "S1",
            "satellite": "S1A",
            "product_type": product_type,
            "sensing_start": at(start),
            "sensing_stop": at(stop),
            "reference_date": at(start),
            "prip_interfaces": ["S1A-Serco"],
            "datatake_key": key,
        }
    )
