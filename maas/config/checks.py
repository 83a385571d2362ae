"""``maas config validate``: every configuration file, every problem, in one pass.

Checks the settings, each collector file and the routing file, collecting all problems
instead of stopping at the first, so an operator fixes everything in one edit.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from maas.config.loader import read_yaml
from maas.config.settings import Settings, load_settings
from maas.errors import ConfigError, ConfigProblem

FileCheck = Callable[[Path], list[ConfigProblem]]


def _yaml_only(path: Path) -> list[ConfigProblem]:
    """Until a file kind has a schema, at least its YAML must parse."""
    try:
        read_yaml(path)
    except ConfigError as exc:
        return exc.problems
    return []


def check_all(
    config_path: Path | None,
    default_collectors: Path | None = None,
    default_routing: Path | None = None,
    collector_check: FileCheck = _yaml_only,
    routing_check: FileCheck = _yaml_only,
) -> tuple[Settings | None, list[ConfigProblem], list[Path]]:
    """Returns the settings (if valid), the problems, and the files that were checked."""
    checked = [config_path] if config_path else []
    try:
        settings = load_settings(config_path)
    except ConfigError as exc:
        return None, exc.problems, checked
    problems: list[ConfigProblem] = []
    collectors_dir = settings.collectors_dir or default_collectors
    for path in sorted(collectors_dir.glob("*.y*ml")) if collectors_dir else []:
        checked.append(path)
        problems += collector_check(path)
    if collectors_dir and not collectors_dir.is_dir():
        problems.append(ConfigProblem(str(config_path), None, "collectors_dir", "not a directory"))
    routing = settings.routing_file or default_routing
    if routing:
        checked.append(routing)
        problems += routing_check(routing)
    return settings, problems, checked
