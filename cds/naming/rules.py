"""Mission naming rules read from package data (``cds/data/naming.yaml``), once per process.

Levels, extensions and orbit arithmetic are facts about the missions that change with them (a new
product type, a new satellite); keeping them in a validated data file means such a change is a
data edit reviewed as such, not a new branch in the parser.
"""

from __future__ import annotations

import re
from fnmatch import translate
from functools import cache
from importlib.resources import as_file, files

from pydantic import BaseModel, ConfigDict, Field

from cds.naming.model import Mission
from maas.config import load_model

DATA_FILE = "naming.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Extensions(_Strict):
    archive: list[str]
    container: list[str]


class OrbitRule(_Strict):
    reference_orbit: int
    orbits_per_cycle: int = Field(gt=0)


class LevelRule(_Strict):
    mission: Mission
    types: str = Field(min_length=1, description="shell glob over the product type")
    level: str = Field(min_length=1)
    note: str = ""


class NamingRules(_Strict):
    extensions: Extensions
    relative_orbits: dict[str, OrbitRule]
    levels: list[LevelRule]


class Rules:
    """The loaded rules in the shapes the parser needs on its hot path."""

    def __init__(self, data: NamingRules) -> None:
        self.archive = frozenset(ext.lower() for ext in data.extensions.archive)
        self.container = frozenset(ext.lower() for ext in data.extensions.container)
        self.orbits = data.relative_orbits
        self._levels = [(r.mission, re.compile(translate(r.types)), r.level) for r in data.levels]
        self._level_cache: dict[Mission, dict[str, str | None]] = {m: {} for m in Mission}

    def level_of(self, mission: Mission, product_type: str) -> str | None:
        """First matching row wins; memoised because product types are few and names many."""
        known = self._level_cache[mission]
        try:
            return known[product_type]
        except KeyError:
            level = known[product_type] = self._first_level(mission, product_type)
            return level

    def _first_level(self, mission: Mission, product_type: str) -> str | None:
        for rule_mission, pattern, level in self._levels:
            if rule_mission is mission and pattern.match(product_type):
                return level
        return None

    def relative_orbit(self, unit: str, absolute_orbit: int) -> int | None:
        rule = self.orbits.get(unit)
        if rule is None:
            return None
        return (absolute_orbit - rule.reference_orbit) % rule.orbits_per_cycle + 1


@cache
def rules() -> Rules:
    """Load and validate the packaged rules; a broken file fails loudly naming file:line: key."""
    with as_file(files("cds").joinpath("data", DATA_FILE)) as path:
        return Rules(load_model(path, NamingRules))
