"""The shortcuts of document building give what the long way gives: the compiled conversion
takes already typed values as they are (same result as ``convert_each``, which calls every
field's converter, value by value and error by error), and monthly partitions are named
without strftime."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maas.model import ByDate, Field, FieldType
from maas.model.fields import FieldError, FieldPlan, convert_each

pytestmark = pytest.mark.unit

T = FieldType
FIELDS: dict[str, Field] = {
    "keyword": Field(T.KEYWORD, required=True),
    "text": Field(T.TEXT),
    "integer": Field(T.INTEGER),
    "long": Field(T.LONG),
    "float": Field(T.FLOAT),
    "boolean": Field(T.BOOLEAN),
    "at": Field(T.DATETIME),
    "local": Field(T.DATETIME, default_tz="Europe/Paris"),
    "many": Field(T.KEYWORD, many=True),
    "times": Field(T.DATETIME, many=True),
    "nested": Field(T.NESTED, many=True, properties={"at": Field(T.DATETIME, required=True)}),
    "shape": Field(T.GEO_SHAPE),
    "free": Field(T.OBJECT),
}

moments = st.datetimes(
    min_value=datetime(1900, 1, 1), timezones=st.sampled_from([None, UTC, timezone(timedelta(hours=2))])
)
values = st.one_of(
    st.none(),
    st.text(max_size=4),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**63 - 1, 2**63, -(2**63) - 1]),
    st.floats(),
    moments,
    moments.map(lambda d: d.isoformat()),
    st.lists(st.one_of(st.text(max_size=3), st.integers(), moments), max_size=3),
    st.lists(st.fixed_dictionaries({"at": moments}), max_size=2),
)
raws = st.dictionaries(st.sampled_from([*FIELDS, "stray"]), values)


def outcome(convert: Any, raw: Mapping[str, Any]) -> tuple[str, Any]:
    try:
        result = convert(raw)
    except FieldError as exc:
        return "refused", str(exc)
    return "converted", [(k, v, type(v), getattr(v, "tzinfo", None)) for k, v in result.items()]


@settings(max_examples=400)
@given(raws)
def test_the_plan_converts_and_refuses_exactly_like_the_converters(raw: dict[str, Any]) -> None:
    assert outcome(FieldPlan(FIELDS).convert, raw) == outcome(lambda r: convert_each(FIELDS, r), raw)


@given(st.data())
def test_any_field_name_is_written_into_the_plan_as_a_literal(data: st.DataObject) -> None:
    """The plan is generated code: quotes, backslashes or newlines in a name change nothing."""
    names = data.draw(st.lists(st.text(min_size=1, max_size=4), unique=True, max_size=4))
    fields = {name: Field(T.KEYWORD, required=i == 0) for i, name in enumerate(names)}
    raw = data.draw(st.dictionaries(st.sampled_from([*names, "stray"]), st.none() | st.text(max_size=2)))
    assert outcome(FieldPlan(fields).convert, raw) == outcome(lambda r: convert_each(fields, r), raw)


def test_values_already_typed_come_back_as_they_are() -> None:
    at = datetime(2024, 1, 1, tzinfo=UTC)
    raw = {"keyword": "k", "integer": 2**31 - 1, "long": -(2**63), "boolean": False, "at": at, "float": 0.5}
    out = FieldPlan(FIELDS).convert(raw)
    assert out == raw and out["at"] is at
    with pytest.raises(FieldError, match="integer: integer 2147483648 out of range"):
        FieldPlan(FIELDS).convert({**raw, "integer": 2**31})
    with pytest.raises(FieldError, match="integer: expected an integer, got a boolean"):
        FieldPlan(FIELDS).convert({**raw, "integer": True})


@given(st.datetimes(timezones=st.just(UTC)))
def test_a_monthly_partition_is_named_as_strftime_names_it(moment: datetime) -> None:
    expected = moment.strftime("%Y-%m").lower().strip("-") or "none"
    assert ByDate("at").suffix({"at": moment}) == ByDate("at", "%Y-%m ").suffix({"at": moment}) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"keyword": "k", "stray": None}, "unknown field(s): stray"),
        ({"keyword": "k", "text": None, "other": None, "stray": 1}, "unknown field(s): other, stray"),
        ({"stray": None}, "unknown field(s): stray; keyword: required field is missing"),
        ({"keyword": "k", "x": 1, "long": "y"}, "unknown field(s): x; long: expected an integer, got 'y'"),
    ],
)  # fmt: skip
def test_undeclared_fields_are_refused_first_even_when_none(raw: dict[str, Any], message: str) -> None:
    """Undeclared fields are found by counting the declared ones present (None included)."""
    with pytest.raises(FieldError) as info:
        FieldPlan(FIELDS).convert(raw)
    assert str(info.value) == message
