"""The one message format on every bus: a versioned JSON envelope of document references.

Messages carry ids, never documents: the store is the source of truth, so a message that is
replayed or redelivered reads current data and cannot resurrect stale content. ``document_ids``
and ``document_indices`` are parallel lists (the concrete index of each id), which is exactly
what a bulk ``Store.get(doc_class, ids, indices)`` needs.

The routing key is ``<action>.<family>`` (``new.s2-product``); the action is not repeated in
the body, so a binding pattern alone decides who receives what.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Final, Literal, Self

import pydantic
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from maas.errors import ValidationError

SCHEMA_VERSION: Final = 1
DEFAULT_IDS_PER_MESSAGE = 500
_FAMILY = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class Action(StrEnum):
    NEW = "new"
    UPDATE = "update"
    DELETE = "delete"


def routing_key(action: Action | str, family: str) -> str:
    """``<action>.<family>``; a family with a dot would silently break ``*`` bindings."""
    if not _FAMILY.match(family):
        raise ValueError(f"family {family!r} must be lower-case letters, digits and '-'")
    return f"{Action(action).value}.{family}"


@lru_cache(maxsize=1024)  # a handful of keys, parsed once per message on the consumer's hot path
def parse_routing_key(key: str) -> tuple[Action, str]:
    action, _, family = key.partition(".")
    if action not in Action.__members__.values() or not _FAMILY.match(family):
        raise ValidationError(f"routing key {key!r}: expected <new|update|delete>.<family>")
    return Action(action), family


def _new_id() -> str:
    return uuid.uuid4().hex


def _now() -> datetime:
    return datetime.now(UTC)


class Message(BaseModel):
    """A batch of document references; immutable so a delivery cannot be edited in place."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    message_id: str = Field(default_factory=_new_id, min_length=1)
    date: AwareDatetime = Field(default_factory=_now)
    ancestor_ids: tuple[str, ...] = ()
    document_class: str = Field(min_length=1)
    document_ids: tuple[str, ...] = Field(min_length=1)
    document_indices: tuple[str, ...]
    force: bool = False

    @field_validator("date")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _parallel(self) -> Self:
        if len(self.document_indices) != len(self.document_ids):
            raise ValueError(
                f"document_indices has {len(self.document_indices)} entries for "
                f"{len(self.document_ids)} document_ids (one index per id)"
            )
        return self

    def encode(self) -> bytes:
        return self.model_dump_json().encode("utf-8")

    @classmethod
    def decode(cls, body: bytes) -> Message:
        """Parse and validate a body; any problem is a permanent ValidationError with the reason.

        Runs once per message consumed: the compiled validator is called directly, without
        the Python layers of ``model_validate_json`` around it (same validation, same result).
        """
        try:
            message: Message = cls.__pydantic_validator__.validate_json(body, strict=True)
            return message
        except pydantic.ValidationError as exc:
            raise ValidationError(f"invalid message: {_problems(exc)}") from None

    def child(self, document_class: str, ids: Sequence[str], indices: Sequence[str]) -> Message:
        """A report caused by this message: the trace grows by this message's id, force carries."""
        return Message(
            ancestor_ids=(*self.ancestor_ids, self.message_id),
            document_class=document_class,
            document_ids=tuple(ids),
            document_indices=tuple(indices),
            force=self.force,
        )

    def children(
        self,
        document_class: str,
        ids: Sequence[str],
        indices: Sequence[str],
        per_message: int = DEFAULT_IDS_PER_MESSAGE,
    ) -> list[Message]:
        """Reports caused by this message, chunked like :func:`chunk_messages`."""
        return [
            self.child(document_class, chunk_ids, chunk_indices)
            for chunk_ids, chunk_indices in _chunks(ids, indices, per_message)
        ]


def chunk_messages(
    document_class: str,
    ids: Sequence[str],
    indices: Sequence[str],
    per_message: int = DEFAULT_IDS_PER_MESSAGE,
    ancestor_ids: Sequence[str] = (),
    force: bool = False,
) -> list[Message]:
    """Several messages of at most ``per_message`` ids each (batching ids is where speed is)."""
    return [
        Message(
            ancestor_ids=tuple(ancestor_ids),
            document_class=document_class,
            document_ids=tuple(chunk_ids),
            document_indices=tuple(chunk_indices),
            force=force,
        )
        for chunk_ids, chunk_indices in _chunks(ids, indices, per_message)
    ]


def _chunks(
    ids: Sequence[str], indices: Sequence[str], size: int
) -> Iterator[tuple[Sequence[str], Sequence[str]]]:
    if size < 1:
        raise ValueError(f"ids per message must be at least 1, not {size}")
    if len(ids) != len(indices):
        raise ValueError(f"{len(indices)} indices for {len(ids)} ids (one index per id)")
    for start in range(0, len(ids), size):
        yield ids[start : start + size], indices[start : start + size]


def _problems(exc: pydantic.ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "(message)"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
