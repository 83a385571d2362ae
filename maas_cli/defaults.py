"""The business the CLI runs when the settings name no catalog: CDS."""

from __future__ import annotations

from maas.catalog import Catalog, load_catalogs
from maas.config import Settings

DEFAULT_CATALOGS = ["cds.catalog:CATALOG"]


def catalog_for(settings: Settings) -> Catalog:
    """The settings' catalogs merged; one that cannot be imported is a problem of its
    ``catalogs.N`` key, located where the settings set it (file and line, or MAAS_CATALOGS)."""
    if settings.catalogs is None:
        return load_catalogs(DEFAULT_CATALOGS)
    return load_catalogs(settings.catalogs, lambda i, p: settings.problem(("catalogs", i), p.reason))
