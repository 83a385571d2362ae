"""The ``extract:`` schema: everything checkable is rejected when the configuration is read."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest
import yaml

from maas.collector.extract import CsvExtract, ExtractSpec, XmlExtract

pytestmark = pytest.mark.unit

BRIEF_EXAMPLE = """
format: xml
record: //ns:Product
namespaces: {ns: "http://example.org/prip"}
fields:
  product_name: {path: "ns:Name/text()"}
  size: {path: "ns:ContentLength", type: int}
  publication_date: {path: "ns:PublicationDate", type: datetime,
                     format: "%Y-%m-%dT%H:%M:%S.%fZ", timezone: UTC}
  satellite: {path: "ns:Name", regex: "^(S1[AB])_"}
  mode: {constant: "NOMINAL"}
  tags: {path: "ns:Tags", split: ","}
  level: {path: "ns:Type", lookup: {L0: "L0", RAW: "L0"}, default: "unknown"}
  interface: {from: context.interface_name}
"""


def problems(block: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    with pytest.raises(pydantic.ValidationError) as caught:
        ExtractSpec.model_validate(block)
    return [(err["loc"], err["msg"]) for err in caught.value.errors()]


def xml(**fields: Any) -> dict[str, Any]:
    return {"format": "xml", "record": "//p:Product", "namespaces": {"p": "urn:p"}, "fields": fields}


def test_the_documented_example_validates_into_the_xml_model() -> None:
    spec = ExtractSpec.model_validate(yaml.safe_load(BRIEF_EXAMPLE))
    assert isinstance(spec.root, XmlExtract)
    assert spec.root.fields["interface"].context_key == "interface_name"
    assert spec.root.fields["mode"].has_constant


def test_embeds_in_a_collector_schema_with_errors_located_under_extract() -> None:
    class Collector(pydantic.BaseModel):
        extract: ExtractSpec

    with pytest.raises(pydantic.ValidationError) as caught:
        Collector.model_validate({"extract": xml(size={"path": "p:Size", "type": "integer"})})
    (error,) = caught.value.errors()
    assert error["loc"][0] == "extract" and error["loc"][-3:] == ("fields", "size", "type")


@pytest.mark.parametrize(
    ("block", "where", "says"),
    [
        ({"format": "yaml", "fields": {}}, (), "does not match any of the expected tags"),
        (xml(a={"path": "p:A", "colour": "red"}), ("fields", "a", "colour"), "Extra inputs"),
        (xml(a={"path": "p:A", "constant": 1}), ("fields", "a"), "exactly one of path"),
        (xml(a={"type": "int"}), ("fields", "a"), "exactly one of path"),
        (xml(a={"path": "p:A["}), ("fields", "a", "path"), "invalid XPath"),
        (xml(a={"path": "q:A"}), (), "undefined namespace prefix"),
        ({**xml(a={"path": "p:A"}), "record": "//q:Product"}, (), "record: invalid XPath"),
        (xml(a={"path": "p:A", "regex": "(S1"}), ("fields", "a", "regex"), "invalid regex"),
        (
            xml(a={"path": "p:A", "type": "datetime", "timezone": "Mars/Olympus"}),
            ("fields", "a", "timezone"),
            "unknown timezone",
        ),
        (xml(a={"path": "p:A", "type": "int", "format": "%d"}), ("fields", "a"), "format applies"),
        (xml(a={"path": "p:A", "type": "date", "timezone": "UTC"}), ("fields", "a"), "timezone applies"),
        (xml(a={"path": "p:A", "required": True, "default": "x"}), ("fields", "a"), "cannot have a default"),
        (xml(a={"path": "p:A", "type": "int", "default": "lots"}), ("fields", "a"), "default: not an int"),
        (xml(a={"path": "p:A", "type": "int", "lookup": {"x": "ten"}}), ("fields", "a"), "lookup['x']"),
        (xml(a={"path": "p:A", "lookup": {True: "x"}}), ("fields", "a", "lookup"), "quote it"),
        (xml(a={"from": "interface_name"}), ("fields", "a", "from"), "should match pattern"),
        (xml(a={"path": "p:A", "type": "decimal"}), ("fields", "a", "type"), "Input should be"),
        ({"format": "xml", "fields": {"a": {"path": "A"}}}, ("record",), "Field required"),
        ({"format": "json", "record": "value[", "fields": {"a": {"path": "A"}}}, ("record",), "invalid path"),
        ({"format": "json", "fields": {"a": {"path": "a..b"}}}, ("fields", "a", "path"), "invalid path"),
        ({"format": "json", "fields": {}}, ("fields",), "at least 1 item"),
        ({"format": "jsonl", "record": "x", "fields": {"a": {"path": "a"}}}, ("record",), "Extra inputs"),
        ({"format": "csv", "record": "x", "fields": {"a": {"path": "a"}}}, ("record",), "Extra inputs"),
        (
            {"format": "csv", "csv": {"header": False}, "fields": {"a": {"path": "a"}}},
            ("csv",),
            "give columns exactly",
        ),
        (
            {"format": "csv", "csv": {"encoding": "utf-9"}, "fields": {"a": {"path": "a"}}},
            ("csv", "encoding"),
            "unknown encoding",
        ),
        (
            {"format": "csv", "csv": {"delimiter": ";;"}, "fields": {"a": {"path": "a"}}},
            ("csv", "delimiter"),
            "at most 1 character",
        ),
        (
            {"format": "csv", "csv": {"header": False, "columns": ["a"]}, "fields": {"b": {"path": "b"}}},
            (),
            "'b' is not in csv.columns",
        ),
    ],
)
def test_rejects_bad_blocks_naming_the_key_and_reason(
    block: dict[str, Any], where: tuple[str, ...], says: str
) -> None:
    found = problems(block)
    assert not where or any(loc[-len(where) :] == where for loc, _ in found), found
    assert any(says.lower() in msg.lower() for _, msg in found), found


def test_lookup_keys_read_as_numbers_by_yaml_match_their_text() -> None:
    spec = ExtractSpec.model_validate(xml(a={"path": "p:A", "lookup": {1: "one", "2": "two"}}))
    assert spec.root.fields["a"].typed_lookup() == {"1": "one", "2": "two"}


def test_lookup_values_and_default_are_converted_once_to_the_field_type() -> None:
    spec = ExtractSpec.model_validate(
        xml(a={"path": "p:A", "type": "int", "lookup": {"x": "10"}, "default": "-1"})
    )
    assert spec.root.fields["a"].typed_lookup() == {"x": 10}
    assert spec.root.fields["a"].typed_default() == -1


def test_csv_defaults_are_a_comma_separated_utf8_file_with_a_header() -> None:
    spec = ExtractSpec.model_validate({"format": "csv", "fields": {"a": {"path": "a"}}})
    assert isinstance(spec.root, CsvExtract)
    assert (spec.root.csv.delimiter, spec.root.csv.header, spec.root.csv.encoding) == (",", True, "utf-8")


def test_specs_are_frozen_so_a_cached_plan_cannot_go_stale() -> None:
    spec = ExtractSpec.model_validate(xml(a={"path": "p:A"}))
    assert isinstance(spec.root, XmlExtract)
    with pytest.raises(pydantic.ValidationError):
        spec.root.record = "//other"
