"""Deliveries held without fetching (a batch waiting for the store) keep their connection as
long as the holder answers the broker's heartbeats; the control shows the broker does drop a
silent connection at that heartbeat, so the first test can fail."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pika
import pytest

from maas.bus.base import Envelope
from maas.bus.rabbitmq import RabbitMQBus
from maas.bus.topology import Binding, QueueSpec, Topology

pytestmark = pytest.mark.integration
HEARTBEAT_S = 1
HELD_S = 6.0  # the broker drops a connection silent for about two heartbeats


@pytest.fixture
def held(rabbitmq_url: str) -> Iterator[tuple[RabbitMQBus, RabbitMQBus, str]]:
    """A bus with a 1 s heartbeat holding three deliveries, and a second consumer."""
    run = uuid.uuid4().hex[:10]
    exchange, queue = f"test-{run}-collect", f"test-{run}-work"
    topology = Topology((exchange,), (QueueSpec(queue, (Binding(exchange, "#"),)),))
    params = pika.URLParameters(rabbitmq_url)
    params.heartbeat = HEARTBEAT_S
    holder, other = RabbitMQBus(params, "holder"), RabbitMQBus(pika.URLParameters(rabbitmq_url), "other")
    other.declare(topology)
    other.publish([Envelope(exchange, "new.x", b"%d" % i) for i in range(3)])
    try:
        yield holder, other, queue
    finally:
        holder.close()
        other.delete(topology)
        other.close()


def _hold(bus: RabbitMQBus, queue: str, keep_alive: bool) -> None:
    deliveries = bus.fetch([queue], 3, 5.0)
    assert len(deliveries) == 3
    deadline = time.monotonic() + HELD_S
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if keep_alive:
            bus.keep_alive()
    bus.ack(deliveries)


def test_held_deliveries_keep_their_connection_with_keep_alive(
    held: tuple[RabbitMQBus, RabbitMQBus, str],
) -> None:
    holder, other, queue = held
    _hold(holder, queue, keep_alive=True)
    assert other.fetch([queue], 3, 1.0) == []  # acked on the same connection: nothing comes back


def test_control_held_deliveries_come_back_without_keep_alive(
    held: tuple[RabbitMQBus, RabbitMQBus, str],
) -> None:
    holder, other, queue = held
    _hold(holder, queue, keep_alive=False)
    back = other.fetch([queue], 3, 5.0)
    assert len(back) == 3 and all(d.redelivered for d in back)
