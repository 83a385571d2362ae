"""``maas config validate``: every configuration file, every problem, in one pass.

Checks the settings, each collector file and the routing file, collecting all problems
instead of stopping at the first, so an operator fixes everything in one edit.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from maas.config.loader import read_yaml
from maas.config.references import unresolved
from maas.config.settings import ENV_SOURCE, Settings, load_settings
from maas.errors import ConfigError, ConfigProblem

FileCheck = Callable[[Path], list[ConfigProblem]]


def yaml_only(path: Path) -> list[ConfigProblem]:
    """Until a file kind has a schema, at least its YAML must parse."""
    try:
        read_yaml(path)
    except ConfigError as exc:
        return exc.problems
    return []


def check_settings(
    config_path: Path | None, *, resolve: bool = False
) -> tuple[Settings | None, list[ConfigProblem]]:
    """The settings and their problems; with ``resolve``, also the secrets and files they name."""
    try:
        settings = load_settings(config_path)
    except ConfigError as exc:
        return None, exc.problems
    if not resolve:
        return settings, []
    lines = read_yaml(config_path)[1] if config_path else {}
    return settings, unresolved(settings, str(config_path) if config_path else ENV_SOURCE, lines)


def check_files(
    collectors_dir: Path | None,
    routing_file: Path | None,
    collector_check: FileCheck = yaml_only,
    routing_check: FileCheck = yaml_only,
) -> tuple[list[ConfigProblem], list[Path]]:
    """Problems of every collector file and of the routing file, and the files checked."""
    problems: list[ConfigProblem] = []
    checked: list[Path] = []
    if collectors_dir is not None and not collectors_dir.is_dir():
        problems.append(ConfigProblem(str(collectors_dir), None, "", "collectors directory does not exist"))
    elif collectors_dir is not None:
        for path in sorted(collectors_dir.glob("*.y*ml")):
            checked.append(path)
            problems += collector_check(path)
    if routing_file is not None:
        checked.append(routing_file)
        problems += routing_check(routing_file)
    return problems, checked
