"""A message that kills the engine process is isolated, counted across restarts and dead-lettered.

A death is simulated by an exception no handler of the pool catches, followed by closing the
pool's bus handle without acking: what the broker sees of a process that dies (its unacked
deliveries come back with ``redelivered=True``). The next "process" is a new handle and pool.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import chain_catalog
import pytest
import yaml
from chain_catalog import CATALOG, DOUBLED, RAW

from maas.bus.base import H_QUEUE, Delivery, Envelope, solo_envelope
from maas.bus.memory import MemoryBroker, MemoryBus
from maas.bus.message import Message, chunk_messages
from maas.config.settings import BusSettings
from maas.engine.pool import MAX_SOLO_CRASHES, Hooks, Pool
from maas.engine.processor import BatchResult
from maas.engine.routing import RoutingFile
from maas.errors import BusError
from maas.model import Document, DocumentClass
from maas.store.base import NOTHING_EXPECTED, Expected, WriteReport
from maas.store.duckdb import DuckDBStore

pytestmark = pytest.mark.unit
BUS = BusSettings()
QUEUE, REPORTS = "test.double", "test.triple"
CRASH = 777
PoolMaker = Callable[..., Pool]


class Died(BaseException):
    """The process is gone: nothing of the pool may catch it (a ``BaseException``)."""


class SpyStore(DuckDBStore):
    """Records the size of every load of raw documents and every doubled document written."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.loads: list[int] = []
        self.written: list[str] = []

    def get(
        self, doc_class: DocumentClass, ids: Sequence[str], indices: Sequence[str] | None = None
    ) -> dict[str, Document]:
        if doc_class is RAW:
            self.loads.append(len(ids))
        return super().get(doc_class, ids, indices)

    def write(self, documents: Iterable[Document], *, expected: Expected = NOTHING_EXPECTED) -> WriteReport:
        documents = list(documents)
        self.written += [d.data["name"] for d in documents if d.doc_class is DOUBLED]
        return super().write(documents, expected=expected)


class Batches(Hooks):
    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.handed: list[tuple[str, int]] = []

    def batch_done(self, queue: str, result: BatchResult, messages: int, seconds: float) -> None:
        self.sizes.append(messages)

    def handed_back(self, queue: str, count: int) -> None:
        self.handed.append((queue, count))


@pytest.fixture(autouse=True)
def crash_is_an_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    def die() -> None:
        raise Died("the engine process died")

    monkeypatch.setattr(chain_catalog, "die", die)


@pytest.fixture
def store(catalog_store: Callable[[type[SpyStore]], SpyStore]) -> SpyStore:
    return catalog_store(SpyStore)


@pytest.fixture
def broker() -> MemoryBroker:
    broker = MemoryBroker()
    MemoryBus(broker).declare(routing().topology(BUS))
    return broker


def routing(single_active: bool = False) -> RoutingFile:
    data = yaml.safe_load(CATALOG.routing_file.read_text())
    (queue,) = data["pools"]["doubler"]["queues"]
    queue["engines"][0]["args"]["crash_value"] = CRASH
    queue["single_active_consumer"] = single_active
    return RoutingFile.model_validate(data)


def collect(store: SpyStore, broker: MemoryBroker, names: dict[str, int]) -> list[Message]:
    """One message per document (a crash then takes several messages down together)."""
    report = store.write([RAW.make({"name": n, "value": v}) for n, v in names.items()])
    ids, indices = [i.id for i in report.changed], [i.index for i in report.changed]
    messages = chunk_messages(RAW.name, ids, indices, per_message=1)
    MemoryBus(broker).publish([Envelope.of(BUS.collect_exchange, "new.test-raw", m) for m in messages])
    return messages


def live(broker: MemoryBroker, store: SpyStore, catalog_pool: PoolMaker, hooks: Hooks | None = None) -> bool:
    """One life of a pool process: run until idle (True) or until it dies (False)."""
    bus = MemoryBus(broker, client_name="pool")
    pool = catalog_pool(routing(), "doubler", bus, store, hooks)
    try:
        while pool.step(timeout_s=0).deliveries:
            pass
    except Died:
        return False
    finally:
        bus.close()  # after a death: the unacked deliveries go back, redelivered
    return True


