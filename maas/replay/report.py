"""What a replay did: per collector, per bad entry, and for the engine chain."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maas.collector.config import CollectorConfig
from maas.collector.run import CollectorStats
from maas.engine.pool import StepStats

_COUNTS = ("payloads", "records", "created", "updated", "unchanged", "rejected")
_ENGINE = ("deliveries", "reports", "retried", "dead_lettered")


@dataclass(frozen=True)
class Failure:
    """An archive entry that was not replayed, and why."""

    path: Path
    reason: str


@dataclass
class ReplayReport:
    total: int = 0  # payloads planned (after the filters)
    skipped: int = 0  # entries the filters left out
    collectors: dict[str, CollectorStats] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    engine: StepStats = field(default_factory=StepStats)

    def stats_for(self, collector: CollectorConfig) -> CollectorStats:
        if collector.id not in self.collectors:
            self.collectors[collector.id] = CollectorStats(collector.id, collector.interface_name)
        return self.collectors[collector.id]

    def fail(self, path: Path, reason: str) -> None:
        self.failures.append(Failure(path, reason))

    def sum(self, name: str) -> int:
        return sum(int(getattr(s, name)) for s in self.collectors.values())

    @property
    def done(self) -> int:
        """Payloads taken (replayed or failed), for progress."""
        return self.sum("payloads") + len(self.failures)

    @property
    def ok(self) -> bool:
        """Every entry replayed and no engine message dead-lettered."""
        return not self.failures and not self.engine.dead_lettered

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "payloads": {"planned": self.total, "skipped": self.skipped, "failed": len(self.failures)},
            "totals": {name: self.sum(name) for name in _COUNTS},
            "engine": {name: getattr(self.engine, name) for name in _ENGINE},
            "collectors": [_collector_json(s) for s in self.collectors.values()],
            "failures": [{"path": str(f.path), "reason": f.reason} for f in self.failures],
            "warnings": list(self.warnings),
        }


def _collector_json(stats: CollectorStats) -> dict[str, Any]:
    counts = {name: getattr(stats, name) for name in _COUNTS}
    return {
        "collector": stats.collector_id,
        "interface": stats.interface,
        **counts,
        "problems": list(stats.problems),
    }
