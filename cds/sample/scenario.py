"""The whole synthetic ground segment for a seed and a number of days."""

from __future__ import annotations

from datetime import datetime

from cds.sample import probes
from cds.sample.builder import Builder
from cds.sample.datatakes import datatake_missions
from cds.sample.orbits import auxiliary, s3_day, s5p_day, unknown_name
from cds.sample.truth import DAY, GroundSegment, ms_of

FIRST_DAY = datetime.fromisoformat("2024-03-04T00:00:00+00:00")


def build(seed: int, days: int, first_day: datetime = FIRST_DAY) -> GroundSegment:
    """Deterministic: the same seed and days give the same ground segment, byte for byte."""
    if days < 1:
        raise ValueError(f"days must be at least 1, not {days}")
    start = ms_of(first_day)
    builder = Builder(seed, days, start)
    for index in range(days):
        day = start + index * DAY
        datatake_missions(builder, index, day)
        s3_day(builder, index, start)
        s5p_day(builder, index, start)
        auxiliary(builder, day)
        unknown_name(builder, day)
    builder.world.probe_pages = list(probes.pages(builder, start, days))
    return builder.world
