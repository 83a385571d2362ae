"""Backend schemas derived from a document class: the OpenSearch index template and the
DuckDB table columns. The type correspondences are tables, so a new field type is one row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from maas.model.document import DocumentClass
from maas.model.fields import Field, FieldType

HASH_FIELD = "maas_hash"
PARTITION_COLUMN = "maas_partition"
ID_COLUMN = "id"

_OPENSEARCH: dict[FieldType, dict[str, Any]] = {
    FieldType.KEYWORD: {"type": "keyword"},
    FieldType.TEXT: {"type": "text", "fields": {"raw": {"type": "keyword", "ignore_above": 1024}}},
    FieldType.INTEGER: {"type": "integer"},
    FieldType.LONG: {"type": "long"},
    FieldType.FLOAT: {"type": "double"},
    FieldType.BOOLEAN: {"type": "boolean"},
    FieldType.DATETIME: {"type": "date", "format": "strict_date_optional_time||epoch_millis"},
    FieldType.GEO_SHAPE: {"type": "geo_shape"},
}

_DUCKDB: dict[FieldType, str] = {
    FieldType.KEYWORD: "VARCHAR",
    FieldType.TEXT: "VARCHAR",
    FieldType.INTEGER: "INTEGER",
    FieldType.LONG: "BIGINT",
    FieldType.FLOAT: "DOUBLE",
    FieldType.BOOLEAN: "BOOLEAN",
    FieldType.DATETIME: "TIMESTAMPTZ",
}


def opensearch_mapping(f: Field) -> dict[str, Any]:
    if f.type in _OPENSEARCH:
        return dict(_OPENSEARCH[f.type])
    if f.properties is None:  # free-form object: kept in _source, not indexed
        return {"type": "object", "enabled": False}
    kind = "nested" if f.type is FieldType.NESTED else "object"
    return {"type": kind, "properties": opensearch_properties(f.properties)}


def opensearch_properties(fields: Mapping[str, Field]) -> dict[str, Any]:
    return {name: opensearch_mapping(f) for name, f in fields.items()}


def opensearch_template(doc_class: DocumentClass, shards: int = 1, replicas: int = 0) -> dict[str, Any]:
    """A composable index template: every ``<family>-*`` index gets the mapping and the alias."""
    properties = opensearch_properties(doc_class.fields) | {HASH_FIELD: {"type": "keyword"}}
    return {
        "index_patterns": [f"{doc_class.family}-*"],
        "template": {
            "settings": {"number_of_shards": shards, "number_of_replicas": replicas},
            "mappings": {"dynamic": "strict", "properties": properties},
            "aliases": {doc_class.family: {}},
        },
        "_meta": {"maas_document_class": doc_class.name, "key": list(doc_class.key)},
    }


def duckdb_type(f: Field) -> str:
    """Scalars map to typed columns (lists to typed arrays); compound values are JSON."""
    base = _DUCKDB.get(f.type)
    if base is None:
        return "JSON"
    return f"{base}[]" if f.many else base


def duckdb_columns(doc_class: DocumentClass) -> list[tuple[str, str]]:
    fixed = [
        (ID_COLUMN, "VARCHAR PRIMARY KEY"),
        (PARTITION_COLUMN, "VARCHAR"),
        (HASH_FIELD, "VARCHAR"),
    ]
    return fixed + [(name, duckdb_type(f)) for name, f in doc_class.fields.items()]
