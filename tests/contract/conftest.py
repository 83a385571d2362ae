"""Fixtures of the contract suites: every backend runs the same tests.

Stores: ``store`` is parametrized over ``STORE_BACKENDS``; a test builds its document classes with
``doc_class_factory`` so their families carry a prefix unique to the test. On OpenSearch the
prefix keeps tests from seeing each other's indices, and the indices and templates under it are
deleted afterwards; on DuckDB every test has a fresh file anyway.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from maas.config import Settings
from maas.config.settings import StoreSettings
from maas.model import DocumentClass, Field, NoPartition, Partition
from maas.store.base import Store
from maas.store.factory import create_store, opensearch_client

STORE_BACKENDS = (
    pytest.param("duckdb", marks=pytest.mark.unit),
    pytest.param("opensearch", marks=pytest.mark.integration),
)

DocClassFactory = Callable[..., DocumentClass]


@pytest.fixture(params=STORE_BACKENDS)
def store_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_settings(store_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    if store_backend == "duckdb":
        return Settings(store=StoreSettings(url=f"duckdb:///{tmp_path / 'store.duckdb'}"))
    url = request.getfixturevalue("opensearch_url")  # skips, or fails under MAAS_REQUIRE_SERVICES=1
    return Settings(store=StoreSettings(url=url))


@pytest.fixture
def family_prefix() -> str:
    return f"ct{uuid.uuid4().hex[:12]}"


@pytest.fixture
def doc_class_factory(family_prefix: str) -> DocClassFactory:
    """``factory(name, fields, key, partition=None)``: a class whose family is unique to the test."""

    def make(
        name: str, fields: Mapping[str, Field], key: tuple[str, ...], partition: Partition | None = None
    ) -> DocumentClass:
        family = f"{family_prefix}-{name.lower()}"
        return DocumentClass(name, family, dict(fields), key, partition or NoPartition())

    return make


@pytest.fixture
def store(store_settings: Settings, store_backend: str, family_prefix: str) -> Iterator[Store]:
    store = create_store(store_settings)
    try:
        yield store
    finally:
        store.close()
        if store_backend == "opensearch":
            _drop_opensearch_families(store_settings, family_prefix)


def _drop_opensearch_families(settings: Settings, prefix: str) -> None:
    client = opensearch_client(settings)
    try:
        client.indices.delete(index=f"{prefix}-*", expand_wildcards="all", ignore_unavailable=True)
        found = client.indices.get_index_template(name=f"{prefix}-*", ignore=404)
        for template in found.get("index_templates", []):
            client.indices.delete_index_template(name=template["name"])
    finally:
        client.close()
