"""What an extraction returns, and how it fails.

A payload is either unreadable as a whole (``ExtractError``: the collector dead-letters the
raw bytes, retrying cannot help) or readable with some bad records. Bad records are reported
one problem per field, with the source and the record number, so an operator can find them;
the good records of the same payload are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from maas.errors import PermanentError


class ExtractError(PermanentError):
    """The payload cannot be read at all (malformed XML/JSON, undecodable CSV, missing column)."""

    def __init__(self, source: str, reason: str) -> None:
        self.source, self.reason = source, reason
        super().__init__(f"{source}: {reason}")


@dataclass(frozen=True, slots=True)
class RecordError:
    """One field of one record that could not be extracted.

    ``record`` is 1-based; for CSV and JSON Lines it is the line number. ``line`` is where the
    record starts in the payload when the format knows it (XML, CSV, JSON Lines).
    ``field`` is None when the record as a whole is unreadable (a CSV row of the wrong width).
    """

    source: str
    record: int
    field: str | None
    reason: str
    line: int | None = None

    def render(self) -> str:
        """``source:line: record N: field: reason`` -- the shape of every MaaS problem line."""
        where = f"{self.source}:{self.line}" if self.line else self.source
        what = f"{self.field}: " if self.field else ""
        return f"{where}: record {self.record}: {what}{self.reason}"


@dataclass(slots=True)
class ExtractResult:
    """The good records of a payload and the problems of the bad ones.

    ``numbers[i]`` is the record number of ``records[i]`` in the payload (the line for CSV),
    so a problem found later (model validation) can point at the same place as ours.
    """

    source: str
    records: list[dict[str, Any]] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)
