"""Completeness rules (``cds/data/completeness.yaml``): validated once, shaped for the engines.

What a datatake or an orbit should deliver is an operations contract that changes with the
missions (a new product type, a tolerance, a production service moving): data reviewed as
data. A broken file fails at load with ``file:line: key: reason``, never in an engine's loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from functools import cache
from importlib.resources import as_file, files
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from cds.kpi.completeness import Expectation
from cds.naming import Mission
from maas.config import load_model

DATA_FILE = "completeness.yaml"
ANY_SERVICE = None
R = TypeVar("R")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


T = TypeVar("T", "DatatakeType", "OrbitType")


def _unique_types(items: list[T]) -> list[T]:
    seen: set[str] = set()
    for item in items:
        if item.type in seen:
            raise ValueError(f"product type {item.type} is listed twice")
        seen.add(item.type)
    return items


class DatatakeType(_Strict):
    """One expected product type of an instrument mode: measured in seconds, or counted."""

    type: str = Field(min_length=1)
    tolerance_s: float | None = None
    count: int | None = Field(default=None, ge=1)
    default_duration_s: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_measure(self) -> DatatakeType:
        if (self.tolerance_s is None) == (self.count is None):
            raise ValueError("give either tolerance_s (a duration type) or count (a counted type)")
        if self.count is not None and self.default_duration_s is not None:
            raise ValueError("default_duration_s applies to duration types only")
        return self

    def expectation(self, observation_s: float) -> Expectation:
        if self.count is not None:
            return Expectation(self.type, "count", self.count)
        return Expectation(self.type, "seconds", observation_s + (self.tolerance_s or 0.0))


ModeTypes = Annotated[list[DatatakeType], Field(min_length=1), AfterValidator(_unique_types)]


class MissionDatatakes(_Strict):
    min_gap_s: float = Field(default=0.0, ge=0)
    modes: dict[str, ModeTypes] = Field(min_length=1)


class OrbitType(_Strict):
    type: str = Field(min_length=1)
    minutes: float = Field(gt=0)
    timeliness: frozenset[str] = Field(min_length=1)


class MissionOrbits(_Strict):
    """How a mission numbers its orbits, and what each orbit should deliver."""

    numbering: Literal["cycle", "absolute"]
    orbits_per_cycle: int | None = Field(default=None, gt=0)
    orbit_period_minutes: float = Field(gt=0, le=1440)
    backfill_orbits: int = Field(default=0, ge=0, le=1000)
    max_backfill_orbits: int | None = Field(default=None, ge=0, le=10_000)
    types: Annotated[list[OrbitType], Field(min_length=1), AfterValidator(_unique_types)]

    @model_validator(mode="after")
    def _cycle_length(self) -> MissionOrbits:
        if (self.numbering == "cycle") != (self.orbits_per_cycle is not None):
            raise ValueError("orbits_per_cycle is required with numbering: cycle, and only then")
        return self

    @model_validator(mode="after")
    def _gap_bound(self) -> MissionOrbits:
        if self.max_backfill_orbits is not None and self.max_backfill_orbits < self.backfill_orbits:
            raise ValueError("max_backfill_orbits is at least backfill_orbits (the window is a gap too)")
        return self

    @property
    def max_gap(self) -> int:
        """The longest run of orbits without record that is back-filled (no more than the
        window when the file sets no bound)."""
        return self.backfill_orbits if self.max_backfill_orbits is None else self.max_backfill_orbits

    @property
    def orbit_period(self) -> timedelta:
        """The nominal period: how far apart consecutive orbits start (estimated dates)."""
        return timedelta(minutes=self.orbit_period_minutes)

    def index(self, data: Mapping[str, Any]) -> int | None:
        """A linear orbit number (cycles folded in) of a product, None when it has none."""
        if self.numbering == "absolute":
            orbit = data.get("absolute_orbit")
            return int(orbit) if orbit is not None else None
        cycle, relative = data.get("cycle"), data.get("relative_orbit")
        if cycle is None or relative is None or self.orbits_per_cycle is None:
            return None
        return int(cycle) * self.orbits_per_cycle + int(relative) - 1

    def orbit(self, unit: str, index: int) -> dict[str, Any]:
        """The orbit's key (the naming's pseudo-datatake key) and numbers, from its index."""
        if self.orbits_per_cycle is None:
            return {"orbit_key": f"{unit}-{index:05d}", "absolute_orbit": index}
        cycle, relative = divmod(index, self.orbits_per_cycle)
        return {
            "orbit_key": f"{unit}-{cycle:03d}-{relative + 1:03d}",
            "cycle": cycle,
            "relative_orbit": relative + 1,
        }


class CompletenessRules(_Strict):
    version: Literal[1] = 1
    production_services: dict[str, str] = Field(default_factory=dict)
    datatakes: dict[Mission, MissionDatatakes] = Field(default_factory=dict)
    orbits: dict[Mission, MissionOrbits] = Field(default_factory=dict)

    def production_service(self, satellite: str | None) -> str | None:
        """The one PRIP whose products count, or None: any production service counts."""
        return self.production_services.get(satellite or "", ANY_SERVICE)

    def counts(self, product: Mapping[str, Any]) -> bool:
        """Whether a product was served by its satellite's designated production service."""
        service = self.production_service(product.get("satellite"))
        return service is None or service in (product.get("prip_interfaces") or ())

    def has_datatakes(self, mission: str | None) -> bool:
        return _lookup(self.datatakes, mission) is not None

    def expected_types(self, mission: str | None, mode: str | None) -> list[DatatakeType]:
        rule = _lookup(self.datatakes, mission)
        return list(rule.modes.get(mode or "", ())) if rule else []

    def datatake_types(self, mission: str | None) -> list[str]:
        """Every product type some instrument mode of the mission expects."""
        rule = _lookup(self.datatakes, mission)
        return sorted({t.type for types in rule.modes.values() for t in types}) if rule else []

    def min_gap_s(self, mission: str | None) -> float:
        rule = _lookup(self.datatakes, mission)
        return rule.min_gap_s if rule else 0.0

    def orbit_rule(self, mission: str | None) -> MissionOrbits | None:
        return _lookup(self.orbits, mission)


def _lookup(by_mission: Mapping[Mission, R], mission: str | None) -> R | None:
    """A mission's rule by name; names that are no mission (None, "unknown") have none."""
    try:
        return by_mission.get(Mission(mission or ""))
    except ValueError:
        return None


def load_rules(path: Path) -> CompletenessRules:
    return load_model(path, CompletenessRules)


@cache
def rules() -> CompletenessRules:
    """The packaged rules, validated once per process."""
    with as_file(files("cds").joinpath("data", DATA_FILE)) as path:
        return load_rules(path)
