"""Choose and build a bus from its URL: the one place that knows the backends.

``memory://`` (or ``memory://name`` for a separate in-process broker) for the embedded mode;
``amqp://host:5672/vhost`` or ``amqps://…`` for RabbitMQ, whose client is imported only then.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from maas.bus.base import Bus
from maas.bus.topology import Topology
from maas.config import Settings
from maas.config.resolve import resolve_secret

if TYPE_CHECKING:
    import pika


def pika_parameters(settings: Settings, client_name: str | None = None) -> pika.URLParameters:
    """Connection parameters from the bus URL, with the password resolved from its reference."""
    import pika

    bus, tls = settings.bus, settings.tls
    tls.warn_if_unverified(bus.url)
    url = urlsplit(bus.url)  # settings refuse passwords in URLs; pika cannot parse a user without one
    params = pika.URLParameters(urlunsplit(url._replace(netloc=url.netloc.rpartition("@")[2])))
    params.heartbeat = bus.heartbeat_s
    if client_name:  # shown by the broker (management UI, rabbitmqctl list_connections)
        params.client_properties = {"connection_name": client_name}
    username = bus.username or url.username
    if username:
        params.credentials = pika.PlainCredentials(username, resolve_secret(settings, ("bus", "password")))
    if bus.url.startswith("amqps://"):
        context = ssl.create_default_context(cafile=str(tls.ca_file) if tls.ca_file else None)
        if not tls.verify:
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        params.ssl_options = pika.SSLOptions(context)
    return params


def _memory(settings: Settings, client_name: str, long_running: bool) -> Bus:
    from maas.bus.memory import MemoryBus, memory_broker

    return MemoryBus(memory_broker(settings.bus.url), client_name)  # in-process: never away


def _rabbitmq(settings: Settings, client_name: str, long_running: bool) -> Bus:
    from maas.bus.rabbitmq import RabbitMQBus

    params = pika_parameters(settings, client_name)
    budget = settings.bus.reconnect_budget_s(long_running)
    return RabbitMQBus(params, client_name, prefetch=settings.bus.prefetch, reconnect_max_s=budget)


BACKENDS: dict[str, Callable[[Settings, str, bool], Bus]] = {
    "memory": _memory,
    "amqp": _rabbitmq,
    "amqps": _rabbitmq,
}


def create_bus(settings: Settings, client_name: str = "maas", *, long_running: bool = False) -> Bus:
    """The configured bus; ``client_name`` names the connection and failing consumers.

    ``long_running`` (engine pools, ``maas collect --loop``) waits ``bus.reconnect_max_s``
    for a lost broker; anything else is a one-shot and waits ``bus.one_shot_reconnect_max_s``.
    """
    return BACKENDS[urlsplit(settings.bus.url).scheme](settings, client_name, long_running)


def exchanges(settings: Settings) -> Topology:
    """The two exchanges every deployment has: collectors publish on one, engines on the other."""
    return Topology(exchanges=(settings.bus.collect_exchange, settings.bus.etl_exchange))
