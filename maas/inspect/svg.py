"""Plain SVG drawn server-side for ``maas inspect report``: no script, no plotting library.

Each figure is one ``<svg data-plot="NAME">`` whose marks carry ``data-mark`` (``point``,
``line``, ``value``, ``median``, ``interval``) and a ``<title>`` tooltip, so a reader hovers for
details and a test counts what was drawn. Numbers are written with fixed decimals and
colours follow the order of first appearance: the same rows always give the same bytes.

Durations spread over five orders of magnitude (a product 30 s late, another two days) and
some are negative (a clock error that must stay visible), so :func:`distribution` uses a
signed logarithmic axis: ``sign(x)·log10(1 + |x|)``, zero in the middle of its own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import Any

Row = Mapping[str, Any]

WIDTH = 960
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7")
LINES = ("#1f3b73", "#8c564b", "#7f7f7f", "#17becf", "#9467bd", "#bcbd22")  # series, apart from states
NEGATIVE, POSITIVE, INK, GRID = "#d62728", "#4e79a7", "#222", "#ddd"
_TIME_STEPS = (60, 300, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800, 2592000)
_DURATION_TICKS = (1, 10, 60, 600, 3600, 21600, 86400, 864000, 8640000)
_DURATION_UNITS = ((86400, "d"), (3600, "h"), (60, "min"), (1, "s"))


@dataclass(frozen=True)
class Frame:
    """The plotting area inside an SVG of ``WIDTH`` × ``height``."""

    left: float
    top: float
    height: float
    right: float = 24
    bottom: float = 36

    @property
    def width(self) -> float:
        return WIDTH - self.left - self.right

    @property
    def svg_height(self) -> float:
        return self.top + self.height + self.bottom


@dataclass(frozen=True)
class Scale:
    """A linear map from a domain to the frame's pixels."""

    lo: float
    hi: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        span = self.hi - self.lo
        return self.start + (value - self.lo) / span * (self.end - self.start) if span else self.start


def num(value: float) -> str:
    """Fixed two decimals, trailing zeros dropped: deterministic and short."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


class Colors:
    """A state's colour: the catalog's choice, else the palette in order of first appearance."""

    def __init__(self, fixed: Mapping[str, str]) -> None:
        self.fixed = dict(fixed)
        self.assigned: dict[str, str] = {}

    def __call__(self, state: object) -> str:
        key = "" if state is None else str(state)
        if key in self.fixed:
            return self.fixed[key]
        return self.assigned.setdefault(key, PALETTE[len(self.assigned) % len(PALETTE)])

    def legend(self) -> dict[str, str]:
        """Every colour used, the catalog's first, for the page's legend."""
        return {**self.fixed, **self.assigned}


# --- time axis -------------------------------------------------------------------------------


def epoch(value: datetime) -> float:
    return value.timestamp()


def time_domain(values: Iterable[datetime]) -> tuple[float, float]:
    seconds = [epoch(v) for v in values]
    lo, hi = min(seconds), max(seconds)
    return (lo - 1800, hi + 1800) if hi - lo < 60 else (lo, hi)


def time_ticks(lo: float, hi: float, most: int = 8) -> list[tuple[float, str]]:
    step = next((s for s in _TIME_STEPS if (hi - lo) / s <= most), _TIME_STEPS[-1])
    fmt = "%m-%d %H:%M" if step < 86400 else "%Y-%m-%d"
    first = math.ceil(lo / step) * step
    count = int((hi - first) // step) + 1
    return [
        (t, datetime.fromtimestamp(t, UTC).strftime(fmt)) for t in (first + i * step for i in range(count))
    ]


def x_axis(frame: Frame, ticks: Sequence[tuple[float, str]], scale: Scale, zero: float | None = None) -> str:
    bottom = frame.top + frame.height
    parts = [_line(frame.left, bottom, frame.left + frame.width, bottom, INK)]
    for value, label in ticks:
        x = scale(value)
        parts.append(_line(x, frame.top, x, bottom, GRID))
        parts.append(_text(x, bottom + 16, label, "middle"))
    if zero is not None:
        parts.append(_line(scale(zero), frame.top, scale(zero), bottom, INK, 'data-axis="zero"'))
    return "".join(parts)


# --- signed log axis ---------------------------------------------------------------------------


def symlog(value: float) -> float:
    return math.copysign(math.log10(1 + abs(value)), value)


def duration(seconds: float) -> str:
    """``-1.5 min``, ``6 h``, ``10 s``: the largest unit the value reaches."""
    size = abs(seconds)
    factor, unit = next(((f, u) for f, u in _DURATION_UNITS if size >= f), (1, "s"))
    return f"{'-' if seconds < 0 else ''}{num(size / factor)} {unit}"


def signed_ticks(lo: float, hi: float, unit: str) -> list[tuple[float, str]]:
    """Ticks in transformed space: 0 and ± round durations (or powers of ten) inside the domain."""
    steps = _DURATION_TICKS if unit == "s" else tuple(10.0**k for k in range(0, 10))
    label = duration if unit == "s" else (lambda v: num(v))
    values = [0.0, *steps, *(-s for s in steps)]
    return sorted((symlog(v), label(v)) for v in values if lo <= symlog(v) <= hi)


# --- figures -------------------------------------------------------------------------------------


def time_series(name: str, title: str, rows: Sequence[Row], y_max: float | None, colors: Colors) -> str:
    frame = Frame(left=56, top=12, height=260)
    lo, hi = time_domain(r["time"] for r in rows)
    top = y_max if y_max is not None else max((float(r["value"]) for r in rows), default=1.0) or 1.0
    x, y = (
        Scale(lo, hi, frame.left, frame.left + frame.width),
        Scale(0, top, frame.top + frame.height, frame.top),
    )
    body = [x_axis(frame, time_ticks(lo, hi), x), _y_axis(frame, y, top)]
    body += _series_lines(rows, x, y)
    body += [_point(r, x, y, colors) for r in rows]
    return _svg(name, title, frame, body)


def series_colors(rows: Sequence[Row]) -> dict[str, str]:
    """Each series' line colour, in order of first appearance."""
    names = dict.fromkeys(str(r["series"]) for r in rows if r.get("series") is not None)
    return {name: LINES[i % len(LINES)] for i, name in enumerate(names)}


