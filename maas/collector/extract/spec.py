"""The ``extract:`` block of a collector file, as strict pydantic models.

One model per payload format, chosen by ``format`` (a discriminated union), so each format
accepts only its own keys and an unknown key is an error. Everything that can be checked
before the first payload is checked here: XPath syntax and namespace prefixes, JSON paths,
regexes, zones, and that lookup values and defaults convert to the field's type.
"""

from __future__ import annotations

import codecs
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    PrivateAttr,
    RootModel,
    field_validator,
    model_validator,
)

from maas.collector.extract import convert, jsonpath
from maas.collector.extract.xpaths import compile_xpath

ContextKey = Annotated[str, Field(pattern=r"^context\.[A-Za-z_][A-Za-z0-9_]*$")]


def _json_path(value: str) -> str:
    jsonpath.parse(value)
    return value


def _xpath_syntax(value: str) -> str:
    """Syntax only: prefixes are checked by the format model, which holds the namespace map."""
    try:
        compile_xpath(value)
    except ValueError as exc:
        if "namespace prefix" not in str(exc):
            raise
    return value


JsonPath = Annotated[str, Field(min_length=1), AfterValidator(_json_path)]
XPathText = Annotated[str, Field(min_length=1), AfterValidator(_xpath_syntax)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FieldSpec(_Strict):
    """One output field: exactly one source (path, constant, context value), then transforms.

    Order of transforms: strip, regex (group 1, or the whole match), split, then lookup
    (its values are already typed) or type conversion. Empty text counts as missing; a
    missing value takes ``default``, or fails the record when ``required``.
    """

    path: str | None = Field(default=None, min_length=1)
    constant: JsonValue = None
    from_: ContextKey | None = Field(default=None, alias="from")
    type: convert.TypeName = "str"
    format: str | None = Field(default=None, min_length=1)
    timezone: str | None = None
    regex: str | None = None
    split: str | None = Field(default=None, min_length=1)
    lookup: dict[str, JsonValue] | None = None
    default: JsonValue = None
    required: bool = False
    many: bool = False
    strip: bool = True

    @property
    def context_key(self) -> str | None:
        return self.from_.removeprefix("context.") if self.from_ else None

    @property
    def has_constant(self) -> bool:
        return "constant" in self.model_fields_set

    def options(self) -> convert.Options:
        zone = convert.zone(self.timezone) if self.timezone else None
        return convert.Options(format=self.format, zone=zone)

    @field_validator("regex")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regex: {exc}") from None
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            convert.zone(value)
        return value

    @field_validator("lookup", mode="before")
    @classmethod
    def _lookup_keys(cls, value: Any) -> Any:
        """YAML reads unquoted yes/no/on/off keys as booleans and 1 as int: keys must be text."""
        if not isinstance(value, dict):
            return value
        for key in value:
            if isinstance(key, bool):
                raise ValueError(f"lookup key {key!r} was read as a boolean by YAML: quote it")
        return {str(key): item for key, item in value.items()}

    @model_validator(mode="after")
    def _consistent(self) -> FieldSpec:
        sources = [self.path is not None, self.has_constant, self.from_ is not None]
        if sum(sources) != 1:
            raise ValueError("give exactly one of path, constant, from")
        if self.format and self.type not in ("datetime", "date"):
            raise ValueError("format applies to type datetime or date only")
        if self.timezone and self.type != "datetime":
            raise ValueError("timezone applies to type datetime only")
        if self.required and self.default is not None:
            raise ValueError("a required field cannot have a default")
        self.typed_default()
        self.typed_lookup()
        return self

    def typed_default(self) -> Any:
        """The default converted to the field's type (lists item by item)."""
        return self._typed(self.default, "default")

    def typed_lookup(self) -> dict[str, Any] | None:
        if self.lookup is None:
            return None
        return {key: self._typed(value, f"lookup[{key!r}]") for key, value in self.lookup.items()}

    def _typed(self, value: Any, what: str) -> Any:
        if value is None:
            return None
        to_type = convert.converter(self.type, self.options())
        try:
            if isinstance(value, list) and self.type != "any":
                return [to_type(item) for item in value]
            return to_type(value)
        except ValueError as exc:
            raise ValueError(f"{what}: {exc}") from None


class XmlField(FieldSpec):
    """``path`` is an XPath relative to the record element (``ns:Name``, ``@id``, ``a/b/text()``)."""

    path: XPathText | None = None


class JsonField(FieldSpec):
    """``path`` is a key path in the record: ``a.b[0].c``, ``tags[*]``, ``$`` for the record."""

    path: JsonPath | None = None


class CsvField(FieldSpec):
    """``path`` is a column name (from the header row, or from ``csv.columns``)."""


class PlanSlot:
    """Where a spec keeps its compiled plan. Copies and pickles of the spec start empty: the
    plan holds lxml and closure objects that cannot be copied, and is cheap to rebuild."""

    __slots__ = ("plan",)

    def __init__(self) -> None:
        self.plan: Any = None

    def __eq__(self, other: object) -> bool:  # a cache never makes two specs differ
        return isinstance(other, PlanSlot)

    def __hash__(self) -> int:
        return 0

    def __deepcopy__(self, memo: dict[int, Any]) -> PlanSlot:
        return PlanSlot()

    def __reduce__(self) -> tuple[type[PlanSlot], tuple[()]]:
        return PlanSlot, ()


class _Format(_Strict):
    """Common to all formats: the compiled plan is cached on the (frozen) spec."""

    _plan: PlanSlot = PrivateAttr(default_factory=PlanSlot)


class XmlExtract(_Format):
    format: Literal["xml"]
    record: str = Field(
        min_length=1, description="XPath to each record; a relative one starts at the root element"
    )
    namespaces: dict[str, str] = Field(default_factory=dict)
    fields: dict[str, XmlField] = Field(min_length=1)

    @model_validator(mode="after")
    def _prefixes(self) -> XmlExtract:
        try:
            compile_xpath(self.record, self.namespaces)
        except ValueError as exc:
            raise ValueError(f"record: {exc}") from None
        for name, spec in self.fields.items():
            if spec.path is not None:
                try:
                    compile_xpath(spec.path, self.namespaces)
                except ValueError as exc:
                    raise ValueError(f"fields.{name}.path: {exc}") from None
        return self


class JsonExtract(_Format):
    format: Literal["json"]
    record: JsonPath | None = Field(default=None, description="path to the records; lists are iterated")
    fields: dict[str, JsonField] = Field(min_length=1)


class JsonLinesExtract(_Format):
    """JSON Lines: one record per non-blank line; a bad line is a record error, not fatal."""

    format: Literal["jsonl"]
    fields: dict[str, JsonField] = Field(min_length=1)


class CsvOptions(_Strict):
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    quotechar: str = Field(default='"', min_length=1, max_length=1)
    escapechar: str | None = Field(default=None, min_length=1, max_length=1)
    header: bool = True
    columns: list[str] | None = Field(default=None, min_length=1)
    encoding: str = "utf-8"
    skip_rows: int = Field(default=0, ge=0, description="rows to skip before the header/data")
    multiline: bool = Field(
        default=False,
        description="quoted fields may hold line breaks; otherwise a record spanning lines is rejected "
        "(a stray quote would swallow the rows after it)",
    )

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}") from None
        return value

    @model_validator(mode="after")
    def _names(self) -> CsvOptions:
        if self.header == (self.columns is not None):
            raise ValueError("give columns exactly when the file has no header (header: false)")
        return self


class CsvExtract(_Format):
    format: Literal["csv"]
    csv: CsvOptions = Field(default_factory=CsvOptions)
    fields: dict[str, CsvField] = Field(min_length=1)

    @model_validator(mode="after")
    def _known_columns(self) -> CsvExtract:
        known = self.csv.columns
        for name, spec in self.fields.items():
            if known is not None and spec.path is not None and spec.path not in known:
                raise ValueError(f"fields.{name}.path: {spec.path!r} is not in csv.columns")
        return self


FormatSpec = XmlExtract | JsonExtract | JsonLinesExtract | CsvExtract


class ExtractSpec(RootModel[Annotated[FormatSpec, Field(discriminator="format")]]):
    """The ``extract:`` block; ``.root`` is the model of the chosen format."""

    model_config = ConfigDict(frozen=True)
