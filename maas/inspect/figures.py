"""What a catalog puts in ``maas inspect report``: figures and tables, each one SELECT.

A business declares its report sections as data (``Catalog.report``), like its views; the
framework runs each query on the read-only file and draws it (:mod:`maas.inspect.svg`). A
query names its columns by role, so no figure knows the business:

- :class:`TimeSeries` — ``time``, ``value``, ``state``, ``series`` (rows of one series are joined
  by a line; NULL: a point only), ``label`` (tooltip);
- :class:`Distribution` — ``category``, ``value`` (signed), ``label``: every value of a category
  on one row of a signed log axis, so values far apart and negative ones stay visible;
- :class:`Timeline` — ``lane``, ``start``, ``stop``, ``state``, ``label``: coloured intervals
  per lane (a status over time);
- :class:`TableSection` — any columns, shown as an HTML table.

``colors`` maps a ``state`` to a CSS colour; other states get a fixed palette in order of
first appearance, so the same data always gives the same page. Like :mod:`maas.inspect.views`,
this module imports no database driver: catalogs declare sections at import time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_-]*$")


@dataclass(frozen=True)
class _Section:
    name: str  # an anchor in the page and the figure's data-plot attribute
    title: str
    sql: str
    description: str = ""

    def __post_init__(self) -> None:
        if not _IDENTIFIER.match(self.name):
            raise ValueError(
                f"report section name {self.name!r} must be lower-case letters, digits, '_', '-'"
            )


@dataclass(frozen=True)
class TimeSeries(_Section):
    y_label: str = ""
    y_max: float | None = None  # e.g. 100 for a percentage; None: the data's maximum
    colors: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Distribution(_Section):
    unit: str = "s"  # "s": durations in seconds, axis labelled in s/min/h/d; else plain numbers


@dataclass(frozen=True)
class Timeline(_Section):
    colors: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TableSection(_Section):
    pass


Section = TimeSeries | Distribution | Timeline | TableSection

__all__ = ["Distribution", "Section", "TableSection", "TimeSeries", "Timeline"]
