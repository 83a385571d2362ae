"""Build what commands need from the settings: catalog, routing file, store, bus."""

from __future__ import annotations

from maas.catalog import Catalog
from maas.config import Settings
from maas.engine.routing import RoutingFile, load_routing
from maas.errors import ConfigError
from maas_cli.defaults import catalog_for


def routing_for(settings: Settings, catalog: Catalog | None = None) -> tuple[RoutingFile, Catalog]:
    """The routing file (settings first, then the catalog's default), checked against the engines."""
    catalog = catalog or catalog_for(settings)
    path = settings.routing_file or catalog.routing_file
    if path is None:
        raise ConfigError("no routing file: set 'routing_file' in the settings (or MAAS_ROUTING_FILE)")
    return load_routing(path, catalog.engines), catalog
