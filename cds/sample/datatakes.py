"""Planned missions (S1A, S2A): datatakes per day, their products, and the mission plans.

Every day has the same cast of datatakes, each with a fate, so even a one-day sample holds
every case the completeness KPI must get right:

- S1A: ``complete``; ``gaps`` (a RAW slice and an SLC slice never produced, one noise product
  of two, a GRD published 20 h late and one published before its sensing stop); ``nested``
  (EW mode: a long RAW product with shorter ones inside it, three calibration products for two
  expected, no OCN at all); ``lost`` (nothing reached the production service's PRIP, only the
  archive: nothing counts). Plus products of a datatake no plan lists.
- S2A: ``complete``; ``gaps`` (four granules missing on both detectors, no L2A datastrip, an
  L1C datastrip published late); ``moved`` (the newer plan shifts the window: a granule starts
  before it).

Plans per satellite and day: the nominal plan (applied the day before; S2A's is fetched only
after the first datatake's products are out, so they are attached after the fact), a newer
plan for the second half of the day that supersedes part of it (changed windows), and an older
plan that arrives last and must change nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from cds.sample import names
from cds.sample.builder import Builder, Route
from cds.sample.truth import DAY, HOUR, MINUTE, SECOND, MissionPlan, PlannedDatatake, Product, compact

S1_SERVICE, S2_SERVICE = "S1A-Serco", "S2A-ATOS"
S1_FATES = ("complete", "gaps", "nested", "lost")
S2_FATES = ("complete", "gaps", "moved")
S1_L0 = ("RAW__0S", "RAW__0A")
S1_COUNTED = ("RAW__0N", "RAW__0C")
S1_L1 = {"IW": ("SLC__1S", "GRDH_1S", "OCN__2S"), "EW": ("GRDM_1S", "OCN__2S")}
S1_POLARISATION = {"IW": "DV", "EW": "DH"}
GRANULE = 3608  # ms: one S2 MSI granule
S2_BASELINE = "05.10"
S2_DATASTRIPS = ("MSI_L0__DS", "MSI_L1B_DS", "MSI_L1C_DS", "MSI_L2A_DS")
SUPERSEDE_FROM = 6 * HOUR  # the newer plan covers the day from 06:00


def second(ms: int) -> int:
    """Down to the second: names carry second-precision dates."""
    return ms - ms % SECOND


# --- S1A ---------------------------------------------------------------------------------------


def s1_day(b: Builder, index: int, day: int) -> list[PlannedDatatake]:
    rows = []
    for slot, fate in enumerate(S1_FATES):
        start = day + (2 + 5 * slot) * HOUR + b.jitter(0, 3600) // SECOND * SECOND
        duration = b.rng.choice((75, 100, 125)) * SECOND
        mode = "EW" if fate == "nested" else "IW"
        ident = 0x06A000 + 64 * index + slot
        row = PlannedDatatake(
            "S1A", str(ident), start, start + duration, mode, "NRT-3h", 52900 + 15 * index + 3 * slot
        )
        rows.append(row)
        S1_FATE[fate](b, row)
    unplanned = PlannedDatatake(
        "S1A", str(0x06A000 + 64 * index + 40), day + 23 * HOUR, day + 23 * HOUR + 50 * SECOND, "IW", "", 0
    )
    _s1_slices(
        b, unplanned, "IW_RAW__0S", unplanned.start, unplanned.stop, 25 * SECOND, 0, Route(b.delay(20, 40))
    )
    return rows


def _s1_product(b: Builder, row: PlannedDatatake, ptype: str, start: int, stop: int) -> Product:
    key, ext = names.s1(
        "S1A",
        ptype,
        S1_POLARISATION[row.mode],
        start,
        stop,
        row.orbit,
        int(row.datatake_id),
        b.rng.randrange(0x10000),
    )
    return b.product(
        Product(
            key,
            ext,
            "S1A",
            "S1",
            ptype,
            start,
            stop,
            datatake_id=int(row.datatake_id),
            absolute_orbit=row.orbit,
            footprint=b.footprint((-10.0, 25.0), (35.0, 60.0)),
            size=b.rng.randrange(800, 8000) * 1_000_000,
        )
    )


def _s1_slices(
    b: Builder,
    row: PlannedDatatake,
    ptype: str,
    start: int,
    stop: int,
    length: int,
    overlap: int,
    route: Route,
    skip: Sequence[int] = (),
) -> list[Product]:
    """Slices of ``length`` from ``start`` to ``stop`` (the last one shorter), overlapping by ``overlap``."""
    out, begin, number = [], start, 0
    while begin < stop - overlap:
        end = min(begin + length, stop)
        if number not in skip:
            product = _s1_product(b, row, ptype, begin, end)
            b.deliver(product, S1_SERVICE, route)
            out.append(product)
        begin, number = end - overlap, number + 1
    return out


def _s1_route(b: Builder, level: int) -> Route:
    """L0 goes to the archive, L1/L2 to the archive and the users."""
    low, high = ((20, 40), (40, 120), (60, 180))[level]
    return Route(b.delay(low, high), lta=True, dd=level > 0)


def _s1_type(row: PlannedDatatake, suffix: str) -> str:
    return f"{row.mode}_{suffix}"


def _s1_short(b: Builder, row: PlannedDatatake, suffix: str, count: int) -> None:
    """Noise/calibration products: short, at the start and the end of the datatake."""
    for i in range(count):
        at = row.start if i % 2 == 0 else row.stop - 2 * SECOND
        product = _s1_product(b, row, _s1_type(row, suffix), at, at + 2 * SECOND)
        b.deliver(product, S1_SERVICE, _s1_route(b, 0))


def _s1_nominal(b: Builder, row: PlannedDatatake, skip: dict[str, Sequence[int]] | None = None) -> None:
    """RAW slices a second beyond the window on both sides; L1/L2 slices a second inside it.
    ``skip``: slice numbers never produced, per type suffix (everything: the type is left out)."""
    skip = skip or {}
    raw = _s1_type(row, "RAW__0S")
    _s1_slices(
        b,
        row,
        raw,
        row.start - SECOND,
        row.stop + SECOND,
        30 * SECOND,
        0,
        _s1_route(b, 0),
        skip.get("RAW__0S", ()),
    )
    _s1_slices(b, row, _s1_type(row, "RAW__0A"), row.start, row.stop, 200 * SECOND, 0, _s1_route(b, 0))
    for suffix in S1_L1[row.mode]:
        ptype, route = _s1_type(row, suffix), _s1_route(b, int(suffix[-2]))
        _s1_slices(
            b,
            row,
            ptype,
            row.start + SECOND,
            row.stop - SECOND,
            25 * SECOND,
            SECOND,
            route,
            skip.get(suffix, ()),
        )


def _s1_complete(b: Builder, row: PlannedDatatake) -> None:
    _s1_nominal(b, row)
    _s1_short(b, row, "RAW__0N", 2)
    _s1_short(b, row, "RAW__0C", 2)


def _s1_gaps(b: Builder, row: PlannedDatatake) -> None:
    _s1_nominal(b, row, {"RAW__0S": (1,), "SLC__1S": (1,), "GRDH_1S": range(10)})
    _s1_short(b, row, "RAW__0N", 1)
    _s1_short(b, row, "RAW__0C", 2)
    grd = "IW_GRDH_1S"
    first = _s1_product(b, row, grd, row.start + SECOND, row.start + 26 * SECOND)
    b.deliver(first, S1_SERVICE, Route(-90 * SECOND, dd=True))  # published before its sensing stop
    rest = _s1_product(b, row, grd, row.start + 25 * SECOND, row.stop - SECOND)
    b.deliver(rest, S1_SERVICE, Route(20 * HOUR + b.delay(0, 30), lta=True, dd=True))  # late


def _s1_nested(b: Builder, row: PlannedDatatake) -> None:
    """[start, start+60] ∪ [start+5, start+15] ∪ [start+20, start+30] ∪ [start+55, stop]."""
    raw = _s1_type(row, "RAW__0S")
    for begin, end in ((0, 60), (5, 15), (20, 30)):
        product = _s1_product(b, row, raw, row.start + begin * SECOND, row.start + end * SECOND)
        b.deliver(product, S1_SERVICE, _s1_route(b, 0))
    b.deliver(_s1_product(b, row, raw, row.start + 55 * SECOND, row.stop), S1_SERVICE, _s1_route(b, 0))
    _s1_slices(b, row, _s1_type(row, "RAW__0A"), row.start, row.stop, 200 * SECOND, 0, _s1_route(b, 0))
    _s1_short(b, row, "RAW__0N", 2)
    _s1_short(b, row, "RAW__0C", 3)
    grd = _s1_type(row, "GRDM_1S")
    _s1_slices(b, row, grd, row.start + SECOND, row.stop - SECOND, 25 * SECOND, SECOND, _s1_route(b, 1))


def _s1_lost(b: Builder, row: PlannedDatatake) -> None:
    """The production service never published: the archive has some of it, which does not count."""
    for suffix in ("RAW__0S", "GRDH_1S"):
        archive_only = Route(b.delay(60, 180), prip=False, lta=True)
        _s1_slices(b, row, _s1_type(row, suffix), row.start, row.stop, 40 * SECOND, 0, archive_only)


S1_FATE: dict[str, Callable[[Builder, PlannedDatatake], None]] = {
    "complete": _s1_complete,
    "gaps": _s1_gaps,
    "nested": _s1_nested,
    "lost": _s1_lost,
}


def s1_newer(row: PlannedDatatake) -> PlannedDatatake:
    """What the superseding plan says about a datatake of the day's second half: it starts
    15 s earlier (IW) or ends 20 s later (EW); either way its products now miss a part."""
    return _moved(row, stop=20 * SECOND) if row.mode == "EW" else _moved(row, start=-15 * SECOND)


# --- S2A ---------------------------------------------------------------------------------------


def s2_day(b: Builder, index: int, day: int) -> list[PlannedDatatake]:
    rows = []
    for slot, fate in enumerate(S2_FATES):
        start = day + (3 + 6 * slot) * HOUR + b.jitter(0, 3600) // SECOND * SECOND
        duration = b.rng.choice((36, 43, 50)) * SECOND
        orbit = 45200 + 14 * index + 4 * slot
        ident = f"GS2A_{compact(start)}_{orbit:06d}_N{S2_BASELINE}"
        row = PlannedDatatake("S2A", ident, start, start + duration, "NOBS", "NOMINAL", orbit)
        rows.append(row)
        _s2_datatake(b, row, fate)
    return rows


def _s2_datatake(b: Builder, row: PlannedDatatake, fate: str) -> None:
    missing = range(3, 7) if fate == "gaps" else ()
    early = 2 * SECOND if fate == "moved" else 0
    _s2_granules(b, row, row.start - early, missing)
    for ptype in S2_DATASTRIPS:
        if fate == "gaps" and ptype == "MSI_L2A_DS":
            continue
        late = 20 * HOUR if fate == "gaps" and ptype == "MSI_L1C_DS" else 0
        level = 0 if "L0" in ptype else 1
        _s2_product(
            b,
            row,
            ptype,
            row.start,
            row.stop,
            Route(late + b.delay(30 + 60 * level, 90 + 90 * level), lta=True),
        )
    for _ in range(2):
        _s2_tile(b, row)


def _s2_granules(b: Builder, row: PlannedDatatake, start: int, missing: Sequence[int]) -> None:
    """Two detectors, one second apart; granule k starts at k·3.608 s, cut to the second."""
    count = math.ceil((row.stop - start) / GRANULE)
    for detector in (1, 2):
        for k in range(count):
            if k in missing:
                continue
            begin = second(start + k * GRANULE) + (detector - 1) * SECOND
            _s2_product(b, row, "MSI_L0__GR", begin, begin + GRANULE, Route(b.delay(30, 60)), detector)


def _s2_product(
    b: Builder,
    row: PlannedDatatake,
    ptype: str,
    start: int,
    stop: int,
    route: Route,
    detector: int | None = None,
) -> Product:
    created = stop + route.delay - b.jitter(60, 600)
    if detector is not None:
        key, ext = names.s2_granule("S2A", created, start, detector, S2_BASELINE)
    else:
        key, ext = names.s2_datastrip("S2A", ptype, created, start, S2_BASELINE)
    product = _s2((key, ext), ptype, start, stop, b, (10, 900))
    b.deliver(product, S2_SERVICE, route)
    return product


def _s2(
    name: names.Name, ptype: str, start: int, stop: int, b: Builder, megabytes: tuple[int, int]
) -> Product:
    footprint = b.footprint((0.0, 30.0), (35.0, 65.0))
    size = b.rng.randrange(*megabytes) * 1_000_000
    return b.product(Product(*name, "S2A", "S2", ptype, start, stop, footprint=footprint, size=size))


def _s2_tile(b: Builder, row: PlannedDatatake) -> None:
    """A user product (compact name, type MSI_L1C___): published, attached, not an expected type."""
    route = Route(b.delay(90, 200), dd=True)
    tile = f"{b.rng.randrange(29, 36)}T{b.rng.choice('PQRTU')}{b.rng.choice('KLMNP')}"
    created = row.stop + route.delay - b.jitter(60, 600)
    name = names.s2_user_product("S2A", "L1C", row.start, S2_BASELINE, row.orbit % 143 + 1, tile, created)
    product = _s2(name, "MSI_L1C___", row.start, row.stop, b, (500, 900))
    b.deliver(product, S2_SERVICE, route)


def s2_newer(row: PlannedDatatake) -> PlannedDatatake:
    return _moved(row, start=8 * SECOND, stop=-3 * SECOND)


# --- plans -------------------------------------------------------------------------------------


def _moved(row: PlannedDatatake, start: int = 0, stop: int = 0) -> PlannedDatatake:
    return PlannedDatatake(
        row.satellite,
        row.datatake_id,
        row.start + start,
        row.stop + stop,
        row.mode,
        row.timeliness,
        row.orbit,
    )


def plans(
    b: Builder,
    day: int,
    rows: Sequence[PlannedDatatake],
    newer: Callable[[PlannedDatatake], PlannedDatatake],
    nominal_fetched: int,
) -> None:
    """The day's nominal plan, a newer one for its second half, and an older one that arrives last."""
    satellite = rows[0].satellite
    later = tuple(newer(r) for r in rows if r.start >= day + SUPERSEDE_FROM)
    stale = tuple(_moved(r, start=-30 * SECOND, stop=-30 * SECOND) for r in rows)
    b.world.plans += [
        MissionPlan(satellite, day - 12 * HOUR, nominal_fetched, f"V{compact(day)[:8]}", tuple(rows)),
        MissionPlan(satellite, day + SUPERSEDE_FROM, day + SUPERSEDE_FROM + 5 * MINUTE, "UPDATE", later),
        MissionPlan(satellite, day - 36 * HOUR, day + DAY - 30 * MINUTE, "PRELIMINARY", stale),
    ]


def datatake_missions(b: Builder, index: int, day: int) -> None:
    plans(b, day, s1_day(b, index, day), s1_newer, day - 12 * HOUR + 10 * MINUTE)
    plans(b, day, s2_day(b, index, day), s2_newer, day + 5 * HOUR)  # after the first S2A datatake's products
