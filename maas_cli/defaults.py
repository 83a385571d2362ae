"""The business the CLI runs when the settings name no catalog: CDS."""

from __future__ import annotations

from maas.catalog import Catalog, load_catalogs
from maas.config import Settings

DEFAULT_CATALOGS = ["cds.catalog:CATALOG"]


def catalog_for(settings: Settings) -> Catalog:
    return load_catalogs(settings.catalogs if settings.catalogs is not None else DEFAULT_CATALOGS)
