"""The Bus protocol, what travels on it, and the settling logic both backends share.

A bus moves bytes with headers; :class:`~maas.bus.message.Message` is the typed layer on top,
so an undecodable body can still be delivered, dead-lettered with its reason and inspected.

Settling is at-least-once everywhere: a retry or dead-letter copy is published and confirmed
*before* the original is acked, so a crash in between duplicates a message but never loses
one. Engines write with deterministic ids, which makes a duplicate harmless.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from maas.bus.message import Message
from maas.bus.topology import Binding, QueueSpec, Topology, dlq_name, solo_queue_name
from maas.config.secrets import redactor
from maas.errors import BusError, QueueConflict

log = logging.getLogger(__name__)

# Headers set on retry and dead-letter copies (and read back by ``maas dlq``).
H_REASON = "x-maas-reason"
H_ATTEMPTS = "x-maas-attempts"
H_CONSUMER = "x-maas-consumer"
H_FIRST_FAILURE = "x-maas-first-failure"
H_LAST_FAILURE = "x-maas-last-failure"
H_EXCHANGE = "x-maas-original-exchange"
H_ROUTING_KEY = "x-maas-original-routing-key"
H_QUEUE = "x-maas-queue"
H_REPLAYS = "x-maas-replays"
# Set on the copy of a redelivered message that an engine pool makes (maas.engine.pool): 0 when
# handed back once (processed with the others handed back), then how often it was processed alone.
H_SOLO_ATTEMPTS = "x-maas-solo-attempts"
# Dropped by a replay: a replayed message starts with fresh attempts, solo ones included.
_FAILURE_HEADERS = (H_REASON, H_ATTEMPTS, H_CONSUMER, H_FIRST_FAILURE, H_LAST_FAILURE, H_SOLO_ATTEMPTS)
_BROKER_HEADERS = (
    "x-death",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-last-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
)
MAX_REASON_CHARS = 2000
DEFAULT_EXCHANGE = ""  # AMQP's nameless direct exchange: routing key = queue name


@dataclass(frozen=True)
class BusCapabilities:
    """Backend differences as data, so callers never test which backend they have."""

    name: str
    persistent: bool  # messages survive a restart of the process / broker
    distributed: bool  # publishers and consumers may live in different processes
    real_delay: bool  # retry delays are waited for (False: virtual time, no sleeping)


@dataclass(frozen=True)
class Envelope:
    """One message to publish: raw bytes so tools can move what they cannot decode."""

    exchange: str
    routing_key: str
    body: bytes
    headers: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, exchange: str, routing_key: str, message: Message) -> Envelope:
        return cls(exchange, routing_key, message.encode())


class Unroutable(BusError):
    """Messages no queue was bound for (or whose queue is gone). The others of the same
    publish were delivered: sending the batch again duplicates them, never loses one."""

    def __init__(self, returned: Sequence[Envelope]) -> None:
        where = "; ".join(f"{e.exchange or '(default)'} {e.routing_key!r}" for e in returned[:5])
        more = f" and {len(returned) - 5} more" if len(returned) > 5 else ""
        super().__init__(f"unroutable (no queue bound): {where}{more}")
        self.returned = list(returned)


@dataclass(frozen=True)
class Failure:
    """Why and how often a message failed, read back from its headers."""

    reason: str
    attempts: int
    consumer: str
    first_failure: str
    last_failure: str


@dataclass(frozen=True)
class Delivery:
    """A received message, not yet settled.

    ``exchange`` and ``routing_key`` are the *original* ones, also after the message went
    through a delay queue or a replay (which reach the queue through the default exchange).
    """

    queue: str
    exchange: str
    routing_key: str
    body: bytes
    headers: Mapping[str, Any]
    redelivered: bool
    token: Any = field(default=None, compare=False, repr=False)  # the backend's handle

    @property
    def attempts(self) -> int:
        return int(self.headers.get(H_ATTEMPTS, 0))

    @property
    def solo_attempts(self) -> int:
        """How often this message was processed alone after a consumer died holding it."""
        return int(self.headers.get(H_SOLO_ATTEMPTS, 0))

    @property
    def failure(self) -> Failure | None:
        if H_REASON not in self.headers:
            return None
        h = self.headers
        return Failure(
            str(h[H_REASON]),
            self.attempts,
            str(h.get(H_CONSUMER, "")),
            str(h.get(H_FIRST_FAILURE, "")),
            str(h.get(H_LAST_FAILURE, "")),
        )

    def message(self) -> Message:
        """The decoded message; a ValidationError (permanent) says why it is not one."""
        return Message.decode(self.body)


def make_delivery(
    queue: str,
    exchange: str,
    routing_key: str,
    body: bytes,
    headers: Mapping[str, Any] | None,
    redelivered: bool,
    token: Any,
) -> Delivery:
    """A delivery with its original exchange and routing key restored from our headers."""
    if not headers:  # a first delivery (most of them): nothing to restore
        return Delivery(queue, exchange, routing_key, body, {}, redelivered, token)
    headers = dict(headers)
    return Delivery(
        queue,
        str(headers.get(H_EXCHANGE, exchange)),
        str(headers.get(H_ROUTING_KEY, routing_key)),
        body,
        headers,
        redelivered,
        token,
    )


@dataclass(frozen=True)
class QueueStats:
    name: str
    messages: int  # ready messages (not those held unacked by a consumer)


@dataclass
class Settled:
    """What :meth:`Bus.retry` did: some go to a delay queue, exhausted ones to the DLQ."""

    retried: int = 0
    dead_lettered: int = 0


class Bus(Protocol):
    """Publish with confirms; fetch batches; settle each delivery exactly once."""

    @property
    def capabilities(self) -> BusCapabilities: ...

    def declare(self, topology: Topology) -> None:
        """Create exchanges, queues, delay queues, DLQs and bindings, idempotently. A queue that
        exists with other arguments is left as it is: :class:`QueueConflict` once the rest is
        declared."""

    def delete(self, topology: Topology) -> None:
        """Remove everything ``topology`` declares (tests, decommissioning)."""

    def unbind(self, queue: str, bindings: Sequence[Binding]) -> None:
        """Remove these bindings of ``queue`` (declaring never removes one, so a binding dropped
        from the routing file stays until this is called). Like AMQP's queue.unbind, a binding,
        queue or exchange that does not exist is not an error: removing twice is harmless."""

    def publish(self, envelopes: Sequence[Envelope]) -> None:
        """Returns once the broker has confirmed every envelope; unroutable is an error."""

    def fetch(self, queues: Sequence[str], max_count: int, timeout_s: float) -> list[Delivery]:
        """Up to ``max_count`` deliveries, round-robin over ``queues``; returns early when full,
        otherwise after ``timeout_s`` with what arrived (maybe nothing)."""

    def get(self, queue: str, limit: int, *, while_serving: str | None = None) -> list[Delivery]:
        """Up to ``limit`` ready messages of one queue, taken now, without subscribing: nothing
        more of that queue is held than what is returned (what a suspect is processed with).

        ``while_serving``: only if this handle is, for certain, a consumer that queue delivers
        to, else nothing. A queue its consumers share serves each of them; a queue with a single
        active consumer serves one, and a handle knows it is that one once a delivery of the
        queue reached it since it began consuming, or while it is the queue's only consumer (a
        broker does not say otherwise). What is taken on behalf of such a queue is then never
        processed by a standby."""

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Done with these (after the durable write); a delivery from a lost connection is
        skipped: the broker redelivers it."""

    def retry(self, deliveries: Sequence[Delivery], reason: str, consumer: str | None = None) -> Settled:
        """Back to the queue after its policy's delay; to the DLQ once attempts are exhausted."""

    def dead_letter(self, deliveries: Sequence[Delivery], reason: str, consumer: str | None = None) -> None:
        """To the queue's DLQ now, with reason, attempts and origin."""

    def queue_stats(self, queues: Sequence[str]) -> list[QueueStats]: ...

    def peek(self, queue: str, limit: int) -> list[Delivery]:
        """The first ``limit`` messages of a queue, left in place (not ackable)."""

    def replay(self, dlq: str, limit: int | None = None) -> int:
        """Move dead letters back to their work queue with fresh attempts; returns how many."""

    def purge(self, queue: str) -> int:
        """Drop every ready message of a queue; returns how many."""

    def interrupt(self) -> None:
        """A stop was requested (may be called from a signal handler or another thread): stop
        waiting for a lost broker; calls that need it raise :class:`BusInterrupted` from then on."""

    def keep_alive(self) -> None:
        """Answer the broker's heartbeats while the caller holds deliveries without fetching
        (a batch waiting for the store): a connection silent for two heartbeats is closed, and
        what it held redelivered. Never raises: a lost connection is found by the next call."""

    def close(self) -> None:
        """Unacked deliveries go back to their queues (redelivered)."""


