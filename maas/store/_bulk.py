"""OpenSearch ``_bulk`` plumbing: request building sized by bytes and count, per-item
classification, item-level retries, and the mapping of client errors to ours.

Every operation the store sends is conditional (``create``, or ``index`` with ``if_seq_no`` /
``if_primary_term``), so resending one item can never overwrite newer data. Only items the
server answered with a transient failure are resent; a whole batch never is, because items that
were applied would come back as conflicts and be misreported.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from itertools import islice
from typing import TYPE_CHECKING, Any, TypeVar

from opensearchpy.exceptions import ConnectionError as ClientConnectionError
from opensearchpy.exceptions import SerializationError, TransportError
from tenacity import Retrying, retry_if_result, stop_after_attempt, wait_exponential, wait_random

from maas.config import mask_url
from maas.errors import StoreError, StoreRefused, StoreUnavailable
from maas.unreachable import cannot_connect

if TYPE_CHECKING:
    from opensearchpy import OpenSearch


T = TypeVar("T")


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``itertools.batched`` (Python 3.12) for 3.11."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


class Verdict(StrEnum):
    """What the server said about one bulk item, in the terms the store decides on."""

    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    NOT_FOUND = "not_found"  # delete of a document that was not there
    CONFLICT = "conflict"  # 409: someone else wrote first; re-read and decide again
    RETRYABLE = "retryable"
    PERMANENT = "permanent"


# Error types that say "not now" rather than "never": overload, a node or shard briefly away,
# and index blocks (flood-stage disk watermark, an operator's write block during maintenance),
# which are lifted without touching the document. Everything else that is not 409/429/5xx is
# about the document itself (mapping, validation) and will fail the same way next time.
RETRYABLE_TYPES = frozenset(
    {
        "es_rejected_execution_exception",
        "rejected_execution_exception",
        "circuit_breaking_exception",
        "cluster_block_exception",
        "unavailable_shards_exception",
        "no_shard_available_action_exception",
        "node_not_connected_exception",
        "node_closed_exception",
        "process_cluster_event_timeout_exception",
        "timeout_exception",
    }
)
_SUCCESS = {"created": Verdict.CREATED, "updated": Verdict.UPDATED, "deleted": Verdict.DELETED}
_SUCCESS |= {"not_found": Verdict.NOT_FOUND, "noop": Verdict.UPDATED}


@dataclass(frozen=True, slots=True)
class ItemReply:
    verdict: Verdict
    reason: str | None = None


def classify(item: Mapping[str, Any]) -> ItemReply:
    """One entry of a bulk response's ``items`` (``{"create": {...}}``) → verdict and reason."""
    body: Mapping[str, Any] = next(iter(item.values()))
    status = int(body.get("status", 0))
    error = body.get("error")
    if error is None and status < 300 or status == 404 and body.get("result") == "not_found":
        return ItemReply(_SUCCESS.get(str(body.get("result")), Verdict.UPDATED))
    reason = describe(error)
    if status == 409:
        return ItemReply(Verdict.CONFLICT, reason)
    if status == 429 or status >= 500 or _error_type(error) in RETRYABLE_TYPES:
        return ItemReply(Verdict.RETRYABLE, reason)
    return ItemReply(Verdict.PERMANENT, reason)


def _error_type(error: Any) -> str:
    return str(error.get("type", "")) if isinstance(error, Mapping) else ""


def describe(error: Any) -> str:
    """The server's reason, with its root cause: ``type: reason (caused by type: reason)``."""
    if not isinstance(error, Mapping):
        return str(error)
    text = f"{error.get('type', 'error')}: {error.get('reason', '')}".rstrip(": ")
    cause = error.get("caused_by")
    return f"{text} (caused by {describe(cause)})" if isinstance(cause, Mapping) else text


# --- operations and requests -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BulkOp:
    """One bulk operation; ``source`` is the already-encoded JSON document (None for delete)."""

    action: str  # create | index | delete
    index: str
    id: str
    source: bytes | None = None
    seq_no: int | None = None
    primary_term: int | None = None

    def encode(self) -> bytes:
        """Action line (and source line): formatted directly, it runs once per document."""
        meta = f'"_index":{json.dumps(self.index)},"_id":{json.dumps(self.id)}'
        if self.seq_no is not None:
            meta += f',"if_seq_no":{int(self.seq_no)},"if_primary_term":{int(self.primary_term or 0)}'
        header = f'{{"{self.action}":{{{meta}}}}}\n'.encode()
        return header if self.source is None else header + self.source + b"\n"


