"""The business the CLI runs when the settings name no catalog: CDS."""

from __future__ import annotations

from maas.catalog import EMPTY, Catalog, import_catalog, load_catalogs
from maas.config import Settings
from maas.errors import ConfigError

DEFAULT_CATALOGS = ["cds.catalog:CATALOG"]


def catalog_for(settings: Settings) -> Catalog:
    """The settings' catalogs merged; one that cannot be imported is a problem of its
    ``catalogs.N`` key, located where the settings set it (file and line, or MAAS_CATALOGS)."""
    if settings.catalogs is None:
        return load_catalogs(DEFAULT_CATALOGS)
    catalog, problems = EMPTY, []
    for i, reference in enumerate(settings.catalogs):
        try:
            catalog = catalog.merged(import_catalog(reference))
        except ConfigError as exc:
            problems += [settings.problem(("catalogs", i), p.reason) for p in exc.problems]
    if problems:
        raise ConfigError(problems)
    return catalog
