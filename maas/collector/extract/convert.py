"""Type conversion: one small table from type name to converter factory.

A factory receives the field's options once (date format, default zone) and returns a
converter that is then applied to every value, so per-record work is a single call. A
converter raises ``ValueError`` with a sentence an operator can act on.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime, tzinfo
from typing import Any, Literal, NamedTuple, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from maas.model.fields import datetime_from_text

TypeName = Literal["str", "int", "float", "bool", "datetime", "date", "any"]
Converter = Callable[[Any], Any]


class Options(NamedTuple):
    """The per-field settings a converter may need."""

    format: str | None = None
    zone: tzinfo | None = None


_TRUE = frozenset({"true", "t", "yes", "y", "on", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "off", "0"})


def _kind(value: object) -> str:
    return type(value).__name__


def to_str(value: Any) -> str:
    if type(value) is str:
        return value
    if isinstance(value, str | int | float):
        return str(value)
    raise ValueError(f"expected text, got {_kind(value)}")


def to_int(value: Any) -> int:
    if type(value) is str:
        try:
            return int(value)
        except ValueError:
            pass
    elif type(value) is int:
        return value
    elif isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(f"not an integer: {value!r}")


def to_float(value: Any) -> float:
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        try:
            result = float(value)
        except ValueError:
            result = math.nan
        if math.isfinite(result):
            return result
    raise ValueError(f"not a finite number: {value!r}")


def to_bool(value: Any) -> bool:
    if type(value) is bool:
        return value
    text = value.lower() if type(value) is str else str(value) if type(value) is int else None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"not a boolean (true/false, yes/no, on/off, 1/0): {value!r}")


def identity(value: Any) -> Any:
    return value


def _parser(fmt: str | None) -> Callable[[str], datetime]:
    """ISO 8601 (offsets and 'Z') or OData v2's ``/Date(ms)/`` by default; strptime when a
    format is given."""
    if fmt is None:
        return datetime_from_text
    return lambda text: datetime.strptime(text, fmt)


def _parse(parse: Callable[[str], datetime], value: Any, fmt: str | None) -> datetime:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a date-time text, got {_kind(value)}")
    try:
        return parse(value)
    except ValueError:
        expected = f"format {fmt}" if fmt else "ISO 8601"
        raise ValueError(f"not a date-time in {expected}: {value!r}") from None


def datetime_converter(options: Options) -> Converter:
    """Aware values are converted to UTC; naive ones only get a zone when one is configured."""
    parse, fmt, zone = _parser(options.format), options.format, options.zone

    def convert(value: Any) -> datetime:
        try:
            moment = parse(value)
        except (TypeError, ValueError):
            moment = _parse(parse, value, fmt)  # datetimes pass, anything else explains itself
        if moment.tzinfo is None:
            if zone is None:
                raise ValueError(f"date-time without offset and no timezone configured: {value!r}")
            moment = moment.replace(tzinfo=zone)
        return moment.astimezone(UTC)

    return convert


def date_converter(options: Options) -> Converter:
    parse, fmt = _parser(options.format), options.format

    def convert(value: Any) -> date:
        if type(value) is date:
            return value
        if isinstance(value, str) and fmt is None:
            try:
                return date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"not a date in ISO 8601: {value!r}") from None
        return _parse(parse, value, fmt).date()

    return convert


def _plain(converter: Converter) -> Callable[[Options], Converter]:
    return lambda _options: converter


CONVERTERS: dict[str, Callable[[Options], Converter]] = {
    "str": _plain(to_str),
    "int": _plain(to_int),
    "float": _plain(to_float),
    "bool": _plain(to_bool),
    "datetime": datetime_converter,
    "date": date_converter,
    "any": _plain(identity),
}
assert set(CONVERTERS) == set(get_args(TypeName)), "the type table and TypeName must agree"


def zone(name: str) -> tzinfo:
    """``UTC`` or an IANA zone name (``Europe/Paris``); raises ValueError for unknown names."""
    if name.upper() in ("UTC", "Z"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r} (use UTC or an IANA name)") from None


def converter(type_name: str, options: Options) -> Converter:
    return CONVERTERS[type_name](options)