def chunks(encoded: Sequence[bytes], max_docs: int, max_bytes: int) -> Iterator[range]:
    """Positions of consecutive operations that fit one request (one oversized op goes alone)."""
    start, size = 0, 0
    for position, payload in enumerate(encoded):
        count = position - start
        if count and (count >= max_docs or size + len(payload) > max_bytes):
            yield range(start, position)
            start, size = position, 0
        size += len(payload)
    if start < len(encoded):
        yield range(start, len(encoded))


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff for transient item failures."""

    attempts: int = 5
    initial_s: float = 0.5
    max_s: float = 30.0
    sleep: Callable[[float], None] = time.sleep


# Only what the store reads back: keeps the response small to send and to parse.
_BULK_FILTER = "errors,items.*.status,items.*.result,items.*.error"


class BulkSender:
    """Sends operations in requests sized by count and bytes; resends only retryable items."""

    def __init__(self, client: OpenSearch, max_docs: int, max_bytes: int, policy: RetryPolicy):
        self._client, self._max_docs, self._max_bytes = client, max_docs, max_bytes
        self._policy = policy
        self._url, self._user = endpoint(client), user_of(client)

    def send(self, ops: Sequence[BulkOp]) -> list[ItemReply]:
        """One reply per operation, in order; RETRYABLE ones exhausted the attempts."""
        encoded = [op.encode() for op in ops]
        replies: list[ItemReply] = [ItemReply(Verdict.RETRYABLE, "not sent")] * len(ops)
        pending = list(range(len(ops)))

        def attempt() -> list[int]:
            nonlocal pending
            pending = self._send_once(encoded, pending, replies)
            return pending

        if pending:
            self._retrying()(attempt)
        return replies

    def _retrying(self) -> Retrying:
        p = self._policy
        return Retrying(
            stop=stop_after_attempt(p.attempts),
            wait=wait_exponential(multiplier=p.initial_s, max=p.max_s) + wait_random(0, p.initial_s),
            retry=retry_if_result(bool),  # items still retryable after this attempt
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
            sleep=p.sleep,
        )

    def _send_once(
        self, encoded: Sequence[bytes], positions: list[int], replies: list[ItemReply]
    ) -> list[int]:
        payloads = [encoded[p] for p in positions]
        for part in chunks(payloads, self._max_docs, self._max_bytes):
            batch = [positions[i] for i in part]
            for position, reply in zip(batch, self._request([encoded[p] for p in batch]), strict=True):
                replies[position] = reply
        return [p for p in positions if replies[p].verdict is Verdict.RETRYABLE]

    def _request(self, payloads: list[bytes]) -> list[ItemReply]:
        """One ``_bulk`` call; a whole-request 429/5xx makes each of its items retryable."""
        try:
            with translate_errors("sending a bulk request", self._url, self._user):
                response = self._client.bulk(body=b"".join(payloads), filter_path=_BULK_FILTER)
        except OpenSearchUnavailable as exc:
            if exc.status is None:  # no answer at all: the outcome is unknown, stop here
                raise
            return [ItemReply(Verdict.RETRYABLE, str(exc))] * len(payloads)
        items = response.get("items", [])
        if len(items) != len(payloads):
            raise StoreError(f"bulk answered {len(items)} items for {len(payloads)} operations")
        return [classify(item) for item in items]


# --- errors ------------------------------------------------------------------------------------


class OpenSearchUnavailable(StoreUnavailable):
    """OpenSearch did not answer, or answered that it is overloaded or unavailable."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class OpenSearchError(StoreError):
    """OpenSearch refused a request for a reason retrying will not fix."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class OpenSearchRefused(OpenSearchError, StoreRefused):
    """OpenSearch refused the configured login (401) or its rights (403 security_exception)."""


def endpoint(client: OpenSearch) -> str:
    """The URL the client talks to, for error messages (the client's errors do not carry it)."""
    return str(client.transport.get_connection().host)


def user_of(client: OpenSearch) -> str | None:
    """The user the client logs in as, to name in a refusal (None: no login configured)."""
    auth = getattr(client.transport.get_connection(), "http_auth", None)
    return str(auth[0]) if isinstance(auth, tuple | list) and auth else None


@contextmanager
def translate_errors(
    what: str = "OpenSearch", where: str = "OpenSearch", user: str | None = None
) -> Iterator[None]:
    """Client exceptions become ours where they enter: unreachable/overloaded → transient,
    credentials or rights refused → :class:`StoreRefused` (a setting to fix).
    ``what`` is the operation ("scanning 'x'"), ``where`` the server's URL, ``user`` its login."""
    try:
        yield
    except ClientConnectionError as exc:
        raise OpenSearchUnavailable(cannot_connect(where, exc, what)) from exc
    except TransportError as exc:
        raise _transport_error(exc, f"{mask_url(where)} answered {exc.status_code} to {what}", user) from exc
    except SerializationError as exc:
        raise OpenSearchError(f"{what}: cannot encode or decode: {exc}") from exc


_GATEWAY = (429, 502, 503, 504)  # overloaded, or a proxy whose OpenSearch is away: not a wrong server


def _transport_error(exc: TransportError, said: str, user: str | None) -> StoreError:
    """Ours for an HTTP error status: ``said`` names the server, the status and the operation."""
    status = exc.status_code if isinstance(exc.status_code, int) else None
    info = exc.info
    error = info.get("error") if isinstance(info, Mapping) else None
    if status == 401 or status == 403 and _error_type(error) == "security_exception":
        return OpenSearchRefused(f"{said}: {_refused(status, user, error)}", status)
    if not isinstance(info, Mapping) and status not in _GATEWAY:  # OpenSearch answers in JSON
        return _error(status, f"{said}: is this OpenSearch? (not an OpenSearch answer)")
    return _error(status, f"{said}: {describe(error) if error else _body(info)}")


def _error(status: int | None, message: str) -> StoreError:
    if status is None or status == 429 or status >= 500:
        return OpenSearchUnavailable(message, status)
    return OpenSearchError(message, status)


def _refused(status: int, user: str | None, error: Any) -> str:
    if user is None:
        return "a login is required: set store.username and store.password"
    if status == 401:
        return f"the login of user {user!r} was refused: check store.username and store.password"
    return f"user {user!r} lacks the right ({describe(error)}): check its roles, or store.username"


def _body(info: Any) -> str:
    """The start of an answer that holds no OpenSearch error, or that it was empty."""
    text = (json.dumps(info) if isinstance(info, Mapping) else str(info or "")).strip()
    return text[:200] or "(an empty answer)"
