"""The record loop shared by every format, and the contract format readers fulfil.

A reader turns a payload into numbered records and a ``fetch`` function that returns the raw
values of one record, one per field, in field order. The loop applies each field's finisher,
keeps the record when every field converted, and reports one ``RecordError`` per failing
field otherwise.

``fetch`` reads all fields of a record in one call so that readers can use C-level access
(one ``itemgetter`` over a CSV row or a JSON object): per-field Python calls are what
separates a declarative extractor from a hand-written loop.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple, Protocol

from maas.collector.extract.pipeline import Finisher
from maas.collector.extract.result import RecordError

Getter = Callable[[Any], Any]
Fetch = Callable[[Any], Sequence[Any]]


def no_line(_number: int, _record: Any) -> int | None:
    return None


def same_line(number: int, _record: Any) -> int | None:
    return number


def fetch_each(getters: Sequence[Getter]) -> Fetch:
    """The generic ``fetch``: one getter per field."""
    return lambda record: [get(record) for get in getters]


class Batch(NamedTuple):
    """A payload opened by a reader: records are ``(number, record)``."""

    records: Iterable[tuple[int, Any]]
    fetch: Fetch
    line_of: Callable[[int, Any], int | None] = no_line


class Reader(Protocol):
    """Opens payloads of one format; raises ExtractError when the payload is unreadable.

    Problems with single records found while reading (a bad JSON line, a CSV row of the wrong
    width) are appended to ``errors`` and the record is skipped.
    """

    def open(self, payload: bytes, source: str, errors: list[RecordError]) -> Batch: ...


def collect(
    batch: Batch,
    fields: Sequence[tuple[str, Finisher]],
    static: dict[str, Any],
    source: str,
    errors: list[RecordError],
) -> tuple[list[dict[str, Any]], list[int]]:
    """Every record whose fields all converted (starting from the static values), and its number.

    A record that fails is walked again field by field to report every bad field.
    """
    fetch, records, numbers = batch.fetch, [], []
    plan = list(enumerate(fields))
    shared = any(isinstance(value, list | dict) for value in static.values())
    fresh = copy.deepcopy if shared else dict.copy  # records must not share mutable values
    for number, record in batch.records:
        raw = fetch(record)
        out = fresh(static)
        try:
            for i, (name, finish) in plan:
                out[name] = finish(raw[i])
        except ValueError:
            line = batch.line_of(number, record)
            errors += _problems(fields, raw, number, source, line)
            continue
        records.append(out)
        numbers.append(number)
    return records, numbers


def _problems(
    fields: Sequence[tuple[str, Finisher]], raw: Sequence[Any], number: int, source: str, line: int | None
) -> list[RecordError]:
    problems = []
    for (name, finish), value in zip(fields, raw, strict=True):
        try:
            finish(value)
        except ValueError as exc:
            problems.append(RecordError(source, number, name, str(exc), line))
    return problems
