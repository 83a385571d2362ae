"""Extraction: typed records out of fetched payloads (XML, JSON, JSON Lines, CSV).

Declarative only: the ``extract:`` block of a collector file says where each field is and how
to convert it; nothing in it is ever evaluated as code. ::

    extract:
      format: xml                      # xml | json | jsonl | csv
      record: //ns:Product             # xml: XPath; json: key path ("value[*]", "$.value")
      namespaces: {ns: "http://..."}   # xml only
      csv: {delimiter: ";", header: true, encoding: utf-8, skip_rows: 0}   # csv only
      fields:
        name:      {path: "ns:Name/text()", required: true}
        size:      {path: "ns:ContentLength", type: int}
        published: {path: "ns:PublicationDate", type: datetime}          # offsets -> UTC
        planned:   {path: Start, type: datetime, format: "%d/%m/%Y %H:%M", timezone: UTC}
        satellite: {path: "ns:Name", regex: "^(S1[AB])_"}                # group 1
        tags:      {path: "ns:Tags", split: ","}                         # a list
        level:     {path: "ns:Type", lookup: {RAW: L0}, default: unknown}
        mode:      {constant: NOMINAL}
        interface: {from: context.interface_name}

Field paths: XPath relative to the record (xml), key path ``a.b[0].c`` / ``a[*]`` (json,
jsonl), column name (csv). Types: str, int, float, bool, datetime, date, any. ``many: true``
keeps every match of a path as a list; ``strip: false`` keeps surrounding whitespace.

``extract(spec, payload, context)`` returns the good records and one ``RecordError`` per bad
field (source, record number, field, reason); a payload that cannot be read at all raises
``ExtractError``. ``context["source"]`` names the payload in both.
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