def _series_lines(rows: Sequence[Row], x: Scale, y: Scale) -> list[str]:
    series: dict[str, list[Row]] = {}
    for row in rows:
        if row.get("series") is not None:
            series.setdefault(str(row["series"]), []).append(row)
    lines = []
    for index, (label, members) in enumerate(series.items()):
        points = " ".join(
            f"{num(x(epoch(r['time'])))},{num(y(float(r['value'])))}"
            for r in sorted(members, key=lambda r: epoch(r["time"]))
        )
        color = LINES[index % len(LINES)]
        lines.append(
            f'<polyline data-mark="line" data-series="{escape(label)}" points="{points}" fill="none" '
            f'stroke="{color}" stroke-width="1.5"><title>{escape(label)}</title></polyline>'
        )
    return lines


def _point(row: Row, x: Scale, y: Scale, colors: Colors) -> str:
    tip = f"{_label(row)}: {num(float(row['value']))}"
    return (
        f'<circle data-mark="point" cx="{num(x(epoch(row["time"])))}" cy="{num(y(float(row["value"])))}" '
        f'r="4" fill="{colors(row.get("state"))}" stroke="#fff"><title>{escape(tip)}</title></circle>'
    )


def _y_axis(frame: Frame, y: Scale, top: float) -> str:
    parts = [_line(frame.left, frame.top, frame.left, frame.top + frame.height, INK)]
    for i in range(5):
        value = top * i / 4
        parts.append(_line(frame.left, y(value), frame.left + frame.width, y(value), GRID))
        parts.append(_text(frame.left - 6, y(value) + 4, num(value), "end"))
    return "".join(parts)


def distribution(name: str, title: str, rows: Sequence[Row], unit: str) -> str:
    categories = list(dict.fromkeys(str(r["category"]) for r in rows))
    frame = Frame(left=170, top=8, height=20 * max(len(categories), 1))
    values = [symlog(float(r["value"])) for r in rows]
    lo, hi = min([0.0, *values]) - 0.1, max([0.0, *values]) + 0.1
    x = Scale(lo, hi, frame.left, frame.left + frame.width)
    body = [x_axis(frame, signed_ticks(lo, hi, unit), x, zero=0.0)]
    for index, category in enumerate(categories):
        members = [r for r in rows if str(r["category"]) == category]
        body.append(_category(frame, index, category, members, x, unit))
    return _svg(name, title, frame, body)


