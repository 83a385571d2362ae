"""The store's filter language written on a command line (``maas inspect export --query``).

Why not a Lucene query string: the export goes through ``Store.scan``, which both backends
implement over the same small filter language, so a slice means the same thing whichever store
it comes from, needs no OpenSearch-only syntax, and every field is checked against the model
(an unknown field is an error, not an empty export). One expression per ``--query``; several
are ANDed::

    FIELD = VALUE             equality (for a list field: contains VALUE)
    FIELD in V1,V2,...        one of the values
    FIELD >= VALUE            also >, <= and <; times are ISO 8601 (UTC without an offset)
    FIELD exists              the field has a value

Values are converted with the field's own type, so ``size >= 10`` compares numbers and a bad
value is reported before anything is read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from maas.errors import MaasError
from maas.model import DocumentClass
from maas.store.base import Exists, Filter, Range, Term, Terms

_EXPRESSION = re.compile(
    r"^\s*(?P<field>[A-Za-z][A-Za-z0-9_]*)\s*"
    r"(?:(?P<op>>=|<=|=|>|<)\s*(?P<value>.*?)|\s(?:in)\s+(?P<values>.+?)|\s(?P<exists>exists))\s*$",
    re.DOTALL,
)
_RANGES = {">=": "gte", ">": "gt", "<=": "lte", "<": "lt"}


class FilterError(MaasError):
    """A ``--query`` expression that does not parse or does not fit the model."""

    exit_code = 2


def parse_filters(doc_class: DocumentClass, expressions: Sequence[str]) -> list[Filter]:
    return [parse_filter(doc_class, text) for text in expressions]


def parse_filter(doc_class: DocumentClass, text: str) -> Filter:
    match = _EXPRESSION.match(text)
    if match is None:
        raise FilterError(
            f"--query {text!r}: expected 'FIELD = VALUE', 'FIELD in A,B', "
            "'FIELD >= VALUE' (or >, <=, <) or 'FIELD exists'"
        )
    name = match["field"]
    if name != "id" and name not in doc_class.fields:
        known = ", ".join(["id", *doc_class.fields])
        raise FilterError(f"--query {text!r}: {doc_class.family} has no field {name!r} (fields: {known})")
    if match["exists"]:
        return Exists(name)
    if match["values"] is not None:
        return Terms(name, [_value(doc_class, name, v.strip(), text) for v in match["values"].split(",")])
    value = _value(doc_class, name, match["value"], text)
    op = match["op"]
    return Term(name, value) if op == "=" else Range(name, **{_RANGES[op]: value})


def _value(doc_class: DocumentClass, name: str, raw: str, text: str) -> Any:
    if name == "id":
        return raw
    field = doc_class.fields[name]
    try:
        converted = replace(field, many=False, default_tz=field.default_tz or "UTC").converter(raw)
    except ValueError as exc:
        raise FilterError(f"--query {text!r}: {exc}") from None
    if converted is None:
        raise FilterError(f"--query {text!r}: no value")
    return converted
