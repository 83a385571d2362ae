"""The engine framework end to end on the embedded backends (MemoryBus + DuckDB)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import chain_catalog
import pytest
from chain_catalog import CATALOG, DOUBLED, RAW, TRIPLED
from prometheus_client import CollectorRegistry

from maas.bus.base import Envelope
from maas.bus.memory import MemoryBroker, MemoryBus
from maas.bus.message import chunk_messages
from maas.config import Settings
from maas.config.settings import BusSettings
from maas.engine.pool import Chain, Hooks, Pool
from maas.engine.routing import load_routing
from maas.errors import ConfigError, StoreUnavailable
from maas.model import Document
from maas.observe import PoolMetrics
from maas.store.base import NOTHING_EXPECTED, Expected, ItemResult, Outcome, WriteReport
from maas.store.duckdb import DuckDBStore

pytestmark = pytest.mark.unit
BUS = BusSettings()


@pytest.fixture
def store(tmp_path: Path) -> DuckDBStore:
    store = DuckDBStore(tmp_path / "chain.duckdb")
    store.setup(list(CATALOG.models))
    yield store
    store.close()


@pytest.fixture
def bus() -> MemoryBus:
    return MemoryBus(MemoryBroker(), "test")


def make_chain(store: DuckDBStore, bus: MemoryBus, hooks: Hooks | None = None) -> Chain:
    routing = load_routing(CATALOG.routing_file, CATALOG.engines)
    bus.declare(routing.topology(BUS))
    return Chain(
        [chain_catalog.catalog_pool(routing, name, bus, store, hooks, BUS) for name in routing.pools]
    )


def collect(store: DuckDBStore, bus: MemoryBus, values: dict[str, int], per_message: int = 100) -> None:
    """What a collector does: write raw documents, publish their ids on the collect exchange."""
    docs = [RAW.make({"name": name, "value": value}) for name, value in values.items()]
    report = store.write(docs)
    changed = report.changed
    messages = chunk_messages(RAW.name, [i.id for i in changed], [i.index for i in changed], per_message)
    bus.publish([Envelope.of(BUS.collect_exchange, "new.test-raw", m) for m in messages])


def tripled(store: DuckDBStore) -> dict[str, int]:
    return {d.data["name"]: d.data["tripled"] for d in store.scan(TRIPLED)}


def test_two_engine_chain_processes_every_document(store: DuckDBStore, bus: MemoryBus) -> None:
    chain = make_chain(store, bus)
    collect(store, bus, {f"p{i}": i for i in range(1000, 2000)})
    stats = chain.run_until_idle()
    assert tripled(store) == {f"p{i}": i * 6 for i in range(1000, 2000)}
    assert stats.dead_lettered == 0 and stats.retried == 0
    assert store.count(DOUBLED) == 1000


def test_same_data_again_is_quiet(store: DuckDBStore, bus: MemoryBus) -> None:
    chain = make_chain(store, bus)
    collect(store, bus, {"a": 1, "b": 2})
    chain.run_until_idle()
    messages = chunk_messages(RAW.name, [RAW.id_for("a"), RAW.id_for("b")], ["test-raw-all"] * 2)
    bus.publish([Envelope.of(BUS.collect_exchange, "new.test-raw", m) for m in messages])
    stats = chain.run_until_idle()
    assert stats.acked == 1  # the raw message; its outputs were unchanged: no report, no second hop
    assert stats.reports == 0


def test_poison_message_is_dead_lettered_with_reason(store: DuckDBStore, bus: MemoryBus) -> None:
    chain = make_chain(store, bus)
    bus.publish([Envelope(BUS.collect_exchange, "new.test-raw", b"{not json")])
    stats = chain.run_until_idle()
    assert stats.dead_lettered == 1
    (dead,) = bus.peek("test.double.dlq", 10)
    assert dead.failure is not None and "poison message" in dead.failure.reason


def test_permanent_error_isolates_the_guilty_message(store: DuckDBStore, bus: MemoryBus) -> None:
    chain = make_chain(store, bus)
    collect(store, bus, {"good1": 1, "bad": 666, "good2": 2}, per_message=1)
    stats = chain.run_until_idle()
    assert set(tripled(store)) == {"good1", "good2"}
    assert stats.dead_lettered == 1
    (dead,) = bus.peek("test.double.dlq", 10)
    assert dead.failure is not None and "666 is refused" in dead.failure.reason
    assert dead.message().document_ids == (RAW.id_for("bad"),)


def test_transient_error_retries_then_dead_letters(
    store: DuckDBStore, bus: MemoryBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain = make_chain(store, bus)
    collect(store, bus, {"x": 1})

    def down(*_args: object, **_kwargs: object) -> None:
        raise StoreUnavailable("store down for the test")

    monkeypatch.setattr(store, "get", down)
    stats = chain.run_until_idle()
    assert stats.retried == 2 and stats.dead_lettered == 1  # max_attempts: 3
    (dead,) = bus.peek("test.double.dlq", 10)
    assert dead.failure is not None and dead.failure.attempts == 3
    assert "store down" in dead.failure.reason


class Settled(PoolMetrics):
    """The pool's metrics, and the reason of every retry and dead letter."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        super().__init__(self.registry, "test")
        self.reasons: list[str] = []

    def retried(self, queue: str, count: int, reason: str, conflict: bool = False) -> None:
        super().retried(queue, count, reason, conflict)
        self.reasons.append(reason)

    def dead_lettered(self, queue: str, count: int, reason: str) -> None:
        super().dead_lettered(queue, count, reason)
        self.reasons.append(reason)

    def settled(self) -> dict[str, float]:
        """Messages of the doubler's queue retried, by cause, and dead-lettered."""
        queue = {"pool": "test", "queue": "test.double"}
        counted = {
            f"retried ({cause})": ("maas_messages_retried_total", queue | {"cause": cause})
            for cause in ("conflict", "transient")
        }
        counted["dead-lettered"] = ("maas_messages_dead_lettered_total", queue)
        found = {how: self.registry.get_sample_value(*sample) for how, sample in counted.items()}
        return {how: value for how, value in found.items() if value}


