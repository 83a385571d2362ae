"""Acceptance on the distributed backends: ``backups/sample`` through the real CDS chain into the
real OpenSearch gives exactly the KPIs of its ``expected.json``.

Two deployments, one expectation:

- ``maas replay backups/sample --into-configured-store`` with a settings file pointing at
  OpenSearch: the replay command as an operator runs it. ``maas replay`` always runs the engine
  chain in its own process on an in-process bus (it never publishes to a production broker),
  so this checks the OpenSearch side: near-real-time search, conditional writes, mappings.
- the distributed chain: each archived payload goes through the collector pipeline
  (``CollectorRun.ingest``, as ``maas collect`` does) into OpenSearch and onto RabbitMQ, where
  every pool of ``cds/config/routing.yaml`` runs as its own ``maas engine pool`` process. Pools
  run concurrently with the ingestion and with each other, as in production.

Both read the KPIs back from OpenSearch and compare them with ``expected.json`` (exact for
counts, statuses and dates, 1e-6 for seconds and percentages). RabbitMQ names carry a suffix
unique to the test. The documents have fixed ids (the sample's), so the CDS families are wiped
before each test: these tests own the ``raw-*`` and ``cds-*`` indices of the OpenSearch they
run against and must not run concurrently with other tests writing CDS documents there.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from cds.catalog import CATALOG
from cds.sample import EXPECTED_FILE
from cds.sample.check import differences, observed
from maas.bus.factory import create_bus
from maas.collector.archive import ArchivedEntry, read_archive
from maas.collector.config import CollectorConfig, load_collectors
from maas.collector.run import CollectorRun, CollectorStats, Target
from maas.collector.sources.base import Checkpoint, Payload
from maas.config import Settings, load_settings
from maas.config.settings import TLSSettings
from maas.engine.routing import RoutingFile, load_routing
from maas.replay import plan
from maas.store.base import Store
from maas.store.factory import create_store, opensearch_client

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).resolve().parents[2] / "backups" / "sample"
EXPECTED: dict[str, Any] = json.loads((SAMPLE / EXPECTED_FILE).read_text())
SETTLE_TIMEOUT_S = 600


def wipe(settings: Settings) -> None:
    client = opensearch_client(settings)
    for doc_class in CATALOG.models:
        client.indices.delete(index=f"{doc_class.family}-*", ignore_unavailable=True)


def assert_as_expected(settings: Settings) -> None:
    store = create_store(settings, read_only=True)
    try:
        problems = differences(EXPECTED, observed(store))
        counts = {name: len(records) for name, records in observed(store).items()}
    finally:
        store.close()
    assert not problems, f"{len(problems)} differences from expected.json:\n" + "\n".join(problems)
    assert counts == {name: len(EXPECTED[name]) for name in counts}


def maas(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "maas_cli", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def clean_env(config: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAAS_")}
    return env | {"MAAS_CONFIG": str(config), **extra}


# --- maas replay --into-configured-store ------------------------------------------------------


def test_replay_into_opensearch_gives_the_expected_kpis(tmp_path: Path, opensearch_url: str) -> None:
    (tmp_path / "maas.yaml").write_text(yaml.safe_dump({"store": {"url": opensearch_url}}))
    settings = load_settings(tmp_path / "maas.yaml", environ={})
    wipe(settings)
    env = clean_env(tmp_path / "maas.yaml")
    done = maas(env, "replay", str(SAMPLE), "--into-configured-store", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ok"]
    assert_as_expected(settings)
    counts = document_counts(settings)
    again = maas(env, "replay", str(SAMPLE), "--into-configured-store", "--json")
    assert again.returncode == 0, again.stderr
    assert document_counts(settings) == counts  # a re-ingestion creates no new documents
    assert_as_expected(settings)
    inspections_match_the_embedded_replay(tmp_path, env)


def document_counts(settings: Settings) -> dict[str, int]:
    store = create_store(settings, read_only=True)
    try:
        store.refresh()
        return {c.family: store.count(c) for c in CATALOG.models}
    finally:
        store.close()


INSPECTIONS = [
    ("completeness",),
    ("timeliness", "--by", "type"),
    ("timeliness", "--by", "interface"),
    ("interfaces",),
]


def inspections_match_the_embedded_replay(tmp_path: Path, env: dict[str, str]) -> None:
    """An export of the OpenSearch slice, inspected offline, says what the embedded replay says."""
    families = [
        arg for c in CATALOG.models if c.family.startswith("cds-") for arg in ("--from-opensearch", c.family)
    ]
    export = maas(env, "inspect", "export", *families, "--out", str(tmp_path / "export.duckdb"))
    assert export.returncode == 0, export.stderr
    embedded = maas(env, "replay", str(SAMPLE), "--out", str(tmp_path / "embedded.duckdb"))
    assert embedded.returncode == 0, embedded.stderr
    for inspection in INSPECTIONS:
        outputs = [
            maas(env, "inspect", *inspection, "--db", str(tmp_path / db), "--format", "csv").stdout
            for db in ("export.duckdb", "embedded.duckdb")
        ]
        assert outputs[0].count("\n") > 1, (inspection, outputs[0])
        assert outputs[0] == outputs[1], inspection


# --- the distributed chain: RabbitMQ + engine pool processes + OpenSearch ---------------------


@dataclass
class Deployment:
    dir: Path
    settings: Settings
    routing: RoutingFile
    env: dict[str, str]

    def pool(self, name: str) -> subprocess.Popen[str]:
        log = (self.dir / f"pool-{name}.log").open("a")
        return subprocess.Popen(
            [sys.executable, "-m", "maas_cli", "engine", "pool", name],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def queues(self) -> list[str]:
        topology = self.routing.topology(self.settings.bus)
        return [name for q in topology.queues for name in (q.name, q.dlq, *q.delay_queues())]

    def depths(self) -> dict[str, int]:
        bus = create_bus(self.settings, "sample-test-stats")
        try:
            return {s.name: s.messages for s in bus.queue_stats(self.queues())}
        finally:
            bus.close()

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.dir.glob("pool-*.log"))
        )


@pytest.fixture
def deployment(tmp_path: Path, opensearch_url: str, rabbitmq_url: str) -> Iterator[Deployment]:
    suffix = uuid.uuid4().hex[:8]
    assert CATALOG.routing_file is not None
    routing_data = yaml.safe_load(CATALOG.routing_file.read_text())
    for pool in routing_data["pools"].values():
        for queue in pool["queues"]:
            queue["name"] = f"{queue['name']}-{suffix}"
    (tmp_path / "routing.yaml").write_text(yaml.safe_dump(routing_data))
    amqp = rabbitmq_url.split("@")[-1]
    (tmp_path / "maas.yaml").write_text(
        yaml.safe_dump(
            {
                "store": {"url": opensearch_url},
                "bus": {
                    "url": f"amqp://{amqp}",
                    "username": "guest",
                    "password": "env:MAAS_T_SAMPLE_AMQP_PASSWORD",
                    "collect_exchange": f"collect-{suffix}",
                    "etl_exchange": f"etl-{suffix}",
                    "prefetch": 200,
                },
                "routing_file": str(tmp_path / "routing.yaml"),
            }
        )
    )
    password = rabbitmq_url.split("@")[0].rpartition(":")[2] if "@" in rabbitmq_url else "guest"
    os.environ["MAAS_T_SAMPLE_AMQP_PASSWORD"] = password
    settings = load_settings(tmp_path / "maas.yaml", environ={})
    routing = load_routing(tmp_path / "routing.yaml", CATALOG.engines)
    env = clean_env(tmp_path / "maas.yaml", MAAS_T_SAMPLE_AMQP_PASSWORD=password)
    wipe(settings)
    bus = create_bus(settings, "sample-test-admin")
    bus.declare(routing.topology(settings.bus))
    try:
        yield Deployment(tmp_path, settings, routing, env)
    finally:
        bus.delete(routing.topology(settings.bus))
        bus.close()


def collectors() -> dict[str, CollectorConfig]:
    assert CATALOG.collectors_dir is not None
    return {c.id: c for c in load_collectors(CATALOG.collectors_dir, CATALOG.models)}


def as_fetched(entry: ArchivedEntry) -> Payload:
    """The payload as its collector fetched it, rebuilt from the archive."""
    assert entry.sidecar is not None and entry.data is not None
    sidecar = entry.sidecar
    fetched = datetime.fromisoformat(sidecar.fetched_at)
    return Payload(sidecar.name, entry.data, sidecar.source_url, Checkpoint(), fetched, sha256=sidecar.sha256)


def ingest(deployment: Deployment, store: Store) -> int:
    """What ``maas collect`` does with each payload, in fetch order: write, publish on RabbitMQ."""
    configs, bus = collectors(), create_bus(deployment.settings, "sample-test-collector")
    patterns = deployment.routing.patterns("collect")
    run = CollectorRun(
        Target(store, bus, deployment.settings.bus.collect_exchange, patterns, archive=None),
        CATALOG.models,
        TLSSettings(),
    )
    try:
        payloads = plan([SAMPLE]).payloads
        for planned in payloads:
            (entry,) = read_archive(planned.path)
            assert entry.sidecar is not None
            config = configs[entry.sidecar.collector_id]
            stats = CollectorStats(config.id, config.interface_name)
            run.ingest(config, as_fetched(entry), stats)
            assert not stats.problems, stats.problems
        return len(payloads)
    finally:
        bus.close()


def settled(deployment: Deployment) -> list[str]:
    """Empty when the queues are drained and OpenSearch holds the expected KPIs."""
    depths = deployment.depths()
    busy = {name: n for name, n in depths.items() if n}
    if busy:
        return [f"queues not empty: {busy}"]
    store = create_store(deployment.settings, read_only=True)
    try:
        return differences(EXPECTED, observed(store))
    finally:
        store.close()


def stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=120)


def test_the_distributed_chain_gives_the_expected_kpis(deployment: Deployment) -> None:
    pools = {name: deployment.pool(name) for name in deployment.routing.pools}
    try:
        store = create_store(deployment.settings)
        try:
            store.setup(list(CATALOG.models))
            assert ingest(deployment, store) > 100
        finally:
            store.close()
        deadline, problems = time.monotonic() + SETTLE_TIMEOUT_S, ["not checked yet"]
        while problems and time.monotonic() < deadline:
            time.sleep(3)
            assert all(p.poll() is None for p in pools.values()), deployment.logs()
            problems = settled(deployment)
        assert not problems, (
            f"not settled after {SETTLE_TIMEOUT_S} s; {len(problems)} differences from expected.json:\n"
            + "\n".join(problems)
            + "\n"
            + deployment.logs()
        )
        assert not any(deployment.depths().values()), "a dead letter or a message left over"
    finally:
        codes = {name: stop(p) for name, p in pools.items()}
    assert set(codes.values()) == {0}, (codes, deployment.logs())
    assert_as_expected(deployment.settings)
