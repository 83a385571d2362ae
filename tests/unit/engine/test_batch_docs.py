"""A batch is bounded in documents too: many messages of many ids are loaded in several parts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pydantic
import pytest
import yaml
from chain_catalog import CATALOG, DOUBLED, RAW

from maas.bus.base import Envelope
from maas.bus.memory import MemoryBroker, MemoryBus
from maas.bus.message import chunk_messages
from maas.config.settings import BusSettings
from maas.engine.pool import Hooks, Pool
from maas.engine.processor import BatchResult
from maas.engine.routing import RoutingFile
from maas.errors import StoreUnavailable
from maas.model import Document, DocumentClass
from maas.store.duckdb import DuckDBStore

pytestmark = pytest.mark.unit
BUS = BusSettings()
QUEUE = "test.double"
PoolMaker = Callable[..., Pool]


class SpyStore(DuckDBStore):
    """Counts the ids of every load of raw documents; can fail one load (store down)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.loads: list[int] = []
        self.fail_load: int | None = None

    def get(
        self, doc_class: DocumentClass, ids: Sequence[str], indices: Sequence[str] | None = None
    ) -> dict[str, Document]:
        if doc_class is RAW:
            self.loads.append(len(ids))
            if len(self.loads) == self.fail_load:
                raise StoreUnavailable("store down for one load")
        return super().get(doc_class, ids, indices)


class Batches(Hooks):
    def __init__(self) -> None:
        self.messages: list[int] = []

    def batch_done(self, queue: str, result: BatchResult, messages: int, seconds: float) -> None:
        self.messages.append(messages)


@pytest.fixture
def store(catalog_store: Callable[[type[SpyStore]], SpyStore]) -> SpyStore:
    return catalog_store(SpyStore)


def routing(max_batch_docs: int) -> RoutingFile:
    data = yaml.safe_load(CATALOG.routing_file.read_text())
    (queue,) = data["pools"]["doubler"]["queues"]
    queue.update(batch_size=500, max_batch_docs=max_batch_docs)
    return RoutingFile.model_validate(data)


def declared(bus: MemoryBus, max_batch_docs: int) -> RoutingFile:
    file = routing(max_batch_docs)
    bus.declare(file.topology(BUS))
    return file


def collect(store: SpyStore, bus: MemoryBus, count: int, per_message: int) -> None:
    report = store.write([RAW.make({"name": f"p{i}", "value": i}) for i in range(1000, 1000 + count)])
    ids, indices = [i.id for i in report.changed], [i.index for i in report.changed]
    messages = chunk_messages(RAW.name, ids, indices, per_message)
    bus.publish([Envelope.of(BUS.collect_exchange, "new.test-raw", m) for m in messages])


def left_in_queue(bus: MemoryBus) -> int:
    """Closing the handle requeues whatever it had not settled."""
    bus.close()
    return bus.queue_stats([QUEUE])[0].messages


def test_one_fetch_is_processed_in_bounded_loads_each_settled_once(
    store: SpyStore, catalog_pool: PoolMaker
) -> None:
    bus, hooks = MemoryBus(MemoryBroker(), "test"), Batches()
    pool = catalog_pool(declared(bus, 250), "doubler", bus, store, hooks)
    collect(store, bus, 1000, per_message=100)
    stats = pool.step(timeout_s=0)
    assert stats.deliveries == 10 and stats.acked == 10
    assert store.loads == [200] * 5  # two messages of 100 ids fit, a third would not
    assert hooks.messages == [2] * 5
    assert store.count(DOUBLED) == 1000
    assert left_in_queue(bus) == 0


def test_a_message_larger_than_the_bound_is_loaded_alone(store: SpyStore, catalog_pool: PoolMaker) -> None:
    bus = MemoryBus(MemoryBroker(), "test")
    pool = catalog_pool(declared(bus, 250), "doubler", bus, store)
    collect(store, bus, 1000, per_message=300)
    stats = pool.step(timeout_s=0)
    assert stats.acked == 4
    assert store.loads == [300, 300, 300, 100]
    assert store.count(DOUBLED) == 1000


def test_a_failed_load_retries_only_its_own_messages(store: SpyStore, catalog_pool: PoolMaker) -> None:
    bus = MemoryBus(MemoryBroker(), "test")
    pool = catalog_pool(declared(bus, 250), "doubler", bus, store)
    collect(store, bus, 1000, per_message=100)
    store.fail_load = 2
    stats = pool.step(timeout_s=0)
    assert (stats.acked, stats.retried) == (8, 2)
    assert store.count(DOUBLED) == 800
    assert left_in_queue(bus) == 0  # the two failed ones wait in a delay queue


def test_under_the_bound_a_batch_is_one_load(store: SpyStore, catalog_pool: PoolMaker) -> None:
    bus = MemoryBus(MemoryBroker(), "test")
    pool = catalog_pool(declared(bus, 20_000), "doubler", bus, store)
    collect(store, bus, 1000, per_message=100)
    assert pool.step(timeout_s=0).acked == 10
    assert store.loads == [1000]


def test_max_batch_docs_is_validated() -> None:
    with pytest.raises(pydantic.ValidationError, match="max_batch_docs"):
        routing(0)