def declare_in_use(bus: Bus, topology: Topology) -> None:
    """Declare for a process that uses the topology (a pool, a collector): a queue held with
    other arguments than declared routes and delivers as it did, so the process goes on and
    says so. Only ``maas routing setup``, whose job is to make the broker match, fails."""
    try:
        bus.declare(topology)
    except QueueConflict as exc:
        log.warning("%s; going on with them as they are (maas routing setup says how to recreate them)", exc)


def dead_letter_stats(bus: Bus, topology: Topology) -> list[QueueStats]:
    """``maas dlq list``: every DLQ of a topology with its message count."""
    return bus.queue_stats(list(topology.dead_letter_queues()))


T = TypeVar("T")


def round_robin(sources: Sequence[tuple[str, deque[T]]], limit: int) -> list[tuple[str, T]]:
    """Take one item from each non-empty named source in turn, so no queue starves another.

    Once a single source is left (a pool of one queue: always), the rest is taken from it in
    one go instead of one pass over the sources per item: this runs for every delivery.
    """
    taken: list[tuple[str, T]] = []
    live = [(name, source) for name, source in sources if source]
    while len(live) > 1 and len(taken) < limit:
        for name, source in live:
            if source and len(taken) < limit:
                taken.append((name, source.popleft()))
        live = [(name, source) for name, source in live if source]
    if live and len(taken) < limit:
        name, source = live[0]
        taken += [(name, source.popleft()) for _ in range(min(limit - len(taken), len(source)))]
    return taken


