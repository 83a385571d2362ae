"""Turn one field's raw value into its typed value, following the field's declared transforms.

Compiled once per field into a closure that only does the steps the field asks for, since it
runs for every field of every record. Raw values come from the format readers: text, JSON
scalars and structures, ``Many`` for several matches, or None for "not there". A value that
cannot be converted raises ``ValueError`` with the reason; the record loop reports it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from maas.collector.extract import convert
from maas.collector.extract.raw import Many
from maas.collector.extract.spec import FieldSpec

Finisher = Callable[[Any], Any]
MISSING: Any = object()


def compile_field(spec: FieldSpec) -> Finisher:
    """The finisher for ``spec``: scalar fields reject several matches, list fields keep all."""
    prepare, to_item, fallback = _prepare(spec), _item(spec), _fallback(spec)
    if spec.many or spec.split:
        return _list_finisher(prepare, to_item, fallback, spec.split)
    return _text_finisher(spec, to_item, fallback, _scalar_finisher(prepare, to_item, fallback))


def _text_finisher(spec: FieldSpec, to_item: Finisher, fallback: Finisher, general: Finisher) -> Finisher:
    """``general`` with the case of one text value inlined (strip, regex, text kept as is).

    This runs for most fields of most records, and a Python call per step is what a
    declarative extractor pays over a hand-written loop; anything unusual (no value, several,
    a JSON number through a regex) takes the general path.
    """
    strip = spec.strip
    pattern = re.compile(spec.regex) if spec.regex else None
    search, group = (pattern.search, 1 if pattern.groups else 0) if pattern else (None, 0)
    keep_text = spec.type in ("str", "any") and spec.lookup is None
    as_int = spec.type == "int" and spec.lookup is None  # what ``convert.to_int`` does with text

    def finish(raw: Any) -> Any:
        if type(raw) is str:
            if strip:
                raw = raw.strip()
            if search is not None:
                match = search(raw)
                if match is None or (raw := match.group(group)) is None:
                    return fallback(None)
            if not raw:
                return fallback(None)
            if keep_text:
                return raw
            if as_int:
                try:
                    return int(raw)
                except ValueError:
                    pass  # the converter says why
        elif raw is None or type(raw) is Many or search or isinstance(raw, str):
            return general(raw)
        value = to_item(raw)
        return fallback(None) if value is MISSING else value

    return finish


def _scalar_finisher(prepare: Finisher, to_item: Finisher, fallback: Finisher) -> Finisher:
    def finish(raw: Any) -> Any:
        if type(raw) is Many:
            if len(raw) > 1:
                raise ValueError(f"{len(raw)} values found; set many: true to keep them all")
            raw = raw[0] if raw else None
        value = MISSING if raw is None else prepare(raw)
        if value is not MISSING:
            value = to_item(value)
        return fallback(None) if value is MISSING else value

    return finish


def _list_finisher(
    prepare: Finisher, to_item: Finisher, fallback: Finisher, separator: str | None
) -> Finisher:
    def finish(raw: Any) -> Any:
        values = []
        for item in raw if type(raw) is Many or type(raw) is list else (raw,):
            text = MISSING if item is None else prepare(item)
            if text is MISSING:
                continue
            if separator and type(text) is str:
                parts: Any = (p.strip() for p in text.split(separator))
            else:
                parts = (text,)
            values += [v for p in parts if p != "" and (v := to_item(p)) is not MISSING]
        return values or fallback(None)

    return finish


def _prepare(spec: FieldSpec) -> Finisher:
    """Strip, then regex-capture text; empty text is missing. Other JSON values pass as they are."""
    strip = spec.strip
    pattern = re.compile(spec.regex) if spec.regex else None
    search = pattern.search if pattern else None
    group = 1 if pattern and pattern.groups else 0

    def prepare(raw: Any) -> Any:
        if strip and isinstance(raw, str):
            raw = raw.strip()
        if search:
            match = search(raw if isinstance(raw, str) else str(raw))
            raw = match.group(group) if match else None
            if raw is None:
                return MISSING
        return MISSING if raw == "" else raw

    return prepare


def _item(spec: FieldSpec) -> Finisher:
    """Typed value of one prepared item: through the lookup table, or the type converter."""
    table = spec.typed_lookup()
    if table is None:
        return convert.converter(spec.type, spec.options())
    default, has_default = spec.typed_default(), spec.default is not None

    def look_up(value: Any) -> Any:
        key = value if type(value) is str else str(value)
        if key in table:
            found = table[key]
            return MISSING if found is None else found
        if has_default:
            return default
        raise ValueError(f"{key!r} is not in the lookup table ({_sample(table)})")

    return look_up


def _sample(table: dict[str, Any]) -> str:
    keys = list(table)
    return ", ".join(keys[:8]) + (", ..." if len(keys) > 8 else "")


def _fallback(spec: FieldSpec) -> Finisher:
    """What a missing value becomes: the default, None, or an error when required."""
    default = spec.typed_default()
    if spec.required:

        def missing(_: Any) -> Any:
            raise ValueError("required value is missing")

        return missing
    if (spec.many or spec.split) and default is not None and not isinstance(default, list):
        default = [default]
    if isinstance(default, list | dict):  # each record gets its own, mutable copy
        return lambda _: copy.deepcopy(default)
    return lambda _: default
