"""``extract(spec, payload, context)``: records out of one fetched payload.

The context carries what the collector knows about the payload and fields may copy with
``from: context.<name>`` (interface name, file name, fetch time). ``context["source"]``
names the payload (file path or URL) in every error.

A spec is compiled once (XPaths, JSON paths, regexes, converters) and the compiled plan is
cached on the frozen spec, so calling ``extract`` per payload costs no recompilation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from maas.collector.extract.csv_reader import CsvReader
from maas.collector.extract.json_reader import JsonLinesReader, JsonReader
from maas.collector.extract.pipeline import compile_field
from maas.collector.extract.records import Reader, collect
from maas.collector.extract.result import ExtractError, ExtractResult, RecordError
from maas.collector.extract.spec import (
    CsvExtract,
    ExtractSpec,
    FieldSpec,
    FormatSpec,
    JsonExtract,
    JsonLinesExtract,
    XmlExtract,
)
from maas.collector.extract.xml_reader import XmlReader

SOURCE_KEY = "source"
UNNAMED = "<payload>"

READERS: dict[type[Any], Callable[[Any, list[str]], Reader]] = {
    XmlExtract: XmlReader,
    JsonExtract: JsonReader,
    JsonLinesExtract: JsonLinesReader,
    CsvExtract: CsvReader,
}


class Extractor:
    """A compiled spec: per-record fields (with a path) and per-payload ones (constant, context)."""

    def __init__(self, spec: FormatSpec) -> None:
        fields: dict[str, FieldSpec] = dict(spec.fields)
        dynamic = {name: f for name, f in fields.items() if f.path is not None}
        self._fields = [(name, compile_field(f)) for name, f in dynamic.items()]
        self._static = [(name, f, compile_field(f)) for name, f in fields.items() if f.path is None]
        paths = [f.path for f in dynamic.values() if f.path is not None]
        self._reader = READERS[type(spec)](spec, paths)

    def __call__(self, payload: bytes, context: Mapping[str, Any]) -> ExtractResult:
        source = str(context.get(SOURCE_KEY) or UNNAMED)
        static = self._static_values(context, source)
        errors: list[RecordError] = []
        batch = self._reader.open(payload, source, errors)
        records, numbers = collect(batch, self._fields, static, source, errors)
        return ExtractResult(source, records, errors, numbers)

    def _static_values(self, context: Mapping[str, Any], source: str) -> dict[str, Any]:
        """Constants and context values are the same for every record: converted once."""
        values = {}
        for name, spec, finish in self._static:
            key = spec.context_key
            try:
                values[name] = finish(context.get(key) if key else spec.constant)
            except ValueError as exc:
                origin = f" (context {key!r})" if key else ""
                raise ExtractError(source, f"field {name}{origin}: {exc}") from None
        return values


def extractor(spec: ExtractSpec | FormatSpec) -> Extractor:
    """The compiled plan of ``spec``, built on first use and kept on the spec."""
    concrete = spec.root if isinstance(spec, ExtractSpec) else spec
    slot = concrete._plan
    if slot.plan is None:  # a race compiles twice, harmlessly
        slot.plan = Extractor(concrete)
    plan: Extractor = slot.plan
    return plan


def extract(spec: ExtractSpec | FormatSpec, payload: bytes, context: Mapping[str, Any]) -> ExtractResult:
    """Records of ``payload``; bad records are in ``errors``, an unreadable payload raises."""
    return extractor(spec)(payload, context)
