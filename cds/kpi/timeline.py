"""Interface status timelines: probes (instant, status) folded into contiguous status spans.

A span runs from the first probe of a run of equal statuses to the first probe of the next run
(``stop``; None while it is the latest), and remembers its last probe. The timeline is a
function of the *set* of probes, so folding is idempotent and order-independent; a late probe
is just one more element of the set: after the last probe of its span it closes the span early,
inside the span with another status it splits it.

Merging new probes into stored spans needs only each span's first and last probe — except for
a split, which needs the probes of the split span (where the old status resumes is not in the
span): :func:`split_spans` names them so the caller can load exactly those.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby


@dataclass(frozen=True, order=True)
class Probe:
    time: datetime
    status: str


@dataclass(frozen=True)
class Span:
    start: datetime
    stop: datetime | None
    status: str
    last_probe: datetime


def build(probes: Iterable[Probe]) -> list[Span]:
    """The timeline of a set of probes (duplicates are one probe).

    Two different statuses at the same instant: the one that sorts first wins (``down`` before
    ``up``), a deterministic choice that keeps the result order-independent.
    """
    instants = _one_status_per_instant(probes)
    runs = [list(run) for _, run in groupby(instants, key=lambda p: p.status)]
    stops: list[datetime | None] = [run[0].time for run in runs[1:]]
    stops.append(None)
    return [
        Span(run[0].time, stop, run[0].status, run[-1].time) for run, stop in zip(runs, stops, strict=False)
    ]


def _one_status_per_instant(probes: Iterable[Probe]) -> list[Probe]:
    chosen: dict[datetime, str] = {}
    for probe in probes:
        current = chosen.get(probe.time)
        if current is None or probe.status < current:
            chosen[probe.time] = probe.status
    return [Probe(time, chosen[time]) for time in sorted(chosen)]


def boundaries(spans: Iterable[Span]) -> list[Probe]:
    """The probes that rebuild these spans exactly: each span's first and last."""
    return [probe for s in spans for probe in (Probe(s.start, s.status), Probe(s.last_probe, s.status))]


def split_spans(spans: Sequence[Span], probes: Iterable[Probe]) -> list[Span]:
    """The spans a probe of another status falls inside, from their first to their last probe.

    At either end too: a probe at the instant of a span's first or last probe may win that
    instant (see :func:`build`), and where the old status resumes or ends is then unknown.
    """
    ordered = sorted(spans, key=lambda s: s.start)
    starts = [span.start for span in ordered]
    hit: dict[datetime, Span] = {}
    for probe in probes:
        at = bisect_right(starts, probe.time) - 1
        span = ordered[at] if at >= 0 else None
        if span and span.start <= probe.time <= span.last_probe and probe.status != span.status:
            hit[span.start] = span
    return [hit[start] for start in sorted(hit)]


def merge(spans: Sequence[Span], probes: Iterable[Probe], known: Iterable[Probe] = ()) -> list[Span]:
    """Fold new probes into a tail of stored spans.

    ``spans`` must be contiguous and include the span holding the earliest new probe (and every
    later one); ``known`` must hold the stored probes of the :func:`split_spans`. Then the result
    equals :func:`build` over every probe ever seen.
    """
    return build([*boundaries(spans), *known, *probes])
