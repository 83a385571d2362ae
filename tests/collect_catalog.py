"""A one-model business for the collect pipeline tests: products as OData ``Products`` pages carry them.

Importable as ``collect_catalog:CATALOG`` (tests/ is on sys.path under pytest; subprocesses get
it through PYTHONPATH). Its family name is used by no other test, so the OpenSearch tests can
wipe it without disturbing anyone. ``published`` is optional: OData v2 serves dates as
``/Date(ms)/``, which the extractor has no converter for.
"""

from __future__ import annotations

from maas.catalog import Catalog
from maas.engine.registry import EngineRegistry
from maas.model import DocumentClass, Field, FieldType, ModelRegistry

PRODUCT = DocumentClass(
    "TestCollectedProduct",
    "test-collected-product",
    {
        "product_id": Field(FieldType.KEYWORD, required=True),
        "name": Field(FieldType.KEYWORD, required=True),
        "published": Field(FieldType.DATETIME),
        "size": Field(FieldType.LONG),
    },
    key=("product_id",),
)

CATALOG = Catalog(models=ModelRegistry([PRODUCT]), engines=EngineRegistry([]))
