"""The CDS catalog's real engine chain on the embedded backends (MemoryBus + DuckDB), for tests.

``CdsChain.collect`` does what a collector does (write raw documents, publish the changed ones
on the collect exchange); ``run`` drives every pool of ``cds/config/routing.yaml`` until idle.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cds.catalog import CATALOG
from maas.bus.base import Envelope
from maas.bus.memory import MemoryBroker, MemoryBus
from maas.bus.message import chunk_messages
from maas.config.settings import BusSettings
from maas.engine.pool import Chain, StepStats
from maas.engine.routing import load_routing
from maas.model import Document, DocumentClass
from maas.store.base import Outcome
from maas.store.duckdb import DuckDBStore

BUS = BusSettings()
_ACTIONS = {Outcome.CREATED: "new", Outcome.UPDATED: "update"}


def utc(text: str) -> datetime:
    """``"2021-12-06T12:21:50"`` → an aware UTC datetime (tests write plain ISO text)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class CdsChain:
    def __init__(self, path: Path) -> None:
        self.store = DuckDBStore(path)
        self.store.setup(list(CATALOG.models))
        self.bus = MemoryBus(MemoryBroker(), "test")
        assert CATALOG.routing_file is not None
        routing = load_routing(CATALOG.routing_file, CATALOG.engines)
        self.bus.declare(routing.topology(BUS))
        self.chain = Chain.from_routing(
            routing,
            bus=self.bus,
            store=self.store,
            models=CATALOG.models,
            engines=CATALOG.engines,
            bus_settings=BUS,
        )

    def collect(
        self, doc_class: DocumentClass, raws: Iterable[Mapping[str, Any]], again: bool = False
    ) -> None:
        """Write raw documents and publish the created/updated ones, as a collector does;
        ``again`` also publishes the unchanged ones (as updates), as a replay would."""
        report = self.store.write([doc_class.make(raw) for raw in raws])
        for outcome, action in _ACTIONS.items():
            wanted = (outcome, Outcome.UNCHANGED) if again and outcome is Outcome.UPDATED else (outcome,)
            items = report.with_outcome(*wanted)
            messages = chunk_messages(doc_class.name, [i.id for i in items], [i.index for i in items])
            key = f"{action}.{doc_class.family}"
            self.bus.publish([Envelope.of(BUS.collect_exchange, key, m) for m in messages])

    def run(self) -> StepStats:
        stats = self.chain.run_until_idle()
        assert stats.dead_lettered == 0, "a message was dead-lettered"
        return stats

    def feed(
        self, doc_class: DocumentClass, raws: Iterable[Mapping[str, Any]], again: bool = False
    ) -> StepStats:
        self.collect(doc_class, raws, again)
        return self.run()

    def docs(self, doc_class: DocumentClass) -> list[Document]:
        return list(self.store.scan(doc_class))

    def by(self, doc_class: DocumentClass, field: str) -> dict[Any, dict[str, Any]]:
        """Every stored document of a class, by one of its fields."""
        return {doc.data[field]: doc.data for doc in self.store.scan(doc_class)}

    def close(self) -> None:
        self.store.close()


def raw_product(name: str, interface: str, published: str, **extra: Any) -> dict[str, Any]:
    """A raw OData product as the default collector config extracts it."""
    return {"interface_name": interface, "name": name, "publication_date": utc(published), **extra}


def plan_row(satellite: str, ident: str, start: str, stop: str, plan: str, **extra: Any) -> dict[str, Any]:
    """One mission-plan row; ``plan`` is the application date (the version), also the file name."""
    return {
        "satellite": satellite,
        "datatake_id": ident,
        "observation_start": utc(start),
        "observation_stop": utc(stop),
        "plan_application_date": utc(plan),
        "plan_file_name": f"{satellite}_MP_{plan.replace('-', '').replace(':', '')}.csv",
        **extra,
    }
