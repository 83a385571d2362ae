"""Document classes: definitions checked early, partitions, schemas derived from one definition."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from maas.errors import ValidationError
from maas.model import ByDate, ByValue, DocumentClass, Field, FieldType, ModelRegistry, NoPartition
from maas.model.schema import duckdb_columns, opensearch_template

pytestmark = pytest.mark.unit

T = FieldType


def product_class(partition: Any = None) -> DocumentClass:
    return DocumentClass(
        "Product",
        "raw-prip-product",
        {
            "name": Field(T.KEYWORD, required=True),
            "mission": Field(T.KEYWORD),
            "size": Field(T.LONG),
            "published": Field(T.DATETIME),
            "online": Field(T.BOOLEAN),
            "tags": Field(T.KEYWORD, many=True),
            "footprint": Field(T.GEO_SHAPE),
            "attrs": Field(T.OBJECT),
            "files": Field(T.NESTED, many=True, properties={"path": Field(T.KEYWORD)}),
        },
        key=("name",),
        partition=partition or NoPartition(),
    )


def test_make_gives_id_index_and_converted_data() -> None:
    doc = product_class().make({"name": "S1A_X", "size": "10", "published": "2024-05-01T00:00:00Z"})
    assert doc.id == product_class().id_for("S1A_X")
    assert doc.index == "raw-prip-product-all"
    assert doc.data == {"name": "S1A_X", "size": 10, "published": datetime(2024, 5, 1, tzinfo=UTC)}


@pytest.mark.parametrize(
    ("partition", "raw", "index"),
    [
        (ByDate("published"), {"published": "2024-05-31T23:30:00-01:00"}, "raw-prip-product-2024-06"),
        (ByDate("published", "%Y"), {"published": "2024-05-01T00:00:00Z"}, "raw-prip-product-2024"),
        (ByValue("mission"), {"mission": "S1A"}, "raw-prip-product-s1a"),
        (ByValue("mission"), {"mission": "Sentinel 2/B"}, "raw-prip-product-sentinel-2-b"),
    ],
)
def test_partition_names_the_concrete_index(partition: Any, raw: dict[str, Any], index: str) -> None:
    assert product_class(partition).make({"name": "p", **raw}).index == index


def test_missing_partition_value_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="Product: published: partition field is missing"):
        product_class(ByDate("published")).make({"name": "p"})


def test_key_is_required() -> None:
    doc_class = DocumentClass("K", "keyed", {"a": Field(T.KEYWORD), "b": Field(T.INTEGER)}, key=("a", "b"))
    with pytest.raises(ValidationError, match="key field\\(s\\) missing: b"):
        doc_class.make({"a": "x"})


def test_replace_revalidates_and_refuses_a_key_change() -> None:
    doc = product_class().make({"name": "p", "size": 1})
    bigger = doc.replace(size="2")
    assert bigger.data["size"] == 2 and bigger.id == doc.id
    assert "size" not in doc.replace(size=None).data
    with pytest.raises(ValidationError, match="key fields cannot change"):
        doc.replace(name="other")
    with pytest.raises(ValidationError, match="size: expected an integer"):
        doc.replace(size="huge")


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"family": "Raw_Product"}, "family 'Raw_Product' must be lower-case"),
        ({"key": ()}, "needs at least one key field"),
        ({"key": ("nope",)}, "key or partition field 'nope' is not a declared field"),
        ({"partition": ByDate("when")}, "key or partition field 'when' is not a declared field"),
        ({"fields": {"n": Field(T.KEYWORD), "maas_x": Field(T.KEYWORD)}}, "'maas_x' uses the reserved"),
        ({"fields": {"n": Field(T.KEYWORD), "id": Field(T.KEYWORD)}}, "field name 'id' must be"),
        ({"fields": {"n": Field(T.KEYWORD), "a.b": Field(T.KEYWORD)}}, "field name 'a.b' must be"),
        ({"fields": {"n": Field(T.OBJECT)}}, "key field 'n' must be a scalar"),
    ],
)
def test_bad_definitions_fail_at_import_time(kwargs: dict[str, Any], problem: str) -> None:
    args: dict[str, Any] = {"name": "Bad", "family": "bad", "fields": {"n": Field(T.KEYWORD)}, "key": ("n",)}
    with pytest.raises(ValueError, match="document class 'Bad'") as info:
        DocumentClass(**(args | kwargs))
    assert problem in str(info.value)


def test_registry_finds_by_family_and_refuses_duplicates() -> None:
    registry = ModelRegistry([product_class()])
    assert registry["raw-prip-product"].name == "Product"
    assert "raw-prip-product" in registry and "other" not in registry
    with pytest.raises(ValidationError, match="unknown document family 'other'"):
        registry["other"]
    with pytest.raises(ValueError, match="defined twice"):
        registry.add(product_class())


# --- schemas: one definition, two backends ------------------------------------------------


def test_opensearch_template_is_strict_with_alias_and_every_field() -> None:
    doc_class = product_class(ByDate("published"))
    template = opensearch_template(doc_class)
    mappings = template["template"]["mappings"]
    assert template["index_patterns"] == ["raw-prip-product-*"]
    assert template["template"]["aliases"] == {"raw-prip-product": {}}
    assert mappings["dynamic"] == "strict"
    assert set(mappings["properties"]) == {*doc_class.fields, "maas_hash"}
    assert mappings["properties"]["size"] == {"type": "long"}
    assert mappings["properties"]["published"]["type"] == "date"
    assert mappings["properties"]["footprint"] == {"type": "geo_shape"}
    assert mappings["properties"]["attrs"] == {"type": "object", "enabled": False}
    assert mappings["properties"]["files"] == {"type": "nested", "properties": {"path": {"type": "keyword"}}}


def test_duckdb_columns_follow_the_same_definition() -> None:
    doc_class = product_class()
    columns = dict(duckdb_columns(doc_class))
    assert list(columns)[:3] == ["id", "maas_partition", "maas_hash"]
    assert set(columns) - {"id", "maas_partition", "maas_hash"} == set(doc_class.fields)
    assert columns["id"] == "VARCHAR PRIMARY KEY"
    assert columns["size"] == "BIGINT"
    assert columns["published"] == "TIMESTAMPTZ"
    assert columns["tags"] == "VARCHAR[]"
    assert columns["online"] == "BOOLEAN"
    assert columns["footprint"] == columns["attrs"] == columns["files"] == "JSON"


def test_a_new_field_appears_in_both_schemas() -> None:
    base = product_class()
    grown = DocumentClass(base.name, base.family, {**base.fields, "latency": Field(T.FLOAT)}, base.key)
    assert opensearch_template(grown)["template"]["mappings"]["properties"]["latency"] == {"type": "double"}
    assert dict(duckdb_columns(grown))["latency"] == "DOUBLE"


def test_lookup_fields_are_declared_scalars() -> None:
    fields = {"k": Field(FieldType.KEYWORD), "tags": Field(FieldType.KEYWORD, many=True)}
    with pytest.raises(ValueError, match="lookup field 'tags' must be a declared scalar") as info:
        DocumentClass("C", "c", fields, ("k",), lookups=("tags", "nope", "k"))
    assert "lookup field 'nope'" in str(info.value) and str(info.value).count("lookup field") == 2
