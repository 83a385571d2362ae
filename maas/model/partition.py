"""Partitioning rules: which concrete index (OpenSearch) or partition value (DuckDB) a document
goes to. Concrete index names are ``<family>-<partition>``; the family name itself is an alias
over all of them, so readers never need to know the rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from maas.model.fields import FieldError

_UNSAFE = re.compile(r"[^a-z0-9_.]+")
MONTHLY = "%Y-%m"
_MONTHS = ("", *(f"-{month:02d}" for month in range(1, 13)))  # by number: cheaper than a format


class Partition(Protocol):
    @property
    def field(self) -> str | None: ...

    def suffix(self, data: dict[str, Any]) -> str: ...


@dataclass(frozen=True)
class NoPartition:
    field: None = None

    def suffix(self, data: dict[str, Any]) -> str:
        return "all"


@dataclass(frozen=True)
class ByDate:
    """Partition by a datetime field formatted with a strftime pattern such as ``%Y-%m``."""

    field: str
    pattern: str = MONTHLY

    def suffix(self, data: dict[str, Any]) -> str:
        value = data.get(self.field)
        if not isinstance(value, datetime):
            raise FieldError(f"{self.field}: partition field is missing")
        if self.pattern == MONTHLY and value.year >= 1000:  # what strftime gives, without it
            return f"{value.year}{_MONTHS[value.month]}"
        return _safe(value.strftime(self.pattern))


@dataclass(frozen=True)
class ByValue:
    """Partition by the value of a keyword field (lower-cased, made index-name safe)."""

    field: str

    def suffix(self, data: dict[str, Any]) -> str:
        value = data.get(self.field)
        if value in (None, ""):
            raise FieldError(f"{self.field}: partition field is missing")
        return _safe(str(value))


def _safe(text: str) -> str:
    return _UNSAFE.sub("-", text.lower()).strip("-") or "none"
