"""The store factory: URL scheme -> backend, from one table, imported only when chosen."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from maas.config import Settings
from maas.config.settings import STORE_SCHEMES, StoreSettings
from maas.errors import ConfigError, StoreError
from maas.store import factory
from maas.store.duckdb import DuckDBStore
from maas.store.factory import create_store, duckdb_path

pytestmark = pytest.mark.unit


def test_every_accepted_scheme_has_a_backend() -> None:
    assert set(factory.BACKENDS) == set(STORE_SCHEMES)


def test_duckdb_urls_are_relative_with_three_slashes_absolute_with_four() -> None:
    assert duckdb_path("duckdb:///.maas/maas.duckdb") == Path(".maas/maas.duckdb")
    assert duckdb_path("duckdb:////var/lib/maas/maas.duckdb") == Path("/var/lib/maas/maas.duckdb")
    with pytest.raises(ConfigError, match="not a DuckDB file URL.*duckdb:///relative/path.duckdb"):
        duckdb_path("duckdb://host/x")


def test_a_duckdb_url_builds_the_embedded_store(tmp_path: Path) -> None:
    settings = Settings(store=StoreSettings(url=f"duckdb:///{tmp_path / 'sub' / 'm.duckdb'}"))
    store = create_store(settings)
    try:
        assert isinstance(store, DuckDBStore)
        assert store.capabilities.name == "duckdb" and store.capabilities.sql
        assert (tmp_path / "sub" / "m.duckdb").exists()
    finally:
        store.close()
    reader = create_store(settings, read_only=True)
    assert isinstance(reader, DuckDBStore) and reader.read_only
    reader.close()


def test_the_embedded_deployment_never_imports_opensearch(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from maas.config import Settings\n"
        "from maas.config.settings import StoreSettings\n"
        "from maas.store.factory import create_store\n"
        f"create_store(Settings(store=StoreSettings(url='duckdb:///{tmp_path}/m.duckdb'))).close()\n"
        "print('opensearchpy' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_backend_that_cannot_be_imported_is_a_store_error_saying_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(factory.BACKENDS, "http", ("maas.store.not_installed", "Nope"))
    with pytest.raises(
        StoreError, match="the http store cannot be loaded: No module named 'maas.store.not_installed'"
    ):
        create_store(Settings(store=StoreSettings(url="http://localhost:9200")))
