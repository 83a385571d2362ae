"""TLS verification turned off is explicit and visible: every connection to the store, the bus
and the management API built with it says so once, naming the server."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from maas.bus.factory import pika_parameters
from maas.bus.rabbitmq_admin import ManagementAPI
from maas.config import Settings, load_settings
from maas.store.factory import opensearch_client

pytestmark = pytest.mark.unit

STORE, BUS, MANAGEMENT = (
    "https://store.invalid:9200",
    "amqps://bus.invalid:5671/",
    "https://bus.invalid:15671",
)
CONNECTIONS: dict[str, tuple[Callable[[Settings], object], str]] = {
    "store": (opensearch_client, STORE),
    "bus": (pika_parameters, BUS),
    "management API": (ManagementAPI, MANAGEMENT),
}


def settings(verify: bool, store: str = STORE, bus: str = BUS, management: str = MANAGEMENT) -> Settings:
    environ = {"MAAS_STORE_URL": store, "MAAS_BUS_URL": bus, "MAAS_BUS__MANAGEMENT_URL": management}
    return load_settings(None, environ=environ | {"MAAS_TLS__VERIFY": str(verify).lower()})


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


@pytest.mark.parametrize("name", CONNECTIONS)
def test_a_connection_without_tls_verification_warns_once_naming_its_url(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    connect, url = CONNECTIONS[name]
    connect(settings(verify=False))
    assert f"{url}: TLS certificate NOT verified (tls.verify: false)" in warnings(caplog)
    assert len([w for w in warnings(caplog) if w.startswith(url)]) == 1


@pytest.mark.parametrize("name", CONNECTIONS)
def test_no_warning_with_verification_on_or_without_tls(name: str, caplog: pytest.LogCaptureFixture) -> None:
    connect, _ = CONNECTIONS[name]
    connect(settings(verify=True))
    connect(settings(False, "http://store.invalid:9200", "amqp://bus.invalid/", "http://bus.invalid:15672"))
    assert warnings(caplog) == []
