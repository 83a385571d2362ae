"""Compare the KPIs a store holds with a sample's ``expected.json``, on any backend.

``differences(expected, observed(store))`` lists every disagreement by family and key
(``completeness S1A-434177/IW_RAW__0S/production: percentage 68.57 != expected 68.5714``),
missing and unexpected records included: counts, statuses, keys and dates must be equal,
seconds, minutes and percentages within ``TOLERANCE``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from cds.models import COMPLETENESS, DATATAKE, INTERFACE_STATUS, ORBIT_COMPLETENESS, PRODUCT, PUBLICATION
from maas.model import DocumentClass
from maas.store.base import Store

TOLERANCE = 1e-6
# family in expected.json -> (document class, key fields)
FAMILIES: dict[str, tuple[DocumentClass, tuple[str, ...]]] = {
    "datatakes": (DATATAKE, ("datatake_key",)),
    "completeness": (COMPLETENESS, ("datatake_key", "product_type", "scope")),
    "orbit_completeness": (ORBIT_COMPLETENESS, ("orbit_key", "product_type")),
    "publications": (PUBLICATION, ("interface_name", "product_name")),
    "products": (PRODUCT, ("product_key",)),
    "interface_status": (INTERFACE_STATUS, ("interface_name", "start")),
}


def shown(value: Any) -> Any:
    """Store values in expected.json's terms: UTC times with milliseconds, periods as pairs."""
    if isinstance(value, datetime):
        moment = value.astimezone(UTC)
        fraction = (
            f"{moment.microsecond // 1000:03d}"
            if moment.microsecond % 1000 == 0
            else f"{moment.microsecond:06d}"
        )
        return f"{moment:%Y-%m-%dT%H:%M:%S}.{fraction}Z"
    if isinstance(value, Mapping) and set(value) == {"start", "stop"}:
        return [shown(value["start"]), shown(value["stop"])]
    if isinstance(value, list | tuple):
        return [shown(v) for v in value]
    return value


def observed(store: Store, families: Iterable[str] = FAMILIES) -> dict[str, list[dict[str, Any]]]:
    """Every document of the compared families, in expected.json's terms."""
    store.refresh()
    out = {}
    for name in families:
        doc_class, _ = FAMILIES[name]
        out[name] = [{k: shown(v) for k, v in doc.data.items()} for doc in store.scan(doc_class)]
    return out


def differences(
    expected: Mapping[str, Any], seen: Mapping[str, Sequence[Mapping[str, Any]]], limit: int = 200
) -> list[str]:
    """Every disagreement, family by family (at most ``limit``, then a count of the rest)."""
    problems = [p for name in seen for p in _family(name, expected[name], seen[name])]
    if len(problems) > limit:
        return [*problems[:limit], f"... and {len(problems) - limit} more"]
    return problems


def _family(name: str, wanted: Sequence[Mapping[str, Any]], got: Sequence[Mapping[str, Any]]) -> list[str]:
    keys = FAMILIES[name][1]
    want = {_key(r, keys): r for r in wanted}
    have = {_key(r, keys): r for r in got}
    problems = [f"{name} {key}: missing from the store" for key in sorted(want.keys() - have.keys())]
    problems += [f"{name} {key}: in the store, not expected" for key in sorted(have.keys() - want.keys())]
    for key in sorted(want.keys() & have.keys()):
        problems += [f"{name} {key}: {p}" for p in _fields(want[key], have[key])]
    return problems


def _key(record: Mapping[str, Any], keys: Sequence[str]) -> str:
    return "/".join(str(record.get(k)) for k in keys)


def _fields(want: Mapping[str, Any], have: Mapping[str, Any]) -> list[str]:
    return [
        f"{field} {have.get(field)!r} != expected {value!r}"
        for field, value in want.items()
        if not same(value, have.get(field))
    ]


def same(want: Any, have: Any) -> bool:
    if isinstance(want, float) and isinstance(have, int | float) and not isinstance(have, bool):
        return math.isclose(want, have, rel_tol=0.0, abs_tol=TOLERANCE)
    if isinstance(want, list) and isinstance(have, list):
        return len(want) == len(have) and all(same(w, h) for w, h in zip(want, have, strict=True))
    if isinstance(want, list) and have is None:
        return not want  # an empty list may be stored as absent
    return bool(want == have)
