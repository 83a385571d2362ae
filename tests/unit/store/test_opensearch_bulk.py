"""OpenSearch bulk plumbing without a server: the classifier on answers recorded from a real
OpenSearch 2.19 (kept honest by an integration test that re-captures them), request sizing,
action lines, the encoded body, the query translation and the template fingerprint."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as ClientConnectionError
from opensearchpy.exceptions import TransportError

from maas.errors import StoreUnavailable, ValidationError
from maas.model import DocumentClass, Field, FieldType
from maas.store._bulk import (
    BulkOp,
    OpenSearchError,
    OpenSearchUnavailable,
    Verdict,
    chunks,
    classify,
    translate_errors,
)
from maas.store._opensearch_query import query, sort_clause
from maas.store.base import Exists, Range, Term, Terms
from maas.store.opensearch import OpenSearchStore, _Target, index_template

pytestmark = pytest.mark.unit

RECORDED = json.loads((Path(__file__).parent / "data" / "opensearch_bulk_items.json").read_text())
T = FieldType


def doc_class(**extra: Field) -> DocumentClass:
    fields = {
        "name": Field(T.KEYWORD, required=True),
        "title": Field(T.TEXT),
        "n": Field(T.INTEGER),
        "at": Field(T.DATETIME),
        "obj": Field(T.OBJECT, properties={"k": Field(T.KEYWORD)}),
        **extra,
    }
    return DocumentClass("Thing", "unit-thing", fields, ("name",))


# --- classification ----------------------------------------------------------------------------

EXPECTED = {
    "created": Verdict.CREATED,
    "updated": Verdict.UPDATED,
    "deleted": Verdict.DELETED,
    "delete_not_found": Verdict.NOT_FOUND,
    "create_conflict": Verdict.CONFLICT,
    "seq_no_conflict": Verdict.CONFLICT,
    "mapper_parsing": Verdict.PERMANENT,
    "integer_out_of_range": Verdict.PERMANENT,
    "strict_dynamic": Verdict.PERMANENT,
    "index.blocks.write": Verdict.RETRYABLE,  # 403, but an operator's block is lifted, not fixed
    "index.blocks.read_only_allow_delete": Verdict.RETRYABLE,  # 429: flood-stage disk watermark
}


def test_every_recorded_answer_is_classified() -> None:
    assert set(RECORDED["items"]) == set(EXPECTED)
    got = {name: classify(item).verdict for name, item in RECORDED["items"].items()}
    assert got == EXPECTED


def test_failures_carry_the_server_reason_with_its_cause() -> None:
    reply = classify(RECORDED["items"]["mapper_parsing"])
    assert reply.reason is not None
    assert reply.reason.startswith("mapper_parsing_exception: failed to parse field [n] of type [integer]")
    assert '(caused by number_format_exception: For input string: "x")' in reply.reason
    blocked = classify(RECORDED["items"]["index.blocks.write"]).reason
    assert blocked and "FORBIDDEN/8/index write (api)" in blocked
    assert classify(RECORDED["items"]["created"]).reason is None


def item(status: int, error_type: str | None, action: str = "index") -> dict[str, Any]:
    body: dict[str, Any] = {"_index": "i", "_id": "x", "status": status}
    if error_type:
        body["error"] = {"type": error_type, "reason": "r"}
    return {action: body}


@pytest.mark.parametrize(
    ("status", "error_type", "verdict"),
    [
        (429, "es_rejected_execution_exception", Verdict.RETRYABLE),  # Elasticsearch's spelling
        (429, "rejected_execution_exception", Verdict.RETRYABLE),  # OpenSearch's
        (503, "unavailable_shards_exception", Verdict.RETRYABLE),
        (500, "some_new_exception", Verdict.RETRYABLE),  # any 5xx: the server's trouble
        (400, "illegal_argument_exception", Verdict.PERMANENT),
        (400, "document_parsing_exception", Verdict.PERMANENT),
        (404, "index_not_found_exception", Verdict.PERMANENT),
        (409, "version_conflict_engine_exception", Verdict.CONFLICT),
    ],
)
def test_status_and_type_rules(status: int, error_type: str, verdict: Verdict) -> None:
    assert classify(item(status, error_type)).verdict is verdict


def test_a_whole_request_rejection_is_transient_and_keeps_its_status() -> None:
    recorded = RECORDED["requests"]["indexing_pressure_rejection"]
    error = TransportError(recorded["status"], "rejected_execution_exception", recorded["body"])
    with pytest.raises(OpenSearchUnavailable) as caught, translate_errors("bulk"):
        raise error
    assert caught.value.transient and caught.value.status == 429
    assert "rejected_execution_exception: rejected execution of coordinating operation" in str(caught.value)


def test_refusals_are_permanent_and_silence_is_unavailable() -> None:
    with pytest.raises(OpenSearchError) as refused, translate_errors("put"):
        raise TransportError(400, "illegal_argument_exception", {"error": {"type": "x", "reason": "bad"}})
    assert not refused.value.transient and refused.value.status == 400
    with pytest.raises(StoreUnavailable) as down, translate_errors("bulk"):
        raise ClientConnectionError("N/A", "Connection refused", None)
    assert down.value.transient and "cannot connect" in str(down.value)


def test_a_refused_connection_is_one_line_naming_the_url_and_the_operation() -> None:
    store = OpenSearchStore(OpenSearch(hosts=["http://127.0.0.1:1"], max_retries=0))
    with pytest.raises(StoreUnavailable) as down:
        list(store.scan(doc_class()))
    assert str(down.value) == (
        "http://127.0.0.1:1: cannot connect (Connection refused) "
        "while opening a point in time on 'unit-thing'"
    )


# --- requests ----------------------------------------------------------------------------------


def test_requests_are_cut_by_count_and_by_bytes() -> None:
    sizes = [b"x" * 10] * 7
    assert list(chunks(sizes, max_docs=3, max_bytes=1000)) == [range(0, 3), range(3, 6), range(6, 7)]
    assert list(chunks(sizes, max_docs=100, max_bytes=25)) == [
        range(0, 2),
        range(2, 4),
        range(4, 6),
        range(6, 7),
    ]
    assert list(chunks([b"x" * 50, b"y"], max_docs=100, max_bytes=25)) == [range(0, 1), range(1, 2)]
    assert list(chunks([], 10, 10)) == []


def test_action_lines_are_ndjson_with_the_concurrency_condition() -> None:
    lines = BulkOp("index", "f-all", 'a"b', b'{"n":1}', seq_no=7, primary_term=2).encode().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"index": {"_index": "f-all", "_id": 'a"b', "if_seq_no": 7, "if_primary_term": 2}},
        {"n": 1},
    ]
    assert BulkOp("delete", "f-all", "x").encode() == b'{"delete":{"_index":"f-all","_id":"x"}}\n'


def test_the_body_is_the_hashed_encoding_plus_the_bookkeeping_fields() -> None:
    cls = doc_class()
    doc = cls.make({"name": "é", "n": 3, "at": "2024-01-01T01:00:00.000001+01:00", "obj": {"k": "v"}})
    target = _Target.of(doc)
    body = json.loads(target.body)
    assert target.digest == doc.content_hash == body.pop("maas_hash")
    assert body.pop("maas_id") == doc.id
    assert body == {"name": "é", "n": 3, "at": "2024-01-01T00:00:00.000001+00:00", "obj": {"k": "v"}}


# --- queries and templates -----------------------------------------------------------------------


def test_filters_translate_to_exact_non_scoring_clauses() -> None:
    cls = doc_class()
    at = datetime(2024, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    got = query(
        cls,
        [
            Term("title", "A b"),
            Terms("n", [1, 2]),
            Range("at", gte=at, lt="2025"),
            Exists("obj.k"),
            Term("id", "abc"),
        ],
    )
    assert got == {
        "bool": {
            "filter": [
                {"term": {"title.raw": "A b"}},
                {"terms": {"n": [1, 2]}},
                {"range": {"at": {"gte": "2024-01-01T10:00:00.000000+00:00", "lt": "2025"}}},
                {"exists": {"field": "obj.k"}},
                {"term": {"maas_id": "abc"}},
            ]
        }
    }
    assert query(cls, []) == {"match_all": {}}


def test_unknown_fields_are_an_error_not_zero_hits() -> None:
    with pytest.raises(ValidationError, match="unknown field 'colour'"):
        query(doc_class(), [Term("colour", "red")])
    with pytest.raises(ValidationError, match="unknown field 'obj.zz'"):
        sort_clause(doc_class(), [("obj.zz", "asc")])


def test_sorting_ends_with_the_id_tiebreaker() -> None:
    assert sort_clause(doc_class(), [("title", "desc")]) == [
        {"title.raw": {"order": "desc"}},
        {"maas_id": {"order": "asc"}},
    ]


def test_template_fingerprint_follows_the_model() -> None:
    first, again = index_template(doc_class()), index_template(doc_class())
    grown = index_template(doc_class(extra=Field(T.KEYWORD)))
    assert first["_meta"]["maas_fingerprint"] == again["_meta"]["maas_fingerprint"]
    assert first["_meta"]["maas_fingerprint"] != grown["_meta"]["maas_fingerprint"]
    assert first["template"]["mappings"]["properties"]["maas_id"] == {"type": "keyword"}
    assert first["priority"] == len("unit-thing")
