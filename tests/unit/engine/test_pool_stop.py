"""A pool asked to stop while the broker is away ends within its grace period."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pika
import pytest
from chain_catalog import CATALOG

from maas.bus.rabbitmq import RabbitMQBus
from maas.engine.pool import Pool, StepStats
from maas.engine.routing import load_routing
from maas.store.duckdb import DuckDBStore

pytestmark = pytest.mark.unit


def test_stop_while_reconnecting_ends_the_pool_promptly(
    tmp_path: Path, catalog_pool: Callable[..., Pool]
) -> None:
    with socket.socket() as sock:  # a port nobody listens on: the broker is "down"
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    bus = RabbitMQBus(pika.ConnectionParameters("127.0.0.1", port), "test-pool-stop", reconnect_max_s=300)
    store = DuckDBStore(tmp_path / "stop.duckdb")
    routing = load_routing(CATALOG.routing_file, CATALOG.engines)
    pool = catalog_pool(routing, next(iter(routing.pools)), bus, store)
    stop = threading.Event()
    result: list[StepStats] = []
    runner = threading.Thread(target=lambda: result.append(pool.run(stop.is_set)))
    runner.start()
    time.sleep(0.5)  # inside fetch's reconnect backoff by now
    started = time.monotonic()
    stop.set()  # what the CLI's signal handler does
    bus.interrupt()
    runner.join(timeout=10)
    store.close()
    assert not runner.is_alive()
    assert time.monotonic() - started < 3.0
    assert result == [StepStats()]  # nothing fetched, nothing acked
