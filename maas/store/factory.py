"""Choose and build a store from its URL: the one place that knows the backends.

``duckdb:///relative/path.duckdb`` (three slashes: relative to the settings file that names it,
else to the working directory) or
``duckdb:////absolute/path.duckdb`` (four slashes); ``http(s)://host:9200`` for OpenSearch.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from maas.config import Settings
from maas.config.resolve import resolve_secret
from maas.config.settings import duckdb_file
from maas.errors import ConfigError, StoreError

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

    from maas.store.base import Store

# URL scheme -> (module, class). Imported only when chosen, so the embedded deployment never
# loads opensearch-py. Each class offers ``from_settings(settings, *, read_only) -> Store``.
BACKENDS: dict[str, tuple[str, str]] = {
    "duckdb": ("maas.store.duckdb", "DuckDBStore"),
    "http": ("maas.store.opensearch", "OpenSearchStore"),
    "https": ("maas.store.opensearch", "OpenSearchStore"),
}


def create_store(settings: Settings, *, read_only: bool = False) -> Store:
    """The store the settings name; ``read_only`` for processes that only read (embedded: no lock)."""
    scheme = urlsplit(settings.store.url).scheme
    if scheme not in BACKENDS:
        raise ConfigError(f"store.url: no store backend for scheme {scheme!r}")
    module_name, class_name = BACKENDS[scheme]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:  # a missing or incompatible install of the backend's library
        raise StoreError(f"the {scheme} store cannot be loaded: {exc}") from exc
    store: Store = getattr(module, class_name).from_settings(settings, read_only=read_only)
    return store


def duckdb_path(url: str) -> Path:
    """The file of a ``duckdb:`` URL, parsed as the settings validate it (a ConfigError, never a
    bare ValueError, for one that is not a DuckDB file URL)."""
    try:
        return duckdb_file(url)
    except ValueError as exc:
        raise ConfigError(f"store.url: {exc}") from None


def opensearch_client(settings: Settings, timeout: float | None = None) -> OpenSearch:
    """An OpenSearch client with TLS verification on unless the settings turn it off."""
    from opensearchpy import OpenSearch

    store, tls = settings.store, settings.tls
    tls.warn_if_unverified(store.url)
    kwargs: dict[str, Any] = {
        "hosts": [store.url],
        "timeout": timeout or store.timeout_s,
        "verify_certs": tls.verify,
        "ssl_show_warn": tls.verify,  # urllib3 would warn at every request; ours is once, above
    }
    if tls.ca_file:
        kwargs["ca_certs"] = str(tls.ca_file)
    if tls.client_cert:
        kwargs["client_cert"], kwargs["client_key"] = str(tls.client_cert), str(tls.client_key)
    if store.username:
        kwargs["http_auth"] = (store.username, resolve_secret(settings, ("store", "password")))
    return OpenSearch(**kwargs)
