"""Choose and build a store from its URL: the one place that knows the backends.

``duckdb:///relative/path.duckdb`` (three slashes: relative to the working directory) or
``duckdb:////absolute/path.duckdb`` (four slashes); ``http(s)://host:9200`` for OpenSearch.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from maas.config import Settings

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

_DUCKDB_PREFIX = "duckdb:///"


def duckdb_path(url: str) -> Path:
    if not url.startswith(_DUCKDB_PREFIX):
        raise ValueError(f"not a duckdb URL: {url!r} (expected duckdb:///path/file.duckdb)")
    return Path(url[len(_DUCKDB_PREFIX) :] or "maas.duckdb")


def opensearch_client(settings: Settings, timeout: float | None = None) -> OpenSearch:
    """An OpenSearch client with TLS verification on unless the settings turn it off."""
    from opensearchpy import OpenSearch

    store, tls = settings.store, settings.tls
    kwargs: dict[str, Any] = {
        "hosts": [store.url],
        "timeout": timeout or store.timeout_s,
        "verify_certs": tls.verify,
        "ssl_show_warn": tls.verify,
    }
    if tls.ca_file:
        kwargs["ca_certs"] = str(tls.ca_file)
    if tls.client_cert:
        kwargs["client_cert"], kwargs["client_key"] = str(tls.client_cert), str(tls.client_key)
    if store.username:
        password = store.password.resolve() if store.password else ""
        kwargs["http_auth"] = (store.username, password)
    return OpenSearch(**kwargs)
