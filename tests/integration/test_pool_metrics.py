"""``maas engine pool NAME --metrics-port PORT`` as a real process: health, readiness, metrics.

The pool runs on a private RabbitMQ vhost created for the test, so readiness can be made to
fail without touching the shared broker: deleting the vhost closes the pool's connection and
refuses every new one, as a lost broker would, while the other engineers' vhosts keep working.
Documents get names unique to the test (no wipe of the shared families) and are deleted
afterwards.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import yaml
from chain_catalog import CATALOG, DOUBLED, RAW
from services import missing

from maas.bus.base import Envelope
from maas.bus.factory import create_bus
from maas.bus.message import chunk_messages
from maas.config import Settings, load_settings
from maas.store.factory import create_store

pytestmark = pytest.mark.integration
TESTS = Path(__file__).resolve().parents[1]
PASSWORD_ENV = "MAAS_T_METRICS_AMQP_PASSWORD"


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RunningPool:
    process: subprocess.Popen[str]
    port: int
    settings: Settings
    vhost: str
    log: Path

    def get(self, path: str) -> requests.Response:
        return requests.get(f"http://127.0.0.1:{self.port}{path}", timeout=10)

    def counter(self, name: str) -> float:
        """A counter of the pool's one queue (0 before its first increment)."""
        text = self.get("/metrics").text
        found = re.search(rf'^{name}_total{{pool="doubler",queue="[^"]+"}} (\S+)$', text, re.M)
        return float(found[1]) if found else 0.0

    def output(self) -> str:
        return self.log.read_text()


@pytest.fixture
def private_vhost(rabbitmq_url: str) -> Iterator[str]:
    if shutil.which("rabbitmqctl") is None:
        missing("rabbitmqctl is needed to create and delete a private vhost")
    user = urlsplit(rabbitmq_url).username or "guest"
    vhost = f"maas-t-{uuid.uuid4().hex[:8]}"
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
    yield vhost
    subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], capture_output=True, timeout=60, check=False)


