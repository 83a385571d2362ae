"""Interval union, clipping and gaps: the domain facts and properties against a brute force."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cds.kpi.intervals import Interval, clip, covered, gaps, union

pytestmark = pytest.mark.unit


def test_domain_example_covers_twelve_seconds_not_seventeen() -> None:
    assert covered([(0, 10), (2, 3), (5, 12)]) == 12
    assert union([(5, 12), (0, 10), (2, 3)]) == [(0, 12)]


def test_nested_interval_after_a_long_one_is_counted_once() -> None:
    # a neighbour-only comparison sees (2,3) end before (5,6) starts and counts (5,6) again
    assert covered([(0, 100), (2, 3), (5, 6), (50, 60)]) == 100


def test_touching_intervals_join_and_disjoint_ones_stay_apart() -> None:
    assert union([(0, 5), (5, 8), (10, 11)]) == [(0, 8), (10, 11)]


def test_inverted_interval_covers_nothing() -> None:
    assert union([(10, 0), (1, 2)]) == [(1, 2)]
    assert covered([(10, 0)]) == 0


def test_clip_keeps_what_lies_inside_the_window() -> None:
    assert clip([(-5, 3), (4, 6), (9, 20), (30, 40)], (0, 10)) == [(0, 3), (4, 6), (9, 10)]


def test_missing_periods_inside_the_window_above_the_minimum_gap() -> None:
    products = [(0, 10), (10.5, 20), (30, 40)]
    assert gaps(products, (0, 50)) == [(10, 10.5), (20, 30), (40, 50)]
    assert gaps(products, (0, 50), min_gap=1.0) == [(20, 30), (40, 50)]


def test_an_empty_datatake_is_one_missing_period() -> None:
    assert gaps([], (100, 160)) == [(100, 160)]
    assert gaps([(0, 200)], (100, 160)) == []


small = st.lists(
    st.tuples(st.integers(0, 60), st.integers(0, 30)).map(lambda t: (t[0], t[0] + t[1])), max_size=25
)


def brute_force(intervals: list[Interval]) -> int:
    """Unit cells [k, k+1] covered by some interval: the union length on integer inputs."""
    return sum(1 for k in range(0, 100) if any(a <= k and k + 1 <= b for a, b in intervals))


@given(small)
def test_union_length_equals_the_discretised_reference(intervals: list[Interval]) -> None:
    assert covered(intervals) == brute_force(intervals)


@given(small)
def test_union_is_bounded_by_the_sum_and_the_largest(intervals: list[Interval]) -> None:
    lengths = [b - a for a, b in intervals]
    assert max(lengths, default=0) <= covered(intervals) <= sum(lengths)


@given(small, st.randoms())
def test_union_is_order_independent_sorted_and_disjoint(intervals: list[Interval], rnd: object) -> None:
    shuffled = list(intervals)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    merged = union(shuffled)
    assert merged == union(intervals)
    assert all(a[1] < b[0] for a, b in zip(merged, merged[1:], strict=False))
    assert union(merged) == merged


@given(small, st.integers(0, 50), st.integers(0, 50))
def test_gaps_and_coverage_partition_the_window(intervals: list[Interval], low: int, width: int) -> None:
    window = (low, low + width)
    assert covered(clip(intervals, window)) + sum(b - a for a, b in gaps(intervals, window)) == width
