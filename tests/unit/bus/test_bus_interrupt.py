"""A stop request cuts short the bus's wait for a lost broker (Kubernetes kills after its grace)."""

from __future__ import annotations

import socket
import threading
import time

import pika
import pytest

from maas.bus.base import Envelope
from maas.bus.memory import MemoryBus
from maas.bus.rabbitmq import RabbitMQBus
from maas.bus.topology import QueueSpec, Topology
from maas.errors import BusError, BusInterrupted, BusUnavailable

pytestmark = pytest.mark.unit
BUDGET_S = 300.0  # the production reconnect budget: the test must end far sooner


def closed_port() -> int:
    """A local port nobody listens on: every connect is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def unreachable_bus(reconnect_max_s: float = BUDGET_S) -> RabbitMQBus:
    params = pika.ConnectionParameters("127.0.0.1", closed_port(), connection_attempts=1)
    return RabbitMQBus(params, "test-interrupt", reconnect_max_s=reconnect_max_s)


def test_stop_from_another_thread_ends_the_reconnect_wait_promptly() -> None:
    bus = unreachable_bus()
    timer = threading.Timer(0.5, bus.interrupt)
    started = time.monotonic()
    timer.start()
    try:
        with pytest.raises(BusInterrupted, match="stop requested while waiting for the broker") as caught:
            bus.fetch(["q"], 10, timeout_s=1.0)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 3.0
    assert isinstance(caught.value, BusError) and not caught.value.transient  # the pool must not retry
    assert "broker unreachable" in str(caught.value)  # the last failure says why it was waiting


def test_after_a_stop_a_failing_call_does_not_wait_at_all() -> None:
    bus = unreachable_bus()
    bus.interrupt()
    started = time.monotonic()
    with pytest.raises(BusInterrupted):
        bus.queue_stats(["q"])
    assert time.monotonic() - started < 1.0


def test_without_a_stop_the_budget_still_ends_with_unavailable() -> None:
    bus = unreachable_bus(reconnect_max_s=0.3)
    with pytest.raises(BusUnavailable) as caught:
        bus.queue_stats(["q"])
    assert not isinstance(caught.value, BusInterrupted)


def test_an_unreachable_broker_is_named_with_the_socket_error(caplog: pytest.LogCaptureFixture) -> None:
    """pika's connection error prints as nothing: a wrong port must say where and why."""
    port = closed_port()
    params = pika.ConnectionParameters("127.0.0.1", port, connection_attempts=1)
    bus = RabbitMQBus(params, "test-unreachable", reconnect_max_s=0.5)
    with pytest.raises(BusUnavailable) as caught:
        bus.queue_stats(["q"])
    last = f"broker unreachable at 127.0.0.1:{port}: [Errno 111] Connection refused"
    assert str(caught.value) == f"{last}; gave up after 0.5 s"
    retries = [r.getMessage() for r in caplog.records if r.name == "maas.bus.rabbitmq"]
    assert retries, "each reconnect attempt is logged"
    assert retries[0].startswith(f"test-unreachable: {last}; retrying in ")
    assert retries[0].endswith(" s (giving up after 0.5 s)")


def test_memory_bus_keeps_working_after_interrupt() -> None:
    bus = MemoryBus(client_name="test")
    bus.interrupt()
    bus.declare(Topology(queues=(QueueSpec("q"),)))
    bus.publish([Envelope("", "q", b"x")])
    assert [d.body for d in bus.fetch(["q"], 1, timeout_s=0)] == [b"x"]
