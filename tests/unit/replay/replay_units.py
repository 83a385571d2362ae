"""What the replay unit tests share (a module of its own: ``conftest`` is not importable by
name when several test folders have one)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from replay_site import csv_collector

from maas.collector.archive import Stored
from maas.collector.config import CollectorConfig

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
Put = Callable[..., Stored]


def collector(collector_id: str = "inbox-csv", interface: str = "Inbox") -> CollectorConfig:
    return CollectorConfig.model_validate(csv_collector(Path("/nowhere"), collector_id, interface))
