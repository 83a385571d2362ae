"""The sample's ground truth: what happened in the synthetic ground segment, before any
interface or engine saw it.

Both sides of the acceptance test start here: :mod:`cds.sample.payloads` renders it as the
bytes interfaces would have served, and :mod:`cds.sample.expected` computes the KPIs from it
directly. Times are integer milliseconds since the Unix epoch (UTC), so the reference
arithmetic is exact and a name's second-precision date is the same instant as the truth's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def instant(ms: int) -> datetime:
    return EPOCH + ms * _MS


def iso(ms: int) -> str:
    """OData/JSON style: ``2024-03-04T10:10:00.123Z``."""
    return instant(ms).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % SECOND:03d}Z"


def compact(ms: int) -> str:
    """Sentinel-name style (second precision): ``20240304T101000``."""
    return instant(ms).strftime("%Y%m%dT%H%M%S")


def plain(ms: int) -> str:
    """Mission-plan CSV style (UTC, no offset): ``2024-03-04T10:10:00``."""
    return instant(ms).strftime("%Y-%m-%dT%H:%M:%S")


def ms_of(moment: datetime) -> int:
    """Exact for the millisecond-aligned instants the sample is made of."""
    return (moment - EPOCH) // _MS


@dataclass(frozen=True)
class PlannedDatatake:
    """One row of a mission plan, as the planning system writes it."""

    satellite: str
    datatake_id: str
    start: int
    stop: int
    mode: str
    timeliness: str
    orbit: int

    @property
    def key(self) -> str:
        return f"{self.satellite}-{self.datatake_id}"


@dataclass(frozen=True)
class MissionPlan:
    """One mission-plan file: its application date is its version."""

    satellite: str
    applied: int
    fetched: int
    label: str
    rows: tuple[PlannedDatatake, ...]

    @property
    def name(self) -> str:
        return f"{self.satellite}_MP_{compact(self.applied)}_{self.label}.csv"


@dataclass(frozen=True)
class Product:
    """One product as produced. ``start``/``stop`` are its sensing period: the name (where it
    gives them) and the interfaces' ContentDate agree with them."""

    key: str  # the name without extensions: the product's identity
    extension: str
    satellite: str
    mission: str
    product_type: str
    start: int
    stop: int
    auxiliary: bool = False
    datatake_id: int | None = None  # S1: the datatake the name designates
    cycle: int | None = None  # S3
    relative_orbit: int | None = None  # S3
    absolute_orbit: int | None = None  # S1, S5P
    timeliness: str | None = None  # S3/S5P: the name's timeliness code
    footprint: tuple[float, float, float, float] | None = None  # lon/lat box
    size: int = 0

    @property
    def name(self) -> str:
        return self.key + self.extension


@dataclass(frozen=True)
class Publication:
    """One product on one interface."""

    product: Product
    interface: str
    kind: str  # PRIP | LTA | AUXIP | DD
    published: int
    origin: int | None
    eviction: int | None
    uid: str


@dataclass(frozen=True, order=True)
class Probe:
    time: int
    interface: str
    status: str  # up | down | degraded
    response_ms: int | None = None
    message: str = ""


@dataclass(frozen=True)
class ProbePage:
    """What the status service answered at one poll (probes may repeat across pages)."""

    fetched: int
    probes: tuple[Probe, ...]


@dataclass
class GroundSegment:
    seed: int
    days: int
    start: int  # first day, 00:00 UTC
    plans: list[MissionPlan] = field(default_factory=list)
    products: list[Product] = field(default_factory=list)
    publications: list[Publication] = field(default_factory=list)
    probe_pages: list[ProbePage] = field(default_factory=list)
