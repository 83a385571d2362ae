"""CSV extraction: options, line-numbered record errors, undecodable and malformed files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from maas.collector.extract import ExtractError, ExtractSpec, extract

pytestmark = pytest.mark.unit

DATA = Path(__file__).parents[2] / "data" / "extract"
WHEN = {"type": "datetime", "format": "%d/%m/%Y %H:%M:%S", "timezone": "UTC"}


def spec(options: dict[str, Any] | None = None, **fields: Any) -> ExtractSpec:
    return ExtractSpec.model_validate({"format": "csv", "csv": options or {}, "fields": fields})


DATATAKES = spec(
    {"delimiter": ";", "skip_rows": 1},
    datatake={"path": "datatake_id", "required": True},
    decimal_id={"path": "datatake_id", "regex": "^[0-9A-F]{6}$"},
    satellite={"path": "satellite"},
    mode={"path": "mode"},
    start={"path": "observation_start", **WHEN},
    stop={"path": "observation_stop", **WHEN},
    timeliness={"path": "timeliness", "lookup": {"NRT": "NRT-3h", "NTC": "NTC"}, "default": "other"},
    orbit={"path": "orbit", "type": "int"},
    interface={"from": "context.interface_name"},
)


def test_a_row_with_a_bad_date_is_reported_by_line_and_the_other_rows_are_kept() -> None:
    payload = (DATA / "datatakes.csv").read_bytes()
    result = extract(DATATAKES, payload, {"source": "sftp://mp/S1A_271.csv", "interface_name": "MP-S1"})
    assert [r["datatake"] for r in result.records] == ["0391E7", "0391F0"]
    assert result.numbers == [3, 5]  # their lines, for problems found after extraction
    assert result.records[0] == {
        "interface": "MP-S1",
        "datatake": "0391E7",
        "decimal_id": "0391E7",
        "satellite": "S1A",
        "mode": "EW",
        "start": datetime(2021, 12, 6, 12, 19, 55, tzinfo=UTC),
        "stop": datetime(2021, 12, 6, 12, 21, 50, tzinfo=UTC),
        "timeliness": "NRT-3h",
        "orbit": 29904,
    }
    assert result.records[1]["mode"] == "IW" and result.records[1]["timeliness"] == "other"
    (error,) = result.errors
    assert (error.source, error.record, error.line, error.field) == ("sftp://mp/S1A_271.csv", 4, 4, "stop")
    assert error.render() == (
        "sftp://mp/S1A_271.csv:4: record 4: stop: "
        "not a date-time in format %d/%m/%Y %H:%M:%S: '31/11/2021 05:58:39'"
    )


def test_undecodable_bytes_fail_the_payload_naming_the_line() -> None:
    payload = "name\nS1A\nSentinel-1 \u00e9t\u00e9\n".encode("latin-1")
    with pytest.raises(ExtractError) as caught:
        extract(spec(name={"path": "name"}), payload, {"source": "mp.csv"})
    assert str(caught.value).startswith("mp.csv: line 3: not valid utf-8 at byte")


def test_the_declared_encoding_is_used() -> None:
    payload = "name\nSentinel-1 \u00e9t\u00e9\n".encode("latin-1")
    result = extract(spec({"encoding": "latin-1"}, name={"path": "name"}), payload, {})
    assert result.records == [{"name": "Sentinel-1 \u00e9t\u00e9"}]


def test_a_utf8_byte_order_mark_is_not_part_of_the_first_column_name() -> None:
    payload = "\ufeffid,size\nA,1\n".encode()
    assert extract(spec(id={"path": "id"}), payload, {}).records == [{"id": "A"}]


def test_files_without_header_use_the_declared_columns() -> None:
    headless = spec({"header": False, "columns": ["id", "size"]}, size={"path": "size", "type": "int"})
    assert extract(headless, b"A,1\nB,2\n", {}).records == [{"size": 1}, {"size": 2}]


def test_a_column_missing_from_the_header_fails_the_payload_listing_the_header() -> None:
    with pytest.raises(ExtractError, match=r"x.csv: column 'orbit' is not in the header \['id', 'size'\]"):
        extract(spec(orbit={"path": "orbit"}), b"id,size\nA,1\n", {"source": "x.csv"})


def test_an_ambiguous_column_fails_the_payload() -> None:
    with pytest.raises(ExtractError, match="column 'id' appears twice"):
        extract(spec(id={"path": "id"}), b"id,id\nA,B\n", {})


def test_rows_of_the_wrong_width_are_record_errors_and_blank_lines_are_ignored() -> None:
    payload = b"id,size\nA,1\n\nB\nC,3,extra\nD,4\n"
    result = extract(spec(id={"path": "id"}), payload, {"source": "w.csv"})
    assert result.records == [{"id": "A"}, {"id": "D"}]
    assert [e.render() for e in result.errors] == [
        "w.csv:4: record 4: row has 1 columns, the header has 2",
        "w.csv:5: record 5: row has 3 columns, the header has 2",
    ]


def test_quoted_delimiters_and_newlines_keep_line_numbers_right() -> None:
    payload = b'id;note;size\nA;"two\nlines; one cell";1\nB;plain;oops\n'
    fields = {"note": {"path": "note"}, "size": {"path": "size", "type": "int"}}
    result = extract(spec({"delimiter": ";", "multiline": True}, **fields), payload, {})
    assert result.records == [{"note": "two\nlines; one cell", "size": 1}]
    assert (result.errors[0].record, result.errors[0].field) == (4, "size")


def test_a_stray_quote_cannot_swallow_the_rows_after_it_unseen() -> None:
    """The quote opened on line 3 closes on line 6: without the check, rows b-e became one
    record of the right width (``'b,2\\nc,3\\nd,4\\ne"', 5``) and three rows vanished."""
    payload = b'name,value\na,1\n"b,2\nc,3\nd,4\n"e",5\nf,6\n'
    fields = {"name": {"path": "name"}, "value": {"path": "value", "type": "int"}}
    result = extract(spec(**fields), payload, {"source": "plan.csv"})
    assert result.records == [{"name": "a", "value": 1}, {"name": "f", "value": 6}]
    assert [e.render() for e in result.errors] == [
        "plan.csv:3: record 3: a quoted field runs over lines 3-6 (a stray quote?); "
        "set csv.multiline: true if fields may hold line breaks"
    ]


def test_a_quote_left_open_to_the_end_of_the_file_is_reported() -> None:
    payload = b'name,value\na,1\n"b,2\nc,3\n'
    result = extract(spec(name={"path": "name"}), payload, {"source": "plan.csv"})
    assert result.records == [{"name": "a"}]
    assert [e.line for e in result.errors] == [3]


def test_quote_escape_and_tab_options() -> None:
    options = {"delimiter": "\t", "quotechar": "'", "escapechar": "\\"}
    payload = b"id\tnote\nA\t'it''s'\nB\tsay \\'hi\\'\n"
    result = extract(spec(options, note={"path": "note", "strip": False}), payload, {})
    assert result.records == [{"note": "it's"}, {"note": "say 'hi'"}]


def test_an_empty_file_has_no_records() -> None:
    assert extract(spec(id={"path": "id"}), b"", {}).records == []


@pytest.mark.parametrize(
    ("payload", "line"),
    [
        (b"id,blob\nA,x\nB," + b"y" * 200_000 + b"\n", 3),
        (b"id,blob" + b"y" * 200_000 + b"\nA,x\n", 1),  # in the header
    ],
)
def test_an_oversized_field_fails_the_payload_naming_the_line(payload: bytes, line: int) -> None:
    says = rf"big.csv: line {line}: malformed CSV: field larger than field limit"
    with pytest.raises(ExtractError, match=says):
        extract(spec(id={"path": "id"}), payload, {"source": "big.csv"})
