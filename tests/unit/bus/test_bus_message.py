"""The message schema: strict on receipt, reasons that name the field, trace and chunking."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maas.bus.message import (
    Action,
    Message,
    chunk_messages,
    parse_routing_key,
    routing_key,
)
from maas.errors import ValidationError

pytestmark = pytest.mark.unit


def valid_body(**changes: object) -> bytes:
    data: dict[str, object] = {
        "schema_version": 1,
        "message_id": "m-1",
        "date": "2026-01-02T03:04:05Z",
        "ancestor_ids": ["c-1"],
        "document_class": "product",
        "document_ids": ["a", "b"],
        "document_indices": ["p-2026-01", "p-2026-01"],
    }
    data.update(changes)
    return json.dumps({k: v for k, v in data.items() if v is not ...}).encode()


def test_round_trip_keeps_every_field() -> None:
    message = Message(
        ancestor_ids=("x", "y"),
        document_class="product",
        document_ids=("a",),
        document_indices=("p-all",),
        force=True,
    )
    decoded = Message.decode(message.encode())
    assert decoded == message
    assert decoded.force is True and decoded.ancestor_ids == ("x", "y")


def test_date_is_stored_in_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    message = Message(
        date=datetime(2026, 1, 1, 2, 0, tzinfo=plus_two),
        document_class="c",
        document_ids=("a",),
        document_indices=("i",),
    )
    assert message.date == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    assert message.date.utcoffset() == timedelta(0)
    assert b'"2026-01-01T00:00:00Z"' in message.encode()


def test_force_is_optional_and_defaults_to_false() -> None:
    assert Message.decode(valid_body()).force is False


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json at all", "Invalid JSON"),
        (b"\xff\xfe\x00", "Invalid JSON"),
        (b"[1, 2]", "Input should be an object"),
        (valid_body(extra_field=1), "extra_field: Extra inputs are not permitted"),
        (valid_body(document_ids=...), "document_ids: Field required"),
        (valid_body(document_ids=[]), "document_ids"),
        (valid_body(document_ids=[1, 2]), "document_ids.0: Input should be a valid string"),
        (valid_body(document_indices=["only-one"]), "one index per id"),
        (valid_body(date="2026-01-02T03:04:05"), "date: Input should have timezone info"),
        (valid_body(schema_version=2), "schema_version"),
        (valid_body(force="yes"), "force: Input should be a valid boolean"),
    ],
)
def test_invalid_bodies_are_refused_with_the_reason(body: bytes, reason: str) -> None:
    with pytest.raises(ValidationError, match="invalid message") as caught:
        Message.decode(body)
    assert reason in str(caught.value)
    assert caught.value.transient is False  # dead letter, never retry


def test_child_extends_the_trace_and_carries_force() -> None:
    parent = Message.decode(valid_body(force=True))
    child = parent.child("datatake", ["d1"], ["dt-all"])
    assert child.ancestor_ids == ("c-1", "m-1")
    assert child.message_id != parent.message_id
    assert child.force is True
    assert (child.document_class, child.document_ids) == ("datatake", ("d1",))


def test_children_chunk_and_share_the_trace() -> None:
    parent = Message.decode(valid_body())
    ids = [f"id{i}" for i in range(5)]
    children = parent.children("x", ids, ["i"] * 5, per_message=2)
    assert [len(c.document_ids) for c in children] == [2, 2, 1]
    assert {c.ancestor_ids for c in children} == {("c-1", "m-1")}
    assert len({c.message_id for c in children}) == 3


@given(
    pairs=st.lists(st.tuples(st.text(min_size=1), st.text(min_size=1)), min_size=1, max_size=60),
    per_message=st.integers(min_value=1, max_value=25),
)
def test_chunking_keeps_every_id_with_its_index_in_order(
    pairs: list[tuple[str, str]], per_message: int
) -> None:
    ids, indices = [p[0] for p in pairs], [p[1] for p in pairs]
    messages = chunk_messages("c", ids, indices, per_message=per_message, ancestor_ids=["root"])
    assert all(1 <= len(m.document_ids) <= per_message for m in messages)
    assert [i for m in messages for i in m.document_ids] == ids
    assert [i for m in messages for i in m.document_indices] == indices
    assert all(m.ancestor_ids == ("root",) for m in messages)


def test_chunking_refuses_misaligned_or_empty_chunks() -> None:
    with pytest.raises(ValueError, match="one index per id"):
        chunk_messages("c", ["a", "b"], ["i"])
    with pytest.raises(ValueError, match="at least 1"):
        chunk_messages("c", ["a"], ["i"], per_message=0)
    assert chunk_messages("c", [], []) == []


def test_routing_keys() -> None:
    assert routing_key(Action.UPDATE, "s2-product") == "update.s2-product"
    assert parse_routing_key("delete.s2-product") == (Action.DELETE, "s2-product")
    with pytest.raises(ValueError, match="family"):
        routing_key("new", "two.words")  # would break '*' bindings
    with pytest.raises(ValueError):
        routing_key("create", "x")
    for bad in ("create.x", "new", "new.", "new.a.b", "New.x"):
        with pytest.raises(ValidationError, match="routing key"):
            parse_routing_key(bad)
