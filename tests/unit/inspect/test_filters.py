"""The command-line filter language of ``maas inspect export --query``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from maas.inspect.filters import FilterError, parse_filter
from maas.model import DocumentClass, Field, FieldType
from maas.store.base import Exists, Range, Term, Terms

pytestmark = pytest.mark.unit

PRODUCT = DocumentClass(
    "Product",
    "test-product",
    {
        "name": Field(FieldType.KEYWORD, required=True),
        "size": Field(FieldType.LONG),
        "published": Field(FieldType.DATETIME),
        "online": Field(FieldType.BOOLEAN),
        "tags": Field(FieldType.KEYWORD, many=True),
    },
    key=("name",),
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name = S1A_X", Term("name", "S1A_X")),
        ("name=a b", Term("name", "a b")),
        ("size >= 10", Range("size", gte=10)),
        ("size>10", Range("size", gt=10)),
        ("size <= 10", Range("size", lte=10)),
        ("size < 10", Range("size", lt=10)),
        ("published >= 2024-03-01", Range("published", gte=datetime(2024, 3, 1, tzinfo=UTC))),
        (
            "published < 2024-03-01T12:00:00+02:00",
            Range("published", lt=datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ),
        ("online = yes", Term("online", True)),
        ("tags = x", Term("tags", "x")),
        ("size in 1, 2,3", Terms("size", [1, 2, 3])),
        ("name in a", Terms("name", ["a"])),
        ("published exists", Exists("published")),
        ("id = abc", Term("id", "abc")),
    ],
)
def test_expressions(text: str, expected: object) -> None:
    assert parse_filter(PRODUCT, text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("size ~ 3", "expected 'FIELD = VALUE'"),
        ("nope = 1", "test-product has no field 'nope' (fields: id, name, size, published, online, tags)"),
        ("size >= ten", "expected an integer, got 'ten'"),
        ("published >= soon", "expected an ISO 8601 date-time"),
        ("online = maybe", "expected a boolean"),
        ("= 3", "expected 'FIELD = VALUE'"),
    ],
)
def test_bad_expressions_say_why(text: str, reason: str) -> None:
    with pytest.raises(FilterError, match=None) as caught:
        parse_filter(PRODUCT, text)
    assert reason in str(caught.value) and repr(text) in str(caught.value)
    assert caught.value.exit_code == 2
