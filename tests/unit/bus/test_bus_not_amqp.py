"""A bus URL pointing at a server that does not speak AMQP (an OpenSearch or web port): one
line naming the URL and the likely mistake, treated as unavailable, never pika's repr."""

from __future__ import annotations

import pika
import pytest
from servers.fixed import closing, silent

from maas.bus.rabbitmq import RabbitMQBus
from maas.config import Settings
from maas.doctor import diagnose
from maas.errors import BusUnavailable

pytestmark = pytest.mark.unit

QUICK = "stack_timeout=0.5&connection_attempts=1"


def _error(port: int) -> BusUnavailable:
    params = pika.URLParameters(f"amqp://guest:pw@127.0.0.1:{port}/x?{QUICK}")
    bus = RabbitMQBus(params, "test-not-amqp", reconnect_max_s=0.2)
    with pytest.raises(BusUnavailable) as caught:
        bus.queue_stats(["q"])
    return caught.value


def test_a_server_that_never_answers_the_handshake_is_named() -> None:
    with silent() as port:
        error = _error(port)
    expected = f"amqp://127.0.0.1:{port}/x: no AMQP answer (handshake timed out): is this a RabbitMQ port?"
    assert str(error) == f"{expected}; gave up after 0.2 s"
    assert error.transient and error.exit_code == 1


def test_a_server_that_hangs_up_on_the_handshake_is_named() -> None:
    with closing() as port:
        error = _error(port)
    assert str(error).startswith(f"amqp://127.0.0.1:{port}/x: not an AMQP answer (the server closed")
    assert "is this a RabbitMQ port?" in str(error)
    assert error.transient


def test_doctor_names_it_too_not_pika_repr() -> None:
    with silent() as port:
        settings = Settings.model_validate({"bus": {"url": f"amqp://127.0.0.1:{port}/x?{QUICK}"}})
        bus = diagnose(settings)[1]
    assert not bus.ok and bus.exit_code == 1
    assert bus.detail.startswith(f"amqp://127.0.0.1:{port}/x: no AMQP answer (handshake timed out)")
