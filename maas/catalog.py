"""A catalog: the document models, engines and default configuration files of one business.

The framework knows no business. A deployment names its catalogs as ``module:attribute``
references (like a WSGI app or dramatiq's module argument); each is imported explicitly by
name — configuration is never evaluated — and several catalogs merge into one.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from maas.engine.registry import EngineRegistry
from maas.errors import ConfigError
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


def load_catalogs(references: Sequence[str]) -> Catalog:
    catalog = EMPTY
    for reference in references:
        catalog = catalog.merged(import_catalog(reference))
    return catalog
