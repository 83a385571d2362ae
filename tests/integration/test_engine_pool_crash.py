"""A message that kills `maas engine pool` (a segfault, an OOM kill) on real RabbitMQ + OpenSearch.

The test engine calls ``os._exit(137)`` when it sees the poison value; the test restarts the
pool like a supervisor (systemd, Kubernetes) until the queue is drained. Exchanges and queues
get a suffix of their own (``pool_deployment``) and the documents names of their own (deleted
afterwards), so the test neither sees nor wipes anyone else's.
"""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from chain_catalog import DOUBLED, RAW
from pool_deployment import Deployment, collect, deploy, queue_depths, teardown

from maas.bus.factory import create_bus
from maas.engine.pool import MAX_SOLO_CRASHES
from maas.store.factory import create_store

pytestmark = pytest.mark.integration
CRASH = 777
KILLED = 137  # what os._exit(137) in the engine returns, as an OOM kill (128 + SIGKILL) would


@pytest.fixture
def deployment(tmp_path: Path, opensearch_url: str, rabbitmq_url: str) -> Iterator[Deployment]:
    deployment = deploy(tmp_path, opensearch_url, rabbitmq_url)
    deployment.engine_args("doubler", crash_value=CRASH)
    yield deployment
    teardown(deployment)


def doubled(deployment: Deployment, names: list[str]) -> set[str]:
    """The names among ``names`` whose doubled document is in the store."""
    store = create_store(deployment.settings)
    try:
        store.refresh(DOUBLED)
        found = store.get(DOUBLED, [DOUBLED.id_for(n) for n in names])
        return {doc.data["name"] for doc in found.values()}
    finally:
        store.close()


def forget(deployment: Deployment, names: list[str]) -> None:
    store = create_store(deployment.settings)
    try:
        store.delete(RAW, [RAW.id_for(n) for n in names])
        store.delete(DOUBLED, [DOUBLED.id_for(n) for n in names])
    finally:
        store.close()


def reported(deployment: Deployment) -> set[str]:
    """Every id the doubler reported to the next pool's queue (no tripler runs here)."""
    bus = create_bus(deployment.settings)
    try:
        deliveries, deadline = [], time.monotonic() + 10
        while time.monotonic() < deadline and (batch := bus.fetch(deployment.queues[1:], 500, 0.5)):
            deliveries += batch
        bus.ack(deliveries)
        return {i for d in deliveries for i in d.message().document_ids}
    finally:
        bus.close()


def supervise(
    deployment: Deployment, done: list[str], poisons: int = 1, max_starts: int = 12, timeout_s: float = 240
) -> list[int]:
    """Start the pool again each time it dies, until every innocent is doubled and the poisons
    dead-lettered; then stop it (SIGTERM: the batch in hand is settled). Returns the deaths."""
    deaths: list[int] = []
    dlq, deadline = f"{deployment.queues[0]}.dlq", time.monotonic() + timeout_s
    while len(deaths) < max_starts and time.monotonic() < deadline:
        process = deployment.pool("doubler")
        while process.poll() is None and time.monotonic() < deadline:
            if queue_depths(deployment)[dlq] == poisons and doubled(deployment, done) == set(done):
                process.send_signal(signal.SIGTERM)
                assert process.wait(timeout=60) == 0, log(deployment)
                return deaths
            time.sleep(0.5)
        if process.poll() is None:
            break
        deaths.append(process.returncode)
    raise AssertionError(f"not drained after {deaths}: {queue_depths(deployment)}\n{log(deployment)}")


def log(deployment: Deployment) -> str:
    return (deployment.dir / "pool-doubler.log").read_text()


def test_a_message_that_kills_the_pool_is_dead_lettered_and_the_rest_is_processed(
    deployment: Deployment,
) -> None:
    run = uuid.uuid4().hex[:8]  # document names of its own: no wipe of the shared families
    innocents = [f"c{run}-{i}" for i in range(20)]
    poison_name = f"c{run}-poison"
    values = {name: i for i, name in enumerate(innocents[:7])} | {poison_name: CRASH}
    values |= {name: i for i, name in enumerate(innocents[7:], start=7)}
    work, triple = deployment.queues
    try:
        messages = collect(deployment, values, per_message=1)  # one crash takes 21 messages down
        (poison,) = [m for m in messages if m.document_ids == (RAW.id_for(poison_name),)]
        deaths = supervise(deployment, innocents)
        # in its batch, with the other messages handed back, then alone
        assert deaths == [KILLED] * (2 + MAX_SOLO_CRASHES), log(deployment)
        assert doubled(deployment, [*innocents, poison_name]) == set(innocents)
        assert reported(deployment) == {DOUBLED.id_for(n) for n in innocents}
        depths = queue_depths(deployment)
        assert depths == {work: 0, f"{work}.dlq": 1, triple: 0, f"{triple}.dlq": 0}, depths
        shown = deployment.maas("dlq", "show", work)
        assert shown.returncode == 0, shown.stderr
        (letter,) = [json.loads(line) for line in shown.stdout.splitlines()]
        assert letter["message_id"] == poison.message_id
        assert letter["reason"] == (
            f"the engine process died {MAX_SOLO_CRASHES} times while processing this message alone "
            "(crash or OOM kill?)"
        )
        assert (letter["routing_key"], letter["consumer"]) == ("new.test-raw", "pool:doubler")
        assert letter["solo_attempts"] == MAX_SOLO_CRASHES
        assert f"message {poison.message_id} killed the engine process" in log(deployment)
    finally:
        forget(deployment, [*innocents, poison_name])


def test_two_killers_in_one_batch_cost_no_innocent_and_each_dies_its_own_deaths(
    deployment: Deployment,
) -> None:
    """A death counts against the message processed alone, not against every suspect the pool
    held: suspects are taken from their own queue one at a time."""
    run = uuid.uuid4().hex[:8]
    innocents = [f"k{run}-{i}" for i in range(12)]
    poisons = [f"k{run}-poison{k}" for k in range(2)]
    values = {name: i for i, name in enumerate(innocents[:4])} | {poisons[0]: CRASH}
    values |= {name: i for i, name in enumerate(innocents[4:8], start=4)} | {poisons[1]: CRASH}
    values |= {name: i for i, name in enumerate(innocents[8:], start=8)}
    work, triple = deployment.queues
    try:
        messages = collect(deployment, values, per_message=1)
        deaths = supervise(deployment, innocents, poisons=2)
        assert deaths == [KILLED] * (2 + 2 * MAX_SOLO_CRASHES), log(deployment)
        assert doubled(deployment, [*innocents, *poisons]) == set(innocents)
        depths = queue_depths(deployment)
        assert (depths[work], depths[f"{work}.dlq"], depths[f"{triple}.dlq"]) == (0, 2, 0), depths
        shown = deployment.maas("dlq", "show", work)
        letters = [json.loads(line) for line in shown.stdout.splitlines()]
        poisoned = {RAW.id_for(name) for name in poisons}
        assert {m.message_id for m in messages if set(m.document_ids) <= poisoned} == {
            letter["message_id"] for letter in letters
        }
        assert [letter["solo_attempts"] for letter in letters] == [MAX_SOLO_CRASHES] * 2
    finally:
        forget(deployment, [*innocents, *poisons])
