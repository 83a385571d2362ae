"""Engine pools as real processes (`maas engine pool`) on real RabbitMQ + OpenSearch.

Each test gets its own exchanges and queues (a suffix), so runs never see each other; the
document families of the test catalog are wiped before each test.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from chain_catalog import CATALOG, DOUBLED, TRIPLED
from pool_deployment import Deployment, collect, deploy, queue_depths, stop, teardown
from servers.net import forwarding, free_port

from maas.bus.base import Envelope
from maas.bus.factory import create_bus
from maas.config import Settings
from maas.errors import StoreUnavailable
from maas.store.factory import create_store, opensearch_client

pytestmark = pytest.mark.integration


@pytest.fixture
def deployment(tmp_path: Path, opensearch_url: str, rabbitmq_url: str) -> Iterator[Deployment]:
    deployment = deploy(tmp_path, opensearch_url, rabbitmq_url)
    _wipe(deployment.settings)
    yield deployment
    teardown(deployment)


def _wipe(settings: Settings) -> None:
    client = opensearch_client(settings)
    for doc_class in CATALOG.models:
        client.indices.delete(index=f"{doc_class.family}-*", ignore_unavailable=True)


def count(deployment: Deployment, doc_class: object) -> int:
    store = create_store(deployment.settings)
    try:
        store.refresh(doc_class)  # type: ignore[arg-type]
        return store.count(doc_class)  # type: ignore[arg-type]
    finally:
        store.close()


def wait_for(
    condition: Callable[[], bool], timeout: float, what: str, state: Callable[[], object] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except StoreUnavailable as exc:  # e.g. an index the pool just created, its shard not started
            last = exc
        time.sleep(0.5)
    raise AssertionError(
        f"timed out after {timeout:.0f} s waiting for {what}"
        + (f"; state: {state()}" if state else "")
        + (f"; last store error: {last}" if last else "")
    )


def progress(deployment: Deployment) -> dict[str, object]:
    """What a failing wait reports: documents per stage and queue depths."""
    return {
        "doubled": count(deployment, DOUBLED),
        "tripled": count(deployment, TRIPLED),
        "queues": queue_depths(deployment),
    }


def drained(deployment: Deployment) -> bool:
    """Every work queue and DLQ empty (redeliveries after a failure included)."""
    return set(queue_depths(deployment).values()) == {0}


def all_ids(deployment: Deployment, doc_class: object) -> list[str]:
    store = create_store(deployment.settings)
    try:
        store.refresh(doc_class)  # type: ignore[arg-type]
        return [d.id for d in store.scan(doc_class)]  # type: ignore[arg-type]
    finally:
        store.close()


N = 10_000


def test_kill_9_mid_run_loses_nothing_and_duplicates_nothing(deployment: Deployment) -> None:
    collect(deployment, {f"p{i}": i for i in range(1000, 1000 + N)})
    doubler, tripler = deployment.pool("doubler"), deployment.pool("tripler")
    wait_for(lambda: count(deployment, DOUBLED) >= N // 5, 120, "the doubler to make progress")
    doubler.kill()  # SIGKILL: no batch finished, no ack sent
    doubler.wait()
    assert count(deployment, DOUBLED) < N, "killed too late to prove anything"
    doubler = deployment.pool("doubler")
    wait_for(
        lambda: count(deployment, TRIPLED) == N, 300, f"{N} tripled documents", lambda: progress(deployment)
    )
    wait_for(lambda: drained(deployment), 120, "the queues to drain")
    stop(doubler)
    stop(tripler)
    ids = all_ids(deployment, TRIPLED)
    assert len(ids) == len(set(ids)) == N
    assert set(ids) == {TRIPLED.id_for(f"p{i}") for i in range(1000, 1000 + N)}
    assert set(queue_depths(deployment).values()) == {0}, queue_depths(deployment)


def consumed(port: int) -> float | None:
    """Messages a replica processed (its metrics), or None while it is not serving them yet."""
    try:
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except requests.ConnectionError:
        return None
    found = re.search(r'^maas_messages_consumed_total{pool="doubler",[^}]*} (\S+)$', text, re.M)
    return float(found[1]) if found else 0.0


@pytest.mark.parametrize("ending", [signal.SIGTERM, signal.SIGKILL], ids=["stopped", "killed"])
def test_a_single_active_queue_has_one_consuming_replica_and_a_standby_that_takes_over(
    deployment: Deployment, ending: signal.Signals
) -> None:
    """Two replicas of a pool whose queue has a single active consumer: one processes every
    message, the other none, until the first stops or dies; then the other takes over, with
    what the first held unacknowledged, and nothing is lost or duplicated."""
    deployment.queue_options("doubler", single_active_consumer=True)
    ports = [free_port(), free_port()]
    replicas = [deployment.pool("doubler", "--metrics-port", str(port)) for port in ports]
    for port in ports:
        wait_for(lambda port=port: consumed(port) is not None, 60, f"replica metrics on port {port}")
    n = 20_000
    collect(deployment, {f"s{i}": i for i in range(1000, 1000 + n)}, per_message=20)  # not 666: poison
    wait_for(lambda: count(deployment, DOUBLED) >= n // 10, 120, "one replica to make progress")
    done = [consumed(port) for port in ports]
    active = 0 if done[0] else 1
    assert done[1 - active] == 0 and done[active], f"one replica consumes, the other waits: {done}"

    replicas[active].send_signal(ending)
    exit_code = replicas[active].wait(timeout=60)
    assert exit_code == (0 if ending == signal.SIGTERM else -signal.SIGKILL)
    assert count(deployment, DOUBLED) < n, "stopped too late to prove anything"
    state = lambda: progress(deployment)  # noqa: E731
    wait_for(lambda: count(deployment, DOUBLED) == n, 300, f"{n} doubled documents", state)
    work = deployment.queues[0]
    wait_for(lambda: queue_depths(deployment)[work] == 0, 60, "the queue to drain", state)
    assert queue_depths(deployment)[f"{work}.dlq"] == 0
    assert consumed(ports[1 - active]), "the standby took over"
    stop(replicas[1 - active])
    ids = all_ids(deployment, DOUBLED)
    assert len(ids) == len(set(ids)) == n


def test_a_pool_consumes_a_queue_created_before_single_active_consumer_and_says_so(
    deployment: Deployment,
) -> None:
    """After an upgrade, the queue on the broker has not the option yet: the pool must still
    empty it (the first step of recreating it), warning that the queue is not as the file says."""
    assert deployment.maas("routing", "setup").returncode == 0
    deployment.queue_options("doubler", single_active_consumer=True)
    pool = deployment.pool("doubler")
    collect(deployment, {f"u{i}": i for i in range(1000, 1100)}, per_message=10)
    wait_for(lambda: count(deployment, DOUBLED) == 100, 120, "the pool to process the old queue")
    stop(pool)
    log = (deployment.dir / "pool-doubler.log").read_text()
    assert f"queue '{deployment.queues[0]}': argument x-single-active-consumer" in log
    assert "going on with them as they are (maas routing setup says how to recreate them)" in log


def test_broker_restart_during_a_run(deployment: Deployment) -> None:
    n = 20_000  # rabbitmqctl takes a second or two to stop the broker: work must be left then
    collect(deployment, {f"r{i}": i for i in range(1000, 1000 + n)})
    doubler, tripler = deployment.pool("doubler"), deployment.pool("tripler")
    wait_for(lambda: count(deployment, DOUBLED) >= 300, 120, "progress before the restart")
    try:
        subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True, timeout=120)
        tripled_while_down = count(deployment, TRIPLED)
        time.sleep(3)
    finally:  # whatever happens, the shared broker is left running
        subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True, timeout=120)
        subprocess.run(["rabbitmqctl", "await_startup"], check=True, capture_output=True, timeout=120)
    assert tripled_while_down < n, "the broker stopped too late to prove anything"
    wait_for(lambda: count(deployment, TRIPLED) == n, 300, "the chain to finish after the restart")
    assert doubler.poll() is None and tripler.poll() is None, "a broker restart must not kill a pool"
    wait_for(lambda: drained(deployment), 120, "redeliveries to be consumed")
    stop(doubler)
    stop(tripler)
    assert set(queue_depths(deployment).values()) == {0}
    for name in ("doubler", "tripler"):  # the same processes went on, on a new connection
        assert "reconnected to the broker" in (deployment.dir / f"pool-{name}.log").read_text(), name


def test_poison_and_permanent_errors_go_to_the_dlq_and_replay(deployment: Deployment) -> None:
    collect(deployment, {"fine": 1, "evil": 666}, per_message=1)  # isolation is per message
    bus = create_bus(deployment.settings)
    try:
        bus.publish([Envelope(deployment.settings.bus.collect_exchange, "new.test-raw", b"{oops")])
    finally:
        bus.close()
    doubler, tripler = deployment.pool("doubler"), deployment.pool("tripler")
    dlq = f"{deployment.queues[0]}.dlq"
    wait_for(lambda: queue_depths(deployment)[dlq] == 2, 120, "two dead letters")
    wait_for(lambda: count(deployment, TRIPLED) == 1, 120, "the good document")
    stop(doubler)
    listed = deployment.maas("dlq", "list")
    assert listed.returncode == 0 and dlq in listed.stdout
    shown = deployment.maas("dlq", "show", deployment.queues[0])
    assert "poison message" in shown.stdout and "666 is refused" in shown.stdout
    # The fix: the engine no longer refuses 666.
    deployment.engine_args("doubler", poison_value=None)
    replayed = deployment.maas("dlq", "replay", deployment.queues[0])
    assert replayed.returncode == 0 and "replayed 2" in replayed.stdout
    doubler = deployment.pool("doubler")
    wait_for(lambda: count(deployment, TRIPLED) == 2, 120, "the replayed document")
    wait_for(lambda: queue_depths(deployment)[dlq] == 1, 60, "the poison message back in the DLQ")
    stop(doubler)
    stop(tripler)
    assert queue_depths(deployment)[deployment.queues[0]] == 0


def test_sigterm_while_the_broker_is_away_exits_promptly(deployment: Deployment) -> None:
    """Kubernetes sends SIGKILL after its grace period: a pool waiting up to 300 s for the
    broker to come back must give up that wait on SIGTERM and exit 0."""
    with socket.socket() as sock:  # a port nobody listens on: the broker is down
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    deployment.env["MAAS_BUS_URL"] = f"amqp://127.0.0.1:{port}/"
    pool = deployment.pool("doubler")
    log = deployment.dir / "pool-doubler.log"
    wait_for(lambda: "broker unreachable" in log.read_text(), 60, "the pool waiting for the broker")
    started = time.monotonic()
    pool.send_signal(signal.SIGTERM)
    assert pool.wait(timeout=30) == 0, log.read_text()
    assert time.monotonic() - started < 5.0
    assert "stop requested while waiting for the broker" in log.read_text()


def _store_not_up_yet(deployment: Deployment) -> tuple[subprocess.Popen[str], Path, int]:
    """A doubler started while nothing answers at its store's address; it must be waiting."""
    port = free_port()
    deployment.env["MAAS_STORE_URL"] = f"http://127.0.0.1:{port}"
    pool = deployment.pool("doubler")
    log = deployment.dir / "pool-doubler.log"
    wait_for(lambda: "waiting for the store" in log.read_text(), 30, "the pool waiting for the store")
    time.sleep(1.0)
    assert pool.poll() is None, log.read_text()
    return pool, log, port


def test_a_pool_started_before_the_store_waits_for_it_then_consumes(
    deployment: Deployment, opensearch_url: str
) -> None:
    """After a reboot OpenSearch may answer a minute after the pools start: a pool that exited
    at once used up its unit's restart budget (StartLimitBurst) and stayed failed."""
    pool, log, port = _store_not_up_yet(deployment)
    store = urlsplit(opensearch_url)
    assert store.scheme == "http" and store.hostname and store.port
    with forwarding(port, (store.hostname, store.port)):
        collect(deployment, {"late1": 1, "late2": 2})
        wait_for(
            lambda: count(deployment, DOUBLED) == 2, 60, "the doubled documents", lambda: log.read_text()
        )
        stop(pool)


def test_sigterm_while_waiting_for_the_store_exits_promptly(deployment: Deployment) -> None:
    pool, log, _ = _store_not_up_yet(deployment)
    started = time.monotonic()
    pool.send_signal(signal.SIGTERM)
    assert pool.wait(timeout=30) == 0, log.read_text()
    assert time.monotonic() - started < 5.0
    assert "stop requested while waiting for the store" in log.read_text()
