"""Engines: plain classes with one ``process(batch, ctx)``.

An engine is a stateless function over a batch: the framework has already loaded the input
documents in bulk; the engine computes and returns documents to write. It may read more from
the store through ``ctx`` in bulk (one query per batch, never one per document). The framework
writes, classifies, emits reports and acknowledges.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from maas.model import Document, DocumentClass, ModelRegistry
from maas.store.base import Store


class NoArgs(BaseModel):
    """The arguments of an engine that takes none."""

    model_config = ConfigDict(extra="forbid", frozen=True)


A = TypeVar("A", bound=BaseModel)


@dataclass(frozen=True)
class Batch:
    """The input of one ``process`` call: documents of one family, loaded in bulk.

    ``missing_ids`` are ids a message named that the store no longer has (deleted since), kept
    so an engine can react to deletions instead of the framework dropping them silently.
    """

    doc_class: DocumentClass
    action: str
    documents: Sequence[Document]
    missing_ids: Sequence[str] = ()
    force: bool = False


@dataclass
class Context:
    """What an engine may use besides its batch: bulk reads, the models, the clock."""

    store: Store
    models: ModelRegistry
    now: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class Writes:
    """What an engine asks the framework to write (upserts) and delete.

    ``expected``: for an aggregate recomputed from what is stored for its key, the stored hash
    of each output id (``Store.hashes``, None when absent) read *before* its inputs. Another
    writer that changed one since (a replica of the pool on the same key) makes the write a
    conflict (``Outcome.CONFLICT``) instead of overwritten by this older computation; the batch
    is recomputed.
    """

    upserts: list[Document] = field(default_factory=list)
    deletes: list[Document] = field(default_factory=list)
    expected: dict[str, str | None] = field(default_factory=dict)

    def extend(self, other: Writes) -> None:
        self.upserts.extend(other.upserts)
        self.deletes.extend(other.deletes)
        self.expected.update(other.expected)

    def __len__(self) -> int:
        return len(self.upserts) + len(self.deletes)


def read_hashes(
    store: Store, doc_class: DocumentClass, ids: Sequence[str], indices: Sequence[str] | None = None
) -> dict[str, str | None]:
    """What ``Writes.expected`` holds for ``ids``: call it before reading the inputs, so any
    write after it is seen by the write."""
    found = store.hashes(doc_class, ids, indices)
    return {doc_id: found.get(doc_id) for doc_id in ids}


def read_outputs(
    store: Store, doc_class: DocumentClass, ids: Sequence[str], indices: Sequence[str] | None = None
) -> tuple[dict[str, Document], dict[str, str | None]]:
    """The stored copies of ``ids`` and what ``Writes.expected`` holds for them, for an engine
    that rewrites documents it reads: one read on OpenSearch instead of ``read_hashes`` and
    ``get``. Call it before reading the other inputs, as ``read_hashes``."""
    found, hashes = store.get_with_hashes(doc_class, ids, indices)
    return found, {doc_id: hashes.get(doc_id) for doc_id in ids}


class Engine(Generic[A]):
    """Base of every engine: an id, typed arguments, and ``process``."""

    ENGINE_ID: ClassVar[str]
    Args: ClassVar[type[BaseModel]] = NoArgs

    def __init__(self, args: A) -> None:
        self.args = args

    @classmethod
    def from_config(cls, raw_args: dict[str, Any] | None) -> Engine[Any]:
        """Validate the routing file's arguments (at config time, not when a message arrives)."""
        return cls(cls.Args.model_validate(raw_args or {}))  # type: ignore[arg-type]

    def process(self, batch: Batch, ctx: Context) -> Writes:
        raise NotImplementedError