def utc_now() -> datetime:
    return datetime.now(UTC)


class BusBase(ABC):
    """Retry, dead-letter and replay written once over each backend's primitives."""

    def __init__(self, client_name: str, clock: Callable[[], datetime] = utc_now) -> None:
        self.client_name = client_name
        self._clock = clock
        self._specs: dict[str, QueueSpec] = {}

    @abstractmethod
    def publish(self, envelopes: Sequence[Envelope]) -> None: ...

    @abstractmethod
    def ack(self, deliveries: Sequence[Delivery]) -> None: ...

    @abstractmethod
    def _declare(self, topology: Topology) -> dict[str, str]:
        """Declare what can be; the queues held with other arguments, with what differs."""

    @abstractmethod
    def _get(self, queue: str, limit: int) -> list[Delivery]:
        """Take up to ``limit`` ready messages of one queue as ackable deliveries."""

    def declare(self, topology: Topology) -> None:
        conflicts = self._declare(topology)
        self._specs.update({spec.name: spec for spec in topology.queues})
        if conflicts:
            raise QueueConflict(conflicts)

    def retry(self, deliveries: Sequence[Delivery], reason: str, consumer: str | None = None) -> Settled:
        settled, copies = Settled(), []
        for delivery in deliveries:
            spec, attempts = self._spec(delivery.queue), delivery.attempts + 1
            if attempts >= spec.retry.max_attempts:
                why = f"{reason} (gave up after {attempts} attempts)"
                copies.append(self._copy(delivery, spec.dlq, why, consumer))
                settled.dead_lettered += 1
            else:
                copies.append(self._copy(delivery, spec.delay_queue(attempts), reason, consumer))
                settled.retried += 1
        self._move(copies, deliveries)
        return settled

    def dead_letter(self, deliveries: Sequence[Delivery], reason: str, consumer: str | None = None) -> None:
        copies = [self._copy(d, dlq_name(d.queue), reason, consumer) for d in deliveries]
        self._move(copies, deliveries)

    def replay(self, dlq: str, limit: int | None = None) -> int:
        moved = 0
        while limit is None or moved < limit:
            batch = self._get(dlq, 100 if limit is None else min(100, limit - moved))
            if not batch:
                break
            self._move([replay_envelope(d) for d in batch], batch)
            moved += len(batch)
        return moved

    def _move(self, copies: Sequence[Envelope], originals: Sequence[Delivery]) -> None:
        if copies:
            self.publish(copies)
            self.ack(originals)

    def _copy(self, delivery: Delivery, queue: str, reason: str, consumer: str | None) -> Envelope:
        headers = failure_headers(delivery, reason, consumer or self.client_name, self._clock())
        return Envelope(DEFAULT_EXCHANGE, queue, delivery.body, headers)

    def _spec(self, queue: str) -> QueueSpec:
        try:
            return self._specs[queue]
        except KeyError:
            raise BusError(
                f"queue {queue!r}: retry policy unknown; declare its topology on this bus first"
            ) from None


