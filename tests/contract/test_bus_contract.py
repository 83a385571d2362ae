"""One behaviour, two buses: every test runs on MemoryBus and on a real RabbitMQ.

RabbitMQ comes from ``bash deploy/dev/services.sh start`` (fixture ``rabbitmq_url``): skipped
on a laptop without it, failing in CI. Every test uses its own uuid-named exchanges and
queues and deletes them afterwards.

Backend differences are read from ``bus.capabilities`` (data), as production code does.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from urllib.parse import urlsplit, urlunsplit

import pytest

from maas.bus.base import (
    H_ATTEMPTS,
    H_CONSUMER,
    H_EXCHANGE,
    H_FIRST_FAILURE,
    H_LAST_FAILURE,
    H_QUEUE,
    H_REASON,
    H_REPLAYS,
    H_ROUTING_KEY,
    Bus,
    Delivery,
    Envelope,
    Unroutable,
    dead_letter_stats,
    declare_in_use,
    maas_headers,
    solo_envelope,
)
from maas.bus.factory import create_bus
from maas.bus.memory import MemoryBroker, MemoryBus
from maas.bus.message import Message, chunk_messages
from maas.bus.topology import Binding, QueueSpec, RetryPolicy, Topology
from maas.config import Settings
from maas.errors import BusError, QueueConflict, ValidationError

Connect = Callable[[], Bus]
FAILURE_HEADERS = {
    H_REASON,
    H_ATTEMPTS,
    H_CONSUMER,
    H_FIRST_FAILURE,
    H_LAST_FAILURE,
    H_EXCHANGE,
    H_ROUTING_KEY,
    H_QUEUE,
}


@pytest.fixture(
    params=[
        pytest.param("memory", marks=pytest.mark.unit),
        pytest.param("rabbitmq", marks=pytest.mark.integration),
    ]
)
def connect(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Connect]:
    """Opens connections to one broker (memory: one shared MemoryBroker); closes them after."""
    opened: list[Bus] = []
    if request.param == "memory":
        broker = MemoryBroker()

        def factory() -> Bus:
            return MemoryBus(broker, client_name="contract")
    else:
        settings = _amqp_settings(request.getfixturevalue("rabbitmq_url"), monkeypatch)

        def factory() -> Bus:
            return create_bus(settings, client_name="contract")

    def open_bus() -> Bus:
        opened.append(factory())
        return opened[-1]

    yield open_bus
    for bus in opened:
        bus.close()


def _amqp_settings(url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings the way an operator writes them: user name, password by env reference."""
    parts = urlsplit(url)
    monkeypatch.setenv("MAAS_TEST_BUS_PASSWORD", parts.password or "")
    host = parts.hostname or "127.0.0.1"
    bare = urlunsplit(parts._replace(netloc=f"{host}:{parts.port or 5672}"))
    return Settings.model_validate(
        {
            "bus": {
                "url": bare,
                "username": parts.username or "guest",
                "password": "env:MAAS_TEST_BUS_PASSWORD",
                "prefetch": 100,
            }
        }
    )


@pytest.fixture
def bus(connect: Connect) -> Bus:
    return connect()


class Names:
    def __init__(self) -> None:
        self.run = uuid.uuid4().hex[:10]

    def __call__(self, name: str) -> str:
        return f"test-{self.run}-{name}"


@pytest.fixture
def names() -> Names:
    return Names()


@pytest.fixture
def declare(bus: Bus) -> Iterator[Callable[[Topology], Topology]]:
    declared: list[Topology] = []

    def _declare(topology: Topology) -> Topology:
        bus.declare(topology)
        declared.append(topology)
        return topology

    yield _declare
    for topology in declared:
        bus.delete(topology)


def one_queue(
    names: Names,
    pattern: str = "new.*",
    retry: RetryPolicy | None = None,
    queues: tuple[str, ...] = ("work",),
    single_active: bool = False,
) -> Topology:
    exchange = names("collect")
    specs = tuple(
        QueueSpec(names(q), (Binding(exchange, pattern),), retry or RetryPolicy(), single_active)
        for q in queues
    )
    return Topology((exchange,), specs)


