"""The store's filter language and sort keys translated to OpenSearch query DSL, and document
values to and from ``_source`` JSON.

Filters go to a ``bool``/``filter`` clause (no scoring, cacheable). Exact matches on a TEXT field
use its ``.raw`` keyword sub-field, so ``Term("title", "A b")`` means the same thing as in DuckDB
(equality), not "contains the analysed tokens".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from maas.errors import ValidationError
from maas.model import DocumentClass, Field, FieldType
from maas.store.base import Exists, Filter, SortKey, Term, Terms

ID_FIELD = "maas_id"  # the document id as a keyword with doc values: the scan order and tiebreaker


def json_value(value: Any) -> Any:
    """Query values: datetimes as ISO 8601 UTC with microseconds, like stored documents."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def _query_value(value: Any) -> Any:
    return json_value(value) if isinstance(value, datetime) else value


def resolve(doc_class: DocumentClass, name: str) -> Field:
    """The declared field behind a (dotted) name; unknown names are an error, not zero hits."""
    fields: Mapping[str, Field] | None = doc_class.fields
    found: Field | None = None
    for part in name.split("."):
        found = fields.get(part) if fields is not None else None
        if found is None:
            raise ValidationError(f"{doc_class.name}: unknown field {name!r}")
        fields = found.properties
    assert found is not None
    return found


def exact_path(doc_class: DocumentClass, name: str) -> str:
    """Where equality, ranges and sorting apply: the keyword twin of a TEXT field."""
    if name == "id":
        return ID_FIELD
    return f"{name}.raw" if resolve(doc_class, name).type is FieldType.TEXT else name


def field_path(doc_class: DocumentClass, name: str) -> str:
    if name == "id":
        return ID_FIELD
    resolve(doc_class, name)
    return name


def _clause(doc_class: DocumentClass, f: Filter) -> dict[str, Any]:
    if isinstance(f, Exists):
        return {"exists": {"field": field_path(doc_class, f.field)}}
    path = exact_path(doc_class, f.field)
    if isinstance(f, Term):
        return {"term": {path: _query_value(f.value)}}
    if isinstance(f, Terms):
        return {"terms": {path: [_query_value(v) for v in f.values]}}
    bounds = {"gte": f.gte, "gt": f.gt, "lte": f.lte, "lt": f.lt}
    return {"range": {path: {k: _query_value(v) for k, v in bounds.items() if v is not None}}}


def query(doc_class: DocumentClass, filters: Sequence[Filter]) -> dict[str, Any]:
    """A list of filters means AND."""
    if not filters:
        return {"match_all": {}}
    return {"bool": {"filter": [_clause(doc_class, f) for f in filters]}}


def sort_clause(doc_class: DocumentClass, sort: Sequence[SortKey]) -> list[dict[str, Any]]:
    """The requested order, then the id: a unique tiebreaker makes ``search_after`` exact."""
    keys = [{exact_path(doc_class, name): {"order": order}} for name, order in sort]
    return [*keys, {ID_FIELD: {"order": "asc"}}]
