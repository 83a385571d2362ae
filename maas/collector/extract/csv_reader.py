"""CSV payloads with the standard csv module: records are rows, numbered by their line.

The whole payload is decoded first, so a bad byte is reported with its line before any
record is produced (a half-decoded file would silently lose rows). A row whose width differs
from the header is a record error: its values cannot be matched to columns with certainty.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from operator import itemgetter
from typing import Any

from maas.collector.extract.records import Batch, Fetch, same_line
from maas.collector.extract.result import ExtractError, RecordError
from maas.collector.extract.spec import CsvExtract, CsvOptions


def decode(payload: bytes, encoding: str, source: str) -> str:
    """The payload as text; a UTF-8 byte-order mark is dropped rather than read as a column."""
    codec = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
    try:
        return payload.decode(codec)
    except UnicodeDecodeError as exc:
        line = payload.count(b"\n", 0, exc.start) + 1
        reason = f"line {line}: not valid {encoding} at byte {exc.start} ({exc.reason})"
        raise ExtractError(source, reason) from None


class CsvReader:
    def __init__(self, spec: CsvExtract, paths: list[str]) -> None:
        self._options, self._paths = spec.csv, paths

    def open(self, payload: bytes, source: str, errors: list[RecordError]) -> Batch:
        options = self._options
        rows = csv.reader(
            io.StringIO(decode(payload, options.encoding, source), newline=""),
            delimiter=options.delimiter,
            quotechar=options.quotechar,
            escapechar=options.escapechar,
        )
        names = _names(rows, options, source)
        if names is None:  # empty payload: no header, no records
            return Batch((), _fetch([]))
        fetch = _fetch(_columns(names, self._paths, source))
        return Batch(_rows(rows, len(names), source, errors, options.multiline), fetch, same_line)


def _fetch(indices: list[int]) -> Fetch:
    """All field cells of a row in one ``itemgetter`` call (which returns a bare item for one)."""
    if len(indices) > 1:
        return itemgetter(*indices)
    return (lambda row: (row[indices[0]],)) if indices else (lambda row: ())


def _names(rows: Any, options: CsvOptions, source: str) -> list[str] | None:
    try:
        for _ in range(options.skip_rows):
            next(rows, None)
        if options.columns is not None:
            return options.columns
        header = next(rows, None)
    except csv.Error as exc:
        raise ExtractError(source, f"line {rows.line_num}: malformed CSV: {exc}") from None
    return None if header is None else [name.strip() for name in header]


def _columns(names: list[str], paths: list[str], source: str) -> list[int]:
    """Column index of each field; an absent or ambiguous column fails the whole payload."""
    indices = []
    for path in paths:
        if names.count(path) != 1:
            problem = "is not" if path not in names else "appears twice"
            raise ExtractError(source, f"column {path!r} {problem} in the header {names}")
        indices.append(names.index(path))
    return indices


def _rows(
    rows: Any, width: int, source: str, errors: list[RecordError], multiline: bool
) -> Iterator[tuple[int, list[str]]]:
    start = rows.line_num + 1
    try:
        for row in rows:
            reason = _misfit(row, width, start, rows.line_num, multiline)
            if reason is None:
                yield start, row
            elif row:  # blank lines are not records
                errors.append(RecordError(source, start, None, reason, start))
            start = rows.line_num + 1
    except csv.Error as exc:
        raise ExtractError(source, f"line {rows.line_num}: malformed CSV: {exc}") from None


def _misfit(row: list[str], width: int, start: int, end: int, multiline: bool) -> str | None:
    """Why a row is not a record: the wrong width, or lines merged by a quote left open, whose
    rows would otherwise vanish into one field of a record that looks fine."""
    if len(row) != width:
        return f"row has {len(row)} columns, the header has {width}"
    if end > start and not multiline:
        return (
            f"a quoted field runs over lines {start}-{end} (a stray quote?); "
            "set csv.multiline: true if fields may hold line breaks"
        )
    return None
