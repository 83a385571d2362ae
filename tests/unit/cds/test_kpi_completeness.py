"""Completeness arithmetic: capped percentages, thresholds, the global mean, missing periods."""

from __future__ import annotations

import pytest

from cds.kpi.completeness import Expectation, Status, of_count, of_intervals, overall, percentage, status_of

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("value", "expected", "percent", "status"),
    [
        (0, 60, 0.0, Status.MISSING),
        (0.5, 60, 100 * 0.5 / 60, Status.PARTIAL),
        (59.9, 60, 100 * 59.9 / 60, Status.PARTIAL),
        (60, 60, 100.0, Status.COMPLETE),
        (75, 60, 100.0, Status.COMPLETE),  # capped
        (0, 0, 100.0, Status.COMPLETE),  # nothing expected, nothing missing
    ],
)
def test_percentage_is_capped_and_status_follows_thresholds(
    value: float, expected: float, percent: float, status: Status
) -> None:
    assert percentage(value, expected) == pytest.approx(percent)
    assert status_of(percentage(value, expected)) is status


def test_overlapping_products_give_the_union_not_the_sum() -> None:
    # plan 12:00:00-12:02:00 (120 s), tolerance -20 s: 100 s expected; products cover 0-50, 40-90
    # and 10-20 inside: union 90 s, a sum would claim 150 s (capped: a false 100 %)
    result = of_intervals(
        Expectation("IW_RAW__0S", "seconds", 100), [(0, 50), (40, 90), (10, 20)], (0, 120), min_gap=5
    )
    assert result.value == 90
    assert result.percentage == pytest.approx(90.0)
    assert result.status is Status.PARTIAL
    assert result.missing_periods == ((90, 120),)


def test_sensing_outside_the_plan_does_not_count() -> None:
    result = of_intervals(Expectation("T", "seconds", 100), [(-30, 60), (110, 400)], (0, 120), min_gap=0)
    assert result.value == 70
    assert result.missing_periods == ((60, 110),)


def test_count_types_compare_numbers_of_products() -> None:
    assert of_count(Expectation("AUX", "count", 4), 3).percentage == 75.0
    assert of_count(Expectation("AUX", "count", 4), 9).status is Status.COMPLETE
    assert of_count(Expectation("AUX", "count", 4), 0).status is Status.MISSING


def test_global_is_the_mean_of_capped_types_and_unions_their_missing_periods() -> None:
    full = of_intervals(Expectation("A", "seconds", 50), [(0, 120)], (0, 120), 0)  # 240 % -> 100
    half = of_intervals(Expectation("B", "seconds", 100), [(0, 50)], (0, 120), 0)  # 50 %
    none = of_count(Expectation("C", "count", 2), 0)
    total = overall([full, half, none])
    assert total.percentage == pytest.approx(50.0)
    assert total.status is Status.PARTIAL
    assert total.missing_periods == ((50, 120),)
    assert overall([]).status is Status.MISSING
