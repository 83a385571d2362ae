"""A real /health, /ready and /metrics endpoint (maas.observe) for the healthcheck commands."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from maas.observe import serve


@pytest.fixture
def health_port() -> Iterator[int]:
    server = serve(0, CollectorRegistry(), {})
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port() -> int:
    """A port where nothing listens any more."""
    server = serve(0, CollectorRegistry(), {})
    port = server.server_address[1]
    server.shutdown()
    server.server_close()
    return int(port)
