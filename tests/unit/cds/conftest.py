"""Fixtures of the CDS KPI engine tests: a DuckDB store and a memory bus per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from maas.bus.memory import MemoryBroker, MemoryBus
from maas.store.duckdb import DuckDBStore


@pytest.fixture
def kpi_store(tmp_path: Path) -> Iterator[DuckDBStore]:
    store = DuckDBStore(tmp_path / "kpi.duckdb")
    yield store
    store.close()


@pytest.fixture
def kpi_bus() -> MemoryBus:
    return MemoryBus(MemoryBroker(), "test")
