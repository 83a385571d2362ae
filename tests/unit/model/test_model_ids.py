"""Deterministic ids: typed, canonical, collision-free by construction; content hashes."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maas.model import content_hash, document_id
from maas.model.ids import ID_HEX_LENGTH, IdMaker, canonical, content_encoding, hash_encoded

pytestmark = pytest.mark.unit

scalars = st.one_of(st.text(max_size=8), st.integers(), st.booleans(), st.floats(allow_nan=False), st.none())


def test_same_key_gives_the_same_id_every_time() -> None:
    first = document_id("raw-prip-product", ["S1A_IW_GRDH", 3])
    assert first == document_id("raw-prip-product", ["S1A_IW_GRDH", 3])
    assert len(first) == ID_HEX_LENGTH
    assert int(first, 16) >= 0  # plain lower-case hex, safe in URLs and index APIs


def test_concatenation_cannot_collide() -> None:
    assert document_id("f", ["ab", "c"]) != document_id("f", ["a", "bc"])
    assert document_id("f", ["a,b"]) != document_id("f", ["a", "b"])
    assert document_id("f", ['a"', "b"]) != document_id("f", ["a", '"b'])


def test_values_are_typed() -> None:
    assert document_id("f", ["1"]) != document_id("f", [1])
    assert document_id("f", [1]) != document_id("f", [1.0])
    assert document_id("f", [True]) != document_id("f", [1])
    assert document_id("f", [None]) != document_id("f", ["None"])
    assert document_id("f", [["a", "b"]]) != document_id("f", ["a", "b"])


def test_family_is_part_of_the_id() -> None:
    assert document_id("raw-prip-product", ["x"]) != document_id("raw-lta-product", ["x"])


def test_datetime_keys_are_the_same_instant_in_any_zone() -> None:
    utc = datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
    paris = utc.astimezone(timezone(timedelta(hours=2)))
    assert document_id("f", [utc]) == document_id("f", [paris])
    assert document_id("f", [utc]) != document_id("f", [utc + timedelta(microseconds=1)])


def test_unsupported_key_type_is_refused() -> None:
    with pytest.raises(TypeError, match="dict"):
        document_id("f", [{"a": 1}])


@given(st.lists(scalars, min_size=1, max_size=4), st.lists(scalars, min_size=1, max_size=4))
def test_different_keys_never_share_an_id(a: list[object], b: list[object]) -> None:
    same = [(type(x), x) for x in a] == [(type(y), y) for y in b]
    assert (document_id("f", a) == document_id("f", b)) == same


def test_content_hash_ignores_key_order_but_not_values() -> None:
    a = {"x": 1, "y": [1, 2], "t": datetime(2024, 1, 1, tzinfo=UTC)}
    b = {"t": datetime(2024, 1, 1, tzinfo=UTC), "y": [1, 2], "x": 1}
    assert content_hash(a) == content_hash(b)
    assert content_hash(a) != content_hash({**a, "y": [2, 1]})
    assert content_hash(a) != content_hash({**a, "t": datetime(2024, 1, 1, 0, 0, 0, 1, tzinfo=UTC)})


def test_content_encoding_is_the_hashed_text() -> None:
    data = {"b": "é", "a": datetime(2024, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))}
    text = content_encoding(data)
    assert text == '{"a":"2024-01-01T10:00:00.000000+00:00","b":"é"}'
    assert hash_encoded(text.encode()) == content_hash(data)


key_values = st.one_of(
    st.text(), st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False),
    st.datetimes(timezones=st.just(UTC)), st.lists(st.one_of(st.text(max_size=3), st.integers()), max_size=3),
)  # fmt: skip


@given(st.text(min_size=1), st.lists(key_values, max_size=4))
def test_ids_are_the_hash_of_the_documented_json(family: str, values: list[object]) -> None:
    """The id text is written by hand for speed: it must stay json.dumps' text exactly."""
    text = json.dumps([family, [canonical(v) for v in values]], ensure_ascii=False)
    assert document_id(family, values) == hashlib.sha256(text.encode("utf-8")).hexdigest()[:ID_HEX_LENGTH]


def _json_text(data: object) -> str:
    """The canonical encoding as the ``json`` module writes it (what the hashes were made of)."""

    def default(value: object) -> str:
        assert isinstance(value, datetime)
        return value.astimezone(UTC).isoformat(timespec="microseconds")

    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=default)


document_values = st.recursive(
    st.one_of(
        st.text(), st.integers(min_value=-(2**63), max_value=2**64 - 1), st.booleans(), st.none(),
        st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: f == 0 or abs(f) >= 1e-4),
        st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-3, minutes=-30))])),
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=12,
)  # fmt: skip


@given(st.dictionaries(st.text(max_size=6), document_values, max_size=8))
def test_content_encoding_is_the_json_modules_text(data: dict[str, object]) -> None:
    """Stored hashes stay valid: the fast encoder writes what ``json`` wrote, datetimes in UTC,
    the first time and once its datetimes are remembered."""
    assert content_encoding(data) == content_encoding(data) == _json_text(data)


def test_times_that_differ_by_fold_alone_are_encoded_apart() -> None:
    """Equal to Python (same zone, fold ignored) but an hour apart: no remembered text mixes them."""
    first = datetime(2024, 10, 27, 2, 30, tzinfo=ZoneInfo("Europe/Paris"))  # met twice that night
    second = first.replace(fold=1)
    for _ in range(2):
        assert content_encoding({"t": first}) == '{"t":"2024-10-27T00:30:00.000000+00:00"}'
        assert content_encoding({"t": second}) == '{"t":"2024-10-27T01:30:00.000000+00:00"}'


def test_what_the_fast_encoder_refuses_is_encoded_as_before() -> None:
    data = {"free": {"big": 2**70, "keys": {1: "a"}}}
    expected = '{"free":{"big":1180591620717411303424,"keys":{"1":"a"}}}'
    assert content_encoding(data) == _json_text(data) == expected
    with pytest.raises(TypeError):
        content_encoding({"x": {1, 2}})


@given(st.text(min_size=1), st.lists(key_values, min_size=1, max_size=3))
def test_a_classes_id_maker_gives_document_id(family: str, values: list[object]) -> None:
    key = [f"k{i}" for i in range(len(values))]
    data = dict(zip(key, values, strict=True))
    assert IdMaker(family, key).of(data) == document_id(family, values)
    assert IdMaker(family, key).of_values(values) == document_id(family, values)


def test_a_string_subclass_key_is_written_as_a_string() -> None:
    class Name(str):
        pass

    text = json.dumps(["f", [["s", "a"], ["i", 1], ["s", "b"]]], ensure_ascii=False)
    expected = hashlib.sha256(text.encode()).hexdigest()[:ID_HEX_LENGTH]
    assert document_id("f", [Name("a"), 1, "b"]) == document_id("f", ["a", 1, Name("b")]) == expected
    assert document_id("f", [Name("a")]) == document_id("f", ["a"])
