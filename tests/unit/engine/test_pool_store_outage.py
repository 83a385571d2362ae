"""A running pool holds its batch through a store outage instead of spending its attempts.

The store double is the DuckDB store whose reads fail with ``StoreUnavailable`` (what
OpenSearch raises when it cannot be reached) until the test lets them through.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pytest
from chain_catalog import CATALOG, DOUBLED, RAW

from maas.bus.base import Envelope
from maas.bus.memory import MemoryBroker, MemoryBus
from maas.bus.message import chunk_messages
from maas.config.settings import BusSettings
from maas.engine import pool as pool_module
from maas.engine.pool import Pool
from maas.engine.routing import load_routing
from maas.errors import StoreRefused, StoreUnavailable
from maas.model import Document, DocumentClass
from maas.store.duckdb import DuckDBStore

pytestmark = pytest.mark.unit
BUS = BusSettings()
QUEUE = "test.double"


class FlakyStore(DuckDBStore):
    """Unreachable for its first ``outage`` reads; refusing our login while ``refusing``."""

    outage = 0
    refusing = False

    def get(
        self, doc_class: DocumentClass, ids: Sequence[str], indices: Sequence[str] | None = None
    ) -> dict[str, Document]:
        if self.refusing:
            raise StoreRefused("http://opensearch:9200 refused the login of user 'maas' (401)")
        if self.outage:
            self.outage -= 1
            raise StoreUnavailable("http://opensearch:9200: cannot connect (Connection refused)")
        return super().get(doc_class, ids, indices)


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool_module, "BUS_BACKOFF_FIRST_S", 0.01)


@dataclass
class Doubler:
    """The doubler pool on a memory bus, five messages of one document waiting for it."""

    broker: MemoryBroker
    bus: MemoryBus
    store: FlakyStore
    pool: Pool


@pytest.fixture
def doubler(
    catalog_store: Callable[[type[FlakyStore]], FlakyStore], catalog_pool: Callable[..., Pool]
) -> Doubler:
    broker = MemoryBroker()
    bus = MemoryBus(broker, "pool")
    store = catalog_store(FlakyStore)
    routing = load_routing(CATALOG.routing_file, CATALOG.engines)
    bus.declare(routing.topology(BUS))
    report = store.write([RAW.make({"name": f"n{i}", "value": i}) for i in range(5)])
    messages = chunk_messages(RAW.name, [i.id for i in report.changed], [i.index for i in report.changed], 1)
    bus.publish([Envelope.of(BUS.collect_exchange, "new.test-raw", m) for m in messages])
    return Doubler(broker, bus, store, catalog_pool(routing, "doubler", bus, store))


def until(condition: Callable[[], bool], seconds: float = 10.0) -> Callable[[], bool]:
    """A stop for run(): once ``condition`` holds, or after ``seconds`` (a failing test ends)."""
    deadline = time.monotonic() + seconds
    return lambda: condition() or time.monotonic() > deadline


def test_an_outage_longer_than_the_retry_policy_dead_letters_nothing(
    doubler: Doubler, caplog: pytest.LogCaptureFixture
) -> None:
    """max_attempts is 3: without holding, the fourth failed read would dead-letter the batch."""
    store = doubler.store
    store.outage = 6
    stats = doubler.pool.run(until(lambda: store.count(DOUBLED) == 5))
    assert (stats.acked, stats.retried, stats.dead_lettered) == (5, 0, 0)
    assert store.outage == 0 and store.count(DOUBLED) == 5
    assert doubler.bus.peek(f"{QUEUE}.dlq", 10) == []
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert said[0] == "queue test.double: 5 message(s) held until the store answers (no attempt spent)"
    assert len(said) == 7 and all("Connection refused" in line for line in said[1:])


def test_a_stop_during_the_outage_leaves_the_batch_to_the_broker(doubler: Doubler) -> None:
    doubler.store.outage = 1_000_000
    stats = doubler.pool.run(until(lambda: False, seconds=0.5))
    assert (stats.acked, stats.retried, stats.dead_lettered) == (0, 0, 0)
    doubler.bus.close()  # what the process's exit does: the unacked batch goes back, attempts unspent
    back = MemoryBus(doubler.broker, "next").peek(QUEUE, 10)
    assert len(back) == 5 and {d.attempts for d in back} == {0}


def test_the_embedded_chain_still_retries_through_the_delay_queues(doubler: Doubler) -> None:
    """Outside run() nothing could stop a wait (replay, collect run until idle)."""
    doubler.store.outage = 1
    stats = doubler.pool.step(timeout_s=0)
    assert stats.retried == 5 and stats.acked == 0


def test_a_store_refusing_our_login_ends_the_pool_and_dead_letters_nothing(doubler: Doubler) -> None:
    """Credentials revoked or rotated under a running pool are a setting to fix, not something the
    messages did: the pool ends (exit 2, no restart loop under systemd) and they wait unacked."""
    doubler.store.refusing = True
    with pytest.raises(StoreRefused, match="refused the login"):
        doubler.pool.run(until(lambda: False, seconds=5))
    doubler.bus.close()
    assert MemoryBus(doubler.broker, "next").peek(f"{QUEUE}.dlq", 10) == []
    back = MemoryBus(doubler.broker, "next").peek(QUEUE, 10)
    assert len(back) == 5 and {d.attempts for d in back} == {0}


def test_the_held_batch_keeps_answering_the_broker(doubler: Doubler, monkeypatch: pytest.MonkeyPatch) -> None:
    """A broker drops a connection silent for two heartbeats, and redelivers what it held."""
    calls: list[None] = []
    monkeypatch.setattr(doubler.bus, "keep_alive", lambda: calls.append(None))
    doubler.store.outage = 3
    doubler.pool.run(until(lambda: doubler.store.count(DOUBLED) == 5))
    assert calls, "the pool waited for the store without keeping its connection alive"
