"""Each declarative transform, through the public ``extract`` on one-record JSON payloads."""

from __future__ import annotations

import copy
import json
import pickle
from datetime import UTC, date, datetime
from typing import Any

import pytest

from maas.collector.extract import ExtractError, ExtractResult, ExtractSpec, extract, extractor

pytestmark = pytest.mark.unit


def run(field: dict[str, Any], value: Any = None, context: dict[str, Any] | None = None) -> ExtractResult:
    """Extract field ``f`` from a single record ``{"v": value}``."""
    spec = ExtractSpec.model_validate({"format": "json", "fields": {"f": field}})
    payload = json.dumps({"v": value}).encode()
    return extract(spec, payload, {"source": "t.json", **(context or {})})


def value_of(field: dict[str, Any], value: Any = None, **context: Any) -> Any:
    result = run({"path": "v", **field}, value, context)
    assert not result.errors, result.errors
    return result.records[0]["f"]


def reason_for(field: dict[str, Any], value: Any) -> str:
    result = run({"path": "v", **field}, value)
    assert result.records == []
    (error,) = result.errors
    assert (error.source, error.record, error.field) == ("t.json", 1, "f")
    return error.reason


@pytest.mark.parametrize(
    ("type_", "raw", "expected"),
    [
        ("str", " S1A ", "S1A"),
        ("str", 42, "42"),
        ("int", "1073741824", 1073741824),
        ("int", 12, 12),
        ("int", 12.0, 12),
        ("float", "2.5", 2.5),
        ("float", 3, 3.0),
        ("bool", "TRUE", True),
        ("bool", "no", False),
        ("bool", "0", False),
        ("bool", True, True),
        ("date", "2021-12-06", date(2021, 12, 6)),
        ("any", {"type": "Point"}, {"type": "Point"}),
    ],
)
def test_type_conversion(type_: str, raw: Any, expected: Any) -> None:
    got = value_of({"type": type_}, raw)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    ("type_", "raw", "says"),
    [
        ("int", "12 MB", "not an integer: '12 MB'"),
        ("int", 2.5, "not an integer"),
        ("int", True, "not an integer"),
        ("float", "NaN", "not a finite number"),
        ("float", "fast", "not a finite number"),
        ("bool", "maybe", "not a boolean"),
        ("str", {"a": 1}, "expected text, got dict"),
        ("date", "06/12/2021", "not a date in ISO 8601"),
        ("datetime", "yesterday", "not a date-time in ISO 8601: 'yesterday'"),
        ("datetime", 1638793195, "expected a date-time text, got int"),
    ],
)
def test_conversion_failures_name_the_value(type_: str, raw: Any, says: str) -> None:
    assert says in reason_for({"type": type_}, raw)


@pytest.mark.parametrize(
    ("field", "raw", "expected"),
    [
        ({}, "2021-12-06T12:19:55.123Z", datetime(2021, 12, 6, 12, 19, 55, 123000, UTC)),
        ({}, "2021-12-06T13:19:55+01:00", datetime(2021, 12, 6, 12, 19, 55, tzinfo=UTC)),
        ({"timezone": "Europe/Paris"}, "2021-07-01T12:00:00", datetime(2021, 7, 1, 10, 0, tzinfo=UTC)),
        ({"timezone": "Europe/Paris"}, "2021-01-01T12:00:00", datetime(2021, 1, 1, 11, 0, tzinfo=UTC)),
        ({"timezone": "Europe/Paris"}, "2021-07-01T12:00:00Z", datetime(2021, 7, 1, 12, 0, tzinfo=UTC)),
        (
            {"format": "%d/%m/%Y %H:%M", "timezone": "UTC"},
            "06/12/2021 06:30",
            datetime(2021, 12, 6, 6, 30, tzinfo=UTC),
        ),
        (
            {"format": "%Y%m%dT%H%M%S%z"},
            "20211206T121955-0200",
            datetime(2021, 12, 6, 14, 19, 55, tzinfo=UTC),
        ),
    ],
)
def test_datetimes_come_out_aware_in_utc(field: dict[str, Any], raw: str, expected: datetime) -> None:
    got = value_of({"type": "datetime", **field}, raw)
    assert got == expected and got.utcoffset() is not None and got.tzinfo is UTC


def test_a_naive_datetime_without_a_configured_zone_is_refused_not_guessed() -> None:
    assert "no timezone configured" in reason_for({"type": "datetime"}, "2021-12-06T06:30:00")


