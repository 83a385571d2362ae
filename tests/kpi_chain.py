"""Helpers for the KPI engine tests: the KPI engines alone on a memory bus and a real store, fed
as the upstream engines would feed them (documents written, their reports published).

Importable as ``kpi_chain`` from the unit tests (DuckDB) and the integration tests (OpenSearch).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cds.engines.completeness import ComputeCompleteness
from cds.engines.orbits import ComputeOrbitCompleteness
from cds.engines.status import ConsolidateInterfaceStatus
from cds.models import DATATAKE, MODELS, PRODUCT, RAW_INTERFACE_PROBE
from maas.bus.base import Envelope
from maas.bus.memory import MemoryBus
from maas.bus.message import chunk_messages
from maas.catalog import Catalog
from maas.config.settings import BusSettings
from maas.engine.pool import Chain
from maas.engine.registry import EngineRegistry
from maas.engine.routing import load_routing
from maas.model import Document, DocumentClass, ModelRegistry
from maas.store.base import NOTHING_EXPECTED, Expected, Filter, Outcome, Store, WriteReport

BUS = BusSettings()
ROUTING = Path(__file__).parent / "data" / "cds_kpi_routing.yaml"
CATALOG = Catalog(
    models=ModelRegistry(MODELS),
    engines=EngineRegistry([ComputeCompleteness, ComputeOrbitCompleteness, ConsolidateInterfaceStatus]),
    routing_file=ROUTING,
)
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def make_chain(store: Store, bus: MemoryBus) -> Chain:
    routing = load_routing(ROUTING, CATALOG.engines)
    bus.declare(routing.topology(BUS))
    return Chain.from_routing(
        routing, bus=bus, store=store, models=CATALOG.models, engines=CATALOG.engines, bus_settings=BUS
    )


def publish(
    store: Store,
    bus: MemoryBus,
    docs: Sequence[Document],
    exchange: str = BUS.etl_exchange,
    again: bool = False,
) -> None:
    """Write documents and publish the reports of the changed ones, as an engine's framework does;
    ``again`` publishes the unchanged ones too, as a replay does."""
    report = store.write(docs)
    if store.capabilities.needs_refresh:  # the framework makes writes searchable before reporting
        store.refresh(docs[0].doc_class)
    items = report.items if again else report.changed
    if not items:
        return
    doc_class = docs[0].doc_class
    messages = chunk_messages(doc_class.name, [i.id for i in items], [i.index for i in items], 100)
    key = f"{'update' if again else 'new'}.{doc_class.family}"
    bus.publish([Envelope.of(exchange, key, m) for m in messages])


def datatake(key: str, start: float, stop: float, mode: str = "IW", mission: str = "S1") -> Document:
    unit, number = key.split("-", 1)
    return DATATAKE.make(
        {
            "datatake_key": key,
            "satellite": unit,
            "mission": mission,
            "datatake_id": number,
            "observation_start": at(start),
            "observation_stop": at(stop),
            "instrument_mode": mode,
            "plan_version": T0 - timedelta(days=3),
        }
    )


_serial: Iterator[int] = iter(range(10**9))


def product(
    datatake_key: str | None,
    product_type: str,
    start: float | None,
    stop: float | None,
    prip: Iterable[str] = ("S1A-Serco",),
    **extra: Any,
) -> Document:
    """A consolidated product as CONSOLIDATE_PRODUCT writes it (the fields completeness reads)."""
    unit = extra.pop("satellite", "S1A")
    data: dict[str, Any] = {
        "product_key": f"{unit}_{product_type}_{next(_serial):06d}",
        "name_parsed": True,
        "mission": extra.pop("mission", unit[:2] if unit != "S5P" else "S5P"),
        "satellite": unit,
        "product_type": product_type,
        "sensing_start": at(start) if start is not None else None,
        "sensing_stop": at(stop) if stop is not None else None,
        "reference_date": at(start or 0),
        "prip_interfaces": list(prip),
        "datatake_key": datatake_key,
        **extra,
    }
    return PRODUCT.make(data)


def probe(interface: str, minute: int, status: str) -> Document:
    return RAW_INTERFACE_PROBE.make(
        {"interface_name": interface, "probe_time": at(60 * minute), "status": status}
    )


@dataclass
class Call:
    method: str
    family: str
    filters: tuple[Filter, ...] = ()
    ids: int = 0
    returned: int = 0
    outcomes: Counter[tuple[str, Outcome]] = field(default_factory=Counter)


class CountingStore:
    """A real store underneath; records every read (and write outcome) that goes through it."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.calls: list[Call] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def find(
        self, doc_class: DocumentClass, filters: Sequence[Filter] = (), *args: Any, **kw: Any
    ) -> list[Document]:
        found = self.inner.find(doc_class, filters, *args, **kw)
        self.calls.append(Call("find", doc_class.family, tuple(filters), returned=len(found)))
        return found

    def get(self, doc_class: DocumentClass, ids: Sequence[str], *args: Any, **kw: Any) -> dict[str, Document]:
        found = self.inner.get(doc_class, ids, *args, **kw)
        self.calls.append(Call("get", doc_class.family, ids=len(ids), returned=len(found)))
        return found

    def get_with_hashes(
        self, doc_class: DocumentClass, ids: Sequence[str], *args: Any, **kw: Any
    ) -> tuple[dict[str, Document], dict[str, str]]:
        found, hashes = self.inner.get_with_hashes(doc_class, ids, *args, **kw)
        self.calls.append(Call("get_with_hashes", doc_class.family, ids=len(ids), returned=len(found)))
        return found, hashes

    def scan(self, doc_class: DocumentClass, *args: Any, **kw: Any) -> Iterator[Document]:
        self.calls.append(Call("scan", doc_class.family))
        return self.inner.scan(doc_class, *args, **kw)

    def write(self, docs: Iterable[Document], *, expected: Expected = NOTHING_EXPECTED) -> WriteReport:
        docs = list(docs)
        report = self.inner.write(docs, expected=expected)
        families = {d.id: d.doc_class.family for d in docs}
        outcomes = Counter((families[i.id], i.outcome) for i in report.items)
        self.calls.append(Call("write", ",".join(sorted(set(families.values()))), outcomes=outcomes))
        return report

    def refresh(self, doc_class: DocumentClass | None = None) -> None:
        self.calls.append(Call("refresh", doc_class.family if doc_class else "*"))
        self.inner.refresh(doc_class)

    def reads(self, family: str) -> list[Call]:
        reads = ("find", "get", "get_with_hashes", "scan")
        return [c for c in self.calls if c.family == family and c.method in reads]

    def written(self, family: str) -> Counter[Outcome]:
        return Counter(
            {
                o: n
                for c in self.calls
                if c.method == "write"
                for (f, o), n in c.outcomes.items()
                if f == family
            }
        )
