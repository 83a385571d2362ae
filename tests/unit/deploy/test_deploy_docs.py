"""docs/operations.md stays true to the CLI and to the metrics the pools really export."""

from __future__ import annotations

import re
import shlex

import pytest
from deploy_files import ROOT, cli_error
from prometheus_client import CollectorRegistry

from maas.observe import CollectorMetrics, PoolMetrics

pytestmark = pytest.mark.unit

GUIDE = ROOT / "docs" / "operations.md"


def _section(title: str) -> str:
    text = GUIDE.read_text()
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def _command_lines() -> list[list[str]]:
    """Every ``maas …`` command of the guide's indented examples (compose's ``run`` included)."""
    commands = []
    for line in GUIDE.read_text().splitlines():
        if not line.startswith("    "):
            continue
        line = line.split(" #", 1)[0].strip()
        match = re.search(r"run --rm routing-setup (.+)$|-- maas (.+)$|^maas (.+)$", line)
        if match:
            commands.append(shlex.split(next(group for group in match.groups() if group)))
    return commands


def test_every_maas_command_in_the_guide_is_real() -> None:
    commands = _command_lines()
    assert len(commands) >= 5
    errors = [cli_error(argv) for argv in commands]
    assert not [e for e in errors if e], errors


def test_the_dashboard_section_names_every_pool_metric() -> None:
    registry = CollectorRegistry()
    PoolMetrics(registry, "any")
    CollectorMetrics(registry)
    exported = {metric.name for metric in registry.collect()}
    section = _section("Reading the pipeline dashboard")
    assert exported and {name for name in exported if f"`{name}`" not in section} == set()


def test_the_dead_letter_section_shows_every_dlq_command() -> None:
    section = _section("Handling dead letters")
    for command in ("list", "show", "replay", "purge"):
        assert f"maas dlq {command}" in section
