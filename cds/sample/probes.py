"""Interface probes: every interface probed every quarter of an hour, served in pages.

Each day one production service is down for a while, the dissemination service is degraded
in the afternoon and the archive drops out in the evening. The status service is polled every
three hours; each page repeats the last probe of the previous one (overlap, as a resumed
HTTP read gives), and one page carries a late probe: a short outage of ``S1A-Serco`` seen long
after, which splits an interval already written.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from cds.sample.builder import AUXIP, DD, LTA, Builder
from cds.sample.truth import DAY, HOUR, MINUTE, SECOND, Probe, ProbePage

PRODUCTION = ("S1A-Serco", "S2A-ATOS", "S3A-ACRI", "S5P-DLR")
INTERFACES = (*PRODUCTION, LTA, AUXIP, DD)
EVERY = 15 * MINUTE
PAGE = 3 * HOUR
Outage = tuple[str, str, int, int]  # interface, status, from, to (exclusive)


def outages(b: Builder, day: int) -> list[Outage]:
    down = day + 8 * HOUR + b.rng.randrange(16) * EVERY
    degraded = day + 14 * HOUR + b.rng.randrange(4) * EVERY
    archive = day + 20 * HOUR + b.rng.randrange(4) * EVERY
    return [
        (b.rng.choice(PRODUCTION[1:]), "down", down, down + b.rng.randrange(2, 7) * EVERY),
        (DD, "degraded", degraded, degraded + 4 * EVERY),
        (LTA, "down", archive, archive + b.rng.randrange(1, 4) * EVERY),
    ]


def _status(interface: str, time: int, cuts: Sequence[Outage]) -> str:
    return next(
        (status for name, status, low, high in cuts if name == interface and low <= time < high), "up"
    )


def _probe(b: Builder, interface: str, time: int, status: str) -> Probe:
    if status == "down":
        return Probe(
            time, interface, status, None, b.rng.choice(("HTTP 503", "connection refused", "timeout"))
        )
    low, high = (2, 8) if status == "degraded" else (0.1, 0.9)
    return Probe(time, interface, status, b.jitter(low, high), "200 OK")


def day_probes(b: Builder, day: int) -> list[Probe]:
    cuts = outages(b, day)
    return [
        _probe(b, interface, time, _status(interface, time, cuts))
        for time in range(day, day + DAY, EVERY)
        for interface in INTERFACES
    ]


def late_probe(b: Builder, day: int) -> Probe:
    return _probe(b, PRODUCTION[0], day + 11 * HOUR + 7 * MINUTE + 30 * SECOND, "down")


def pages(b: Builder, start: int, days: int) -> Iterator[ProbePage]:
    """Pages of the probes whose time is in (page start - one period, page end]."""
    probes = [p for index in range(days) for p in day_probes(b, start + index * DAY)]
    late = [late_probe(b, start + index * DAY) for index in range(days)]
    for begin in range(start, start + days * DAY, PAGE):
        end = begin + PAGE
        shown = tuple(p for p in probes if begin - EVERY <= p.time < end)
        held = tuple(p for p in late if p.time + 7 * HOUR < end <= p.time + 7 * HOUR + PAGE)
        yield ProbePage(end + 20 * SECOND, shown + held)
