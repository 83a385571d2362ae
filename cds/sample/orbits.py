"""Unplanned missions (S3A, S5P): products per orbit, auxiliary files, and a name nobody reads.

Five consecutive orbits a day per mission, each with a fate: ``complete``; ``partial`` (half
of a type, and for S3 a product of the wrong timeliness that must not count); ``empty`` (no
product at all: only back-filling makes it show); ``overlap`` (overlapping and nested products
counted once; for S3 a type only the archive has, which does not count); ``late`` (published
the next day). The other orbits of the day have no product either.
"""

from __future__ import annotations

from cds.sample import names
from cds.sample.builder import AUXIP, DD, Builder, Route
from cds.sample.truth import HOUR, MINUTE, SECOND, Product, compact

ORBIT = 6060 * SECOND  # about 101 minutes, both missions
ORBIT_FATES = ("complete", "partial", "empty", "overlap", "late")
S3_SERVICE, S5P_SERVICE = "S3A-ACRI", "S5P-DLR"
S3_CYCLE_LENGTH = 385
S3_FIRST = (110, 100)  # cycle and relative orbit of the first orbit of the sample
S5P_FIRST = 33000
Span = tuple[int, int, str, str]  # seconds into the orbit (start, stop), product type, timeliness

S3_PRODUCTS: dict[str, tuple[Span, ...]] = {
    "complete": (
        (600, 1920, "OL_1_EFR___", "NR"), (1920, 3240, "OL_1_EFR___", "NR"),
        (0, 3030, "SL_1_RBT___", "NR"), (3030, 6060, "SL_1_RBT___", "NR"),
        (0, 6060, "SR_1_SRA___", "NR"), (0, 6060, "TM_0_NAT___", "AL"), (600, 3240, "SY_2_SYN___", "NT"),
    ),
    "partial": (
        (600, 1920, "OL_1_EFR___", "NR"), (1920, 3240, "OL_1_EFR___", "NT"),
        (0, 3030, "SL_1_RBT___", "NR"), (3030, 6060, "SL_1_RBT___", "NR"), (0, 4000, "SR_1_SRA___", "NR"),
    ),
    "empty": (),
    "overlap": (
        (0, 3500, "SL_1_RBT___", "NR"), (3000, 6060, "SL_1_RBT___", "NR"), (1000, 2000, "SL_1_RBT___", "NR"),
        (600, 2000, "OL_1_EFR___", "NR"), (1800, 3240, "OL_1_EFR___", "NR"),
    ),
    "late": (
        (600, 1920, "OL_1_EFR___", "NR"), (1920, 3240, "OL_1_EFR___", "NR"),
        (0, 6060, "SR_1_SRA___", "NR"), (0, 3030, "SL_2_LST___", "NR"),
    ),
}  # fmt: skip
S5P_PRODUCTS: dict[str, tuple[Span, ...]] = {
    "complete": (
        (300, 1800, "NRTI_L2__NO2___", "NRTI"), (1800, 3300, "NRTI_L2__NO2___", "NRTI"),
        (300, 1800, "NRTI_L1B_RA_BD1", "NRTI"), (1800, 3300, "NRTI_L1B_RA_BD1", "NRTI"),
        (300, 3300, "OFFL_L2__CH4___", "OFFL"),
    ),
    "partial": (
        (300, 1800, "NRTI_L2__NO2___", "NRTI"),
        (300, 2000, "NRTI_L2__O3____", "NRTI"), (1500, 3300, "NRTI_L2__O3____", "NRTI"),
    ),
    "empty": (),
    "overlap": (
        (300, 3300, "NRTI_L2__AER_LH", "NRTI"), (1000, 1500, "NRTI_L2__AER_LH", "NRTI"),
        (300, 1000, "NRTI_L2__NO2___", "NRTI"), (2000, 2500, "NRTI_L2__NO2___", "NRTI"),
    ),
    "late": (
        (300, 3300, "OFFL_L1B_RA_BD1", "OFFL"),
        (300, 1800, "NRTI_L2__NO2___", "NRTI"), (1800, 3300, "NRTI_L2__NO2___", "NRTI"),
    ),
}  # fmt: skip


def _first_orbit(index: int) -> int:
    """Orbits since the sample's first one, at the start of day ``index``."""
    return index * 24 * HOUR // ORBIT


