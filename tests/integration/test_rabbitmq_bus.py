"""A RabbitMQ restart in the middle of the work: consumer and publisher reconnect, nothing lost.

The broker is restarted with ``rabbitmqctl stop_app`` / ``start_app`` (the Erlang node stays
up, the AMQP listener and every queue process stop and recover from disk), which is what a
broker restart does to clients, several times faster than a full node restart.
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import NamedTuple
from urllib.parse import urlsplit

import pika
import pytest
from services import missing

from maas.bus.base import Envelope
from maas.bus.rabbitmq import RabbitMQBus
from maas.bus.topology import Binding, QueueSpec, RetryPolicy, Topology
from maas.errors import BusError

pytestmark = pytest.mark.integration

TOTAL = 3000
CHUNK = 100


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, timeout=120, stdout=subprocess.DEVNULL)


def _restart_broker(down_s: float) -> None:
    _rabbitmqctl("stop_app")
    time.sleep(down_s)  # publishers and consumers keep trying meanwhile
    _rabbitmqctl("start_app")
    _rabbitmqctl("await_startup")


class Consumer(threading.Thread):
    """Fetch, 'work', ack — the shape of an engine pool — until every body was seen."""

    def __init__(self, url: str, queue: str, expected: set[bytes]) -> None:
        super().__init__(daemon=True)
        self.bus = RabbitMQBus(pika.URLParameters(url), "restart-consumer", prefetch=200, reconnect_max_s=120)
        self.queue, self.expected = queue, expected
        self.seen: set[bytes] = set()
        self.deliveries = 0
        self.error: BaseException | None = None
        self.deadline = time.monotonic() + 180

    def run(self) -> None:
        try:
            while self.seen != self.expected and time.monotonic() < self.deadline:
                batch = self.bus.fetch([self.queue], 50, 0.5)
                time.sleep(0.1 * bool(batch))  # the 'durable write' before the ack
                self.bus.ack(batch)
                self.seen.update(d.body for d in batch)
                self.deliveries += len(batch)
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.error = exc
        finally:
            self.bus.close()


def test_consumer_and_publisher_survive_a_broker_restart(
    rabbitmq_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    if shutil.which("rabbitmqctl") is None or urlsplit(rabbitmq_url).hostname not in (
        "127.0.0.1",
        "localhost",
    ):
        missing("needs the local broker's rabbitmqctl to restart it")
    caplog.set_level(logging.INFO, logger="maas.bus")
    exchange, queue, topology = _topology(uuid.uuid4().hex[:10])
    publisher = RabbitMQBus(pika.URLParameters(rabbitmq_url), "restart-publisher", reconnect_max_s=120)
    publisher.declare(topology)
    bodies = [f"m{i}".encode() for i in range(TOTAL)]
    consumer = Consumer(rabbitmq_url, queue, set(bodies))
    try:
        half = TOTAL // 2
        _publish(publisher, exchange, bodies[:half])
        consumer.start()
        _wait(lambda: consumer.deliveries >= 200, 30, "the consumer never started")

        restart = threading.Thread(target=_restart_broker, args=(2.0,))
        restart.start()
        _wait(lambda: not _listening(rabbitmq_url), 60, "the broker did not stop")
        # the broker is down: these publishes must wait for it and retry
        _publish(publisher, exchange, bodies[half:])
        restart.join()
        consumer.join(timeout=180)

        assert consumer.error is None, f"the consumer died: {consumer.error!r}"
        assert consumer.seen == set(bodies), f"{TOTAL - len(consumer.seen)} messages lost"
        assert consumer.deliveries >= TOTAL  # duplicates allowed (at-least-once), losses not
        reconnected = {
            r.getMessage().split(":")[0]
            for r in caplog.records
            if "reconnected to the broker" in r.getMessage()
        }
        assert reconnected == {"restart-consumer", "restart-publisher"}
        assert publisher.queue_stats([queue])[0].messages == 0
    finally:
        publisher.delete(topology)
        publisher.close()


def _publish(bus: RabbitMQBus, exchange: str, bodies: list[bytes]) -> None:
    for start in range(0, len(bodies), CHUNK):
        bus.publish([Envelope(exchange, "new.x", b) for b in bodies[start : start + CHUNK]])


def _listening(url: str) -> bool:
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port or 5672), timeout=1).close()
    except OSError:
        return False
    return True


def _wait(condition: Callable[[], bool], timeout_s: float, message: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.05)


def test_refused_credentials_are_permanent_and_not_retried(rabbitmq_url: str) -> None:
    parts = urlsplit(rabbitmq_url)
    wrong = f"amqp://maas-nobody:wrong@{parts.hostname}:{parts.port or 5672}/"
    bus = RabbitMQBus(pika.URLParameters(wrong), "refused", reconnect_max_s=60)
    started = time.monotonic()
    with pytest.raises(BusError, match="refused") as caught:
        bus.publish([Envelope("collect", "new.x", b"{}")])
    assert not caught.value.transient
    assert time.monotonic() - started < 10  # not the 60 s reconnect window
    bus.close()


def _topology(run: str) -> tuple[str, str, Topology]:
    exchange, queue = f"test-{run}-collect", f"test-{run}-work"
    spec = QueueSpec(queue, (Binding(exchange, "new.*"),), RetryPolicy(3, (1.0,)))
    return exchange, queue, Topology((exchange,), (spec,))


class Vanishing(NamedTuple):
    """A declared topology, its bus, and a connection of its own to delete queues by hand."""

    exchange: str
    queue: str
    bus: RabbitMQBus
    admin: pika.BlockingConnection

    def delete_queue(self, name: str) -> None:
        self.admin.channel().queue_delete(name)  # an operator's mistake, or a broker reset


@pytest.fixture
def vanishing(rabbitmq_url: str) -> Iterator[Vanishing]:
    exchange, queue, topology = _topology(uuid.uuid4().hex[:10])
    bus = RabbitMQBus(pika.URLParameters(rabbitmq_url), "vanishing", reconnect_max_s=30)
    admin = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    bus.declare(topology)
    try:
        yield Vanishing(exchange, queue, bus, admin)
    finally:
        admin.close()
        bus.delete(topology)
        bus.close()


def declaring(caplog: pytest.LogCaptureFixture, queue: str) -> bool:
    """The bus said it declares the topology again because ``queue`` was deleted."""
    return any(queue in r.getMessage() and "declaring" in r.getMessage() for r in caplog.records)


def test_a_queue_deleted_while_consumed_is_declared_again_not_waited_on_forever(
    vanishing: Vanishing, caplog: pytest.LogCaptureFixture
) -> None:
    exchange, queue, bus, _ = vanishing
    bus.publish([Envelope(exchange, "new.x", b"before")])
    first = bus.fetch([queue], 10, 2.0)
    assert [d.body for d in first] == [b"before"]
    bus.ack(first)
    vanishing.delete_queue(queue)
    with caplog.at_level(logging.ERROR, logger="maas.bus"):
        assert bus.fetch([queue], 10, 5.0) == []  # told at once, not after the timeout
    assert declaring(caplog, queue)
    bus.publish([Envelope(exchange, "new.x", b"after")])  # routable again: bound anew
    again = bus.fetch([queue], 10, 5.0)
    assert [d.body for d in again] == [b"after"]
    bus.ack(again)


def test_a_suspects_queue_deleted_by_hand_is_declared_again_and_reads_as_empty(
    vanishing: Vanishing, caplog: pytest.LogCaptureFixture
) -> None:
    """A pool takes suspects with ``get`` at every step: a refusal must not stop it for good."""
    exchange, queue, bus, _ = vanishing
    bus.publish([Envelope(exchange, "new.x", b"held")])
    (held,) = bus.fetch([queue], 10, 2.0)
    vanishing.delete_queue(f"{queue}.solo")
    with caplog.at_level(logging.ERROR, logger="maas.bus"):
        assert bus.get(f"{queue}.solo", 1) == []
    assert declaring(caplog, f"{queue}.solo")
    (back,) = bus.fetch([queue], 10, 5.0)  # the session started over: what it held came back
    assert (back.body, back.redelivered) == (b"held", True)
    bus.ack([back, held])  # the old session's delivery is skipped, not an error
    bus.publish([Envelope("", f"{queue}.solo", b"suspect")])
    (suspect,) = bus.get(f"{queue}.solo", 1)
    assert suspect.body == b"suspect"
    bus.ack([suspect])


def test_a_companion_queue_deleted_by_hand_is_declared_again_when_a_copy_is_sent_there(
    vanishing: Vanishing, caplog: pytest.LogCaptureFixture
) -> None:
    """Dead letters and suspects are sent straight to their queue: one deleted by hand would
    refuse them until someone ran maas routing setup; the bus that declared it declares it again
    and sends what was refused once more (only that: the rest was routed)."""
    exchange, queue, bus, _ = vanishing
    bus.publish([Envelope(exchange, "new.x", b"bad")])
    (bad,) = bus.fetch([queue], 10, 2.0)
    vanishing.delete_queue(f"{queue}.dlq")
    with caplog.at_level(logging.ERROR, logger="maas.bus"):
        bus.dead_letter([bad], "poison")
        vanishing.delete_queue(f"{queue}.solo")
        bus.publish([Envelope("", f"{queue}.solo", b"alone"), Envelope(exchange, "new.x", b"next")])
    assert declaring(caplog, f"{queue}.dlq") and declaring(caplog, f"{queue}.solo")
    (letter,) = bus.get(f"{queue}.dlq", 10)
    assert letter.body == b"bad" and letter.failure and letter.failure.reason == "poison"
    assert [d.body for d in bus.get(f"{queue}.solo", 10)] == [b"alone"]
    assert [d.body for d in bus.fetch([queue], 10, 2.0)] == [b"next"]  # sent once, not twice
    with pytest.raises(BusError, match="unroutable"):  # a binding missing stays an error
        bus.publish([Envelope(exchange, "other.x", b"nobody")])


def test_stats_of_a_companion_deleted_by_hand_declare_it_again_and_keep_the_session(
    vanishing: Vanishing, caplog: pytest.LogCaptureFixture
) -> None:
    """A pool samples its queues' depths every few seconds: a DLQ deleted to empty it must not
    make it drop its connection (and hand back what it holds) at every sample."""
    exchange, queue, bus, _ = vanishing
    bus.publish([Envelope(exchange, "new.x", b"held")])
    (held,) = bus.fetch([queue], 10, 2.0)
    vanishing.delete_queue(f"{queue}.dlq")
    with caplog.at_level(logging.ERROR, logger="maas.bus"):
        stats = bus.queue_stats([queue, f"{queue}.dlq"])
    assert [(s.name, s.messages) for s in stats] == [(queue, 0), (f"{queue}.dlq", 0)]
    assert declaring(caplog, f"{queue}.dlq")
    bus.ack([held])  # the same session: the delivery is still ours to ack
    assert bus.fetch([queue], 10, 1.0) == []  # acked, not handed back
    with pytest.raises(BusError, match="404"):  # a queue nobody declared here stays an error
        bus.queue_stats([f"{queue}.unknown"])


def test_a_deleted_queue_this_bus_never_declared_is_a_clear_error(rabbitmq_url: str) -> None:
    exchange, queue, topology = _topology(uuid.uuid4().hex[:10])
    owner = RabbitMQBus(pika.URLParameters(rabbitmq_url), "owner", reconnect_max_s=30)
    consumer = RabbitMQBus(pika.URLParameters(rabbitmq_url), "consumer", reconnect_max_s=30)
    try:
        owner.declare(topology)
        assert consumer.fetch([queue], 10, 0.2) == []
        owner.delete(topology)
        with pytest.raises(BusError, match=f"{queue}.*maas routing setup"):
            consumer.fetch([queue], 10, 5.0)
    finally:
        owner.delete(topology)
        owner.close()
        consumer.close()
