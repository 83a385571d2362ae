"""Engine pools: consume a pool's queues in batches, process, publish reports, settle.

The same :class:`Pool` runs forever under ``maas engine pool NAME`` (RabbitMQ) and until idle
inside :class:`Chain` (embedded mode, replay): one code path, not a copy.

Settling order is what makes it at-least-once and lossless: reports are published and
confirmed first, then inputs are acked (or dead-lettered). A crash in between re-delivers
the inputs; deterministic ids make the second pass a no-op.

A message that kills the process (a segfault in a C library, an OOM kill) is never acked, so
it would come back forever, taking its batch down each time. Redelivered messages are
therefore *suspects*, never batched with fresh ones: each goes back as a copy that counts
its handings-back in a header (the count must outlive the process, so it travels with the
message). The first time, the copies go back to the work queue and are processed together:
most redeliveries follow a stop or a lost connection (the broker flags the whole unacked
window), and that must not cost one batch per message. A copy handed back again goes to the
queue's suspects' queue (``q.solo``), which the pool takes one message at a time and processes
alone: while it does, it holds no other suspect, so a death counts against the message being
processed only, however many killers came together. One that died ``MAX_SOLO_CRASHES`` times
alone goes to the DLQ with the reason.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from maas.bus.base import H_REPLAYS, H_SOLO_ATTEMPTS, Bus, Delivery, Envelope, QueueStats, solo_envelope
from maas.bus.topology import dlq_name, routed, solo_queue_name
from maas.config.settings import BusSettings
from maas.engine.processor import BatchResult, Incoming, Processor
from maas.engine.registry import EngineRegistry
from maas.engine.routing import QueueConfig, RoutingFile, build_engines
from maas.errors import (
    BusError,
    BusInterrupted,
    MaasError,
    StoreUnavailable,
    TransientError,
    WriteConflict,
)
from maas.gc_pacing import batch_gc
from maas.model import ModelRegistry
from maas.store.base import Store

log = logging.getLogger(__name__)
DEPTH_SAMPLE_S = 10.0  # queue depths for the metrics: one broker round trip per interval
BUS_BACKOFF_FIRST_S = 1.0
BUS_BACKOFF_CAP_S = 30.0
# Deaths of the process while a message was processed alone before it is dead-lettered: one
# death may be the machine's (an OOM kill under memory pressure from elsewhere), three in a row
# of a message processed alone are the message's. Not per queue: it judges the process, not
# an engine's retry policy.
MAX_SOLO_CRASHES = 3


def _never() -> bool:
    return False


class _StoppedWaiting(Exception):
    """A stop came while the batch in hand waited for the store: it is left unsettled (the
    broker redelivers it). Not a MaasError: nothing may settle it as a failure."""


class Hooks:
    """Observation points (metrics, tests); each does nothing unless overridden."""

    def started(self, queues: Sequence[str]) -> None:
        """The pool begins consuming these queues (before any batch)."""

    def batch_done(self, queue: str, result: BatchResult, messages: int, seconds: float) -> None:
        """A batch was processed and settled."""

    def retried(self, queue: str, count: int, reason: str, conflict: bool = False) -> None:
        """Messages went back through a delay queue (those whose attempts ran out are
        ``dead_lettered`` instead); ``conflict``: because another writer changed what their
        batch read (``WriteConflict``)."""

    def dead_lettered(self, queue: str, count: int, reason: str) -> None:
        """Messages went to the dead-letter queue (poison, permanent error, retries exhausted)."""

    def handed_back(self, queue: str, count: int) -> None:
        """Redelivered messages (their consumer stopped, died or lost its connection) were put
        back as copies to be processed apart: a steady rate means a pool keeps dying."""

    def queue_depths(self, stats: Sequence[QueueStats]) -> None:
        """Ready messages of the pool's queues, their suspects' queues and their DLQs (sampled
        every few seconds)."""


@dataclass
class StepStats:
    deliveries: int = 0
    acked: int = 0
    retried: int = 0
    dead_lettered: int = 0
    reports: int = 0
    handed_back: int = 0  # redelivered messages put back as copies, to be processed apart

    def add(self, other: StepStats) -> None:
        for name in ("deliveries", "acked", "retried", "dead_lettered", "reports", "handed_back"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class _Queue:
    config: QueueConfig
    processor: Processor


class Pool:
    """The queues of one pool, each with its ordered engines."""

    def __init__(
        self,
        name: str,
        bus: Bus,
        queues: Sequence[_Queue],
        report_exchange: str,
        report_patterns: Sequence[str],
        hooks: Hooks | None = None,
        max_solo_crashes: int = MAX_SOLO_CRASHES,
    ) -> None:
        self.name, self.bus, self.report_exchange = name, bus, report_exchange
        self.max_solo_crashes = max_solo_crashes
        self.report_patterns = tuple(report_patterns)
        self.queues = {q.config.name: q for q in queues}
        self.hooks = hooks or Hooks()
        self.batch_size = max(q.config.batch_size for q in queues)
        self.batch_timeout_s = min(q.config.batch_timeout_s for q in queues)
        # Set while run() serves: a store outage then holds the batch in hand instead of spending
        # its attempts; None (Chain, replay: run until idle) retries it through its delay queue.
        self._stopping: Callable[[], bool] | None = None

    @classmethod
    def from_routing(
        cls,
        routing: RoutingFile,
        name: str,
        *,
        bus: Bus,
        store: Store,
        models: ModelRegistry,
        engines: EngineRegistry,
        bus_settings: BusSettings,
        hooks: Hooks | None = None,
    ) -> Pool:
        queues = [
            _Queue(q, Processor(build_engines(q, engines), store, models)) for q in routing.pool(name).queues
        ]
        return cls(name, bus, queues, bus_settings.etl_exchange, routing.patterns("etl"), hooks)

    def step(self, timeout_s: float | None = None, should_stop: Callable[[], bool] = _never) -> StepStats:
        """Fetch one batch across the pool's queues (round-robin), process and settle it, then
        the suspects waiting (``should_stop`` is asked between two: each is processed alone)."""
        timeout = self.batch_timeout_s if timeout_s is None else timeout_s
        deliveries = self.bus.fetch(list(self.queues), self.batch_size, timeout)
        stats = StepStats(deliveries=len(deliveries))
        for queue, group in self._by_queue(deliveries).items():
            stats.add(self._handle_fetched(self.queues[queue], group))
        for each in self.queues.values():
            stats.add(self._suspects(each, should_stop))
        return stats

    def _handle_fetched(self, queue: _Queue, deliveries: list[Delivery]) -> StepStats:
        """Redelivered messages are turned into copies first (acked, so a crash of the batch
        cannot count against them), then the fresh batch is settled (before the riskier run,
        whose death would send it back redelivered), then the copies handed back once, together.
        A copy with solo attempts found here (back from a retry's delay queue, or left by an
        older version) goes on to the suspects' queue as it is."""
        if not any(map(_suspect, deliveries)):  # the usual case: one pass, nothing to sort
            return self._handle(queue, deliveries)
        stats = self._isolate(queue.config.name, [d for d in deliveries if d.redelivered], alone=False)
        stats.add(self._handle(queue, [d for d in deliveries if not _suspect(d)]))
        copies = [d for d in deliveries if _suspect(d) and not d.redelivered]
        together = [d for d in copies if d.solo_attempts == 0]
        if together:
            stats.add(self._handle(queue, together))
        self._move_on([d for d in copies if d.solo_attempts > 0])
        return stats

    def _suspects(self, queue: _Queue, should_stop: Callable[[], bool]) -> StepStats:
        """The suspects' queue, one message at a time (a batch's worth at most per step): the
        pool holds no other suspect while it processes one, so if the process dies, that one
        alone comes back counting a death. One that comes back is counted, then taken again.
        Only while the work queue serves this pool: a standby of a single-active-consumer queue
        leaves them to the active replica."""
        stats, name = StepStats(), queue.config.name
        for _ in range(self.batch_size):
            if should_stop():
                break
            taken = self.bus.get(solo_queue_name(name), 1, while_serving=name)
            if not taken:
                break
            delivery = dataclasses.replace(taken[0], queue=name)  # settled as the work queue's
            stats.deliveries += 1
            if delivery.redelivered:
                self._died_alone(name, delivery)
                stats.add(self._isolate(name, [delivery], alone=True))
            else:
                stats.add(self._alone_or_back(queue, delivery))
        return stats

    def _alone_or_back(self, queue: _Queue, delivery: Delivery) -> StepStats:
        """A bus failure while it is settled (a report unroutable, a nack) is not a death: the
        suspect goes back with its count, so the pool does not hold it while it takes the
        next one, and a later death is not charged to it."""
        try:
            return self._alone(queue, delivery)
        except (BusError, TransientError, _StoppedWaiting):
            with contextlib.suppress(BusError):
                self._move_on([delivery])
            raise

    def _died_alone(self, queue: str, delivery: Delivery) -> None:
        log.warning(
            "queue %s: message %s was being processed alone when its consumer died or lost its "
            "connection (%d of %d such deaths before the DLQ)",
            queue,
            _name(delivery),
            delivery.solo_attempts,
            self.max_solo_crashes,
        )

    def _move_on(self, copies: list[Delivery]) -> None:
        if copies:
            self.bus.publish([solo_envelope(d, d.solo_attempts) for d in copies])
            self.bus.ack(copies)

    def _alone(self, queue: _Queue, delivery: Delivery) -> StepStats:
        """Named in the log first: if the process dies now, its last line says which message."""
        log.info(
            "queue %s: message %s alone (solo attempt %d of %d)",
            queue.config.name,
            _name(delivery),
            delivery.solo_attempts,
            self.max_solo_crashes,
        )
        return self._handle(queue, [delivery])

    def _isolate(self, queue: str, redelivered: list[Delivery], alone: bool) -> StepStats:
        """Each redelivered message back as a copy carrying its count: 0 the first time (to be
        processed with the others), then at least 1 (to be processed alone); one more only if
        it was being processed ``alone`` when the process died. One whose solo attempts all
        killed the process goes to the DLQ instead."""
        stats, again = StepStats(), []
        for delivery in redelivered:
            if alone and delivery.solo_attempts >= self.max_solo_crashes:
                self._crashed(queue, delivery, stats)
            else:
                again.append(delivery)
        if again:
            self.bus.publish([solo_envelope(d, _next_attempt(d, alone)) for d in _culprit_last(again)])
            self.bus.ack(again)
            stats.handed_back += len(again)
            self.hooks.handed_back(queue, len(again))
            if not alone:  # a suspect back from its solo run was named by _died_alone already
                log.warning(
                    "queue %s: %d redelivered message(s) (their consumer stopped, died or lost its "
                    "connection while holding them); processed apart from fresh ones, alone if they "
                    "come back again",
                    queue,
                    len(again),
                )
        return stats

    def _crashed(self, queue: str, delivery: Delivery, stats: StepStats) -> None:
        deaths = delivery.solo_attempts
        log.error("queue %s: message %s killed the engine process %d times", queue, _name(delivery), deaths)
        reason = (
            f"the engine process died {deaths} times while processing this message alone (crash or OOM kill?)"
        )
        self._dead(queue, [delivery], reason, stats)

    def _by_queue(self, deliveries: list[Delivery]) -> dict[str, list[Delivery]]:
        """A pool of one queue (the usual case) skips the grouping pass over every delivery."""
        if len(self.queues) == 1:
            return {deliveries[0].queue: deliveries} if deliveries else {}
        by_queue: dict[str, list[Delivery]] = defaultdict(list)
        for delivery in deliveries:
            by_queue[delivery.queue].append(delivery)
        return by_queue

    def run(self, should_stop: Callable[[], bool]) -> StepStats:
        """Consume until asked to stop; the batch in hand is always finished and settled,
        unless the broker is away and the stop interrupts the bus's wait for it (then what
        was not acked is redelivered).

        A failing bus never ends the loop: a broker that is away, or refuses us for now (vhost
        deleted, permissions revoked), may come back, and a running pool is a service whose
        readiness probe tells the outside why it is not working. Startup errors still end it.
        """
        total, failures, sampled = StepStats(), 0, 0.0
        self.hooks.started(list(self.queues))
        with batch_gc(), self._serving(should_stop):
            while not should_stop():
                try:
                    total.add(self.step(should_stop=should_stop))
                    failures = 0
                    if time.monotonic() - sampled >= DEPTH_SAMPLE_S:
                        sampled = time.monotonic()
                        queues = [
                            *self.queues,
                            *map(solo_queue_name, self.queues),
                            *map(dlq_name, self.queues),
                        ]
                        self.hooks.queue_depths(self.bus.queue_stats(queues))
                except BusInterrupted as exc:  # a stop cut a reconnect short: the broker redelivers
                    log.info("pool %s: %s", self.name, exc)
                    break
                except _StoppedWaiting:
                    log.info("pool %s: stop requested while waiting for the store", self.name)
                    break
                except (BusError, TransientError) as exc:  # the processor settles its own errors
                    failures += 1
                    self._pause(exc, failures, should_stop)
        return total

    @contextlib.contextmanager
    def _serving(self, should_stop: Callable[[], bool]) -> Iterator[None]:
        """Holding a batch through a store outage needs a stop to listen to: only run() has one."""
        self._stopping = should_stop
        try:
            yield
        finally:
            self._stopping = None

    def _pause(self, exc: MaasError, failures: int, should_stop: Callable[[], bool]) -> None:
        """Back off (1 s doubling to 30 s), waking up early to stop."""
        delay = min(BUS_BACKOFF_CAP_S, BUS_BACKOFF_FIRST_S * 2.0 ** (failures - 1))
        level = logging.WARNING if exc.transient else logging.ERROR
        log.log(level, "pool %s: %s; trying again in %.0f s", self.name, exc, delay)
        deadline = time.monotonic() + delay
        while not should_stop() and time.monotonic() < deadline:
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
            self.bus.keep_alive()  # a batch held through a store outage keeps its connection

    def _handle(self, queue: _Queue, deliveries: list[Delivery]) -> StepStats:
        stats = StepStats()
        incoming, pending = self._decode(queue.config.name, deliveries, stats)
        for part, part_pending in _bounded(incoming, pending, queue.config.max_batch_docs):
            self._process(queue, part, part_pending, stats)
        return stats

    def _process(
        self, queue: _Queue, incoming: list[Incoming], pending: dict[str, list[Delivery]], stats: StepStats
    ) -> None:
        """One load through the engines, then its settling: reports, acks, dead letters or retry."""
        started = time.perf_counter()
        try:
            result = self._through_outages(queue, incoming)
        except TransientError as exc:
            self._retry(queue.config.name, pending, exc, stats)
            return
        self._settle(queue.config.name, result, pending, stats)
        self.hooks.batch_done(queue.config.name, result, len(incoming), time.perf_counter() - started)

    def _through_outages(self, queue: _Queue, incoming: list[Incoming]) -> BatchResult:
        """While serving, a store that cannot be reached is nothing the messages did: their
        attempts would run out in about a minute and a longer outage would dead-letter every
        message in flight. The load is held and tried again with the bus's backoff until the
        store answers (writes are idempotent), and no more is consumed meanwhile. Other
        transient errors (a write refused for now, a conflict) go through the delay queues."""
        failures = 0
        while True:
            try:
                return queue.processor.process(incoming)
            except StoreUnavailable as exc:
                if self._stopping is None:
                    raise
                failures += 1
                if failures == 1:
                    log.warning(
                        "queue %s: %d message(s) held until the store answers (no attempt spent)",
                        queue.config.name,
                        len(incoming),
                    )
                self._pause(exc, failures, self._stopping)
                if self._stopping():
                    raise _StoppedWaiting from exc

    def _decode(
        self, queue: str, deliveries: list[Delivery], stats: StepStats
    ) -> tuple[list[Incoming], dict[str, list[Delivery]]]:
        """Decode every delivery; undecodable or invalid ones go to the DLQ with the reason."""
        incoming, pending = [], defaultdict(list)
        for delivery in deliveries:
            try:
                message = delivery.message()
            except MaasError as exc:
                self._dead(queue, [delivery], f"poison message: {exc}", stats)
                continue
            incoming.append(Incoming(delivery.routing_key, message, _second_pass(delivery)))
            pending[message.message_id].append(delivery)
        return incoming, pending

    def _settle(
        self, queue: str, result: BatchResult, pending: dict[str, list[Delivery]], stats: StepStats
    ) -> None:
        envelopes = [
            Envelope.of(self.report_exchange, key, message)
            for key, message in result.reports
            if self._wanted(key)
        ]
        if envelopes:
            self.bus.publish(envelopes)  # confirmed before any input is acked
        stats.reports += len(envelopes)
        for message_id, reason in result.dead.items():
            self._dead(queue, pending.pop(message_id, []), reason, stats)
        done = [d for group in pending.values() for d in group]
        self.bus.ack(done)
        stats.acked += len(done)

    def _wanted(self, routing_key: str) -> bool:
        """Reports nobody in the routing file consumes end the chain here (the store has the data)."""
        return routed(self.report_patterns, routing_key)

    def _retry(
        self, queue: str, pending: dict[str, list[Delivery]], exc: TransientError, stats: StepStats
    ) -> StepStats:
        """The bus applies the queue's retry policy; what it did is counted and logged as done:
        messages whose attempts ran out went to the DLQ, and are dead letters, not retries."""
        deliveries, reason = [d for group in pending.values() for d in group], str(exc)
        settled = self.bus.retry(deliveries, reason, consumer=f"pool:{self.name}")
        stats.retried += settled.retried
        stats.dead_lettered += settled.dead_lettered
        if settled.retried:
            self.hooks.retried(queue, settled.retried, reason, isinstance(exc, WriteConflict))
            log.warning("queue %s: %d message(s) to retry: %s", queue, settled.retried, reason)
        if settled.dead_lettered:
            why = f"retries exhausted: {reason}"
            self.hooks.dead_lettered(queue, settled.dead_lettered, why)
            log.error("queue %s: %d message(s) dead-lettered, %s", queue, settled.dead_lettered, why)
        return stats

    def _dead(self, queue: str, deliveries: list[Delivery], reason: str, stats: StepStats) -> None:
        if not deliveries:
            return
        self.bus.dead_letter(deliveries, reason, consumer=f"pool:{self.name}")
        stats.dead_lettered += len(deliveries)
        self.hooks.dead_lettered(queue, len(deliveries), reason)
        log.error("queue %s: %d message(s) dead-lettered: %s", queue, len(deliveries), reason)


