"""JSON documents and JSON Lines.

A JSON document is one payload: if it does not parse, nothing in it can be trusted and the
whole payload is an ``ExtractError``. JSON Lines are independent records, so one bad line is
a record error and the other lines are kept.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from operator import itemgetter
from typing import Any

from maas.collector.extract.jsonpath import compile_path, parse
from maas.collector.extract.records import Batch, Fetch, fetch_each, same_line
from maas.collector.extract.result import ExtractError, RecordError
from maas.collector.extract.spec import JsonExtract, JsonLinesExtract


def _loads(text: str | bytes) -> Any:
    """json.loads, with nesting too deep for the interpreter reported as a ValueError."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _records(found: Any) -> list[Any]:
    """A list is iterated: the items of one list match, or each of several matches (``Many``)."""
    if isinstance(found, list):
        return found
    return [] if found is None else [found]


def _fetch(paths: list[str]) -> Fetch:
    """Top-level keys are read with one ``itemgetter`` (OData objects carry every key, null
    or not); a record that lacks one, or is no object, is read key by key."""
    steps = [parse(path) for path in paths]
    if len(steps) < 2 or not all(len(s) == 1 and isinstance(s[0], str) for s in steps):
        return fetch_each([compile_path(path) for path in paths])
    keys = [str(s[0]) for s in steps]
    take, absent = itemgetter(*keys), [None] * len(keys)

    def fetch(record: Any) -> Any:
        try:
            return take(record)
        except (KeyError, TypeError):
            return [record.get(key) for key in keys] if type(record) is dict else absent

    return fetch


class JsonReader:
    def __init__(self, spec: JsonExtract, paths: list[str]) -> None:
        self._record = compile_path(spec.record) if spec.record else None
        self._fetch = _fetch(paths)

    def open(self, payload: bytes, source: str, errors: list[RecordError]) -> Batch:
        try:
            document = _loads(payload)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError included
            raise ExtractError(source, f"malformed JSON: {exc}") from None
        found = self._record(document) if self._record else document
        return Batch(enumerate(_records(found), 1), self._fetch)


class JsonLinesReader:
    def __init__(self, spec: JsonLinesExtract, paths: list[str]) -> None:
        self._fetch = _fetch(paths)

    def open(self, payload: bytes, source: str, errors: list[RecordError]) -> Batch:
        try:
            text = payload.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = payload.count(b"\n", 0, exc.start) + 1
            raise ExtractError(source, f"line {line}: not valid UTF-8 ({exc.reason})") from None
        return Batch(_lines(text, source, errors), self._fetch, same_line)


def _lines(text: str, source: str, errors: list[RecordError]) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            yield number, _loads(line)
        except ValueError as exc:
            errors.append(RecordError(source, number, None, f"malformed JSON: {exc}", number))
