"""Document classes (declarative models) and documents (validated instances with their id)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from maas.errors import ValidationError
from maas.model.fields import Field, FieldError, FieldPlan, FieldType
from maas.model.ids import IdMaker, content_hash
from maas.model.partition import NoPartition, Partition

_FAMILY = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")
# Field names become DuckDB columns and JSON paths, and OpenSearch reads dots as objects.
_FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
RESERVED_PREFIX = "maas_"
RESERVED_NAMES = frozenset({"id"})  # the stores' own id column / _id
_KEY_TYPES = frozenset(
    {
        FieldType.KEYWORD,
        FieldType.TEXT,
        FieldType.INTEGER,
        FieldType.LONG,
        FieldType.FLOAT,
        FieldType.BOOLEAN,
        FieldType.DATETIME,
    }
)


@dataclass(frozen=True)
class DocumentClass:
    """One kind of document: its fields, key, index family and partitioning rule.

    Everything the backends need (OpenSearch template, DuckDB table, validation, ids) is
    derived from this one definition.

    ``lookups`` are scalar fields engines search by exact value on their hot path (the
    products of a datatake, the publications of a product): OpenSearch indexes every keyword
    anyway, the embedded store creates an index for them so those searches do not read the
    whole table.
    """

    name: str
    family: str
    fields: Mapping[str, Field]
    key: tuple[str, ...]
    partition: Partition = field(default_factory=NoPartition)
    description: str = ""
    lookups: tuple[str, ...] = ()
    _plan: FieldPlan = field(init=False, repr=False, compare=False)
    _ids: IdMaker = field(init=False, repr=False, compare=False)
    _check_key: bool = field(init=False, repr=False, compare=False)  # a key field is optional
    _index: str | None = field(init=False, repr=False, compare=False)  # without a partition field

    def __post_init__(self) -> None:
        problems = list(self._definition_problems())
        if problems:
            raise ValueError(f"document class {self.name!r}: " + "; ".join(problems))
        object.__setattr__(self, "_plan", FieldPlan(self.fields))
        object.__setattr__(self, "_ids", IdMaker(self.family, self.key))
        object.__setattr__(self, "_check_key", not all(self.fields[k].required for k in self.key))
        fixed = None if self.partition.field else f"{self.family}-{self.partition.suffix({})}"
        object.__setattr__(self, "_index", fixed)

    def _definition_problems(self) -> Iterator[str]:
        if not _FAMILY.match(self.family):
            yield f"family {self.family!r} must be lower-case letters, digits and '-'"
        if not self.key:
            yield "needs at least one key field"
        for name in (*self.key, *([self.partition.field] if self.partition.field else [])):
            if name not in self.fields:
                yield f"key or partition field {name!r} is not a declared field"
        yield from (
            f"field {n!r} uses the reserved prefix" for n in self.fields if n.startswith(RESERVED_PREFIX)
        )
        yield from (
            f"field name {n!r} must be letters, digits and '_' (starting with a letter), not 'id'"
            for n in self.fields
            if not _FIELD_NAME.match(n) or n in RESERVED_NAMES
        )
        yield from (
            f"key field {k!r} must be a scalar ({self.fields[k].type} cannot be hashed into an id)"
            for k in self.key
            if k in self.fields and self.fields[k].type not in _KEY_TYPES
        )
        yield from (
            f"lookup field {n!r} must be a declared scalar field (not a list or an object)"
            for n in self.lookups
            if n not in self.fields or self.fields[n].type not in _KEY_TYPES or self.fields[n].many
        )

    def __hash__(self) -> int:  # families are unique in a registry; fields hold a dict
        return hash((self.name, self.family))

    def convert(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """The values of a raw mapping converted field by field (a FieldError names the field),
        with the plan compiled for this class; ``make`` adds the key check, index and id."""
        return self._plan.convert(raw)

    def make(self, raw: Mapping[str, Any]) -> Document:
        """Validate a raw mapping and build the document with its id and concrete index."""
        try:
            data = self._plan.convert(raw)  # required fields are checked there
            missing = [k for k in self.key if data.get(k) is None] if self._check_key else None
            if missing:
                raise FieldError(f"key field(s) missing: {', '.join(missing)}")
            index = self._index or f"{self.family}-{self.partition.suffix(data)}"
        except FieldError as exc:
            raise ValidationError(f"{self.name}: {exc}") from None
        return _new_document(Document, (self, self._ids.of(data), index, data))

    def id_for(self, *key_values: Any) -> str:
        """The id a document with these key values has (for lookups before it exists)."""
        return self._ids.of_values(key_values)


class Document(NamedTuple):
    """A validated document. ``data`` holds converted values (datetimes are aware, UTC).

    A named tuple (read-only fields) rather than a frozen dataclass: every write and every
    read builds documents by the thousand, and a frozen dataclass costs three times as much
    to build.
    """

    doc_class: DocumentClass
    id: str
    index: str  # type: ignore[assignment]  # the field hides tuple.index(), which nobody calls
    data: dict[str, Any]

    def __repr__(self) -> str:
        return f"Document(id={self.id!r}, index={self.index!r}, data={self.data!r})"

    @property
    def content_hash(self) -> str:
        return content_hash(self.data)

    def replace(self, **changes: Any) -> Document:
        """A new document with some fields changed (re-validated; the key must not change)."""
        updated = self.doc_class.make({**self.data, **changes})
        if updated.id != self.id:
            raise ValidationError(f"{self.doc_class.name}: key fields cannot change ({self.id})")
        return updated


# What ``Document(...)`` does, less the Python frame of the named tuple's generated __new__
# (a third of the cost of building one, and ``make`` builds every document of the chain).
_new_document = tuple.__new__


class ModelRegistry:
    """The explicit table of document classes a deployment knows, by family."""

    def __init__(self, classes: Iterable[DocumentClass] = ()) -> None:
        self._by_family: dict[str, DocumentClass] = {}
        for doc_class in classes:
            self.add(doc_class)

    def add(self, doc_class: DocumentClass) -> None:
        if doc_class.family in self._by_family:
            raise ValueError(f"family {doc_class.family!r} is defined twice")
        self._by_family[doc_class.family] = doc_class

    def __getitem__(self, family: str) -> DocumentClass:
        try:
            return self._by_family[family]
        except KeyError:
            raise ValidationError(f"unknown document family {family!r}") from None

    def __contains__(self, family: object) -> bool:
        return family in self._by_family

    def __iter__(self) -> Iterator[DocumentClass]:
        return iter(self._by_family.values())
