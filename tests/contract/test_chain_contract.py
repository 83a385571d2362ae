"""One engine chain, two deployments: MemoryBus + DuckDB and RabbitMQ + OpenSearch agree.

The two-engine chain of ``tests/chain_catalog.py`` (raw → doubled → tripled) runs on each
backend pair and must produce the same documents — same ids, same data — settle messages the
same way (retries, dead letters with their reasons) and stay quiet on unchanged input.

The embedded side runs :meth:`Chain.run_until_idle`, exactly as ``maas collect`` does. The
distributed side runs the same :class:`Pool` objects in this process, one RabbitMQ connection
each, stepped in turn until the broker holds no message for them (pools as real processes
are tested in tests/integration/test_engine_pool.py). RabbitMQ names carry a suffix unique to
the test; documents get names unique to the test, so the shared OpenSearch families need no
wipe, and they are deleted afterwards.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from chain_catalog import CATALOG, DOUBLED, RAW, TRIPLED, catalog_pool

from maas.bus.base import Bus, Envelope, Failure
from maas.bus.factory import create_bus
from maas.bus.memory import MemoryBroker, MemoryBus
from maas.bus.message import chunk_messages
from maas.config import Settings
from maas.engine.pool import Chain, Pool, StepStats
from maas.engine.routing import RoutingFile
from maas.errors import StoreUnavailable
from maas.model import DocumentClass
from maas.store.base import Outcome, Store, Terms
from maas.store.factory import create_store

BACKENDS = (
    pytest.param("memory+duckdb", marks=pytest.mark.unit),
    pytest.param("rabbitmq+opensearch", marks=pytest.mark.integration),
)
IDLE_ROUNDS = 2  # RabbitMQ delivers asynchronously: idle twice, with empty queues, is idle


@dataclass
class Rig:
    """A deployment of the test chain: store, a bus to publish and inspect, and its pools."""

    settings: Settings
    routing: RoutingFile
    store: Store
    bus: Bus
    run: Callable[[], StepStats]
    prefix: str = field(default_factory=lambda: f"c{uuid.uuid4().hex[:8]}-")
    names: set[str] = field(default_factory=set)

    def collect(self, values: dict[str, int], per_message: int = 25) -> None:
        """What a collector does: durable write, then confirmed publish of the changed ids."""
        named = {self.prefix + name: value for name, value in values.items()}
        self.names |= set(named)
        report = self.store.write([RAW.make({"name": n, "value": v}) for n, v in named.items()])
        for action, outcome in (("new", Outcome.CREATED), ("update", Outcome.UPDATED)):
            items = report.with_outcome(outcome)
            self.announce(action, [i.id for i in items], [i.index for i in items], per_message)

    def announce(self, action: str, ids: list[str], indices: list[str], per_message: int = 25) -> None:
        messages = chunk_messages(RAW.name, ids, indices, per_message) if ids else []
        key = f"{action}.{RAW.family}"
        self.bus.publish([Envelope.of(self.settings.bus.collect_exchange, key, m) for m in messages])

    def documents(self, doc_class: DocumentClass) -> dict[str, dict[str, Any]]:
        """Every document of this test in a family: id -> data."""
        self.store.refresh(doc_class)
        return {d.id: d.data for d in self.store.scan(doc_class, [Terms("name", sorted(self.names))])}

    def queue_name(self, base: str) -> str:
        (name,) = [q.name for p in self.routing.pools.values() for q in p.queues if q.name.startswith(base)]
        return name

    def dead_letters(self, base: str) -> list[tuple[tuple[str, ...], Failure | None]]:
        peeked = self.bus.peek(f"{self.queue_name(base)}.dlq", 100)
        return sorted(((_ids(d.body), d.failure) for d in peeked), key=lambda item: item[0])

    def depths(self) -> dict[str, int]:
        names = [n for q in self.routing.topology(self.settings.bus).queues for n in (q.name, q.dlq)]
        return {s.name: s.messages for s in self.bus.queue_stats(names)}


def _ids(body: bytes) -> tuple[str, ...]:
    try:
        return tuple(sorted(json.loads(body)["document_ids"]))
    except ValueError:  # a poison body has no ids: it sorts first
        return ()


def routing_with_suffix(suffix: str) -> RoutingFile:
    data = yaml.safe_load(CATALOG.routing_file.read_text())
    for pool in data["pools"].values():
        for queue in pool["queues"]:
            queue["name"] = f"{queue['name']}-{suffix}"
    return RoutingFile.model_validate(data)


@pytest.fixture(params=BACKENDS)
def rig(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    suffix = uuid.uuid4().hex[:8]
    routing = routing_with_suffix(suffix)
    if request.param == "memory+duckdb":
        yield from _embedded(tmp_path, routing)
    else:
        settings = _distributed_settings(request, monkeypatch, suffix)
        yield from _distributed(settings, routing)


def _embedded(tmp_path: Path, routing: RoutingFile) -> Iterator[Rig]:
    settings = Settings.model_validate({"store": {"url": f"duckdb:///{tmp_path / 'chain.duckdb'}"}})
    store, bus = create_store(settings), MemoryBus(MemoryBroker(), "contract")
    store.setup(list(CATALOG.models))
    bus.declare(routing.topology(settings.bus))
    chain = Chain(
        [catalog_pool(routing, name, bus, store, bus_settings=settings.bus) for name in routing.pools]
    )
    yield Rig(settings, routing, store, bus, chain.run_until_idle)
    bus.close()
    store.close()


def _distributed_settings(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> Settings:
    amqp = urlsplit(request.getfixturevalue("rabbitmq_url"))
    opensearch_url = request.getfixturevalue("opensearch_url")
    monkeypatch.setenv("MAAS_T_CHAIN_AMQP_PASSWORD", amqp.password or "guest")
    return Settings.model_validate(
        {
            "store": {"url": opensearch_url},
            "bus": {
                "url": f"amqp://{amqp.hostname}:{amqp.port or 5672}{amqp.path or '/'}",
                "username": amqp.username or "guest",
                "password": "env:MAAS_T_CHAIN_AMQP_PASSWORD",
                "collect_exchange": f"collect-{suffix}",
                "etl_exchange": f"etl-{suffix}",
                "prefetch": 100,
            },
        }
    )


def _distributed(settings: Settings, routing: RoutingFile) -> Iterator[Rig]:
    store, bus = create_store(settings), create_bus(settings, "contract-admin")
    store.setup(list(CATALOG.models))
    topology = routing.topology(settings.bus)
    bus.declare(topology)
    pool_buses = {name: create_bus(settings, f"contract-pool-{name}") for name in routing.pools}
    for handle in pool_buses.values():
        handle.declare(topology)  # as `maas engine pool` does: a bus retries by its queues' policies
    pools = [
        catalog_pool(routing, name, b, store, bus_settings=settings.bus) for name, b in pool_buses.items()
    ]
    rig = Rig(settings, routing, store, bus, lambda: _until_idle(pools, rig))
    try:
        yield rig
    finally:
        for handle in pool_buses.values():
            handle.close()
        bus.delete(topology)
        bus.close()
        _forget(store, rig)
        store.close()


def _until_idle(pools: list[Pool], rig: Rig, timeout_s: float = 120) -> StepStats:
    """Step every pool in turn until the broker has nothing left for them (delay queues too)."""
    total, idle, deadline = StepStats(), 0, time.monotonic() + timeout_s
    waiting = [n for q in rig.routing.topology(rig.settings.bus).queues for n in (q.name, *q.delay_queues())]
    while idle < IDLE_ROUNDS:
        assert time.monotonic() < deadline, f"the chain did not settle in {timeout_s} s: {rig.depths()}"
        round_stats = StepStats()
        for pool in pools:
            round_stats.add(pool.step(timeout_s=0.2))
        total.add(round_stats)
        busy = round_stats.deliveries or any(s.messages for s in rig.bus.queue_stats(waiting))
        idle = 0 if busy else idle + 1
    return total


def _forget(store: Store, rig: Rig) -> None:
    """Delete this test's documents from the shared families."""
    if rig.names:
        for doc_class in CATALOG.models:
            ids = list(rig.documents(doc_class))
            if ids:
                store.delete(doc_class, ids)