@pytest.mark.parametrize(
    ("outcome", "settled", "reason"),
    [
        (
            Outcome.CONFLICT,
            "retried (conflict)",
            "1 aggregate(s) changed by another writer since read: retrying",
        ),
        (Outcome.RETRYABLE, "retried (transient)", "1 document(s) could not be written yet: refused once"),
        (Outcome.PERMANENT, "dead-lettered", "1 document(s) refused by the store: refused once"),
    ],
)
def test_what_a_refused_write_does_to_its_batch(
    store: DuckDBStore,
    bus: MemoryBus,
    monkeypatch: pytest.MonkeyPatch,
    outcome: Outcome,
    settled: str,
    reason: str,
) -> None:
    """A conflict is retried through the delay queue like a store that could not write yet,
    never dead-lettered on its first try, reported downstream only once written, and counted
    apart in the metrics (with several replicas, a few are expected)."""
    hooks = Settled()
    chain = make_chain(store, bus, hooks)
    collect(store, bus, {"x": 1})
    real_write, refused = store.write, list[Document]()

    def refuse_once(docs: Iterable[Document], *, expected: Expected = NOTHING_EXPECTED) -> WriteReport:
        docs = list(docs)
        if refused or docs[0].doc_class is not DOUBLED:
            return real_write(docs, expected=expected)
        refused.extend(docs)
        return WriteReport([ItemResult(d.id, d.index, outcome, "refused once") for d in docs])

    monkeypatch.setattr(store, "write", refuse_once)
    stats = chain.run_until_idle()
    (why,) = hooks.reasons
    assert reason in why and hooks.settled() == {settled: 1.0}
    retried = settled.startswith("retried")
    assert (stats.retried, stats.dead_lettered) == (int(retried), int(not retried))
    assert stats.reports == int(retried), "one report, of the document once written"
    assert tripled(store) == ({"x": 6} if retried else {})