@pytest.fixture
def pool(
    tmp_path: Path,
    rabbitmq_url: str,
    opensearch_url: str,
    private_vhost: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[RunningPool]:
    amqp = urlsplit(rabbitmq_url)
    monkeypatch.setenv(PASSWORD_ENV, amqp.password or "guest")
    settings_yaml = {
        "store": {"url": opensearch_url},
        "bus": {
            "url": f"amqp://{amqp.hostname}:{amqp.port or 5672}/{private_vhost}",
            "username": amqp.username or "guest",
            "password": f"env:{PASSWORD_ENV}",
        },
        "routing_file": str(CATALOG.routing_file),
        "catalogs": ["chain_catalog:CATALOG"],
    }
    (tmp_path / "maas.yaml").write_text(yaml.safe_dump(settings_yaml))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAAS_")}
    env |= {
        "MAAS_CONFIG": str(tmp_path / "maas.yaml"),
        PASSWORD_ENV: amqp.password or "guest",
        "PYTHONPATH": str(TESTS),
    }
    port, log = free_port(), tmp_path / "pool.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "maas_cli", "engine", "pool", "doubler", "--metrics-port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    settings = load_settings(tmp_path / "maas.yaml", environ={})
    running = RunningPool(process, port, settings, private_vhost, log)
    try:
        yield running
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def wait_for(condition: Callable[[], bool], timeout: float, what: str, pool: RunningPool) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except requests.ConnectionError:  # the server is not listening yet
            pass
        assert pool.process.poll() is None, f"the pool exited:\n{pool.output()}"
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{pool.output()}")


def collect(settings: Settings, names: list[str], per_message: int) -> list[str]:
    """Raw documents written and announced on the pool's vhost; returns the doubled ids."""
    store, bus = create_store(settings), create_bus(settings)
    try:
        report = store.write([RAW.make({"name": n, "value": i}) for i, n in enumerate(names)])
        changed = report.changed
        messages = chunk_messages(RAW.name, [i.id for i in changed], [i.index for i in changed], per_message)
        bus.publish([Envelope.of(settings.bus.collect_exchange, "new.test-raw", m) for m in messages])
        return [DOUBLED.id_for(n) for n in names]
    finally:
        bus.close()
        store.close()


def forget(settings: Settings, names: list[str]) -> None:
    store = create_store(settings)
    try:
        store.delete(RAW, [RAW.id_for(n) for n in names])
        store.delete(DOUBLED, [DOUBLED.id_for(n) for n in names])
    finally:
        store.close()


def test_health_readiness_and_metrics_of_a_running_pool(pool: RunningPool) -> None:
    wait_for(lambda: pool.get("/ready").status_code == 200, 60, "/ready 200", pool)
    assert pool.get("/health").status_code == 200
    assert pool.get("/ready").text == "ready\n"
    assert pool.get("/nope").status_code == 404
    run = uuid.uuid4().hex[:8]
    first = [f"m{run}-{i}" for i in range(500)]
    second = [f"m{run}-{i}" for i in range(500, 800)]
    try:
        collect(pool.settings, first, per_message=50)  # 10 messages, 500 documents
        wait_for(lambda: pool.counter("maas_messages_consumed") == 10, 60, "10 messages consumed", pool)
        assert pool.counter("maas_documents_written") == 500
        assert pool.counter("maas_documents_processed") == 500
        collect(pool.settings, second, per_message=50)  # the counters move with the run
        wait_for(lambda: pool.counter("maas_messages_consumed") == 16, 60, "16 messages consumed", pool)
        assert pool.counter("maas_documents_written") == 800
        assert "maas_batch_seconds_count" in pool.get("/metrics").text
    finally:
        forget(pool.settings, first + second)
    pool.process.send_signal(signal.SIGTERM)
    assert pool.process.wait(timeout=60) == 0, pool.output()


def test_ready_says_503_when_the_broker_is_gone_and_the_pool_survives(pool: RunningPool) -> None:
    wait_for(lambda: pool.get("/ready").status_code == 200, 60, "/ready 200", pool)
    rabbitmqctl("delete_vhost", pool.vhost)
    wait_for(lambda: pool.get("/ready").status_code == 503, 30, "/ready 503", pool)
    ready = pool.get("/ready")
    assert ready.text.startswith("bus: ") and pool.vhost in ready.text, ready.text
    assert "store" not in ready.text  # only the failing check is named
    for _ in range(10):  # it keeps running, alive for liveness probes, for as long as it takes
        time.sleep(1)
        assert pool.process.poll() is None, f"the pool died without its broker:\n{pool.output()}"
        assert pool.get("/health").status_code == 200
    assert pool.get("/ready").status_code == 503
    pool.process.send_signal(signal.SIGTERM)
    assert pool.process.wait(timeout=60) == 0, pool.output()


def test_ready_says_503_while_rabbitmq_is_stopped_and_200_once_it_is_back(pool: RunningPool) -> None:
    """The issue's words: /ready answers 503 when RabbitMQ is stopped. The broker application is
    stopped for real (``rabbitmqctl stop_app``), then started; the pool rides it out."""
    wait_for(lambda: pool.get("/ready").status_code == 200, 60, "/ready 200", pool)
    rabbitmqctl("stop_app")
    try:
        wait_for(lambda: pool.get("/ready").status_code == 503, 60, "/ready 503 with RabbitMQ stopped", pool)
        assert pool.get("/ready").text.startswith("bus: ")
        assert pool.get("/health").status_code == 200
    finally:
        rabbitmqctl("start_app")
        rabbitmqctl("await_startup")
    wait_for(lambda: pool.get("/ready").status_code == 200, 120, "/ready 200 after the restart", pool)
    run = uuid.uuid4().hex[:8]
    names = [f"r{run}-{i}" for i in range(100)]
    try:
        consumed = pool.counter("maas_messages_consumed")
        collect(pool.settings, names, per_message=50)  # and it consumes again
        wait_for(
            lambda: pool.counter("maas_messages_consumed") == consumed + 2,
            120,
            "2 messages after restart",
            pool,
        )
    finally:
        forget(pool.settings, names)
    pool.process.send_signal(signal.SIGTERM)
    assert pool.process.wait(timeout=90) == 0, pool.output()
