"""Extraction: typed records out of fetched payloads (XML, JSON, JSON Lines, CSV).

Declarative only: the ``extract:`` block of a collector file says where each field is and how
to convert it; nothing in it is ever evaluated as code.
"""

from maas.collector.extract.core import SOURCE_KEY, Extractor, extract, extractor
from maas.collector.extract.result import ExtractError, ExtractResult, RecordError
from maas.collector.extract.spec import (
    CsvExtract,
    CsvField,
    CsvOptions,
    ExtractSpec,
    FieldSpec,
    FormatSpec,
    JsonExtract,
    JsonField,
    JsonLinesExtract,
    XmlExtract,
    XmlField,
)

__all__ = [
    "SOURCE_KEY",
    "CsvExtract",
    "CsvField",
    "CsvOptions",
    "ExtractError",
    "ExtractResult",
    "ExtractSpec",
    "Extractor",
    "FieldSpec",
    "FormatSpec",
    "JsonExtract",
    "JsonField",
    "JsonLinesExtract",
    "RecordError",
    "XmlExtract",
    "XmlField",
    "extract",
    "extractor",
]