def test_exhausted_retries_are_counted_and_logged_as_dead_letters(
    store: DuckDBStore, bus: MemoryBus, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The last attempt goes to the DLQ: the metrics and the log must say so, not "to retry"."""
    hooks = Settled()
    chain = make_chain(store, bus, hooks)
    collect(store, bus, {"x": 1})
    real_write = store.write

    def never_yet(docs: Iterable[Document], *, expected: Expected = NOTHING_EXPECTED) -> WriteReport:
        docs = list(docs)
        if docs[0].doc_class is not DOUBLED:
            return real_write(docs, expected=expected)
        return WriteReport([ItemResult(d.id, d.index, Outcome.RETRYABLE, "index blocked") for d in docs])

    monkeypatch.setattr(store, "write", never_yet)
    stats = chain.run_until_idle()
    assert (stats.retried, stats.dead_lettered) == (2, 1)  # max_attempts: 3
    assert hooks.settled() == {"retried (transient)": 2.0, "dead-lettered": 1.0}
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors == [
        "queue test.double: 1 message(s) dead-lettered, retries exhausted: "
        "1 document(s) could not be written yet: index blocked"
    ]
    warnings = [r.getMessage() for r in caplog.records if "to retry" in r.getMessage()]
    assert len(warnings) == 2


def test_replayed_dead_letter_is_processed_after_the_fix(
    store: DuckDBStore, bus: MemoryBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain = make_chain(store, bus)
    collect(store, bus, {"x": 1})
    real_get = store.get
    monkeypatch.setattr(store, "get", lambda *a, **k: (_ for _ in ()).throw(StoreUnavailable("down")))
    chain.run_until_idle()
    monkeypatch.setattr(store, "get", real_get)
    assert bus.replay("test.double.dlq") == 1
    chain.run_until_idle()
    assert tripled(store) == {"x": 6}


def test_a_routing_file_declares_the_exchanges_the_readme_names_by_default() -> None:
    """Brokers already hold bindings on these names: a changed default would strand them."""
    topology = load_routing(CATALOG.routing_file, CATALOG.engines).topology(Settings().bus)
    assert sorted(topology.exchanges) == ["collect", "etl"]
    readme = (Path(__file__).parents[3] / "README.md").read_text()
    assert "collect_exchange: collect" in readme and "etl_exchange: etl" in readme


def test_crash_after_write_before_reports_loses_nothing_downstream(store: DuckDBStore) -> None:
    """The doubler writes its outputs, then dies before publishing its reports. On redelivery
    the outputs are unchanged, yet their reports must go out: the tripler still gets them."""
    broker = MemoryBroker()
    crashed = MemoryBus(broker, "crashed")
    chain = make_chain(store, crashed)
    collect(store, crashed, {f"c{i}": i for i in range(1000, 1100)})
    real_publish = crashed.publish

    def die_on_reports(envelopes: list[Envelope]) -> None:
        if any(e.exchange == BUS.etl_exchange for e in envelopes):
            raise SystemExit("killed between the write and the reports")
        real_publish(envelopes)

    crashed.publish = die_on_reports  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        chain.run_until_idle()
    assert store.count(DOUBLED) == 100 and store.count(TRIPLED) == 0
    crashed.close()  # the dead process's unacked deliveries go back, marked redelivered
    restarted = make_chain(store, MemoryBus(broker, "restarted"))
    restarted.run_until_idle()
    assert tripled(store) == {f"c{i}": i * 6 for i in range(1000, 1100)}


def metered_doubler(
    store: DuckDBStore, bus: MemoryBus, catalog_pool: Callable[..., Pool]
) -> tuple[Pool, CollectorRegistry]:
    """The doubler pool with its Prometheus metrics, as ``maas engine pool doubler`` runs it."""
    routing = load_routing(CATALOG.routing_file, CATALOG.engines)
    bus.declare(routing.topology(BUS))
    registry = CollectorRegistry()
    return catalog_pool(routing, "doubler", bus, store, PoolMetrics(registry, "doubler")), registry


def test_running_pool_samples_queue_depths_into_its_metrics(
    store: DuckDBStore, bus: MemoryBus, catalog_pool: Callable[..., Pool]
) -> None:
    pool, registry = metered_doubler(store, bus, catalog_pool)
    collect(store, bus, {"q1": 1001, "q2": 1002})
    steps = iter(range(3))
    pool.run(lambda: next(steps, None) is None)
    depth = registry.get_sample_value("maas_queue_messages", {"pool": "doubler", "queue": "test.double"})
    dlq = registry.get_sample_value("maas_queue_messages", {"pool": "doubler", "queue": "test.double.dlq"})
    consumed = registry.get_sample_value(
        "maas_messages_consumed_total", {"pool": "doubler", "queue": "test.double"}
    )
    assert (depth, dlq, consumed) == (0.0, 0.0, 1.0)


def test_an_unknown_pool_names_the_routing_file_read(
    store: DuckDBStore, bus: MemoryBus, catalog_pool: Callable[..., Pool]
) -> None:
    """A host may hold several routing files (packaged, ``routing_file``): say which was read."""
    routing = load_routing(CATALOG.routing_file, CATALOG.engines)
    with pytest.raises(ConfigError) as raised:
        catalog_pool(routing, "products", bus, store)
    assert str(raised.value) == (
        f"pool 'products' is not in the routing file {CATALOG.routing_file} (pools: doubler, tripler)"
    )


def test_a_started_pool_exposes_its_counters_at_zero(
    store: DuckDBStore, bus: MemoryBus, catalog_pool: Callable[..., Pool]
) -> None:
    """``increase()`` over a series born at 1 is 0: the first dead letter would go unseen."""
    pool, registry = metered_doubler(store, bus, catalog_pool)
    pool.run(lambda: True)
    labels = {"pool": "doubler", "queue": "test.double"}
    counters = [
        ("maas_messages_consumed_total", labels),
        ("maas_documents_processed_total", labels),
        ("maas_documents_written_total", labels),
        ("maas_messages_dead_lettered_total", labels),
        ("maas_messages_handed_back_total", labels),
        ("maas_messages_retried_total", labels | {"cause": "conflict"}),
        ("maas_messages_retried_total", labels | {"cause": "transient"}),
    ]
    assert [registry.get_sample_value(*counter) for counter in counters] == [0.0] * len(counters)
