"""Load a YAML file into a pydantic model, reporting problems as ``file:line: key: reason``.

Every configuration file of MaaS (settings, collectors, routing) goes through here so that all
of them report errors the same way. YAML is parsed with the safe loader, and what a
configuration has no use for is refused as a located problem rather than a traceback: tags
(``!!python/object``, ``!custom``), merge keys, keys that are lists or mappings, and a key
written twice in a mapping (the last one would silently win).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

from maas.errors import ConfigError, ConfigProblem

M = TypeVar("M", bound=pydantic.BaseModel)
Lines = dict[tuple[str | int, ...], int]


_STANDARD_TAG = "tag:yaml.org,2002:"
_MERGE_TAG = _STANDARD_TAG + "merge"
_VALUE_TAG = _STANDARD_TAG + "value"  # YAML 1.1's '=' scalar: plain text here


class _Loader(yaml.SafeLoader):
    """The safe loader's composer, remembering which nodes carry a tag written in the file.

    A composed node only has its resolved tag, the same for ``1`` and ``!!int 1``: the parser's
    event still says whether a tag was written.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.written_tags: dict[int, str] = {}  # id(node) -> tag as written

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        tag = getattr(event, "tag", None)  # an alias event has none
        node = super().compose_node(parent, index)
        if tag is not None and node is not None:
            self.written_tags[id(node)] = tag
        return node


def _shown_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(_STANDARD_TAG) if tag.startswith(_STANDARD_TAG) else tag


_MAX_VALUES = 100_000  # far more than any configuration file holds


class _Reader:
    """Builds the Python value of a composed document, the line of every key path, and a
    problem for every construct a configuration file must not use: tags (``!!python/...``,
    ``!custom``), merge keys, keys that are not plain values, a key written twice."""

    def __init__(self, file: str, written_tags: dict[int, str]) -> None:
        self.file, self.written_tags = file, written_tags
        self.lines: Lines = {}
        self.problems: list[ConfigProblem] = []
        self._constructor = yaml.constructor.SafeConstructor()
        self._open: set[int] = set()  # the collections being built: an alias to one loops
        self._budget = _MAX_VALUES  # aliases can make a small file expand exponentially

    def problem(self, path: tuple[str | int, ...], node: yaml.Node, reason: str) -> None:
        key = ".".join(str(part) for part in path)
        self.problems.append(ConfigProblem(self.file, node.start_mark.line + 1, key, reason))

    def value(self, node: yaml.Node, path: tuple[str | int, ...]) -> Any:
        self.lines[path] = node.start_mark.line + 1
        if id(node) in self.written_tags:
            self.problem(path, node, f"YAML tags are not allowed ({_shown_tag(self.written_tags[id(node)])})")
            return None
        if not isinstance(node, yaml.CollectionNode):
            return self.scalar(node, path)
        return self.collection(node, path)

    def collection(self, node: yaml.CollectionNode, path: tuple[str | int, ...]) -> Any:
        if id(node) in self._open:
            self.problem(path, node, "an alias refers to a list or mapping that contains it")
            return None
        self._budget -= len(node.value)
        if self._budget < 0:
            if self._budget + len(node.value) >= 0:  # said once
                self.problem(path, node, f"more than {_MAX_VALUES:,} values once aliases are expanded")
            return None
        self._open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self.mapping(node, path)
            return [self.value(item, (*path, i)) for i, item in enumerate(node.value)]
        finally:
            self._open.discard(id(node))

    def mapping(self, node: yaml.MappingNode, path: tuple[str | int, ...]) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            key = self.key(key_node, path)
            if key is _BAD_KEY:
                continue
            if key in first_line:
                self.problem((*path, key), key_node, f"duplicate key (first at line {first_line[key]})")
                continue
            first_line[key] = line
            out[key] = self.value(value_node, (*path, key))
            self.lines[(*path, key)] = line  # a key's line is where the key is written
        return out

    def key(self, node: yaml.Node, path: tuple[str | int, ...]) -> Any:
        if id(node) in self.written_tags:
            self.problem(path, node, f"YAML tags are not allowed ({_shown_tag(self.written_tags[id(node)])})")
            return _BAD_KEY
        if not isinstance(node, yaml.ScalarNode):
            self.problem(path, node, "a key must be a plain value (text or a number), not a list or mapping")
            return _BAD_KEY
        if node.tag == _MERGE_TAG:
            self.problem(path, node, "YAML merge keys (<<) are not supported: write the keys out")
            return _BAD_KEY
        return self.scalar(node, path, as_key=True)

    def scalar(self, node: yaml.Node, path: tuple[str | int, ...], as_key: bool = False) -> Any:
        if node.tag == _VALUE_TAG:
            return node.value
        try:
            return self._constructor.construct_object(node)
        except (yaml.YAMLError, ValueError) as exc:  # e.g. a date that does not exist: 2024-02-30
            reason = getattr(exc, "problem", None) or exc
            self.problem(path, node, f"cannot read {node.value!r} ({reason}); quote it to keep it as text")
            return _BAD_KEY if as_key else None


_BAD_KEY = object()


def read_yaml(path: Path) -> tuple[Any, Lines]:
    """Parse a YAML file; returns the data and a map of key path -> line number.

    Raises a ConfigError listing every problem: unreadable file, invalid YAML, tags, merge
    keys, duplicate keys, non-scalar keys.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigProblem(str(path), None, "", f"cannot read ({exc.strerror})")]) from None
    except UnicodeDecodeError as exc:  # e.g. saved as Latin-1 or UTF-16 by an editor
        bad_line = exc.object[: exc.start].count(b"\n") + 1
        reason = f"cannot read (not UTF-8 text: byte 0x{exc.object[exc.start]:02x})"
        raise ConfigError([ConfigProblem(str(path), bad_line, "", reason)]) from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        reason = f"invalid YAML: {getattr(exc, 'problem', None) or exc}"
        raise ConfigError([ConfigProblem(str(path), line, "", reason)]) from None
    finally:
        loader.dispose()
    if node is None:
        return {}, {}
    reader = _Reader(str(path), loader.written_tags)
    data = reader.value(node, ())
    if reader.problems:
        raise ConfigError(reader.problems)
    return data, reader.lines


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
        reason = _READABLE.get(err["type"]) or _clean(err["msg"])
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


# Pydantic messages that name Python classes ("Input is not a valid path for <class
# 'pathlib.Path'>", "... or instance of StoreSettings"), said in the file's terms.
_READABLE = {
    "extra_forbidden": "unknown key",
    "path_type": "expected a path (text)",
    "model_type": "expected a mapping (indented 'key: value' lines)",
    "model_attributes_type": "expected a mapping (indented 'key: value' lines)",
    "dict_type": "expected a mapping (indented 'key: value' lines)",
}


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


def validate(
    data: Any,
    model: type[M],
    file: str | None,
    lines: Lines | None = None,
    context: dict[str, Any] | None = None,
) -> M:
    try:
        return model.model_validate(data, context=context)
    except pydantic.ValidationError as exc:
        raise ConfigError(problems_from(exc, file, lines or {})) from None