def head(broker: MemoryBroker, queue: str = QUEUE) -> list[Delivery]:
    return MemoryBus(broker).peek(queue, 100)


def doubled(store: SpyStore) -> set[str]:
    return {d.data["name"] for d in store.scan(DOUBLED)}


def test_a_redelivered_message_is_processed_apart_from_the_fresh_ones(
    broker: MemoryBroker, store: SpyStore, catalog_pool: PoolMaker
) -> None:
    collect(store, broker, {"first": 1})
    dying = MemoryBus(broker)
    assert len(dying.fetch([QUEUE], 10, 0)) == 1
    dying.close()  # its consumer died holding it
    collect(store, broker, {f"n{i}": i for i in range(4)})
    hooks = Batches()
    pool = catalog_pool(routing(), "doubler", MemoryBus(broker), store, hooks)

    first = pool.step(timeout_s=0)
    (copy,) = head(broker)
    assert (first.deliveries, first.handed_back, first.acked, hooks.sizes) == (5, 1, 4, [4])
    assert (copy.solo_attempts, copy.redelivered, copy.routing_key) == (0, False, "new.test-raw")
    assert copy.message().document_ids == (RAW.id_for("first"),)

    second = pool.step(timeout_s=0)
    assert (second.deliveries, second.acked, second.reports, hooks.sizes) == (1, 1, 1, [4, 1])
    assert doubled(store) == {"first", "n0", "n1", "n2", "n3"}
    assert head(broker) == [] and head(broker, f"{QUEUE}.dlq") == []
    reported = {i for d in head(broker, REPORTS) for i in d.message().document_ids}
    assert reported == {DOUBLED.id_for(n) for n in ("first", "n0", "n1", "n2", "n3")}


def test_messages_handed_back_by_a_stopped_consumer_are_processed_together(
    broker: MemoryBroker, store: SpyStore, catalog_pool: PoolMaker
) -> None:
    """A stop or a lost connection hands the whole unacked window back, flagged redelivered:
    one more batch for all of them, not one batch per message."""
    collect(store, broker, {f"n{i}": i for i in range(6)})
    stopped = MemoryBus(broker)
    assert len(stopped.fetch([QUEUE], 10, 0)) == 6
    stopped.close()
    hooks = Batches()
    pool = catalog_pool(routing(), "doubler", MemoryBus(broker), store, hooks)

    first = pool.step(timeout_s=0)
    assert (first.deliveries, first.handed_back, hooks.sizes, hooks.handed) == (6, 6, [], [(QUEUE, 6)])
    assert [d.solo_attempts for d in head(broker)] == [0] * 6
    second = pool.step(timeout_s=0)
    assert (second.deliveries, second.acked, hooks.sizes) == (6, 6, [6])
    assert sorted(store.written) == [f"n{i}" for i in range(6)]
    assert head(broker) == [] and head(broker, f"{QUEUE}.dlq") == []


