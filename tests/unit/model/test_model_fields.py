"""Field conversion: strict, one converter per type, errors that name the field."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from maas.errors import ValidationError
from maas.model import DocumentClass, Field, FieldType

pytestmark = pytest.mark.unit

T = FieldType
POINT = {"type": "Point", "coordinates": [1, 2]}


def one_field(f: Field) -> DocumentClass:
    return DocumentClass("Probe", "probe", {"name": Field(T.KEYWORD), "value": f}, key=("name",))


def convert(f: Field, value: Any) -> Any:
    return one_field(f).make({"name": "n", "value": value}).data["value"]


def refusal(f: Field, value: Any) -> str:
    with pytest.raises(ValidationError) as info:
        one_field(f).make({"name": "n", "value": value})
    return str(info.value)


@pytest.mark.parametrize(
    ("field", "raw", "expected"),
    [
        (Field(T.KEYWORD), "S1A", "S1A"),
        (Field(T.KEYWORD), 42, "42"),
        (Field(T.TEXT), "free text", "free text"),
        (Field(T.INTEGER), "17", 17),
        (Field(T.INTEGER), 3.0, 3),
        (Field(T.LONG), 2**62, 2**62),
        (Field(T.FLOAT), "1.5", 1.5),
        (Field(T.FLOAT), 2, 2.0),
        (Field(T.BOOLEAN), "Yes", True),
        (Field(T.BOOLEAN), "0", False),
        (Field(T.BOOLEAN), False, False),
        (Field(T.KEYWORD, many=True), ("a", 1), ["a", "1"]),
        (Field(T.GEO_SHAPE), POINT, POINT),
        (Field(T.OBJECT), {"free": [1, {"x": None}]}, {"free": [1, {"x": None}]}),
        (
            Field(T.NESTED, many=True, properties={"n": Field(T.INTEGER)}),
            [{"n": "1"}, {"n": 2}],
            [{"n": 1}, {"n": 2}],
        ),
    ],
)
def test_each_type_converts(field: Field, raw: Any, expected: Any) -> None:
    value = convert(field, raw)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("field", "raw", "message"),
    [
        (Field(T.KEYWORD), True, "value: expected a string, got bool"),
        (Field(T.KEYWORD), {"a": 1}, "value: expected a string, got dict"),
        (Field(T.INTEGER), "12x", "value: expected an integer, got '12x'"),
        (Field(T.INTEGER), 2.5, "value: expected an integer, got float"),
        (Field(T.INTEGER), True, "value: expected an integer, got a boolean"),
        (Field(T.INTEGER), 2**31, "value: integer 2147483648 out of range for 32-bit field"),
        (Field(T.LONG), 2**63, "out of range for 64-bit field"),
        (Field(T.FLOAT), "abc", "value: expected a number, got 'abc'"),
        (Field(T.FLOAT), "nan", "value: non-finite number 'nan' cannot be stored"),
        (Field(T.BOOLEAN), "maybe", "value: expected a boolean, got 'maybe'"),
        (Field(T.DATETIME), "yesterday", "value: expected an ISO 8601 date-time, got 'yesterday'"),
        (Field(T.DATETIME), date(2024, 1, 1), "value: expected a date-time, got a date 2024-01-01"),
        (Field(T.DATETIME), 1700000000, "value: expected an ISO 8601 date-time, got int"),
        (Field(T.GEO_SHAPE), {"coordinates": [1, 2]}, "value: expected a GeoJSON object with a 'type'"),
        (Field(T.OBJECT), "text", "value: expected an object, got str"),
        (Field(T.KEYWORD, many=True), "a", "value: expected a list, got str"),
        (
            Field(T.OBJECT, properties={"n": Field(T.INTEGER)}),
            {"n": "x"},
            "value: n: expected an integer, got 'x'",
        ),
    ],
)
def test_bad_values_are_refused_naming_the_field(field: Field, raw: Any, message: str) -> None:
    assert message in refusal(field, raw)


def test_error_names_the_document_class_and_every_bad_field() -> None:
    doc_class = DocumentClass(
        "Product",
        "product",
        {"name": Field(T.KEYWORD, required=True), "size": Field(T.LONG), "ok": Field(T.BOOLEAN)},
        key=("name",),
    )
    with pytest.raises(ValidationError) as info:
        doc_class.make({"size": "big", "ok": "perhaps", "colour": "red"})
    message = str(info.value)
    assert message.startswith("Product: ")
    for part in (
        "unknown field(s): colour",
        "name: required field is missing",
        "size: expected an integer, got 'big'",
        "ok: expected a boolean, got 'perhaps'",
    ):
        assert part in message


def test_none_means_absent() -> None:
    doc = one_field(Field(T.INTEGER)).make({"name": "n", "value": None})
    assert "value" not in doc.data


# --- datetimes -------------------------------------------------------------------------------


def test_offsets_are_converted_to_utc_keeping_microseconds() -> None:
    value = convert(Field(T.DATETIME), "2024-03-01T10:00:00.123456+02:00")
    assert value == datetime(2024, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)
    assert value.tzinfo is UTC


def test_zulu_and_aware_datetimes_are_accepted() -> None:
    assert convert(Field(T.DATETIME), "2024-03-01T10:00:00Z") == datetime(2024, 3, 1, 10, tzinfo=UTC)
    aware = datetime(2024, 3, 1, 10, tzinfo=timezone(timedelta(hours=-5)))
    assert convert(Field(T.DATETIME), aware) == datetime(2024, 3, 1, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/Date(1709287200123)/", datetime(2024, 3, 1, 10, 0, 0, 123000, tzinfo=UTC)),
        ("/Date(1709287200000+0120)/", datetime(2024, 3, 1, 10, tzinfo=UTC)),  # the offset is informative
        ("/Date(-1000)/", datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_odata_v2_json_dates_are_utc_milliseconds(raw: str, expected: datetime) -> None:
    assert convert(Field(T.DATETIME), raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [("/Date(x)/", "expected an ISO 8601 date-time"), ("/Date(999999999999999)/", "ISO 8601")],
)
def test_malformed_odata_v2_dates_are_refused(raw: str, message: str) -> None:
    assert message in refusal(Field(T.DATETIME), raw)


@pytest.mark.parametrize("raw", ["2024-03-01T10:00:00", datetime(2024, 3, 1, 10), "2024-03-01"])
def test_naive_datetimes_are_refused(raw: Any) -> None:
    assert "has no UTC offset" in refusal(Field(T.DATETIME), raw)


def test_naive_datetimes_take_the_declared_default_zone() -> None:
    f = Field(T.DATETIME, default_tz="Europe/Rome")
    assert convert(f, "2024-07-01T12:00:00.000001") == datetime(2024, 7, 1, 10, 0, 0, 1, tzinfo=UTC)
    assert convert(f, "2024-01-01T12:00:00") == datetime(2024, 1, 1, 11, 0, tzinfo=UTC)
    assert convert(f, "2024-07-01T12:00:00Z") == datetime(2024, 7, 1, 12, tzinfo=UTC)  # offset wins


def test_datetime_lists_are_each_converted() -> None:
    values = convert(Field(T.DATETIME, many=True), ["2024-01-01T00:00:00Z", "2024-01-01T01:00:00+01:00"])
    assert values == [datetime(2024, 1, 1, tzinfo=UTC)] * 2