def numbered(n: int) -> list[bytes]:
    return [b"m%d" % i for i in range(n)]


def filled(
    bus: Bus,
    declare: Callable[[Topology], Topology],
    names: Names,
    n: int,
    queues: tuple[str, ...] = ("work",),
) -> Topology:
    """A declared one-exchange topology whose queues got bodies m0..m<n-1> on key new.x."""
    topology = declare(one_queue(names, queues=queues))
    bus.publish([Envelope(topology.exchanges[0], "new.x", body) for body in numbered(n)])
    return topology


def messages(n: int, family_class: str = "product") -> list[Message]:
    return chunk_messages(family_class, [f"id-{i}" for i in range(n)], ["p-all"] * n, per_message=1)


def fetch_all(
    bus: Bus, queues: list[str], expected: int, timeout_s: float = 10.0, batch: int = 50
) -> list[Delivery]:
    """Fetch until ``expected`` deliveries came (real brokers need a moment)."""
    got: list[Delivery] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < expected and time.monotonic() < deadline:
        got += bus.fetch(queues, min(batch, expected - len(got)), 0.5)
    return got


def count(bus: Bus, queue: str, expected: int, timeout_s: float = 5.0) -> int:
    """A queue's ready count once it reaches ``expected`` (or the last one seen): a broker's
    count may lag a moment behind a requeue, though the messages themselves are in order."""
    deadline = time.monotonic() + timeout_s
    while (seen := bus.queue_stats([queue])[0].messages) != expected:
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return seen


def bodies(deliveries: list[Delivery]) -> list[bytes]:
    return [d.body for d in deliveries]


# --- publish, consume, ack --------------------------------------------------------------


def test_published_messages_are_delivered_intact_and_gone_once_acked(
    connect: Connect, bus: Bus, names: Names, declare: Callable[[Topology], Topology]
) -> None:
    topology = declare(one_queue(names))
    exchange, queue = topology.exchanges[0], topology.queues[0].name
    sent = messages(5)
    bus.publish([Envelope.of(exchange, "new.product", m) for m in sent])

    got = fetch_all(bus, [queue], 5)
    assert [d.message() for d in got] == sent  # order kept, content exact
    assert {(d.queue, d.exchange, d.routing_key, d.redelivered) for d in got} == {
        (queue, exchange, "new.product", False)
    }
    bus.ack(got)
    bus.close()
    assert connect().fetch([queue], 10, 0.3) == []  # acked: nothing comes back
    assert count(bus, queue, 0) == 0


def test_declare_is_idempotent_and_keeps_messages(
    bus: Bus, names: Names, declare: Callable[[Topology], Topology]
) -> None:
    topology = declare(one_queue(names))
    bus.publish([Envelope.of(topology.exchanges[0], "new.x", m) for m in messages(2)])
    bus.declare(topology)
    assert count(bus, topology.queues[0].name, 2) == 2


