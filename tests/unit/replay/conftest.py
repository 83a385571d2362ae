"""An archive written the way ``maas collect`` writes it, for the replay unit tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from chain_catalog import CATALOG
from replay_units import T0, Put, collector

from maas.collector.archive import Archive, ArchiveContext, Stored
from maas.collector.config import CollectorConfig
from maas.collector.sources.base import Checkpoint, Payload
from maas.store.duckdb import DuckDBStore


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    return tmp_path / "archive"


@pytest.fixture
def put(archive: Path) -> Put:
    """``put(name, csv_text, fetched_at=T0, config=collector())``: archive one payload."""

    def put(name: str, text: str, fetched_at: datetime = T0, config: CollectorConfig | None = None) -> Stored:
        config = config or collector()
        payload = Payload(name, text.encode(), f"file:///inbox/{name}", Checkpoint(), fetched_at)
        context = ArchiveContext(
            config.id, config.config_hash(), config.interface_name, config.extract_format
        )
        return Archive(archive).put(payload, context)

    return put


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBStore]:
    store = DuckDBStore(tmp_path / "replay.duckdb")
    store.setup(list(CATALOG.models))
    yield store
    store.close()
