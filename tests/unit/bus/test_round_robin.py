"""Fetching across several queues: one from each in turn, so no queue starves another."""

from __future__ import annotations

from collections import deque

import pytest

from maas.bus.base import round_robin

pytestmark = pytest.mark.unit


def sources(**items: str) -> list[tuple[str, deque[str]]]:
    return [(name, deque(values)) for name, values in items.items()]


def test_queues_take_turns_until_one_is_left_then_the_rest_comes_from_it() -> None:
    picked = round_robin(sources(a="123", b="1", c="12"), 10)

    assert picked == [("a", "1"), ("b", "1"), ("c", "1"), ("a", "2"), ("c", "2"), ("a", "3")]


def test_the_limit_is_respected_and_the_rest_stays_queued() -> None:
    queues = sources(a="1234", b="12")

    assert round_robin(queues, 3) == [("a", "1"), ("b", "1"), ("a", "2")]
    assert [list(source) for _, source in queues] == [["3", "4"], ["2"]]
    assert round_robin(queues, 2) == [("a", "3"), ("b", "2")]
    assert round_robin(sources(a="123"), 2) == [("a", "1"), ("a", "2")]
    assert round_robin(sources(a="", b=""), 5) == []
