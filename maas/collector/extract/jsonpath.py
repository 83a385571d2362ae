"""A small path language for JSON records: ``a.b[0].c``, ``value[*]``, ``$.value``, ``a["x.y"]``.

Compiled once into a getter. A path without wildcard yields one value or None; a path with a
wildcard yields a ``Many`` (every match, in document order). Missing keys, indices out of
range and steps into the wrong kind of value all mean "no value", never an exception: a
record that lacks an optional field is normal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from maas.collector.extract.raw import Many

Step = str | int | None  # key, index, wildcard (None)
Getter = Callable[[Any], Any]

_TOKEN = re.compile(
    r"""\.?(?P<key>[^.\[\]"]+)        # .key or key
      | \[(?P<index>-?\d+)\]          # [3]
      | \[(?P<star>\*)\]              # [*]
      | \["(?P<quoted>[^"]*)"\]       # ["key with . or ["]
    """,
    re.VERBOSE,
)


def parse(path: str) -> list[Step]:
    """Split a path into steps; raises ValueError naming the position of a syntax error."""
    steps: list[Step] = []
    pos = 1 if path.startswith("$") else 0
    while pos < len(path):
        match = _TOKEN.match(path, pos)
        if match is None:
            raise ValueError(f"invalid path {path!r} at character {pos + 1}")
        steps.append(_step(match))
        pos = match.end()
    return steps


def _step(match: re.Match[str]) -> Step:
    if match.group("index") is not None:
        return int(match.group("index"))
    if match.group("star"):
        return None
    key = match.group("key")
    return key if key is not None else match.group("quoted")


def _one(value: Any, step: str | int) -> Any:
    if isinstance(step, str):
        return value.get(step) if type(value) is dict else None
    if type(value) is list and -len(value) <= step < len(value):
        return value[step]
    return None


def _all(value: Any) -> list[Any]:
    if type(value) is list:
        return value
    return list(value.values()) if type(value) is dict else []


def _walk(values: list[Any], steps: list[Step]) -> list[Any]:
    for step in steps:
        if step is None:
            values = [item for value in values for item in _all(value)]
        else:
            values = [found for value in values if (found := _one(value, step)) is not None]
    return values


def compile_path(path: str) -> Getter:
    """A getter for ``path``: the fast single-value walk unless the path has a wildcard."""
    steps = parse(path)
    if None in steps:
        return lambda record: Many(_walk([record], steps))
    if len(steps) == 1 and isinstance(steps[0], str):
        key = steps[0]
        return lambda record: record.get(key) if type(record) is dict else None
    return lambda record: _single(record, steps)


def _single(value: Any, steps: list[Step]) -> Any:
    for step in steps:
        value = _one(value, step)  # type: ignore[arg-type]
        if value is None:
            return None
    return value