def test_a_message_that_kills_the_process_alone_is_dead_lettered(
    broker: MemoryBroker, store: SpyStore, catalog_pool: PoolMaker, caplog: pytest.LogCaptureFixture
) -> None:
    """One death in the batch, one with the others handed back, then MAX_SOLO_CRASHES deaths
    alone; the innocents go on."""
    caplog.set_level(logging.INFO, logger="maas.engine.pool")
    innocents = {"i0": 0, "i1": 1, "i2": 2, "i3": 3}
    poison = collect(store, broker, {"i0": 0, "bad": CRASH, "i1": 1, "i2": 2, "i3": 3})[1]
    seen = []
    for _ in range(10):  # a supervisor restarting the pool
        if live(broker, store, catalog_pool):
            break
        held = [*head(broker), *head(broker, f"{QUEUE}.solo")]
        (dead,) = [d for d in held if d.message().message_id == poison.message_id]
        seen.append((store.loads[-1], dead.redelivered, dead.solo_attempts))
    assert seen == [(5, True, 0), (5, True, 0)] + [(1, True, n) for n in range(1, MAX_SOLO_CRASHES + 1)]
    (letter,) = head(broker, f"{QUEUE}.dlq")
    assert letter.message().message_id == poison.message_id
    assert letter.failure is not None and letter.failure.reason == (
        f"the engine process died {MAX_SOLO_CRASHES} times while processing this message alone "
        "(crash or OOM kill?)"
    )
    assert (letter.failure.consumer, letter.headers[H_QUEUE]) == ("pool:doubler", QUEUE)
    assert letter.routing_key == "new.test-raw"
    assert head(broker) == [] and head(broker, f"{QUEUE}.solo") == []
    assert sorted(store.written) == sorted(innocents)  # each innocent processed exactly once
    last = f"message {poison.message_id} alone (solo attempt {MAX_SOLO_CRASHES} of {MAX_SOLO_CRASHES})"
    assert last in caplog.text  # a death leaves no log: the line before it names the message
    for n in range(1, MAX_SOLO_CRASHES):  # each death alone is said when the message comes back
        died = f"message {poison.message_id} was being processed alone when its consumer died"
        assert f"{died} or lost its connection ({n} of {MAX_SOLO_CRASHES} such deaths" in caplog.text


@pytest.mark.parametrize("killers", [2, 3, 5])
def test_several_killers_never_take_an_innocent_to_the_dead_letter_queue(
    broker: MemoryBroker, store: SpyStore, catalog_pool: PoolMaker, killers: int
) -> None:
    """A message counts a death only when it was the one processed alone: the pool holds no
    other suspect while it processes one (its own queue, taken one at a time), however many
    killers came in the same batch and in whatever order they come back."""
    names = {f"i{n}": n for n in range(8)}
    for k in range(killers):
        names[f"bad{k}"] = CRASH
    collect(store, broker, dict(sorted(names.items(), key=lambda item: item[0][-1])))
    deaths = 0
    while not live(broker, store, catalog_pool):
        deaths += 1
        assert deaths <= 2 + killers * MAX_SOLO_CRASHES, "the crash loop did not end"
    assert deaths == 2 + killers * MAX_SOLO_CRASHES
    letters = head(broker, f"{QUEUE}.dlq")
    assert sorted(d.message().document_ids[0] for d in letters) == sorted(
        RAW.id_for(f"bad{k}") for k in range(killers)
    )
    assert all(d.solo_attempts == MAX_SOLO_CRASHES for d in letters)
    assert sorted(store.written) == [f"i{n}" for n in range(8)]  # each innocent exactly once
    assert head(broker) == [] and head(broker, f"{QUEUE}.solo") == []


def test_a_standby_of_a_single_active_queue_leaves_the_suspects_to_the_active_pool(
    store: SpyStore, catalog_pool: PoolMaker
) -> None:
    """Suspects come from their own queue, which every replica can read: a standby taking one
    would process the queue beside the active replica, what a single active consumer forbids."""
    broker = MemoryBroker()
    MemoryBus(broker).declare(routing(single_active=True).topology(BUS))
    active, standby = (
        catalog_pool(routing(single_active=True), "doubler", MemoryBus(broker, client_name=n), store)
        for n in ("active", "standby")
    )
    assert active.step(timeout_s=0).deliveries == 0 and standby.step(timeout_s=0).deliveries == 0
    collect(store, broker, {"suspect": 1})
    handing = MemoryBus(broker)
    (delivery,) = handing.get(QUEUE, 1)
    handing.publish([solo_envelope(delivery, 1)])  # what a pool does with a message handed back twice
    handing.ack([delivery])

    assert standby.step(timeout_s=0).deliveries == 0
    assert len(head(broker, f"{QUEUE}.solo")) == 1 and doubled(store) == set()
    assert active.step(timeout_s=0).deliveries == 1
    assert head(broker, f"{QUEUE}.solo") == [] and doubled(store) == {"suspect"}


