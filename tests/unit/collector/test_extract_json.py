"""JSON documents (OData pages) and JSON Lines: record paths, key paths, errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from maas.collector.extract import ExtractError, ExtractSpec, extract
from maas.collector.extract.jsonpath import compile_path, parse
from maas.collector.extract.raw import Many

pytestmark = pytest.mark.unit

DATA = Path(__file__).parents[2] / "data" / "extract"


def spec(fields: dict[str, Any], record: str | None = None, fmt: str = "json") -> ExtractSpec:
    block: dict[str, Any] = {"format": fmt, "fields": fields}
    if record is not None:
        block["record"] = record
    return ExtractSpec.model_validate(block)


ODATA = {
    "id": {"path": "Id", "required": True},
    "size": {"path": "ContentLength", "type": "int"},
    "published": {"path": "PublicationDate", "type": "datetime"},
    "evicted": {"path": "EvictionDate", "type": "datetime"},
    "start": {"path": "ContentDate.Start", "type": "datetime"},
    "md5": {"path": "Checksum[0].Value"},
    "algorithms": {"path": "Checksum[*].Algorithm", "many": True},
    "online": {"path": "Online", "type": "bool"},
    "footprint": {"path": "Footprint", "type": "any"},
}


@pytest.mark.parametrize("record", ["value", "$.value", "value[*]"])
def test_odata_page_keeps_good_records_and_reports_the_bad_one(record: str) -> None:
    payload = (DATA / "products.json").read_bytes()
    result = extract(spec(ODATA, record), payload, {"source": "https://prip/odata/v1/Products"})
    first, third = result.records
    assert first["size"] == 1073741824 and first["online"] is True
    assert first["start"] == datetime(2021, 12, 6, 12, 19, 55, tzinfo=UTC)
    assert first["evicted"] is None  # JSON null is "no value"
    assert first["md5"] == "2b1f2c3d4e5f60718293a4b5c6d7e8f9" and first["algorithms"] == ["MD5"]
    assert first["footprint"]["type"] == "Polygon"
    assert third["algorithms"] == ["MD5", "XXH"] and third["footprint"] is None
    assert [(e.record, e.field, e.line) for e in result.errors] == [(2, "size", None), (2, "published", None)]
    assert result.errors[0].render() == (
        "https://prip/odata/v1/Products: record 2: size: not an integer: '12 MB'"
    )


def test_without_record_path_a_top_level_list_is_the_records_and_an_object_is_one() -> None:
    fields = {"n": {"path": "n", "type": "int"}}
    assert extract(spec(fields), b'[{"n": 1}, {"n": 2}]', {}).records == [{"n": 1}, {"n": 2}]
    assert extract(spec(fields), b'{"n": 7}', {}).records == [{"n": 7}]


def test_records_lacking_keys_or_not_objects_read_as_missing_values() -> None:
    fields = {"a": {"path": "a", "type": "int"}, "b": {"path": "b", "default": "none"}}
    result = extract(spec(fields), b'[{"a": 1, "b": "x"}, {"a": 2}, "text", [1, 2]]', {})
    assert result.records == [{"a": 1, "b": "x"}, {"a": 2, "b": "none"}] + [{"a": None, "b": "none"}] * 2


def test_a_record_path_that_matches_nothing_gives_no_records() -> None:
    assert extract(spec({"n": {"path": "n"}}, "items"), b'{"value": []}', {}).records == []


def test_records_that_are_not_objects_can_be_read_whole() -> None:
    result = extract(spec({"name": {"path": "$"}}, "names"), b'{"names": ["a", "b"]}', {})
    assert result.records == [{"name": "a"}, {"name": "b"}]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a.b[0].c", 1),
        ("a.b[-1].c", 3),
        ("a.b[5].c", None),
        ("a.b[*].c", Many([1, 3])),
        ('a["dotted.key"]', "yes"),
        ("$.a.x", None),
        ("a.b.c", None),  # a key step into a list finds nothing
        ("a.s[0]", None),  # an index step into text finds nothing
        ("a[*]", Many([[{"c": 1}, {"d": 2}, {"c": 3}], "yes", "text"])),
    ],
)
def test_path_language(path: str, expected: Any) -> None:
    document = {"a": {"b": [{"c": 1}, {"d": 2}, {"c": 3}], "dotted.key": "yes", "s": "text"}}
    got = compile_path(path)(document)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize("bad", ["a..b", "a[", "a[x]", "a[*", 'a["open]', "a]"])
def test_path_syntax_errors_name_the_position(bad: str) -> None:
    with pytest.raises(ValueError, match=r"invalid path .* at character \d+"):
        parse(bad)


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        (b'{"value": [{"Id": 1},', "malformed JSON: Expecting"),
        (b"", "malformed JSON: Expecting value: line 1 column 1"),
        (b'{"value": "\xff"}', "malformed JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "malformed JSON: nested too deeply"),
    ],
)
def test_unparseable_documents_fail_whole_naming_the_source(payload: bytes, says: str) -> None:
    with pytest.raises(ExtractError) as caught:
        extract(spec({"id": {"path": "Id"}}, "value"), payload, {"source": "page-3.json"})
    assert caught.value.source == "page-3.json" and caught.value.reason.startswith(says)


def test_json_lines_bad_line_is_a_record_error_and_blank_lines_are_skipped() -> None:
    fields = {
        "name": {"path": "Name", "regex": "^(S\\d[AB])_"},
        "size": {"path": "ContentLength", "type": "int"},
    }
    lines = spec(fields, fmt="jsonl")
    result = extract(lines, (DATA / "products.jsonl").read_bytes(), {"source": "feed.jsonl"})
    assert result.records == [{"name": "S1A", "size": 1073741824}, {"name": "S2A", "size": 734003200}]
    (error,) = result.errors
    assert (error.record, error.line, error.field) == (2, 2, None)
    assert error.render().startswith("feed.jsonl:2: record 2: malformed JSON: Expecting")


def test_json_lines_record_numbers_are_line_numbers() -> None:
    lines = spec({"n": {"path": "n", "type": "int"}}, fmt="jsonl")
    payload = "\n".join(json.dumps({"n": v}) for v in ["1", "", "x"]).encode()
    (error,) = extract(lines, b"\n" + payload, {}).errors
    assert (error.record, error.line, error.field) == (4, 4, "n")


def test_json_lines_undecodable_payload_fails_whole_naming_the_line() -> None:
    with pytest.raises(ExtractError, match=r"feed.jsonl: line 2: not valid UTF-8"):
        payload = b'{"n": 1}\n{"n": "\xe9"}\n'
        extract(spec({"n": {"path": "n"}}, fmt="jsonl"), payload, {"source": "feed.jsonl"})
