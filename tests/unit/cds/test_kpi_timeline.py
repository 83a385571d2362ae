"""Status timelines: extend, close, split; merging equals rebuilding from every probe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cds.kpi.timeline import Probe, Span, build, merge, split_spans

pytestmark = pytest.mark.unit
T0 = datetime(2024, 3, 1, tzinfo=UTC)


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


def probes(*pairs: tuple[int, str]) -> list[Probe]:
    return [Probe(at(m), s) for m, s in pairs]


def test_same_status_extends_the_open_span() -> None:
    assert build(probes((0, "UP"), (1, "UP"), (2, "UP"))) == [Span(at(0), None, "UP", at(2))]


def test_a_different_status_closes_the_span_and_opens_another() -> None:
    assert build(probes((0, "UP"), (1, "UP"), (2, "DOWN"), (3, "DOWN"))) == [
        Span(at(0), at(2), "UP", at(1)),
        Span(at(2), None, "DOWN", at(3)),
    ]


def test_a_late_probe_inside_a_span_splits_it() -> None:
    stored = build(probes((0, "UP"), (1, "UP"), (2, "UP"), (3, "UP"), (4, "UP")))
    late = probes((2, "DOWN"))
    known = [p for p in probes(*[(m, "UP") for m in range(5)]) if p.time <= stored[0].last_probe]
    assert split_spans(stored, late) == stored
    assert merge(stored, late, known) == [
        Span(at(0), at(2), "UP", at(1)),
        Span(at(2), at(3), "DOWN", at(2)),
        Span(at(3), None, "UP", at(4)),
    ]


def test_late_probes_that_split_nothing_need_no_stored_probes() -> None:
    stored = build(probes((0, "UP"), (5, "UP"), (10, "DOWN"), (12, "DOWN")))
    late = probes((3, "UP"), (7, "DOWN"))  # same status inside; a change after the span's last probe
    assert split_spans(stored, late) == []
    assert merge(stored, late) == [Span(at(0), at(7), "UP", at(5)), Span(at(7), None, "DOWN", at(12))]


def test_a_change_of_mind_at_the_same_instant_is_pessimistic_and_order_free() -> None:
    one = build(probes((0, "UP"), (1, "UP"), (1, "DOWN")))
    two = build(probes((1, "DOWN"), (0, "UP"), (1, "UP")))
    assert one == two == [Span(at(0), at(1), "UP", at(0)), Span(at(1), None, "DOWN", at(1))]


probe_sets = st.lists(
    st.tuples(st.integers(0, 40), st.sampled_from(["UP", "DOWN", "DEGRADED"])), max_size=30
).map(lambda pairs: probes(*pairs))


@given(probe_sets, probe_sets)
def test_merging_a_batch_into_the_tail_equals_rebuilding_from_every_probe(
    old: list[Probe], new: list[Probe]
) -> None:
    """What the engine does: only the spans ending at or after the earliest new probe are read."""
    stored = build(old)
    earliest = min((p.time for p in new), default=at(0))
    tail = [s for s in stored if s.stop is None or s.stop >= earliest]
    head = stored[: len(stored) - len(tail)]
    known = [p for span in split_spans(tail, new) for p in old if span.start <= p.time <= span.last_probe]
    assert head + merge(tail, new, known) == build([*old, *new])


@given(probe_sets, st.randoms())
def test_folding_is_idempotent_and_order_independent(items: list[Probe], rnd: object) -> None:
    shuffled = list(items)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert build(shuffled) == build(items)
    assert merge(build(items), items, items) == build(items)


@given(probe_sets)
def test_spans_are_contiguous_and_alternate(items: list[Probe]) -> None:
    spans = build(items)
    for left, right in zip(spans, spans[1:], strict=False):
        assert left.stop == right.start and left.status != right.status
        assert left.start <= left.last_probe < right.start