def s3_day(b: Builder, index: int, start: int) -> None:
    """``start``: the first day's 00:00; S3A's first orbit starts at 06:00."""
    for slot, fate in enumerate(ORBIT_FATES):
        number = _first_orbit(index) + slot
        cycle, relative = divmod(S3_FIRST[0] * S3_CYCLE_LENGTH + S3_FIRST[1] - 1 + number, S3_CYCLE_LENGTH)
        begin = start + 6 * HOUR + number * ORBIT
        for span in S3_PRODUCTS[fate]:
            _s3_product(b, fate, begin, cycle, relative + 1, span)


def _s3_product(b: Builder, fate: str, orbit_start: int, cycle: int, relative: int, span: Span) -> None:
    low, high, ptype, timeliness = span
    start, stop = orbit_start + low * SECOND, orbit_start + high * SECOND
    hours = {"NR": (1, 3), "NT": (30, 48), "AL": (4, 8)}[timeliness]
    late = 26 * HOUR if fate == "late" and ptype.startswith("OL") else 0
    route = Route(
        late + b.jitter(hours[0] * 3600, hours[1] * 3600),
        prip=not (fate == "overlap" and ptype.startswith("TM")),
    )
    created = stop + route.delay - b.jitter(60, 900)
    key, ext = names.s3("S3A", ptype, start, stop, created, cycle, relative, None, timeliness)
    product = b.product(
        Product(
            key,
            ext,
            "S3A",
            "S3",
            ptype,
            start,
            stop,
            cycle=cycle,
            relative_orbit=relative,
            timeliness=timeliness,
            footprint=b.footprint((-60.0, 60.0), (-50.0, 50.0)),
            size=b.rng.randrange(200, 4000) * 1_000_000,
        )
    )
    b.deliver(product, S3_SERVICE, Route(route.delay, route.prip, lta=True, dd=ptype[3] != "0"))


def s5p_day(b: Builder, index: int, start: int) -> None:
    """S5P's first orbit starts at 03:00 of the first day."""
    for slot, fate in enumerate(ORBIT_FATES):
        number = _first_orbit(index) + slot
        begin = start + 3 * HOUR + number * ORBIT
        for span in S5P_PRODUCTS[fate]:
            _s5p_product(b, fate, begin, S5P_FIRST + number, span)


def _s5p_product(b: Builder, fate: str, orbit_start: int, orbit: int, span: Span) -> None:
    low, high, ptype, timeliness = span
    start, stop = orbit_start + low * SECOND, orbit_start + high * SECOND
    hours = (1, 3) if timeliness == "NRTI" else (12, 30)
    late = 24 * HOUR if fate == "late" and timeliness == "OFFL" else 0
    delay = late + b.jitter(hours[0] * 3600, hours[1] * 3600)
    key, ext = names.s5p(ptype, start, stop, orbit, stop + delay - b.jitter(60, 900))
    product = b.product(
        Product(
            key,
            ext,
            "S5P",
            "S5P",
            ptype,
            start,
            stop,
            absolute_orbit=orbit,
            timeliness=timeliness,
            footprint=b.footprint((-170.0, 160.0), (-60.0, 40.0)),
            size=b.rng.randrange(20, 600) * 1_000_000,
        )
    )
    b.deliver(product, S5P_SERVICE, Route(delay, lta=True, dd="_L2_" in ptype))


def auxiliary(b: Builder, day: int) -> None:
    """Restituted orbit files on the AUXIP (validity window as ContentDate), one without an
    origin date; never attached to a datatake."""
    for hour, with_origin in ((4, True), (16, False)):
        created = day + hour * HOUR + b.jitter(0, 600) // SECOND * SECOND
        start, stop = created - 4 * HOUR, created - HOUR
        key, ext = names.s1_orbit_file("S1A", created, start, stop)
        product = b.product(
            Product(key, ext, "S1A", "S1", "AUX_RESORB", start, stop, auxiliary=True, size=4_500_000)
        )
        published = created + 30 * MINUTE + b.jitter(0, 600)
        b.publish(product, AUXIP, "AUXIP", published, created if with_origin else None, None)


def unknown_name(b: Builder, day: int) -> None:
    """A quick-look only the dissemination service lists: no grammar reads its name, it is
    kept (a publication with ContentDate as its sensing) and attached to nothing."""
    start = day + 13 * HOUR
    key = f"S1A_IW_QUICKLOOK_{compact(start)}"
    product = b.product(
        Product(key, "", "S1A", "unknown", "unknown", start, start + 25 * SECOND, size=350_000)
    )
    published = product.stop + 3 * HOUR + b.jitter(0, 60)
    b.publish(product, DD, "DD", published, published - 10 * MINUTE, None)
