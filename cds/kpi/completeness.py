"""Completeness of a datatake for a product type: covered / expected, capped, with a status.

Pure functions: the engines gather the figures (sensing intervals or counts, the plan's window,
the rules' expectation) and these turn them into the KPI, so the arithmetic is tested once and
the same everywhere (datatakes and S3/S5P orbits).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from cds.kpi.intervals import Interval, clip, covered, gaps, union

Measure = Literal["seconds", "count", "mean"]


class Status(StrEnum):
    MISSING = "Missing"
    PARTIAL = "Partial"
    COMPLETE = "Complete"


def percentage(value: float, expected: float) -> float:
    """``value / expected`` in percent, capped at 100.

    Nothing expected (a tolerance larger than a very short plan) means nothing can be missing:
    100 %, rather than a division by zero or a negative ratio.
    """
    if expected <= 0:
        return 100.0
    return min(100.0, max(0.0, 100.0 * value / expected))


def status_of(percent: float) -> Status:
    if percent <= 0:
        return Status.MISSING
    return Status.COMPLETE if percent >= 100 else Status.PARTIAL


@dataclass(frozen=True)
class Expectation:
    """What one product type should deliver: ``amount`` seconds of sensing, or products."""

    product_type: str
    measure: Measure
    amount: float


@dataclass(frozen=True)
class Result:
    """The KPI of one product type (or the global one) with what it was computed from."""

    product_type: str
    measure: Measure
    value: float
    expected: float
    percentage: float
    status: Status
    missing_periods: tuple[Interval, ...] = ()


def of_intervals(
    expectation: Expectation,
    intervals: Iterable[Interval],
    window: Interval | None = None,
    min_gap: float = 0.0,
) -> Result:
    """Duration types: the union of the sensing intervals (inside the planned window, if any).

    With a window, its uncovered parts longer than ``min_gap`` are the missing periods.
    """
    inside = clip(intervals, window) if window else union(intervals)
    value = covered(inside)
    percent = percentage(value, expectation.amount)
    holes = tuple(gaps(inside, window, min_gap)) if window else ()
    return Result(
        expectation.product_type, "seconds", value, expectation.amount, percent, status_of(percent), holes
    )


def of_count(expectation: Expectation, count: int) -> Result:
    """Count types: how many distinct products arrived against how many are expected."""
    percent = percentage(count, expectation.amount)
    return Result(expectation.product_type, "count", count, expectation.amount, percent, status_of(percent))


def overall(parts: Sequence[Result], label: str = "ALL") -> Result:
    """The datatake's global KPI: the mean of the per-type percentages (each already capped).

    A type delivered twice cannot hide a type not delivered at all, so ``value`` is that mean
    (out of 100). Its missing periods are the union of the types' missing periods: the times
    when something expected is absent.
    """
    percent = sum(p.percentage for p in parts) / len(parts) if parts else 0.0
    holes = tuple(union(hole for p in parts for hole in p.missing_periods))
    return Result(label, "mean", percent, 100.0, percent, status_of(percent), holes)