def expected(rig: Rig, values: dict[str, int]) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the chain must produce: doubled = 2·value, tripled = 3·doubled, ids from the keys."""
    names = {rig.prefix + name: value for name, value in values.items()}
    doubled = {DOUBLED.id_for(n): {"name": n, "doubled": v * 2} for n, v in names.items()}
    tripled = {TRIPLED.id_for(n): {"name": n, "tripled": v * 6} for n, v in names.items()}
    return doubled, tripled


VALUES = {f"p{i:04d}": i for i in range(300)}


def test_the_chain_produces_the_same_documents(rig: Rig) -> None:
    rig.collect(VALUES)
    stats = rig.run()
    doubled, tripled = expected(rig, VALUES)
    assert rig.documents(DOUBLED) == doubled
    assert rig.documents(TRIPLED) == tripled
    assert (stats.dead_lettered, stats.retried) == (0, 0)
    assert stats.deliveries == 300 // 25 + stats.reports  # the raw messages, then the doubler's reports
    assert set(rig.depths().values()) == {0}


def test_changes_flow_through_and_unchanged_input_stays_quiet(rig: Rig) -> None:
    rig.collect({"a": 1, "b": 2, "c": 3})
    rig.run()
    rig.collect({"a": 1, "b": 20, "c": 3})  # only b changed: one update message
    stats = rig.run()
    assert rig.documents(TRIPLED) == expected(rig, {"a": 1, "b": 20, "c": 3})[1]
    assert (stats.deliveries, stats.reports) == (2, 1)  # update.test-raw, then update.test-doubled
    a = rig.prefix + "a"
    rig.announce("update", [RAW.id_for(a)], [RAW.make({"name": a, "value": 1}).index])
    quiet = rig.run()
    assert (quiet.deliveries, quiet.acked, quiet.reports) == (1, 1, 0)


def test_poison_and_permanent_errors_dead_letter_alike(rig: Rig) -> None:
    rig.collect({"fine": 1, "evil": 666}, per_message=1)  # TEST_DOUBLE refuses 666
    rig.bus.publish([Envelope(rig.settings.bus.collect_exchange, f"new.{RAW.family}", b"{oops")])
    stats = rig.run()
    assert rig.documents(TRIPLED) == expected(rig, {"fine": 1})[1]
    assert stats.dead_lettered == 2
    (poison_ids, poison), (evil_ids, evil) = rig.dead_letters("test.double")
    assert poison_ids == () and poison is not None and poison.reason.startswith("poison message: invalid")
    assert evil_ids == (RAW.id_for(rig.prefix + "evil"),)
    assert evil is not None and "value 666 is refused by TEST_DOUBLE" in evil.reason
    assert (poison.attempts, evil.attempts) == (1, 1)  # permanent: dead-lettered at once, no retry


def test_transient_store_failures_retry_through_the_delay_queues(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig.collect({"x": 7, "y": 8}, per_message=2)
    real_get, failures = rig.store.get, []

    def flaky_get(*args: Any, **kwargs: Any) -> Any:
        if len(failures) < 2:  # the first two loads fail: attempt 3 of max 3 succeeds
            failures.append(1)
            raise StoreUnavailable("store down for the test")
        return real_get(*args, **kwargs)

    monkeypatch.setattr(rig.store, "get", flaky_get)
    stats = rig.run()
    assert (stats.retried, stats.dead_lettered) == (2, 0)
    assert rig.documents(TRIPLED) == expected(rig, {"x": 7, "y": 8})[1]
    assert set(rig.depths().values()) == {0}