def test_a_queue_declared_again_with_other_arguments_is_left_as_it_is(
    connect: Connect,
    bus: Bus,
    names: Names,
    declare: Callable[[Topology], Topology],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A broker cannot change a queue's arguments and the queue may hold messages: the rest is
    declared, the queue keeps its messages and its arguments, and the error names it."""
    topology = filled(bus, declare, names, 3)
    work, exchange = topology.queues[0], topology.exchanges[0]
    late = QueueSpec(names("late"), (Binding(exchange, "late.*"),))
    wider = (*work.bindings, Binding(exchange, "update.*"))
    changed = Topology((exchange,), (replace(work, bindings=wider, single_active_consumer=True), late))
    other = connect()
    try:
        with pytest.raises(QueueConflict) as caught:
            other.declare(changed)
        assert list(caught.value.conflicts) == [work.name]
        assert re.search(rf"{work.name}.*single.active.consumer", str(caught.value))
        other.publish([Envelope(exchange, key, b"more") for key in ("update.x", "late.x")])  # still usable
        assert (count(other, work.name, 4), count(other, late.name, 1)) == (4, 1)
        bus.ack(fetch_all(bus, [work.name], 4))
        assert other.fetch([work.name], 1, 0) == []  # both consume it now
        bus.publish([Envelope(exchange, "new.x", body) for body in numbered(10)])
        assert taken_in_turns([bus, other], work.name, 10)[1], "not single active: both receive"

        declare_in_use(other, changed)  # a pool or a collector goes on, and says so
        assert f"queue {work.name!r}" in caplog.text and "maas routing setup" in caplog.text
    finally:
        other.delete(Topology((), (replace(late, bindings=()),)))


def test_unbind_removes_only_the_bindings_named_and_is_harmless_twice(
    bus: Bus, names: Names, declare: Callable[[Topology], Topology]
) -> None:
    """What ``maas routing setup`` does with a binding dropped from the routing file."""
    exchange = names("collect")
    work = QueueSpec(names("work"), (Binding(exchange, "new.*"), Binding(exchange, "update.*")))
    other = QueueSpec(names("other"), (Binding(exchange, "update.*"),))
    declare(Topology((exchange,), (work, other)))
    bus.unbind(work.name, [Binding(exchange, "update.*")])
    bus.unbind(work.name, [Binding(exchange, "update.*")])  # already gone: no error
    bus.unbind(names("never-declared"), [Binding(exchange, "new.*")])
    bus.publish([Envelope(exchange, key, key.encode()) for key in ("new.x", "update.x")])
    assert bodies(fetch_all(bus, [work.name], 1)) == [b"new.x"]
    assert bus.fetch([work.name], 10, 0.3) == []  # update.x no longer reaches it
    assert bodies(fetch_all(bus, [other.name], 1)) == [b"update.x"]  # another queue's is kept
    with pytest.raises(Unroutable):
        bus.unbind(other.name, list(other.bindings))
        bus.publish([Envelope(exchange, "update.y", b"lost")])


def test_unroutable_and_unknown_exchange_are_errors(
    bus: Bus, names: Names, declare: Callable[[Topology], Topology]
) -> None:
    topology = declare(one_queue(names, pattern="new.*"))
    with pytest.raises(BusError, match="unroutable"):
        bus.publish([Envelope(topology.exchanges[0], "delete.product", b"{}")])
    with pytest.raises(BusError, match="exchange"):
        bus.publish([Envelope(names("missing"), "new.product", b"{}")])
    bus.publish([Envelope(topology.exchanges[0], "new.product", b"{}")])  # bus still usable
    assert len(fetch_all(bus, [topology.queues[0].name], 1)) == 1


def test_an_unroutable_message_among_routable_ones_is_always_an_error(
    bus: Bus, names: Names, declare: Callable[[Topology], Topology]
) -> None:
    """The broker returns it just before confirming it: read together, the return must still be
    seen before the publish is reported done, or the message is taken as delivered and lost."""
    topology = declare(one_queue(names, pattern="new.*"))
    exchange = topology.exchanges[0]
    for n in range(40):
        batch = [Envelope(exchange, "new.product", b"%d" % n), Envelope(exchange, "delete.product", b"lost")]
        with pytest.raises(Unroutable, match="'delete.product'") as refused:
            bus.publish(batch)
        assert [e.body for e in refused.value.returned] == [b"lost"]
    # Both backends deliver what could be routed: a caller sending the batch again duplicates
    # those, never loses one.
    delivered = fetch_all(bus, [topology.queues[0].name], 40)
    assert sorted(int(d.body) for d in delivered) == list(range(40))


def test_consuming_an_undeclared_queue_is_an_error(bus: Bus, names: Names) -> None:
    missing = names("never-declared")
    with pytest.raises(BusError, match=missing):  # the error names the queue
        bus.fetch([missing], 10, 0.2)
    with pytest.raises(BusError, match=missing):
        bus.queue_stats([missing])


def test_topic_patterns_route_like_amqp(
    bus: Bus, names: Names, declare: Callable[[Topology], Topology]
) -> None:
    exchange = names("etl")
    patterns = {"star": "new.*", "family": "*.product", "all": "#", "update": "update.#"}
    topology = declare(
        Topology(
            (exchange,), tuple(QueueSpec(names(q), (Binding(exchange, p),)) for q, p in patterns.items())
        )
    )
    keys = ["new.product", "update.product", "delete.datatake", "update.product.extra"]
    bus.publish([Envelope(exchange, key, key.encode()) for key in keys])

    expected = {
        "star": {"new.product"},
        "family": {"new.product", "update.product"},
        "all": set(keys),
        "update": {"update.product", "update.product.extra"},
    }
    for name, wanted in expected.items():
        queue = topology.queue(names(name)).name
        got = fetch_all(bus, [queue], len(wanted))
        bus.ack(got)
        assert {d.routing_key for d in got} == wanted, name
        assert bus.fetch([queue], 10, 0.2) == [], name  # nothing more than expected


# --- redelivery -------------------------------------------------------------------------


def test_unacked_messages_are_redelivered_when_the_consumer_dies(
    connect: Connect, bus: Bus, names: Names, declare: Callable[[Topology], Topology]
) -> None:
    topology = filled(bus, declare, names, 4)
    queue = topology.queues[0].name
    dying = connect()
    taken = fetch_all(dying, [queue], 4)
    dying.ack(taken[:1])
    dying.close()  # dies holding three unacked messages
    dying.ack(taken[1:])  # too late: the deliveries belong to a lost connection

    survivor = connect()
    again = fetch_all(survivor, [queue], 3)
    assert sorted(bodies(again)) == [b"m1", b"m2", b"m3"]
    assert all(d.redelivered for d in again)
    survivor.ack(again)


def test_competing_consumers_share_without_overlap(
    connect: Connect, bus: Bus, names: Names, declare: Callable[[Topology], Topology]
) -> None:
    topology = filled(bus, declare, names, 20)
    queue = topology.queues[0].name
    consumers, got = [connect(), connect()], []
    deadline = time.monotonic() + 10
    while len(got) < 20 and time.monotonic() < deadline:
        for consumer in consumers:  # each may hold a prefetch of its own: no overlap anyway
            batch = consumer.fetch([queue], 5, 0.2)
            consumer.ack(batch)
            got += batch
    assert sorted(bodies(got)) == sorted(numbered(20))  # each exactly once


def taken_in_turns(consumers: list[Bus], queue: str, n: int, batch: int = 5) -> list[list[Delivery]]:
    """Each consumer fetches a few in turn until ``n`` came (unacked): what each received."""
    got: list[list[Delivery]] = [[] for _ in consumers]
    deadline = time.monotonic() + 10
    while sum(map(len, got)) < n and time.monotonic() < deadline:
        for consumer, received in zip(consumers, got, strict=True):
            received += consumer.fetch([queue], batch, 0.2)
    return got


def subscribed(connect: Connect, queue: str, n: int) -> list[Bus]:
    """``n`` consumers of ``queue``, subscribed in this order before anything is published (a
    real broker pushes each its share as messages arrive)."""
    consumers = [connect() for _ in range(n)]
    for consumer in consumers:
        assert consumer.fetch([queue], 1, 0) == []
    return consumers


def test_a_normal_queue_spreads_work_over_its_consumers(
    connect: Connect, bus: Bus, names: Names, declare: Callable[[Topology], Topology]
) -> None:
    topology = declare(one_queue(names))
    queue = topology.queues[0].name
    consumers = subscribed(connect, queue, 2)
    bus.publish([Envelope(topology.exchanges[0], "new.x", body) for body in numbered(20)])
    first, second = taken_in_turns(consumers, queue, 20)
    assert first and second, "both consumers must receive a share"
    assert sorted(bodies(first + second)) == sorted(numbered(20))


def test_a_single_active_queue_serves_one_consumer_until_the_next_takes_over(
    connect: Connect, bus: Bus, names: Names, declare: Callable[[Topology], Topology]
) -> None:
    topology = declare(one_queue(names, single_active=True))
    queue = topology.queues[0].name
    active, standby = subscribed(connect, queue, 2)
    bus.publish([Envelope(topology.exchanges[0], "new.x", body) for body in numbered(30)])
    held, nothing = taken_in_turns([active, standby], queue, 20)
    assert (len(held), nothing) == (20, [])  # every fetch of the standby came back empty

    active.ack(held[:5])
    active.close()  # stops holding 15 unacked, 10 more never fetched
    rest = fetch_all(standby, [queue], 25)
    assert sorted(bodies(rest)) == sorted(set(numbered(30)) - set(bodies(held[:5])))
    assert {d.body for d in rest if d.redelivered} >= set(bodies(held[5:]))
    standby.ack(rest)
    assert standby.fetch([queue], 10, 0.3) == []


def test_a_single_active_consumer_that_consumes_other_queues_hands_over(
    connect: Connect, bus: Bus, names: Names, declare: Callable[[Topology], Topology]
) -> None:
    topology = declare(one_queue(names, queues=("a", "b"), single_active=True))
    a, b = (q.name for q in topology.queues)
    active, standby = subscribed(connect, a, 2)
    bus.publish([Envelope(topology.exchanges[0], "new.x", body) for body in numbered(10)])
    held = fetch_all(active, [a], 4)
    assert standby.fetch([a], 10, 0.3) == []
    active.ack(held + fetch_all(active, [b], 10))  # leaves a: the standby's turn
    rest = fetch_all(standby, [a], 6)
    assert sorted(bodies(held + rest)) == sorted(numbered(10))
    standby.ack(rest)


def test_get_while_serving_takes_only_for_a_consumer_the_queue_delivers_to(
    connect: Connect, bus: Bus, names: Names, declare: Callable[[Topology], Topology]
) -> None:
    """How a pool takes a queue's suspects: a standby of a single-active-consumer queue never
    does (two replicas would process that queue at once); the active one does once a delivery
    proved it active; any consumer of a shared queue does; a handle consuming nothing never."""
    single = declare(one_queue(names, queues=("single",), single_active=True))
    shared = declare(one_queue(names, "other.*", queues=("shared",)))
    work, spec = single.queues[0].name, shared.queues[0]
    active, standby, idle = (connect() for _ in range(3))
    for handle in (active, standby, idle):
        handle.declare(single)
        handle.declare(shared)
    for handle in (active, standby):
        assert handle.fetch([work], 1, 0) == [] and handle.fetch([spec.name], 1, 0) == []
    bus.publish([Envelope("", f"{work}.solo", b"s1"), Envelope("", spec.solo, b"s2")])

    assert active.get(f"{work}.solo", 1, while_serving=work) == []  # it consumes the shared one now
    bus.publish([Envelope(single.exchanges[0], "new.x", b"work")])
    (proof,) = fetch_all(active, [work], 1)
    assert standby.fetch([work], 10, 0.3) == []
    assert standby.get(f"{work}.solo", 1, while_serving=work) == []
    (suspect,) = active.get(f"{work}.solo", 1, while_serving=work)
    assert suspect.body == b"s1"
    active.ack([proof, suspect])

    assert idle.get(spec.solo, 1, while_serving=spec.name) == []  # consumes nothing
    assert standby.fetch([spec.name], 1, 0) == []
    (other,) = standby.get(spec.solo, 1, while_serving=spec.name)  # a shared queue serves all
    assert other.body == b"s2"
    standby.ack([other])


def test_the_only_consumer_of_a_single_active_queue_is_served_before_any_delivery(
    connect: Connect, bus: Bus, names: Names, declare: Callable[[Topology], Topology]
) -> None:
    """A lone replica restarted on an idle queue takes the suspects a dead one left, without
    waiting for new work; one that joins after it is a standby and takes none."""
    single = declare(one_queue(names, single_active=True))
    work = single.queues[0].name
    lone, later = connect(), connect()
    for handle in (lone, later):
        handle.declare(single)
    assert lone.fetch([work], 1, 0) == []  # consuming, the queue idle
    bus.publish([Envelope("", f"{work}.solo", b"s1"), Envelope("", f"{work}.solo", b"s2")])
    (first,) = lone.get(f"{work}.solo", 1, while_serving=work)
    assert later.fetch([work], 1, 0) == []  # joins: a standby
    assert later.get(f"{work}.solo", 1, while_serving=work) == []
    (second,) = lone.get(f"{work}.solo", 1, while_serving=work)  # still the active one
    assert (first.body, second.body) == (b"s1", b"s2")
    lone.ack([first, second])


def test_switching_queues_hands_back_what_was_held(
    bus: Bus, names: Names, declare: Callable[[Topology], Topology]
) -> None:
    topology = filled(bus, declare, names, 30, queues=("a", "b"))
    a, b = (q.name for q in topology.queues)
    first = bus.fetch([a], 5, 2.0)  # a real broker pushed more than 5 (prefetch) to this client
    others = fetch_all(bus, [b], 30)  # held-back messages of a go back to the queue
    rest = fetch_all(bus, [a], 25)
    assert len(first) == 5 and len(others) == 30
    assert sorted(bodies(first + rest)) == sorted(numbered(30))
    bus.ack(first + others + rest)


# --- retries and dead letters -----------------------------------------------------------


def test_retries_count_attempts_then_dead_letter_with_headers(
    bus: Bus, names: Names, declare: Callable[[Topology], Topology]
) -> None:
    policy = RetryPolicy(max_attempts=3, delays_s=(0.2, 0.4))
    topology = declare(one_queue(names, retry=policy, queues=("work", "sibling")))
    work, sibling = (q.name for q in topology.queues)
    exchange = topology.exchanges[0]
    bus.publish([Envelope(exchange, "new.product", b"payload")])
    bus.ack(fetch_all(bus, [sibling], 1))  # the sibling queue handles its copy fine

    started, seen = time.monotonic(), []
    for expected_dead in (0, 0, 1):
        (delivery,) = fetch_all(bus, [work], 1)
        assert (delivery.exchange, delivery.routing_key) == (exchange, "new.product")
        seen.append(delivery.attempts)
        settled = bus.retry([delivery], "store timed out", consumer="engine:test")
        assert (settled.retried, settled.dead_lettered) == (1 - expected_dead, expected_dead)
    if bus.capabilities.real_delay:
        assert time.monotonic() - started >= 0.6  # 0.2 s then 0.4 s in the delay queues

    assert seen == [0, 1, 2]
    assert bus.fetch([work, sibling], 10, 0.3) == []  # no retry leaked to the sibling
    (dead,) = fetch_all(bus, [topology.queues[0].dlq], 1)
    headers = maas_headers(dead.headers)
    assert set(headers) == FAILURE_HEADERS
    assert headers[H_REASON] == "store timed out (gave up after 3 attempts)"
    assert (headers[H_ATTEMPTS], headers[H_CONSUMER], headers[H_QUEUE]) == (3, "engine:test", work)
    assert (headers[H_EXCHANGE], headers[H_ROUTING_KEY]) == (exchange, "new.product")
    assert headers[H_FIRST_FAILURE] <= headers[H_LAST_FAILURE]
    assert dead.body == b"payload"
    bus.ack([dead])


def test_dead_letter_at_once_keeps_undecodable_bodies_byte_for_byte(
    bus: Bus, names: Names, declare: Callable[[Topology], Topology]
) -> None:
    topology = declare(one_queue(names))
    spec = topology.queues[0]
    poison = [b"{not json", b'{"schema_version": 1, "unexpected": true}', b"\xff\x00"]
    bus.publish([Envelope(topology.exchanges[0], "new.product", body) for body in poison])

    for delivery in fetch_all(bus, [spec.name], 3):
        with pytest.raises(ValidationError) as caught:
            delivery.message()
        bus.dead_letter([delivery], f"poison message: {caught.value}")

    dead = bus.peek(spec.dlq, 10)
    assert bodies(dead) == poison
    reasons = [d.failure.reason for d in dead if d.failure]
    assert "Invalid JSON" in reasons[0] and "unexpected: Extra inputs" in reasons[1]
    assert [d.failure.attempts for d in dead if d.failure] == [1, 1, 1]
    assert count(bus, spec.name, 0) == 0


def test_dlq_list_peek_replay_purge(bus: Bus, names: Names, declare: Callable[[Topology], Topology]) -> None:
    topology = filled(bus, declare, names, 3, queues=("a", "b"))
    a, b = topology.queues
    bus.dead_letter(fetch_all(bus, [a.name], 3), "bad data")
    bus.ack(fetch_all(bus, [b.name], 3))

    assert {(s.name, s.messages) for s in dead_letter_stats(bus, topology)} == {(a.dlq, 3), (b.dlq, 0)}
    peeked = bus.peek(a.dlq, 2)
    assert bodies(peeked) == [b"m0", b"m1"]
    assert peeked[0].failure and peeked[0].failure.reason == "bad data"
    assert count(bus, a.dlq, 3) == 3  # peeking leaves them

    assert bus.replay(a.dlq, limit=1) == 1
    (back,) = fetch_all(bus, [a.name], 1)
    assert (back.body, back.routing_key, back.attempts) == (b"m0", "new.x", 0)
    assert back.failure is None and back.headers[H_REPLAYS] == 1
    assert bus.fetch([b.name], 10, 0.3) == []  # replay goes to its own queue only
    bus.ack([back])

    assert bus.purge(a.dlq) == 2
    assert bus.purge(a.dlq) == 0
    assert bus.replay(a.dlq) == 0


def test_a_solo_copy_goes_to_the_suspects_queue_with_its_count_and_origin(
    bus: Bus, names: Names, declare: Callable[[Topology], Topology]
) -> None:
    """What an engine pool does with a redelivered message (maas.engine.pool): a copy handed
    back once goes back to its work queue, one with solo attempts to the suspects' queue; the
    copy keeps its origin and our headers, drops the broker's, keeps its count through a retry
    and loses it in a replay (fresh attempts)."""
    policy = RetryPolicy(max_attempts=3, delays_s=(0.2,))
    topology = declare(one_queue(names, retry=policy, queues=("work", "sibling")))
    (spec, sibling), exchange = topology.queues, topology.exchanges[0]
    work = spec.name
    bus.publish([Envelope(exchange, "new.product", b"payload")])
    bus.ack(fetch_all(bus, [sibling.name], 1))
    bus.retry(fetch_all(bus, [work], 1), "store timed out")
    (retried,) = fetch_all(bus, [work], 1)  # back from a delay queue: RabbitMQ added x-death

    bus.publish([solo_envelope(retried, 0), solo_envelope(retried, 1)])
    bus.ack([retried])
    (together,) = fetch_all(bus, [work], 1)
    assert (together.solo_attempts, together.attempts, together.routing_key) == (0, 1, "new.product")
    bus.ack([together])
    (solo,) = fetch_all(bus, [spec.solo], 1)
    assert (solo.body, solo.exchange, solo.routing_key) == (b"payload", exchange, "new.product")
    assert (solo.solo_attempts, solo.attempts, solo.redelivered) == (1, 1, False)
    assert "x-death" not in solo.headers
    assert bus.fetch([sibling.name], 10, 0.3) == []  # not re-routed to every binding

    bus.retry([replace(solo, queue=work)], "store timed out")  # as the pool settles it
    (again,) = fetch_all(bus, [work], 1)
    assert (again.solo_attempts, again.attempts) == (1, 2)
    bus.dead_letter([again], "the engine process died")
    assert bus.replay(spec.dlq) == 1
    (replayed,) = fetch_all(bus, [work], 1)
    assert (replayed.solo_attempts, replayed.attempts, replayed.routing_key) == (0, 0, "new.product")
    bus.ack([replayed])


def test_get_takes_only_what_it_returns_and_a_dead_holder_gives_it_back(
    connect: Connect, bus: Bus, names: Names, declare: Callable[[Topology], Topology]
) -> None:
    """How the pool takes suspects: one at a time, nothing else of their queue held, so a death
    while one is processed sends back that one only."""
    spec = declare(one_queue(names)).queues[0]
    bus.publish([Envelope("", spec.solo, f"s{n}".encode()) for n in range(3)])
    holder = connect()
    (first,) = holder.get(spec.solo, 1)
    assert (first.body, first.queue, first.redelivered) == (b"s0", spec.solo, False)
    assert [s.messages for s in bus.queue_stats([spec.solo])] == [2]
    holder.close()  # died holding it
    back = fetch_all(bus, [spec.solo], 3)
    assert {(d.body, d.redelivered) for d in back} == {(b"s0", True), (b"s1", False), (b"s2", False)}
    bus.ack(back)
    assert bus.get(spec.solo, 1) == []


def test_retry_needs_a_declared_policy(
    bus: Bus, names: Names, declare: Callable[[Topology], Topology]
) -> None:
    topology = declare(one_queue(names))
    bus.publish([Envelope(topology.exchanges[0], "new.x", b"m")])
    got = fetch_all(bus, [topology.queues[0].name], 1)
    stranger = Delivery("not-declared-here", "x", "new.x", b"m", {}, False)
    with pytest.raises(BusError, match="declare"):
        bus.retry([stranger], "why")
    bus.ack(got)


# --- batching ---------------------------------------------------------------------------


def test_a_batch_returns_as_soon_as_it_is_full(
    bus: Bus, names: Names, declare: Callable[[Topology], Topology]
) -> None:
    topology = filled(bus, declare, names, 25)
    queue = topology.queues[0].name

    started = time.monotonic()
    batch = bus.fetch([queue], 10, 5.0)
    assert len(batch) == 10
    assert time.monotonic() - started < 2.5  # size bound, not the 5 s time bound
    bus.ack(batch)
    rest = fetch_all(bus, [queue], 15)
    assert sorted(bodies(batch + rest)) == sorted(numbered(25))
    bus.ack(rest)


def test_a_batch_that_cannot_fill_returns_at_its_time_bound(
    bus: Bus, names: Names, declare: Callable[[Topology], Topology]
) -> None:
    topology = filled(bus, declare, names, 3)
    queue = topology.queues[0].name
    started = time.monotonic()
    batch = bus.fetch([queue], 10, 0.6)
    elapsed = time.monotonic() - started
    assert len(batch) == 3
    assert 0.55 <= elapsed < 3.0
    bus.ack(batch)
    assert bus.fetch([queue], 10, 0) == []  # a zero timeout does not wait


def test_queues_are_served_round_robin(
    bus: Bus, names: Names, declare: Callable[[Topology], Topology]
) -> None:
    exchange = names("collect")
    topology = declare(
        Topology(
            (exchange,),
            (
                QueueSpec(names("busy"), (Binding(exchange, "new.busy"),)),
                QueueSpec(names("quiet"), (Binding(exchange, "new.quiet"),)),
            ),
        )
    )
    busy, quiet = (q.name for q in topology.queues)
    bus.publish([Envelope(exchange, "new.busy", b"b%d" % i) for i in range(60)])
    bus.publish([Envelope(exchange, "new.quiet", b"q%d" % i) for i in range(5)])

    # One fetch for all: a real broker pushes the two queues' messages in its own time, and a
    # smaller batch would only see the quiet ones that happened to arrive (timing, not ours).
    order: list[str] = []
    while len(order) < 65:
        batch = bus.fetch([busy, quiet], 65 - len(order), 2.0)
        assert batch, "messages went missing"
        order += [d.queue for d in batch]
        bus.ack(batch)
    assert order.count(quiet) == 5
    assert order[:10].count(quiet) == 5  # served alongside the backlog, not after it
