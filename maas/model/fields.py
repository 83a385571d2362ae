"""Field types of document models and the strict conversion of incoming values.

Conversion is table-driven (one converter per field type) and compiled once per field, because
it runs for every field of every document on the hot write path.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

Converter = Callable[[Any], Any]


class FieldType(StrEnum):
    KEYWORD = "keyword"
    TEXT = "text"
    INTEGER = "integer"
    LONG = "long"
    FLOAT = "float"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    GEO_SHAPE = "geo_shape"
    OBJECT = "object"
    NESTED = "nested"


class FieldError(ValueError):
    """One value does not fit its field; the model prefixes the field path."""


@dataclass(frozen=True)
class Field:
    """A typed field. ``many`` makes it a list; ``properties`` types an object's sub-fields.

    An OBJECT without ``properties`` is free-form JSON: stored, not indexed.
    ``default_tz`` is the only way a naive datetime string is accepted.
    """

    type: FieldType
    required: bool = False
    many: bool = False
    default_tz: str | None = None
    properties: Mapping[str, Field] | None = None
    converter: Converter = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "converter", _compile(self))


def _compile(f: Field) -> Converter:
    one = _SCALAR.get(f.type) or _compound(f)
    if f.type is FieldType.DATETIME:
        one = _datetime_converter(ZoneInfo(f.default_tz) if f.default_tz else None)
    return _many(one) if f.many else one


def _many(one: Converter) -> Converter:
    def convert(value: Any) -> list[Any]:
        if not isinstance(value, list | tuple):
            raise FieldError(f"expected a list, got {type(value).__name__}")
        return [one(item) for item in value]

    return convert


def _keyword(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FieldError(f"expected a string, got {type(value).__name__}")
    return str(value)


def _integer(bits: int) -> Converter:
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    def convert(value: Any) -> int:
        if isinstance(value, bool):
            raise FieldError("expected an integer, got a boolean")
        if isinstance(value, str):
            value = _parse_int(value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):
            raise FieldError(f"expected an integer, got {type(value).__name__}")
        if not low <= value <= high:
            raise FieldError(f"integer {value} out of range for {bits}-bit field")
        return value

    return convert


def _parse_int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise FieldError(f"expected an integer, got {text!r}") from None


def _float(value: Any) -> float:
    if isinstance(value, bool):
        raise FieldError("expected a number, got a boolean")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise FieldError(f"expected a number, got {value!r}") from None
    if not math.isfinite(number):
        raise FieldError(f"non-finite number {value!r} cannot be stored")
    return number


_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}
# OData v2's JSON dates: milliseconds since the epoch in UTC, and for Edm.DateTimeOffset the
# offset (minutes) the sender was in, which does not change the instant.
_ODATA_V2_DATE = re.compile(r"/Date\((-?\d{1,15})(?:[+-]\d{4})?\)/")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise FieldError(f"expected a boolean, got {value!r}")


def _datetime_converter(default_tz: tzinfo | None) -> Converter:
    def convert(value: Any) -> datetime:
        if isinstance(value, str):
            value = _parse_datetime(value)
        elif isinstance(value, date) and not isinstance(value, datetime):
            raise FieldError(f"expected a date-time, got a date {value.isoformat()}")
        if not isinstance(value, datetime):
            raise FieldError(f"expected an ISO 8601 date-time, got {type(value).__name__}")
        if value.tzinfo is None:
            if default_tz is None:
                raise FieldError(f"date-time {value.isoformat()} has no UTC offset")
            value = value.replace(tzinfo=default_tz)
        converted: datetime = value.astimezone(UTC)
        return converted

    return convert


def _parse_datetime(text: str) -> datetime:
    try:
        return datetime_from_text(text)
    except ValueError:
        raise FieldError(f"expected an ISO 8601 date-time, got {text!r}") from None


def datetime_from_text(text: str) -> datetime:
    """ISO 8601, or the ``/Date(ms)/`` form OData v2 services write in JSON (UTC milliseconds;
    the offset some add does not change the instant). ValueError for anything else."""
    try:
        return datetime.fromisoformat(text)  # a TypeError for what is not text
    except ValueError:
        text = text.strip()
        odata = _ODATA_V2_DATE.fullmatch(text)
        if odata is None:
            return datetime.fromisoformat(text)  # surrounded by spaces, or a ValueError
    try:
        return _EPOCH + timedelta(milliseconds=int(odata.group(1)))
    except OverflowError:
        raise ValueError(f"OData date {text!r} is out of range") from None


def _geo_shape(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping) or "type" not in value:
        raise FieldError("expected a GeoJSON object with a 'type'")
    return dict(value)


def _compound(f: Field) -> Converter:
    if f.properties is None:
        return _free_object
    plan = FieldPlan(f.properties)

    def convert(value: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise FieldError(f"expected an object, got {type(value).__name__}")
        return plan.convert(value)

    return convert


def _free_object(value: Any) -> Any:
    if not isinstance(value, Mapping | list):
        raise FieldError(f"expected an object, got {type(value).__name__}")
    return value


_SCALAR: dict[FieldType, Converter] = {
    FieldType.KEYWORD: _keyword,
    FieldType.TEXT: _keyword,
    FieldType.INTEGER: _integer(32),
    FieldType.LONG: _integer(64),
    FieldType.FLOAT: _float,
    FieldType.BOOLEAN: _boolean,
    FieldType.DATETIME: _datetime_converter(None),
    FieldType.GEO_SHAPE: _geo_shape,
}


class FieldPlan:
    """The conversion of a mapping of fields, compiled once per document class.

    It runs for every field of every document an engine builds, so ``convert`` is Python
    written for these fields (``_plan_source``): one test per field, its name and bounds as
    constants, where a loop over the fields spent more on unpacking each field's step than on
    the test. A value that already is what its converter would return (a str for a keyword,
    a bool, a UTC datetime, an int in range, a finite float) is taken as it is. A document
    with anything to refuse goes to ``convert_each``, which says every problem.
    """

    def __init__(self, fields: Mapping[str, Field]) -> None:
        self.convert: Callable[[Mapping[str, Any]], dict[str, Any]] = _compiled_plan(fields)


def convert_each(fields: Mapping[str, Field], raw: Mapping[str, Any]) -> dict[str, Any]:
    """Every value through its field's converter; errors name the (dotted) field path: the
    undeclared fields first, then each bad field in declared order."""
    out: dict[str, Any] = {}
    unknown = raw.keys() - fields.keys()
    errors = [_unknown(unknown)] if unknown else []
    for name, f in fields.items():
        value = raw.get(name)
        if value is None:
            if f.required:
                errors.append(f"{name}: required field is missing")
            continue
        try:
            out[name] = f.converter(value)
        except FieldError as exc:
            errors.append(f"{name}: {exc}")
    if errors:
        raise FieldError("; ".join(errors))
    return out


def _compiled_plan(fields: Mapping[str, Field]) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """``convert_each`` for documents that have nothing to refuse, as straight-line code."""
    fields = dict(fields)  # the fast path's fields are fixed here: so are the slow path's
    env: dict[str, Any] = {"FieldError": FieldError, "datetime": datetime, "UTC": UTC}
    env.update(isfinite=math.isfinite, refuse=lambda raw: convert_each(fields, raw))
    env.update((f"convert_{i}", f.converter) for i, f in enumerate(fields.values()))
    exec(_plan_source(fields), env)  # our own text: the field names only as repr() literals
    convert: Callable[[Mapping[str, Any]], dict[str, Any]] = env["convert"]
    return convert


def _plan_source(fields: Mapping[str, Field]) -> str:
    """The conversion's code. A required field missing or a value refused hands the document
    to ``refuse``; so does an undeclared field, found by counting: the converted fields and
    the declared ones present as None are all the declared fields present."""
    lines = ["def convert(raw):", "    get = raw.get", "    nones = 0", "    try:", "        out = {}"]
    for i, (name, f) in enumerate(fields.items()):
        key, test = repr(name), _as_is_test(f)
        lines.append(f"        value = get({key})")
        if test:
            lines += [f"        if {test}:", f"            out[{key}] = value", "        elif value is None:"]
        else:
            lines.append("        if value is None:")
        lines.append("            raise FieldError" if f.required else f"            nones += {key} in raw")
        lines += ["        else:", f"            out[{key}] = convert_{i}(value)"]
    lines += ["    except FieldError:", "        return refuse(raw)"]
    lines.append("    return out if len(out) + nones == len(raw) else refuse(raw)")
    return "\n".join(lines)


_BITS = {FieldType.INTEGER: 32, FieldType.LONG: 64}


def _as_is_test(f: Field) -> str | None:
    """The test (of ``value``) under which the field's converter would return the value
    unchanged; None where it always makes a new one (lists, objects, shapes)."""
    if f.many:
        return None
    if f.type in (FieldType.KEYWORD, FieldType.TEXT):
        return "type(value) is str"
    if f.type is FieldType.BOOLEAN:
        return "type(value) is bool"
    if f.type is FieldType.DATETIME:
        return "type(value) is datetime and value.tzinfo is UTC"
    if f.type is FieldType.FLOAT:
        return "type(value) is float and isfinite(value)"
    if f.type in _BITS:
        high = 2 ** (_BITS[f.type] - 1) - 1
        return f"type(value) is int and {-high - 1} <= value <= {high}"
    return None


def _unknown(names: set[Any]) -> str:
    return f"unknown field(s): {', '.join(sorted(map(str, names)))}"


def convert_fields(fields: Mapping[str, Field], raw: Mapping[str, Any]) -> dict[str, Any]:
    """Convert a mapping field by field, without compiling a plan (classes keep theirs)."""
    return convert_each(fields, raw)
