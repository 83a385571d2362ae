"""Choosing a bus from its URL, and what the RabbitMQ client does without a broker."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pika
import pika.exceptions as px
import pytest

from maas.bus.base import Envelope
from maas.bus.factory import create_bus, exchanges, pika_parameters
from maas.bus.memory import MemoryBus
from maas.bus.rabbitmq import RabbitMQBus, map_error
from maas.bus.topology import Topology
from maas.config import Settings
from maas.errors import BusError, BusRefused, BusUnavailable

pytestmark = pytest.mark.unit


def settings(**bus: object) -> Settings:
    return Settings.model_validate({"bus": bus})


def test_memory_urls_name_in_process_brokers() -> None:
    first = create_bus(settings(url="memory://"))
    assert isinstance(first, MemoryBus)
    assert first.capabilities.real_delay is False and first.capabilities.persistent is False
    again, other = create_bus(settings(url="memory://")), create_bus(settings(url="memory://x"))
    assert isinstance(again, MemoryBus) and isinstance(other, MemoryBus)
    assert again.broker is first.broker  # collector and engines of one process share it
    assert other.broker is not first.broker


def test_amqp_builds_a_rabbitmq_bus_without_connecting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUS_TEST_PW", "s3cret-pw")
    conf = settings(url="amqp://127.0.0.1:1/", username="maas", password="env:BUS_TEST_PW", prefetch=42)
    bus = create_bus(conf, client_name="pool:products")  # port 1: it would fail if it connected
    assert isinstance(bus, RabbitMQBus)
    assert bus.capabilities.persistent and bus.capabilities.distributed
    params = pika_parameters(conf, "pool:products")
    assert params.credentials.username == "maas"
    assert params.credentials.password == "s3cret-pw"
    assert params.client_properties == {"connection_name": "pool:products"}
    assert params.heartbeat == 60


def test_rabbitmq_client_is_imported_only_for_amqp() -> None:
    code = (
        "import sys; from maas.config import Settings; from maas.bus.factory import "
        "create_bus; create_bus(Settings()); print('pika' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_two_exchanges_come_from_settings() -> None:
    topology = exchanges(settings(collect_exchange="c1", etl_exchange="e1"))
    assert topology == Topology(exchanges=("c1", "e1"))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends


def test_an_absent_broker_is_transient_after_bounded_reconnects() -> None:
    params = pika.URLParameters(f"amqp://guest:guest@127.0.0.1:{_closed_port()}/")
    bus = RabbitMQBus(params, reconnect_max_s=0.6)
    started = time.monotonic()
    with pytest.raises(BusUnavailable, match="broker unreachable") as caught:
        bus.publish([Envelope("collect", "new.x", b"{}")])
    assert caught.value.transient
    assert 0.5 <= time.monotonic() - started < 10  # it kept trying for the window, then gave up
    bus.ack([])  # nothing to ack, no connection: not an error
    bus.close()


@pytest.mark.parametrize(
    ("error", "kind", "transient"),
    [
        (px.StreamLostError("reset"), BusUnavailable, True),
        (px.ConnectionClosedByBroker(320, "CONNECTION_FORCED - shutdown"), BusUnavailable, True),
        (px.AMQPHeartbeatTimeout("missed"), BusUnavailable, True),
        (ConnectionRefusedError(111, "refused"), BusUnavailable, True),
        (px.ProbableAuthenticationError("ACCESS_REFUSED"), BusRefused, False),
        (px.ConnectionClosedByBroker(403, "ACCESS_REFUSED - Login was refused"), BusRefused, False),
        (px.ConnectionClosedByBroker(530, "NOT_ALLOWED - vhost not found"), BusRefused, False),
        (px.ChannelClosedByBroker(403, "ACCESS_REFUSED - access to queue 'q' refused"), BusRefused, False),
        (px.ChannelClosedByBroker(406, "PRECONDITION_FAILED - inequivalent arg"), BusError, False),
        (px.ChannelClosedByBroker(404, "NOT_FOUND - no queue 'q'"), BusError, False),
    ],
)
def test_pika_errors_map_to_ours(error: Exception, kind: type, transient: bool) -> None:
    mapped = map_error(error)
    assert type(mapped) is kind
    assert mapped.transient is transient
    assert mapped.exit_code == (2 if kind is BusRefused else 1)  # a refusal is a setting to fix