def failure_headers(delivery: Delivery, reason: str, consumer: str, now: datetime) -> dict[str, Any]:
    """The delivery's headers plus one more failure (broker bookkeeping dropped)."""
    stamp = now.astimezone(UTC).isoformat()
    headers = _own_headers(delivery.headers)
    headers.update(
        {
            H_REASON: redactor.mask(reason)[:MAX_REASON_CHARS],
            H_ATTEMPTS: delivery.attempts + 1,
            H_CONSUMER: consumer,
            H_FIRST_FAILURE: headers.get(H_FIRST_FAILURE, stamp),
            H_LAST_FAILURE: stamp,
            H_EXCHANGE: delivery.exchange,
            H_ROUTING_KEY: delivery.routing_key,
            H_QUEUE: delivery.queue,
        }
    )
    return headers


def replay_envelope(delivery: Delivery) -> Envelope:
    """A dead letter sent straight back to its work queue (not re-routed to every binding),
    with fresh attempts; origin kept so the consumer still sees the original routing key."""
    headers = {k: v for k, v in _own_headers(delivery.headers).items() if k not in _FAILURE_HEADERS}
    headers[H_REPLAYS] = int(delivery.headers.get(H_REPLAYS, 0)) + 1
    queue = str(delivery.headers.get(H_QUEUE) or delivery.queue.removesuffix(".dlq"))
    return _to_queue(delivery, headers, queue)


def solo_envelope(delivery: Delivery, attempts: int) -> Envelope:
    """A copy of a redelivered message carrying its count of solo attempts: the count survives
    the death of the process that handles it, where local state would not. With a count of 0
    (handed back once) it goes back to its work queue, to be processed with the others handed
    back; from 1 on, to the work queue's suspects' queue, to be processed alone (``delivery.queue``
    is the work queue: a pool names it so on what it takes from the suspects' queue). Origin
    kept (as for a retry), so the consumer still sees the original routing key."""
    headers = _own_headers(delivery.headers)
    headers[H_SOLO_ATTEMPTS] = attempts
    queue = solo_queue_name(delivery.queue) if attempts else delivery.queue
    return _to_queue(delivery, headers, queue)


def _to_queue(delivery: Delivery, headers: dict[str, Any], queue: str) -> Envelope:
    """Straight to ``queue`` through the default exchange (not re-routed to every binding)."""
    headers.setdefault(H_EXCHANGE, delivery.exchange)
    headers.setdefault(H_ROUTING_KEY, delivery.routing_key)
    return Envelope(DEFAULT_EXCHANGE, queue, delivery.body, headers)


def _own_headers(headers: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in headers.items() if k not in _BROKER_HEADERS}


def maas_headers(headers: Mapping[str, Any]) -> dict[str, Any]:
    """Only our ``x-maas-*`` headers (what both backends must agree on)."""
    return {k: v for k, v in headers.items() if k.startswith("x-maas-")}