def test_a_suspect_found_on_the_work_queue_is_moved_to_the_suspects_queue_with_its_count(
    broker: MemoryBroker, store: SpyStore, catalog_pool: PoolMaker, caplog: pytest.LogCaptureFixture
) -> None:
    """A copy with solo attempts can reach the work queue: back from a retry's delay queue, or
    handed back by an older version, which kept suspects there. It is processed alone, its count
    unchanged (it did not die again)."""
    caplog.set_level(logging.INFO, logger="maas.engine.pool")
    (suspect,) = collect(store, broker, {"retried": 1})
    handing = MemoryBus(broker)
    (first,) = handing.get(QUEUE, 1)
    handing.publish([replace_queue(solo_envelope(first, 2), QUEUE)])
    handing.ack([first])
    collect(store, broker, {"fresh": 2})
    hooks = Batches()
    pool = catalog_pool(routing(), "doubler", MemoryBus(broker), store, hooks)

    stats = pool.step(timeout_s=0)
    assert (stats.deliveries, stats.acked, hooks.sizes) == (
        3,
        2,
        [1, 1],
    )  # the fresh one, then the suspect alone
    assert sorted(store.written) == ["fresh", "retried"]
    assert f"message {suspect.message_id} alone (solo attempt 2 of {MAX_SOLO_CRASHES})" in caplog.text
    assert head(broker) == [] and head(broker, f"{QUEUE}.solo") == []


def replace_queue(envelope: Envelope, queue: str) -> Envelope:
    """The envelope sent straight to ``queue`` instead (where an older version put suspects)."""
    return Envelope("", queue, envelope.body, envelope.headers)


class ReportsRefused(MemoryBus):
    """A bus whose first publish of reports fails (an unroutable report, a broker nack)."""

    refused = False

    def publish(self, envelopes: Sequence[Envelope]) -> None:
        if not self.refused and any(e.exchange == BUS.etl_exchange for e in envelopes):
            self.refused = True
            raise BusError("unroutable (no queue bound): etl 'new.test-doubled'")
        super().publish(envelopes)


def test_a_bus_failure_while_a_suspect_is_settled_puts_it_back_without_a_death(
    broker: MemoryBroker, store: SpyStore, catalog_pool: PoolMaker
) -> None:
    """Not a death: the suspect goes back with its count, and the pool does not hold it while
    it takes the next suspect (a later death would be charged to it)."""
    collect(store, broker, {"suspect": 1})
    handing = MemoryBus(broker)
    (delivery,) = handing.get(QUEUE, 1)
    handing.publish([solo_envelope(delivery, 1)])
    handing.ack([delivery])
    bus = ReportsRefused(broker, client_name="pool")
    pool = catalog_pool(routing(), "doubler", bus, store)

    with pytest.raises(BusError, match="unroutable"):
        pool.step(timeout_s=0)
    bus.close()  # nothing held: nothing comes back redelivered
    (back,) = head(broker, f"{QUEUE}.solo")
    assert (back.solo_attempts, back.redelivered) == (1, False)
    assert live(broker, store, catalog_pool)
    assert head(broker, f"{QUEUE}.solo") == [] and head(broker, f"{QUEUE}.dlq") == []
    assert doubled(store) == {"suspect"}


def test_a_stop_is_heard_between_two_suspects(
    broker: MemoryBroker, store: SpyStore, catalog_pool: PoolMaker
) -> None:
    """Each suspect is processed alone: a backlog of them must not outlast a stop's grace
    period (the kill that follows would be charged to the suspect in hand)."""
    collect(store, broker, {f"s{n}": n for n in range(3)})
    handing = MemoryBus(broker)
    held = handing.get(QUEUE, 3)
    handing.publish([solo_envelope(d, 1) for d in held])
    handing.ack(held)
    pool = catalog_pool(routing(), "doubler", MemoryBus(broker), store)

    stats = pool.step(timeout_s=0, should_stop=lambda: len(store.written) >= 1)
    assert (stats.deliveries, store.written) == (1, ["s0"])
    assert len(head(broker, f"{QUEUE}.solo")) == 2