def test_a_value_not_matching_the_declared_format_is_refused() -> None:
    reason = reason_for({"type": "datetime", "format": "%d/%m/%Y", "timezone": "UTC"}, "2021-12-06")
    assert reason == "not a date-time in format %d/%m/%Y: '2021-12-06'"


def test_date_with_a_format() -> None:
    assert value_of({"type": "date", "format": "%d/%m/%Y"}, "06/12/2021") == date(2021, 12, 6)


@pytest.mark.parametrize(
    ("regex", "raw", "expected"),
    [
        ("^(S1[AB])_", "S1B_IW_SLC", "S1B"),
        ("_(\\d{6})_", "S1A_EW_029904_X", "029904"),
        ("S[123][AB]", "xx S2A yy", "S2A"),  # no group: the whole match
        ("^(S1[AB])_", "S2A_MSIL1C", None),  # no match: missing
    ],
)
def test_regex_captures_group_one_or_the_whole_match(regex: str, raw: str, expected: str | None) -> None:
    assert value_of({"regex": regex}, raw) == expected


def test_regex_sees_stripped_text_so_anchors_work_on_indented_values() -> None:
    assert value_of({"regex": "^(S1[AB])_"}, "\n      S1A_EW_RAW\n    ") == "S1A"
    assert value_of({"regex": "^(S1[AB])_", "strip": False}, "  S1A_EW_RAW") is None


def test_regex_applies_to_numbers_too_and_feeds_the_type_conversion() -> None:
    assert value_of({"regex": "^(\\d{4})", "type": "int"}, 20211206) == 2021


def test_regex_on_a_number_that_does_not_match_is_missing() -> None:
    assert value_of({"regex": "^(\\d{4})", "type": "int"}, 123) is None


def test_regex_miss_takes_the_default() -> None:
    assert value_of({"regex": "^(S1[AB])_", "default": "unknown"}, "S3A_SL") == "unknown"


def test_regex_capture_then_lookup() -> None:
    field = {"regex": "^S1([AB])_", "lookup": {"A": "Sentinel-1A", "B": "Sentinel-1B"}}
    assert value_of(field, "S1B_IW_SLC") == "Sentinel-1B"
    assert value_of(field, "S2A_MSIL1C") is None  # no match: missing, the lookup is not asked
    assert reason_for({**field, "regex": "^S(\\d[A-Z])_"}, "S1C_IW") == (
        "'1C' is not in the lookup table (A, B)"
    )


def test_split_strips_drops_empty_parts_and_converts_each() -> None:
    assert value_of({"split": ","}, " a, b,,c ") == ["a", "b", "c"]
    assert value_of({"split": ";", "type": "int"}, "1; 2;3") == [1, 2, 3]


def test_split_then_lookup_maps_every_part() -> None:
    field = {"split": "/", "lookup": {"H": "horizontal", "V": "vertical"}}
    assert value_of(field, "H/V") == ["horizontal", "vertical"]


def test_lookup_hit_miss_with_default_and_typed_values() -> None:
    field = {"lookup": {"L0": "L0", "RAW": "L0"}, "default": "unknown"}
    assert [value_of(field, raw) for raw in ("RAW", "L0", "L2")] == ["L0", "L0", "unknown"]
    assert value_of({"lookup": {"NRT": 3, "NTC": "24"}, "type": "int"}, "NTC") == 24


def test_lookup_miss_without_default_is_an_error_listing_known_keys() -> None:
    assert reason_for({"lookup": {"NRT": 3, "NTC": 24}}, "FAST") == (
        "'FAST' is not in the lookup table (NRT, NTC)"
    )


def test_missing_and_empty_values_take_the_default_or_none() -> None:
    assert value_of({"type": "int", "default": -1}, None) == -1
    assert value_of({"type": "int", "default": -1}, "   ") == -1
    assert value_of({"type": "int"}, "") is None


def test_required_missing_value_fails_the_record() -> None:
    assert reason_for({"required": True}, "") == "required value is missing"


def test_strip_can_be_turned_off() -> None:
    assert value_of({"strip": False}, "  padded ") == "  padded "


def test_constant_is_typed_and_copied_into_every_record() -> None:
    spec = ExtractSpec.model_validate(
        {"format": "json", "fields": {"n": {"path": "n"}, "cycle": {"constant": "271", "type": "int"}}}
    )
    result = extract(spec, b'[{"n": 1}, {"n": 2}]', {})
    assert result.records == [{"cycle": 271, "n": "1"}, {"cycle": 271, "n": "2"}]