def _bounded(
    incoming: list[Incoming], pending: dict[str, list[Delivery]], max_docs: int
) -> Iterator[tuple[list[Incoming], dict[str, list[Delivery]]]]:
    """The batch in loads of at most ``max_docs`` ids, each with the deliveries it settles.

    A batch is bounded in messages, but each message names up to 500 ids: 500 messages would
    ask the store for 250,000 documents at once. A message is never split (its deliveries are
    settled by one result), so a load holds at least one message, even a larger one.
    """
    if not incoming:
        return
    part: list[Incoming] = []
    docs = 0
    for item in incoming:
        size = len(item.message.document_ids)
        if part and docs + size > max_docs:
            yield part, _settled_by(part, pending)
            part, docs = [], 0
        part.append(item)
        docs += size
    yield part, _settled_by(part, pending)


def _settled_by(part: list[Incoming], pending: dict[str, list[Delivery]]) -> dict[str, list[Delivery]]:
    """The deliveries of ``part``'s messages, taken out of ``pending``: a message delivered
    twice is settled by the first load that has it, once."""
    taken = {}
    for item in part:
        message_id = item.message.message_id
        if message_id in pending:
            taken[message_id] = pending.pop(message_id)
    return taken


def _second_pass(delivery: Delivery) -> bool:
    """Seen before: redelivered, retried, replayed or isolated after a crash (most deliveries
    carry no headers at all)."""
    if _suspect(delivery):
        return True
    return bool(delivery.headers) and (delivery.attempts > 0 or H_REPLAYS in delivery.headers)