def _category(frame: Frame, index: int, category: str, rows: Sequence[Row], x: Scale, unit: str) -> str:
    middle = frame.top + 20 * index + 10
    show = duration if unit == "s" else num
    parts = [_text(frame.left - 8, middle + 4, category, "end")]
    for row in rows:
        value = float(row["value"])
        color = NEGATIVE if value < 0 else POSITIVE
        tip = f"{category} {_label(row)}: {show(value)}".replace("  ", " ")
        parts.append(
            f'<line data-mark="value" x1="{num(x(symlog(value)))}" y1="{num(middle - 7)}" '
            f'x2="{num(x(symlog(value)))}" y2="{num(middle + 7)}" stroke="{color}" stroke-opacity="0.7" '
            f'stroke-width="2"><title>{escape(tip)}</title></line>'
        )
    median = _median([float(r["value"]) for r in rows])
    parts.append(
        f'<rect data-mark="median" x="{num(x(symlog(median)) - 2)}" y="{num(middle - 9)}" width="4" '
        f'height="18" fill="{INK}"><title>{escape(f"{category} median: {show(median)}")}</title></rect>'
    )
    return "".join(parts)


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def timeline(name: str, title: str, rows: Sequence[Row], colors: Colors) -> str:
    lanes = list(dict.fromkeys(str(r["lane"]) for r in rows))
    frame = Frame(left=120, top=8, height=24 * max(len(lanes), 1))
    lo, hi = time_domain([r["start"] for r in rows] + [r["stop"] for r in rows if r["stop"] is not None])
    x = Scale(lo, hi, frame.left, frame.left + frame.width)
    body = [x_axis(frame, time_ticks(lo, hi), x)]
    body += [_text(frame.left - 8, frame.top + 24 * i + 16, lane, "end") for i, lane in enumerate(lanes)]
    body += [_interval(r, frame, lanes.index(str(r["lane"])), x, hi, colors) for r in rows]
    return _svg(name, title, frame, body)


def _interval(row: Row, frame: Frame, lane: int, x: Scale, end: float, colors: Colors) -> str:
    start = x(epoch(row["start"]))
    stop = x(epoch(row["stop"]) if row["stop"] is not None else end)
    tip = f"{row['lane']} {row['state']}: {_label(row)}"
    return (
        f'<rect data-mark="interval" x="{num(start)}" y="{num(frame.top + 24 * lane + 4)}" '
        f'width="{num(max(stop - start, 1))}" height="16" fill="{colors(row["state"])}">'
        f"<title>{escape(tip)}</title></rect>"
    )


def empty(name: str, title: str, message: str) -> str:
    frame = Frame(left=20, top=8, height=40, bottom=8)
    return _svg(name, title, frame, [_text(WIDTH / 2, 32, message, "middle")])


# --- primitives ----------------------------------------------------------------------------------


def _svg(name: str, title: str, frame: Frame, body: Sequence[str]) -> str:
    height = num(frame.svg_height)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" data-plot="{escape(name)}" role="img" '
        f'aria-label="{escape(title)}" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}">'
        + "".join(body)
        + "</svg>"
    )


def _line(x1: float, y1: float, x2: float, y2: float, color: str, extra: str = "") -> str:
    attributes = f" {extra}" if extra else ""
    return (
        f'<line{attributes} x1="{num(x1)}" y1="{num(y1)}" x2="{num(x2)}" y2="{num(y2)}" '
        f'stroke="{color}" stroke-width="1"/>'
    )


def _text(x: float, y: float, text: str, anchor: str) -> str:
    return f'<text x="{num(x)}" y="{num(y)}" text-anchor="{anchor}">{escape(text)}</text>'


def _label(row: Row) -> str:
    return "" if row.get("label") is None else str(row["label"])


__all__ = ["Colors", "distribution", "duration", "empty", "num", "symlog", "time_series", "timeline"]
