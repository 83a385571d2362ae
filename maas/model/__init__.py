"""Document models: declare once, derive validation, ids, OpenSearch templates and DuckDB tables."""

from maas.model.document import Document, DocumentClass, ModelRegistry
from maas.model.fields import Field, FieldError, FieldType
from maas.model.ids import content_hash, document_id
from maas.model.partition import ByDate, ByValue, NoPartition, Partition

__all__ = [
    "ByDate",
    "ByValue",
    "Document",
    "DocumentClass",
    "Field",
    "FieldError",
    "FieldType",
    "ModelRegistry",
    "NoPartition",
    "Partition",
    "content_hash",
    "document_id",
]