def test_context_values_are_copied_and_converted() -> None:
    fetched = datetime(2021, 12, 6, 13, 0, tzinfo=UTC).astimezone()  # local zone on purpose
    field = {"from": "context.fetch_time", "type": "datetime"}
    result = run(field, context={"fetch_time": fetched})
    assert result.records[0]["f"] == fetched and result.records[0]["f"].tzinfo is UTC


def test_an_absent_optional_context_value_is_none() -> None:
    assert run({"from": "context.interface_name"}).records == [{"f": None}]


def test_a_required_context_value_missing_fails_the_payload_once() -> None:
    with pytest.raises(ExtractError, match=r"t\.json: field f \(context 'interface_name'\): required"):
        run({"from": "context.interface_name", "required": True})


def test_several_matches_need_many() -> None:
    spec = {"format": "json", "fields": {"f": {"path": "v[*].x", "type": "int"}}}
    payload = b'{"v": [{"x": "1"}, {"x": "2"}, {"y": 3}]}'
    result = extract(ExtractSpec.model_validate(spec), payload, {})
    assert result.errors[0].reason == "2 values found; set many: true to keep them all"
    spec["fields"]["f"]["many"] = True  # type: ignore[index]
    assert extract(ExtractSpec.model_validate(spec), payload, {}).records == [{"f": [1, 2]}]


def test_a_wildcard_matching_once_gives_a_scalar() -> None:
    spec = ExtractSpec.model_validate({"format": "json", "fields": {"f": {"path": "v[*]", "type": "int"}}})
    assert extract(spec, b'{"v": ["7"]}', {}).records == [{"f": 7}]


def test_many_wraps_a_single_value_and_flattens_a_list_value() -> None:
    assert value_of({"many": True}, "one") == ["one"]
    assert value_of({"many": True, "type": "int"}, ["1", 2]) == [1, 2]
    assert value_of({"many": True}, []) is None


def test_records_never_share_mutable_defaults_or_constants() -> None:
    spec = ExtractSpec.model_validate(
        {
            "format": "json",
            "fields": {
                "tags": {"path": "t", "many": True, "default": ["none"]},
                "meta": {"constant": {"mission": ["S1"]}, "type": "any"},
            },
        }
    )
    first, second = extract(spec, b"[{}, {}]", {}).records
    first["tags"].append("changed")
    first["meta"]["mission"].append("S2")
    assert second == {"tags": ["none"], "meta": {"mission": ["S1"]}}


def test_a_bad_record_reports_every_bad_field_and_the_others_are_kept() -> None:
    spec = ExtractSpec.model_validate(
        {"format": "json", "fields": {"a": {"path": "a", "type": "int"}, "b": {"path": "b", "type": "bool"}}}
    )
    payload = json.dumps([{"a": 1, "b": "yes"}, {"a": "x", "b": "perhaps"}, {"a": 3, "b": "off"}])
    result = extract(spec, payload.encode(), {"source": "page-7.json"})
    assert result.records == [{"a": 1, "b": True}, {"a": 3, "b": False}]
    assert [(e.source, e.record, e.field) for e in result.errors] == [
        ("page-7.json", 2, "a"),
        ("page-7.json", 2, "b"),
    ]


def test_the_compiled_plan_is_built_once_per_spec() -> None:
    spec = ExtractSpec.model_validate({"format": "json", "fields": {"a": {"path": "a"}}})
    assert extractor(spec) is extractor(spec) is extractor(spec.root)


@pytest.mark.parametrize("duplicate", [copy.deepcopy, lambda s: pickle.loads(pickle.dumps(s))])
def test_a_used_spec_can_still_be_copied_and_pickled(duplicate: Any) -> None:
    """Collector configs travel to worker processes; the cached plan must not stop them."""
    spec = ExtractSpec.model_validate(
        {"format": "xml", "record": "//p", "fields": {"a": {"path": "a", "regex": "(\\d+)"}}}
    )
    payload = b"<r><p><a>n42</a></p></r>"
    assert extract(spec, payload, {}).records == [{"a": "42"}]
    twin = duplicate(spec)
    assert twin == spec and extract(twin, payload, {}).records == [{"a": "42"}]
    assert extractor(twin) is not extractor(spec)
