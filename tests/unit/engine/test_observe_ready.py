"""/ready listens on every interface: what it says of a failed check must not carry a secret."""

from __future__ import annotations

import urllib.error
import urllib.request

from prometheus_client import CollectorRegistry

from maas.config.secrets import redactor
from maas.observe import serve


def failing() -> None:
    raise ConnectionError("login refused for amqp://maas:pl41n-S3CRET@broker:5672/ (key R3D4CTME-token)")


def test_a_failed_readiness_check_is_reported_with_its_secrets_masked() -> None:
    redactor.add("R3D4CTME-token")
    server = serve(0, CollectorRegistry(), {"bus": failing})
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/ready"
        try:
            urllib.request.urlopen(url, timeout=10)
            raise AssertionError("/ready answered 200 with a failing check")
        except urllib.error.HTTPError as answer:
            status, body = answer.code, answer.read().decode()
    finally:
        server.shutdown()
        server.server_close()
    assert status == 503
    assert body.startswith("bus: ConnectionError: login refused for amqp://maas:***@broker")
    assert "pl41n-S3CRET" not in body and "R3D4CTME-token" not in body
