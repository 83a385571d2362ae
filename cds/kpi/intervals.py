"""Closed intervals on a number line (seconds): union, covered length, clipping and gaps.

The system this replaces compared each sensing interval with its neighbour only, so a long
product followed by two short ones inside it was counted twice. Here the union is a sort and one
sweep that carries the furthest stop seen so far: nested and overlapping intervals count once,
whatever their order, in O(n log n).
"""

from __future__ import annotations

from collections.abc import Iterable

Interval = tuple[float, float]


def union(intervals: Iterable[Interval]) -> list[Interval]:
    """Disjoint, sorted intervals covering exactly the same points (touching ones are joined).

    An inverted interval (stop before start) is bad data that covers nothing: it is dropped
    here rather than turned around, so it can never inflate a completeness.
    """
    ordered = sorted((start, stop) for start, stop in intervals if start <= stop)
    merged: list[Interval] = []
    for start, stop in ordered:
        if merged and start <= merged[-1][1]:
            if stop > merged[-1][1]:
                merged[-1] = (merged[-1][0], stop)
        else:
            merged.append((start, stop))
    return merged


def covered(intervals: Iterable[Interval]) -> float:
    """Length of the union: [0,10] ∪ [2,3] ∪ [5,12] covers 12, not 17."""
    return sum(stop - start for start, stop in union(intervals))


def clip(intervals: Iterable[Interval], window: Interval) -> list[Interval]:
    """The union restricted to ``window`` (what lies outside the plan does not count)."""
    low, high = window
    inside = ((max(start, low), min(stop, high)) for start, stop in union(intervals))
    return [(start, stop) for start, stop in inside if start <= stop]


def gaps(intervals: Iterable[Interval], window: Interval, min_gap: float = 0.0) -> list[Interval]:
    """The parts of ``window`` no interval covers, longer than ``min_gap`` (missing periods)."""
    low, high = window
    holes: list[Interval] = []
    cursor = low
    for start, stop in clip(intervals, window):
        if start > cursor:
            holes.append((cursor, start))
        cursor = max(cursor, stop)
    if high > cursor:
        holes.append((cursor, high))
    return [(start, stop) for start, stop in holes if stop - start > min_gap]
