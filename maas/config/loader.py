"""Load a YAML file into a pydantic model, reporting problems as ``file:line: key: reason``.

Every configuration file of MaaS (settings, collectors, routing) goes through here so that all
of them report errors the same way. YAML is parsed with the safe loader: no tags, no Python.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

from maas.errors import ConfigError, ConfigProblem

M = TypeVar("M", bound=pydantic.BaseModel)
Lines = dict[tuple[str | int, ...], int]


def _walk(node: yaml.Node, path: tuple[str | int, ...], lines: Lines) -> Any:
    """Build the Python value of a node and remember the line of every key path."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.safe_load(yaml.serialize(key_node))
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _walk(value_node, (*path, key), lines)
            lines[(*path, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(item, (*path, i), lines) for i, item in enumerate(node.value)]
    return yaml.safe_load(yaml.serialize(node))


def read_yaml(path: Path) -> tuple[Any, Lines]:
    """Parse a YAML file; returns the data and a map of key path -> line number."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigProblem(str(path), None, "", f"cannot read ({exc.strerror})")]) from None
    except UnicodeDecodeError as exc:  # e.g. saved as Latin-1 or UTF-16 by an editor
        bad_line = exc.object[: exc.start].count(b"\n") + 1
        reason = f"cannot read (not UTF-8 text: byte 0x{exc.object[exc.start]:02x})"
        raise ConfigError([ConfigProblem(str(path), bad_line, "", reason)]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        reason = f"invalid YAML: {getattr(exc, 'problem', None) or exc}"
        raise ConfigError([ConfigProblem(str(path), line, "", reason)]) from None
    lines: Lines = {}
    return ({} if node is None else _walk(node, (), lines)), lines


def problems_from(
    exc: pydantic.ValidationError,
    file: str | None,
    lines: Lines,
    prefix: tuple[str | int, ...] = (),
) -> list[ConfigProblem]:
    """Turn pydantic errors into problems that name file, line and dotted key."""
    problems = []
    for err in exc.errors():
        loc = _visible((*prefix, *(part for part in err["loc"] if not _is_union_tag(part))), lines)
        line = nearest_line(loc, lines)
        key = ".".join(str(p) for p in loc)
        reason = "unknown key" if err["type"] == "extra_forbidden" else _clean(err["msg"])
        problems.append(ConfigProblem(file, line, key, reason))
    return problems


def _visible(loc: tuple[str | int, ...], lines: Lines) -> tuple[str | int, ...]:
    """Drop the tags pydantic inserts for discriminated unions (``extract.json.fields`` → ``extract.fields``).

    A part is a tag when it is not a key of the file but the part after it is.
    """
    kept: list[str | int] = []
    for i, part in enumerate(loc):
        nxt = loc[i + 1] if i + 1 < len(loc) else None
        if (*kept, part) not in lines and nxt is not None and (*kept, nxt) in lines:
            continue
        kept.append(part)
    return tuple(kept)


def _clean(message: str) -> str:
    """Pydantic prefixes our own validators' messages with 'Value error, '."""
    return message.removeprefix("Value error, ")


def _is_union_tag(part: str | int) -> bool:
    """Pydantic inserts the chosen union member (e.g. 'sftp') into locations; drop those."""
    return isinstance(part, str) and (part.startswith("function-") or "[" in part)


def nearest_line(loc: tuple[str | int, ...], lines: Lines) -> int | None:
    """The line of the key, or of its nearest parent; None when it came from elsewhere (env)."""
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def load_model(path: Path, model: type[M], overrides: dict[str, Any] | None = None) -> M:
    """Read ``path`` and validate it as ``model``; ``overrides`` are merged on top (env vars)."""
    data, lines = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError([ConfigProblem(str(path), 1, "", "expected a mapping at the top level")])
    return validate(data | (overrides or {}), model, str(path), lines)


def validate(data: Any, model: type[M], file: str | None, lines: Lines | None = None) -> M:
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ConfigError(problems_from(exc, file, lines or {})) from None