def _suspect(delivery: Delivery) -> bool:
    """Its consumer died (or stopped, or lost its connection) holding it, now or earlier."""
    return delivery.redelivered or _isolated(delivery)


def _isolated(delivery: Delivery) -> bool:
    """A copy made by ``_isolate``: it carries its count (0: handed back once)."""
    return bool(delivery.headers) and H_SOLO_ATTEMPTS in delivery.headers


def _next_attempt(delivery: Delivery, alone: bool) -> int:
    """0 for a first handing-back (processed with the others), 1 for a second; one more for a
    death while processed alone. A suspect that was only held (not processed) when the process
    died keeps its count."""
    if alone:
        return delivery.solo_attempts + 1
    return max(1, delivery.solo_attempts) if _isolated(delivery) else 0


def _culprit_last(redelivered: list[Delivery]) -> list[Delivery]:
    """Copies are processed in queue order and a broker requeues in place, so the first
    redelivered message is the likeliest killer: its copy goes behind the others, which are
    then done before it takes the process down again (a death does not count against them
    either way, but they wait less)."""
    return [*redelivered[1:], *redelivered[:1]]


def _name(delivery: Delivery) -> str:
    """The message id for an operator, or why there is none."""
    try:
        return delivery.message().message_id
    except MaasError as exc:
        return f"(undecodable: {exc})"


class Chain:
    """Every pool of a routing file on one bus, run until no message is left (embedded mode)."""

    def __init__(self, pools: Sequence[Pool]) -> None:
        self.pools = list(pools)

    @classmethod
    def from_routing(
        cls,
        routing: RoutingFile,
        *,
        bus: Bus,
        store: Store,
        models: ModelRegistry,
        engines: EngineRegistry,
        bus_settings: BusSettings,
        hooks: Hooks | None = None,
    ) -> Chain:
        return cls(
            [
                Pool.from_routing(
                    routing,
                    name,
                    bus=bus,
                    store=store,
                    models=models,
                    engines=engines,
                    bus_settings=bus_settings,
                    hooks=hooks,
                )
                for name in routing.pools
            ]
        )

    def run_until_idle(self, max_steps: int = 1_000_000) -> StepStats:
        """Step every pool in turn until a whole round handles nothing."""
        total = StepStats()
        with batch_gc():
            for _ in range(max_steps):
                round_stats = StepStats()
                for pool in self.pools:
                    round_stats.add(pool.step(timeout_s=0))
                total.add(round_stats)
                if round_stats.deliveries == 0:
                    return total
        raise MaasError(f"the engine chain did not settle after {max_steps} steps (a message loop?)")
