"""Pools of the test catalog's routing file, as ``maas engine pool`` builds them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import chain_catalog
import pytest
from chain_catalog import CATALOG

from maas.engine.pool import Pool
from maas.store.duckdb import DuckDBStore

S = TypeVar("S", bound=DuckDBStore)


@pytest.fixture
def catalog_pool() -> Callable[..., Pool]:
    """``catalog_pool(routing, pool name, bus, store, hooks=None)``."""
    return chain_catalog.catalog_pool


@pytest.fixture
def catalog_store(tmp_path: Path) -> Iterator[Callable[[type[S]], S]]:
    """``catalog_store(StoreClass)``: a DuckDB store (or a spy on one) set up for the test
    catalog's families, closed after the test."""
    opened: list[DuckDBStore] = []

    def open_store(store_class: type[S]) -> S:
        store = store_class(tmp_path / "docs.duckdb")
        store.setup(list(CATALOG.models))
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        store.close()
