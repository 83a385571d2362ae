"""A catalog: the document models, engines and default configuration files of one business.

The framework knows no business. A deployment names its catalogs as ``module:attribute``
references (like a WSGI app or dramatiq's module argument); each is imported explicitly by
name — configuration is never evaluated — and several catalogs merge into one.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from maas.engine.registry import EngineRegistry
from maas.errors import ConfigError, ConfigProblem
from maas.inspect.figures import Section
from maas.inspect.views import View
from maas.model import ModelRegistry


@dataclass(frozen=True)
class Catalog:
    models: ModelRegistry
    engines: EngineRegistry
    routing_file: Path | None = None
    collectors_dir: Path | None = None
    views: tuple[View, ...] = ()  # ready-made investigations for ``maas inspect``
    report: tuple[Section, ...] = ()  # figures and tables of ``maas inspect report``

    def merged(self, other: Catalog) -> Catalog:
        return Catalog(
            ModelRegistry([*self.models, *other.models]),
            self.engines.merged(other.engines),
            other.routing_file or self.routing_file,
            other.collectors_dir or self.collectors_dir,
            tuple({v.name: v for v in (*self.views, *other.views)}.values()),  # later catalogs win
            tuple({s.name: s for s in (*self.report, *other.report)}.values()),
        )


EMPTY = Catalog(ModelRegistry(), EngineRegistry())
Locate = Callable[[int, ConfigProblem], ConfigProblem]


def import_catalog(reference: str) -> Catalog:
    """Import ``package.module:ATTRIBUTE`` and check it is a Catalog."""
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"catalog {reference!r}: expected 'package.module:ATTRIBUTE'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"catalog {reference!r}: cannot import {module_name} ({exc})") from None
    catalog = getattr(module, attribute, None)
    if not isinstance(catalog, Catalog):
        raise ConfigError(f"catalog {reference!r}: {attribute} is not a maas.catalog.Catalog")
    return catalog


def _as_is(_: int, problem: ConfigProblem) -> ConfigProblem:
    return problem


def load_catalogs(references: Sequence[str], locate: Locate = _as_is) -> Catalog:
    """The references' catalogs merged. Every one that cannot be imported is reported at once,
    ``locate(i, problem)`` placing the problem of the i-th where the reference was written."""
    catalog, problems = EMPTY, []
    for i, reference in enumerate(references):
        try:
            catalog = catalog.merged(import_catalog(reference))
        except ConfigError as exc:
            problems += [locate(i, problem) for problem in exc.problems]
    if problems:
        raise ConfigError(problems)
    return catalog
