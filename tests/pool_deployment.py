"""A distributed deployment of the test catalog for integration tests of `maas engine pool`.

Real RabbitMQ and OpenSearch; each deployment gets exchanges and queues with a suffix of its
own, so runs never see each other's messages. Pools run as real processes (``Deployment.pool``)
and the CLI as a real command (``Deployment.maas``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from chain_catalog import CATALOG, RAW

from maas.bus.base import Envelope, declare_in_use
from maas.bus.factory import create_bus
from maas.bus.message import Message, chunk_messages
from maas.config import Settings, load_settings
from maas.engine.routing import load_routing
from maas.store.factory import create_store

TESTS = Path(__file__).resolve().parent
PASSWORD_ENV = "MAAS_T_AMQP_PASSWORD"


@dataclass
class Deployment:
    """The test catalog's pools with names of their own, and the processes started for them."""

    dir: Path
    settings: Settings
    env: dict[str, str]
    queues: list[str]
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def maas(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "maas_cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def pool(self, name: str, *options: str) -> subprocess.Popen[str]:
        """A replica of pool ``name`` (``options``: of ``maas engine pool``); replicas share a log."""
        log = (self.dir / f"pool-{name}.log").open("a")
        process = subprocess.Popen(
            [sys.executable, "-m", "maas_cli", "engine", "pool", name, *options],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.processes.append(process)
        return process

    def engine_args(self, pool: str, **args: Any) -> None:
        """Change the arguments of a pool's first engine (read by pools started afterwards)."""
        self._edit(pool, lambda queue: queue["engines"][0]["args"].update(args))

    def queue_options(self, pool: str, **options: Any) -> None:
        """Change options of a pool's first queue (read by pools started afterwards)."""
        self._edit(pool, lambda queue: queue.update(options))

    def _edit(self, pool: str, change: Callable[[dict[str, Any]], None]) -> None:
        path = Path(self.settings.routing_file)  # type: ignore[arg-type]
        routing = yaml.safe_load(path.read_text())
        change(routing["pools"][pool]["queues"][0])
        path.write_text(yaml.safe_dump(routing))


def deploy(tmp_path: Path, opensearch_url: str, rabbitmq_url: str) -> Deployment:
    suffix = uuid.uuid4().hex[:8]
    routing = yaml.safe_load(CATALOG.routing_file.read_text())
    queues = []
    for pool in routing["pools"].values():
        for queue in pool["queues"]:
            queue["name"] = f"{queue['name']}-{suffix}"
            queues.append(queue["name"])
    (tmp_path / "routing.yaml").write_text(yaml.safe_dump(routing))
    host = rabbitmq_url.split("@")[-1]
    settings_yaml = {
        "store": {"url": opensearch_url},
        "bus": {
            "url": f"amqp://{host}",
            "username": "guest",
            "password": f"env:{PASSWORD_ENV}",
            "collect_exchange": f"collect-{suffix}",
            "etl_exchange": f"etl-{suffix}",
            "prefetch": 200,
        },
        "routing_file": str(tmp_path / "routing.yaml"),
        "catalogs": ["chain_catalog:CATALOG"],
    }
    (tmp_path / "maas.yaml").write_text(yaml.safe_dump(settings_yaml))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAAS_")}
    env |= {
        "MAAS_CONFIG": str(tmp_path / "maas.yaml"),
        PASSWORD_ENV: "guest",
        "PYTHONPATH": os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")]),
    }
    os.environ[PASSWORD_ENV] = "guest"
    settings = load_settings(tmp_path / "maas.yaml", environ={})
    return Deployment(tmp_path, settings, env, queues)


def teardown(deployment: Deployment) -> None:
    for process in deployment.processes:  # a failed test must not leave pools consuming
        if process.poll() is None:
            process.kill()
            process.wait()
    bus = create_bus(deployment.settings)
    try:
        routing = load_routing(deployment.settings.routing_file, CATALOG.engines)  # type: ignore[arg-type]
        bus.delete(routing.topology(deployment.settings.bus))
    finally:
        bus.close()


def collect(deployment: Deployment, values: dict[str, int], per_message: int = 100) -> list[Message]:
    """What a collector does: durable write, then confirmed publish of the ids."""
    store = create_store(deployment.settings)
    bus = create_bus(deployment.settings)
    try:
        store.setup(list(CATALOG.models))
        report = store.write([RAW.make({"name": n, "value": v}) for n, v in values.items()])
        ids, indices = [i.id for i in report.changed], [i.index for i in report.changed]
        routing = load_routing(deployment.settings.routing_file, CATALOG.engines)  # type: ignore[arg-type]
        declare_in_use(bus, routing.topology(deployment.settings.bus))
        messages = chunk_messages(RAW.name, ids, indices, per_message=per_message)
        bus.publish(
            [Envelope.of(deployment.settings.bus.collect_exchange, "new.test-raw", m) for m in messages]
        )
        return messages
    finally:
        bus.close()
        store.close()


def queue_depths(deployment: Deployment) -> dict[str, int]:
    """Ready messages of every work queue and DLQ (not those a consumer holds unacked)."""
    bus = create_bus(deployment.settings)
    try:
        names = [*deployment.queues, *(f"{q}.dlq" for q in deployment.queues)]
        return {s.name: s.messages for s in bus.queue_stats(names)}
    finally:
        bus.close()


def stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0, "a pool must exit 0 on SIGTERM after finishing its batch"
