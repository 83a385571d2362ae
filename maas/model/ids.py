"""Deterministic document ids.

An id is the SHA-256 of a typed, canonical JSON encoding of the family and the key values,
truncated to 128 bits (32 hex characters). JSON quoting makes the encoding unambiguous, so
the keys ("ab", "c") and ("a", "bc") differ, and tagging each value with its type keeps the
string "1" apart from the integer 1. Re-collecting or replaying the same data therefore
always lands on the same document.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from json.encoder import encode_basestring
from operator import itemgetter
from typing import Any

import orjson

ID_HEX_LENGTH = 32
_DATETIME_TEXTS_MAX = 65_536


def canonical(value: Any) -> Any:
    """A JSON-able, type-tagged form of one key value."""
    if value is None:
        return ["n", None]
    if isinstance(value, bool):
        return ["b", value]
    if isinstance(value, int):
        return ["i", value]
    if isinstance(value, float):
        return ["f", repr(value)]
    if isinstance(value, str):
        return ["s", value]
    if isinstance(value, datetime):
        return ["t", value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")]
    if isinstance(value, list | tuple):
        return ["l", [canonical(item) for item in value]]
    raise TypeError(f"a key value cannot be of type {type(value).__name__}")


def document_id(family: str, key_values: Sequence[Any]) -> str:
    """SHA-256 of ``json.dumps([family, [canonical(v) ...]], ensure_ascii=False)``, the text
    written directly for strings and integers (every engine document computes one or more)."""
    return _hashed_id(_id_head(family), key_values)


def _id_head(family: str) -> str:
    return f"[{encode_basestring(family)}, ["


# What separates the JSON texts of two string key values in the id text.
_BETWEEN_STRINGS = '], ["s", '


def _hashed_id(head: str, key_values: Sequence[Any]) -> str:
    """The id of ``head`` (``_id_head``) and the key values. String values (nearly every key)
    are written in one C join, as ``encode_basestring`` refuses anything but a string; then
    each value writes its own canonical text."""
    try:
        if len(key_values) == 1:  # most keys: one string, no join to set up
            values = f'["s", {encode_basestring(key_values[0])}]'
        elif key_values:
            values = f'["s", {_BETWEEN_STRINGS.join(map(encode_basestring, key_values))}]'
        else:
            values = ""
    except TypeError:  # a key value that is not a string
        values = ", ".join([_canonical_text(v) for v in key_values])
    return hashlib.sha256(f"{head}{values}]]".encode()).hexdigest()[:ID_HEX_LENGTH]


class IdMaker:
    """``document_id`` for one family and key, the constant part of the text encoded once
    (a document class makes one id per document it builds)."""

    def __init__(self, family: str, key: Sequence[str]) -> None:
        self._head = _id_head(family)
        self._single = len(key) == 1
        self._values = itemgetter(*key)  # one key: its value; more: a tuple of them

    def of(self, data: Mapping[str, Any]) -> str:
        """The id of a document with these (converted) values."""
        values = self._values(data)
        return _hashed_id(self._head, (values,) if self._single else values)

    def of_values(self, key_values: Sequence[Any]) -> str:
        """The id a document of this family with these key values has."""
        return _hashed_id(self._head, key_values)


def _canonical_text(value: Any) -> str:
    """``json.dumps(canonical(value), ensure_ascii=False)``, byte for byte."""
    kind = type(value)
    if kind is str:
        return f'["s", {encode_basestring(value)}]'
    if kind is int:
        return f'["i", {int.__repr__(value)}]'
    return _KEY_ENCODER.encode(canonical(value))


def content_encoding(data: Any) -> str:
    """Canonical JSON of a document's content (sorted keys, UTC datetimes with microseconds)."""
    return content_bytes(data).decode("utf-8")


def content_bytes(data: Any) -> bytes:
    """``content_encoding`` as UTF-8: what the stores hash and send, one encoding per document.

    orjson writes it ten times faster than ``json`` (a 40-field document: 4 us against 45),
    and byte for byte the same text, but for floats below 1e-4 in magnitude (``0.00001`` for
    ``1e-05``: the same value, another hash). What orjson refuses (a free object with an int
    beyond 64 bits or a non-str key) goes through ``json``, which decides as before.
    """
    try:
        return orjson.dumps(data, default=_orjson_default, option=_ORJSON_OPTIONS)
    except orjson.JSONEncodeError:
        return _CONTENT_ENCODER.encode(data).encode("utf-8")


def hash_encoded(encoded: bytes) -> str:
    """The content hash of an already encoded document (see ``content_encoding``)."""
    return hashlib.sha256(encoded).hexdigest()[:ID_HEX_LENGTH]


def content_hash(data: Any) -> str:
    """Hash of a document's content, to detect 'unchanged' without comparing field by field."""
    return hash_encoded(content_bytes(data))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        utc = value if value.tzinfo is UTC else value.astimezone(UTC)
        return utc.isoformat(timespec="microseconds")
    raise TypeError(f"cannot encode {type(value).__name__}")


class _DatetimeTexts(dict[datetime, str]):
    """Datetimes encoded lately, by value: a chain's documents repeat the same few instants
    (a product's sensing times are in its raw, publication and product documents), and
    ``isoformat`` is most of the cost of encoding a document otherwise.

    Its own ``__getitem__`` is orjson's default hook: a datetime met before costs a C dict
    lookup, no Python call; ``__missing__`` writes the others as ``_json_default`` does (and
    refuses, as ``json`` would, what is not a datetime). Only UTC datetimes are remembered:
    two times of one zone that differ by ``fold`` alone compare and hash equal though they
    are an hour apart, and naive ones depend on the local zone; a UTC key is equal only to
    the same instant. A datetime subclass equal to a remembered instant gets its text:
    what ``_json_default`` writes for it, unless the subclass rewrites ``isoformat`` or
    ``astimezone``.
    """

    def __missing__(self, value: Any) -> str:
        text: str = _json_default(value)
        if type(value) is datetime and value.tzinfo is UTC:
            if len(self) >= _DATETIME_TEXTS_MAX:
                self.clear()
            self[value] = text
        return text


_orjson_default = _DatetimeTexts().__getitem__
_KEY_ENCODER = json.JSONEncoder(ensure_ascii=False)  # json.dumps' separators: ", " and ": "
_CONTENT_ENCODER = json.JSONEncoder(
    sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_json_default
)
# Datetimes and dataclasses go to the default (the first for our text, the second refused
# there, as json refuses them); naive datetimes too: the default reads them as local time.
_ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
