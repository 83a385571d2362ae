"""What a parsed Sentinel name is: one frozen record per grammar family, or an explicit Unknown.

Engines rely on the common fields of :class:`ProductName` (mission, unit, type, level, sensing
window, timeliness, ``datatake_key``); the mission-specific fields are there so nobody has to
re-parse a name later. Every result, known or not, renders to a JSON-ready record the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

JsonScalar = str | int | bool | None


class Mission(StrEnum):
    """The Copernicus Sentinel missions whose names we parse."""

    S1 = "S1"
    S2 = "S2"
    S3 = "S3"
    S5P = "S5P"


def iso_utc(moment: datetime) -> str:
    """One rendering of instants everywhere: ISO 8601 with a ``Z`` suffix."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _record(item: object, names: tuple[str, ...]) -> dict[str, JsonScalar]:
    out: dict[str, JsonScalar] = {}
    for name in names:
        value = getattr(item, name)
        out[name] = iso_utc(value) if isinstance(value, datetime) else value
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class ProductName:
    """Fields every grammar yields. ``key`` is the name without extensions: the product identity."""

    unknown: ClassVar[bool] = False
    name: str
    key: str
    grammar: str
    mission: Mission
    unit: str
    product_type: str
    level: str | None
    sensing_start: datetime | None = None
    sensing_stop: datetime | None = None
    timeliness: str | None = None

    @property
    def datatake_key(self) -> str | None:
        """``<unit>-<id>`` of the (pseudo-)datatake this name designates, if the name has one."""
        return None

    def as_record(self) -> dict[str, JsonScalar]:
        """A JSON-ready dict: datetimes as ISO 8601 UTC with ``Z``, plus ``unknown`` and the key."""
        head: dict[str, JsonScalar] = {"name": self.name, "key": self.key, "unknown": False}
        body = _record(self, tuple(f.name for f in fields(self)))
        return head | body | {"datatake_key": self.datatake_key}


@dataclass(frozen=True, slots=True, kw_only=True)
class S1Product(ProductName):
    """S1 SAFE product (L0/L1/L2): the datatake id is in the name, in hexadecimal."""

    mode: str
    resolution: str | None
    product_class: str
    polarisation: str
    absolute_orbit: int
    relative_orbit: int | None
    datatake_hex: str
    datatake_id: int
    unique_id: str

    @property
    def datatake_key(self) -> str:
        return f"{self.unit}-{self.datatake_id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class S2Product(ProductName):
    """S2 compact user-product name. No datatake id: attach by sensing time to the plan."""

    baseline: str
    relative_orbit: int
    tile: str
    discriminator: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class LongName(ProductName):
    """Earth-Explorer-style long names (S2 granules/tiles/datastrips, S1/S2 auxiliary files).

    After the creation date each optional field is introduced by a letter (S applicability
    start, V validity, D detector, A absolute orbit, R relative orbit, T tile, N baseline,
    B band, W completeness, L degradation); absent fields are None.
    """

    file_class: str | None
    site: str | None = None
    creation: datetime | None = None
    applicability_start: datetime | None = None
    validity_start: datetime | None = None
    validity_stop: datetime | None = None
    detector: int | None = None
    absolute_orbit: int | None = None
    relative_orbit: int | None = None
    tile: str | None = None
    baseline: str | None = None
    band: str | None = None
    completeness: str | None = None
    degradation: str | None = None
    version: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class S3Product(ProductName):
    """S3 product: stripes and frames carry cycle and relative orbit (the pseudo-datatake)."""

    creation: datetime
    instance: str
    duration: int | None
    cycle: int | None
    relative_orbit: int | None
    frame: int | None
    centre: str
    platform: str
    baseline_collection: str

    @property
    def datatake_key(self) -> str | None:
        if self.cycle is None or self.relative_orbit is None:
            return None
        return f"{self.unit}-{self.cycle:03d}-{self.relative_orbit:03d}"


@dataclass(frozen=True, slots=True, kw_only=True)
class S5PProduct(ProductName):
    """S5P product: the orbit is the pseudo-datatake; ``timeliness`` is NRTI/OFFL/RPRO."""

    data_type: str
    absolute_orbit: int
    collection: str
    processor: str
    production_time: datetime

    @property
    def datatake_key(self) -> str:
        return f"{self.unit}-{self.absolute_orbit:05d}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Unknown:
    """A name no grammar accepts: a valid answer that keeps the document, with the reason."""

    unknown: ClassVar[bool] = True
    name: str
    key: str
    reason: str

    @property
    def datatake_key(self) -> None:
        return None

    def as_record(self) -> dict[str, JsonScalar]:
        return {"name": self.name, "key": self.key, "unknown": True, "reason": self.reason}


ParsedName = ProductName | Unknown
