"""``maas config validate``: every configuration file, every problem, in one pass.

Checks the settings, each collector file and the routing file, collecting all problems
instead of stopping at the first, so an operator fixes everything in one edit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from maas.config.loader import read_yaml
from maas.config.references import unresolved
from maas.config.settings import Settings, is_environment, key_path, load_settings
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
    """The settings and their problems; with ``resolve``, also the secrets and files they name.

    Each problem names where its value was set: ``file:line: key`` or the ``MAAS_*`` variable.
    """
    try:
        settings = load_settings(config_path)
    except ConfigError as exc:
        return None, exc.problems
    if not resolve:
        return settings, []
    return settings, [settings.problem(key_path(p.key), p.reason) for p in unresolved(settings, None, {})]


def check_files(
    collectors_dir: Path | None,
    routing_file: Path | None,
    collector_check: FileCheck = yaml_only,
    routing_check: FileCheck = yaml_only,
    settings: Settings | None = None,
) -> tuple[list[ConfigProblem], list[Path]]:
    """Problems of every collector file and of the routing file, and the files checked.

    A directory or file that is not there is a problem of the key naming it, located where
    ``settings`` set it (file and line, or the variable) when they did.
    """
    problems: list[ConfigProblem] = []
    checked: list[Path] = []
    if collectors_dir is not None:
        missing = missing_path(settings, "collectors_dir", collectors_dir, directory=True)
        if missing:
            problems.append(missing)
        else:
            for path in sorted(collectors_dir.glob("*.y*ml")):
                checked.append(path)
                problems += collector_check(path)
    if routing_file is not None:
        missing = missing_path(settings, "routing_file", routing_file, directory=False)
        if missing:
            problems.append(missing)
        else:
            checked.append(routing_file)
            problems += routing_check(routing_file)
    return problems, checked


def missing_path(settings: Settings | None, key: str, path: Path, *, directory: bool) -> ConfigProblem | None:
    """A problem when the directory (``collectors_dir``) or file (``routing_file``) a command
    is about to read is not there, naming the key and where the settings set it."""
    reason = not_there(path, directory=directory)
    return _missing(key, path, reason, settings) if reason else None


def not_there(path: Path, *, directory: bool) -> str | None:
    """Why ``path`` cannot be read as a directory (or a file), or None."""
    if not path.exists():
        return "no such directory" if directory else "no such file"
    if directory and not path.is_dir():
        return "not a directory"
    if not directory and path.is_dir():
        return "a directory, not a file"
    return None


def _missing(key: str, path: Path, reason: str, settings: Settings | None) -> ConfigProblem:
    if settings is not None and getattr(settings, key) == path:
        return settings.problem((key,), f"{path}: {reason}")
    return ConfigProblem(str(path), None, "", reason)  # a catalog's default, or given by the caller


def summary(problems: Sequence[ConfigProblem]) -> str:
    """``N problem(s) in F file(s)`` counting distinct files; the environment is no file."""
    files = {p.file for p in problems if p.file and not is_environment(p.file)}
    places = [f"{len(files)} file(s)"] if files else []
    if any(is_environment(p.file) for p in problems):
        places.append("the environment")
    return f"{len(problems)} problem(s)" + (f" in {' and '.join(places)}" if places else "")
