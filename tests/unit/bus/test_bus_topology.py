"""Topology naming and retry policies: what every backend and ``maas dlq`` agree on."""

from __future__ import annotations

import pytest

from maas.bus.memory import topic_matches
from maas.bus.topology import Binding, QueueSpec, RetryPolicy, Topology

pytestmark = pytest.mark.unit


def test_delays_follow_attempts_and_the_last_one_repeats() -> None:
    policy = RetryPolicy(max_attempts=5, delays_s=(1.0, 5.0))
    assert [policy.delay_after(n) for n in (1, 2, 3, 4)] == [1.0, 5.0, 5.0, 5.0]
    assert policy.step_delays_ms() == [1000, 5000]


def test_only_delays_that_can_be_reached_get_a_queue() -> None:
    policy = RetryPolicy(max_attempts=2, delays_s=(1.0, 5.0, 30.0))
    assert policy.step_delays_ms() == [1000]
    assert RetryPolicy(max_attempts=1, delays_s=()).step_delays_ms() == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_attempts": 0}, "at least 1"),
        ({"max_attempts": 3, "delays_s": ()}, "at least one delay"),
        ({"max_attempts": 3, "delays_s": (1.0, -1.0)}, "positive"),
    ],
)
def test_bad_policies_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_companion_queues_are_named_by_delay() -> None:
    spec = QueueSpec("work", retry=RetryPolicy(max_attempts=4, delays_s=(0.5, 2.0, 2.0)))
    assert (spec.dlq, spec.solo) == ("work.dlq", "work.solo")
    assert spec.delay_queues() == {"work.delay.500ms": 500, "work.delay.2000ms": 2000}
    assert spec.companions() == ["work.dlq", "work.solo", "work.delay.500ms", "work.delay.2000ms"]
    assert [spec.delay_queue(n) for n in (1, 2, 3)] == [
        "work.delay.500ms",
        "work.delay.2000ms",
        "work.delay.2000ms",
    ]


def test_topology_problems_are_all_reported() -> None:
    with pytest.raises(ValueError) as caught:
        Topology(
            exchanges=("collect",),
            queues=(QueueSpec("q"), QueueSpec("q", bindings=(Binding("etl", "new.*"),))),
        )
    assert "queue 'q' is declared twice" in str(caught.value)
    assert "undeclared exchange 'etl'" in str(caught.value)
    with pytest.raises(ValueError, match="queue name"):
        QueueSpec("has space")


@pytest.mark.parametrize("taken", ["q.dlq", "q.solo", "q.delay.5000ms"])
def test_a_queue_named_like_another_ones_companion_is_refused(taken: str) -> None:
    """Both would share one broker queue: retries, dead letters or suspects of one landing in
    the other."""
    with pytest.raises(ValueError, match=f"queue '{taken}' has the name of a queue that 'q' brings"):
        Topology(queues=(QueueSpec("q"), QueueSpec(taken)))


def test_dead_letter_queues_map_back_to_work_queues() -> None:
    topology = Topology(("x",), (QueueSpec("a"), QueueSpec("b")))
    assert topology.dead_letter_queues() == {"a.dlq": "a", "b.dlq": "b"}
    merged = topology.merged(Topology(("x", "y"), (QueueSpec("c"),)))
    assert merged.exchanges == ("x", "y")
    assert [q.name for q in merged.queues] == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("pattern", "key", "expected"),
    [
        ("new.*", "new.product", True),
        ("new.*", "new.product.extra", False),
        ("new.*", "new", False),
        ("*.product", "update.product", True),
        ("#", "anything.at.all", True),
        ("#", "", True),
        ("new.#", "new", True),
        ("new.#", "new.a.b", True),
        ("#.product", "product", True),
        ("#.product", "a.b.product", True),
        ("a.#.z", "a.z", True),
        ("a.#.z", "a.b.c.z", True),
        ("a.#.z", "a.b.c", False),
        ("new.product", "new.products", False),
    ],
)
def test_topic_matching_follows_amqp(pattern: str, key: str, expected: bool) -> None:
    assert topic_matches(pattern, key) is expected
