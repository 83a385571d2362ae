"""Probes for the real services the integration tests run against.

Kept out of conftest so that other helpers (benchmarks, ad-hoc scripts) can ask the same question
the fixtures ask: is the service there, and which version is it? A probe raises on any failure so
that the caller decides between skip and fail.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from maas.config.secrets import mask_url_passwords

START_HINT = (
    "start them with `bash deploy/dev/services.sh start` "
    "(or `docker compose -f deploy/compose.dev.yaml up -d --wait`)"
)
REQUIRE_ENV = "MAAS_REQUIRE_SERVICES"


def amqp_version(url: str, timeout: float = 5.0) -> str:
    """Open and close one AMQP connection; the broker announces its version in the handshake."""
    import pika

    params = pika.URLParameters(url)
    params.connection_attempts, params.socket_timeout = 1, timeout
    params.blocked_connection_timeout = timeout
    connection = pika.BlockingConnection(params)
    try:
        version = connection._impl.server_properties.get("version", b"?")
        return version.decode() if isinstance(version, bytes) else str(version)
    finally:
        connection.close()


def opensearch_version(url: str, timeout: float = 5.0) -> str:
    """The version number `GET /` reports; raises if the cluster does not answer."""
    from opensearchpy import OpenSearch

    client = OpenSearch(hosts=[url], timeout=timeout, max_retries=0)
    try:
        return str(client.info()["version"]["number"])
    finally:
        client.close()


@dataclass(frozen=True)
class Service:
    """A service the tests need: where it is by default, how to override that, how to probe it."""

    name: str
    url_env: str
    default_url: str
    probe: Callable[[str], str]

    @property
    def url(self) -> str:
        return os.environ.get(self.url_env) or self.default_url

    def unreachable_reason(self) -> str | None:
        """None when the service answers, else a message naming it, its (masked) URL and the fix."""
        try:
            self.probe(self.url)
        except Exception as exc:  # any failure means "not usable"; the message says which one
            detail = str(exc) or repr(exc)  # pika's connection errors have an empty str()
            reason = f"{self.name} is not reachable at {self.url} ({detail})"
            return f"{mask_url_passwords(reason)}; {START_HINT}"
        return None


RABBITMQ = Service("RabbitMQ", "MAAS_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/", amqp_version)
OPENSEARCH = Service("OpenSearch", "MAAS_TEST_OPENSEARCH_URL", "http://127.0.0.1:9200", opensearch_version)


def services_required() -> bool:
    """CI sets MAAS_REQUIRE_SERVICES=1: a missing service is then a failure, never a skip."""
    return os.environ.get(REQUIRE_ENV) == "1"


def missing(reason: str) -> NoReturn:
    """What a test does without a service or tool it needs: skip on a developer's machine, fail
    in CI (a skipped check there would pass unseen)."""
    import pytest

    if services_required():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)
