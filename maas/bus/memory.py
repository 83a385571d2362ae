"""The in-process bus of the embedded mode and of replay: RabbitMQ's semantics, no broker.

It routes like a topic exchange, holds unacked deliveries until ack, requeues them when the
handle closes, and emulates delay queues exactly as declared (TTL, then back to the work
queue) on a *virtual* clock: when a consumer finds nothing ready, time jumps to the next due
retry instead of sleeping. Attempts and headers are those RabbitMQ would carry, so a chain
behaves the same in both modes; only the waiting is skipped (``real_delay=False``).

Several :class:`MemoryBus` handles on one :class:`MemoryBroker` behave like several
connections to one broker (competing consumers, redelivery when one closes). A handle consumes
the queues of its last fetch, as a RabbitMQ consumer stays subscribed between fetches: on a
queue with a single active consumer, the first handle to consume it is served alone until it
closes or consumes other queues.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from maas.bus.base import (
    DEFAULT_EXCHANGE,
    BusBase,
    BusCapabilities,
    Delivery,
    Envelope,
    QueueStats,
    Unroutable,
    make_delivery,
    round_robin,
)
from maas.bus.topology import Binding, Topology, topic_matches
from maas.errors import BusError

CAPABILITIES = BusCapabilities("memory", persistent=False, distributed=False, real_delay=False)


@dataclass
class _Stored:
    exchange: str
    routing_key: str
    body: bytes
    headers: dict[str, Any]
    redelivered: bool = False


@dataclass
class _Consumers:
    """The handles consuming one queue, in the order they came: with a single active consumer,
    only the first is served and the next takes over when it leaves."""

    single_active: bool
    handles: list[object] = field(default_factory=list)

    def serves(self, handle: object) -> bool:
        return not self.single_active or self.handles[:1] == [handle]

    def leave(self, handle: object) -> None:
        if handle in self.handles:
            self.handles.remove(handle)


@dataclass(order=True)
class _Delayed:
    due: float
    seq: int
    queue: str = field(compare=False)  # the delay queue it waits in
    item: _Stored = field(compare=False)


class MemoryBroker:
    """The shared state; every method is called with ``cond`` held."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.exchanges: set[str] = set()
        self.bindings: dict[str, set[tuple[str, str]]] = {}  # exchange -> {(pattern, queue)}
        self.queues: dict[str, deque[_Stored]] = {}
        self.consumers: dict[str, _Consumers] = {}  # per queue of ``queues``
        self.delays: dict[str, tuple[float, str]] = {}  # delay queue -> (ttl s, work queue)
        self.delayed: list[_Delayed] = []
        self.now = 0.0  # virtual seconds
        self._seq = itertools.count()

    def route(self, env: Envelope) -> list[str]:
        """The queues ``env`` goes to; none when no binding matches (unroutable)."""
        if env.exchange == DEFAULT_EXCHANGE:
            return [env.routing_key] if self.exists(env.routing_key) else []
        if env.exchange not in self.exchanges:
            raise BusError(f"exchange {env.exchange!r} does not exist; declare the topology")
        return sorted({q for p, q in self.bindings[env.exchange] if topic_matches(p, env.routing_key)})

    def exists(self, queue: str) -> bool:
        return queue in self.queues or queue in self.delays

    def put(self, queue: str, item: _Stored) -> None:
        if queue in self.delays:
            ttl = self.delays[queue][0]
            heapq.heappush(self.delayed, _Delayed(self.now + ttl, next(self._seq), queue, item))
        else:
            self.queues[queue].append(item)

    def release_due(self) -> None:
        while self.delayed and self.delayed[0].due <= self.now:
            entry = heapq.heappop(self.delayed)
            target = self.delays.get(entry.queue, (0.0, ""))[1]
            if target in self.queues:  # like the broker: a vanished target drops it
                self.queues[target].append(entry.item)

    def advance(self) -> bool:
        """Jump the virtual clock to the next due retry; False if none is waiting."""
        if not self.delayed:
            return False
        self.now = max(self.now, self.delayed[0].due)
        self.release_due()
        return True

    def queue(self, name: str) -> deque[_Stored]:
        try:
            return self.queues[name]
        except KeyError:
            raise BusError(f"queue {name!r} does not exist; declare the topology") from None

    def declare_queue(self, name: str, single_active: bool) -> str | None:
        """None, or what differs from the queue as it was first declared (and stays)."""
        self.queues.setdefault(name, deque())
        line = self.consumers.setdefault(name, _Consumers(single_active))
        if line.single_active == single_active:
            return None
        return f"single_active_consumer is {line.single_active}, declared {single_active}"

    def subscribe(self, handle: object, old: Sequence[str], new: Sequence[str]) -> None:
        """``handle`` stops consuming ``old`` and consumes ``new``, at the end of each line."""
        for name in old:
            if name in self.consumers:  # unless deleted meanwhile
                self.consumers[name].leave(handle)
        for name in new:
            self.consumers[name].handles.append(handle)

    def count(self, name: str) -> int:
        if name in self.delays:
            return sum(1 for entry in self.delayed if entry.queue == name)
        return len(self.queue(name))


class MemoryBus(BusBase):
    """One handle on a :class:`MemoryBroker` (one 'connection')."""

    capabilities = CAPABILITIES

    def __init__(self, broker: MemoryBroker | None = None, client_name: str = "maas") -> None:
        super().__init__(client_name)
        self.broker = broker or MemoryBroker()
        self._unacked: dict[int, tuple[str, _Stored]] = {}
        self._tags = itertools.count(1)
        self._consuming: tuple[str, ...] = ()

    # --- topology -----------------------------------------------------------------------

    def _declare(self, topology: Topology) -> dict[str, str]:
        b, conflicts = self.broker, {}
        with b.cond:
            for name in topology.exchanges:
                b.exchanges.add(name)
                b.bindings.setdefault(name, set())
            for spec in topology.queues:
                for name, single in (
                    (spec.name, spec.single_active_consumer),
                    (spec.dlq, False),
                    (spec.solo, False),
                ):
                    if problem := b.declare_queue(name, single):
                        conflicts[name] = problem
                for name, ms in spec.delay_queues().items():
                    b.delays[name] = (ms / 1000, spec.name)
                for binding in spec.bindings:
                    b.bindings[binding.exchange].add((binding.pattern, spec.name))
        return conflicts

    def delete(self, topology: Topology) -> None:
        b = self.broker
        with b.cond:
            for spec in topology.queues:
                for name in (spec.name, *spec.companions()):
                    b.queues.pop(name, None)
                    b.consumers.pop(name, None)
                    b.delays.pop(name, None)
                for bound in b.bindings.values():
                    bound -= {(p, q) for p, q in bound if q == spec.name}
            for name in topology.exchanges:
                b.exchanges.discard(name)
                b.bindings.pop(name, None)

    def unbind(self, queue: str, bindings: Sequence[Binding]) -> None:
        with self.broker.cond:
            for binding in bindings:
                self.broker.bindings.get(binding.exchange, set()).discard((binding.pattern, queue))

    # --- messages -----------------------------------------------------------------------

    def publish(self, envelopes: Sequence[Envelope]) -> None:
        """Like the broker: what can be routed is delivered, and an error then names what could
        not (a caller that sends the batch again duplicates the former, never loses one)."""
        b, refused = self.broker, []
        with b.cond:
            routes = [b.route(env) for env in envelopes]  # a missing exchange: nothing sent
            for env, queues in zip(envelopes, routes, strict=True):
                for queue in queues:
                    b.put(queue, _Stored(env.exchange, env.routing_key, env.body, dict(env.headers)))
                if not queues:
                    refused.append(env)
            b.cond.notify_all()
        if refused:
            raise Unroutable(refused)

    def fetch(self, queues: Sequence[str], max_count: int, timeout_s: float) -> list[Delivery]:
        b, deadline = self.broker, time.monotonic() + timeout_s
        with b.cond:
            lines = [(name, b.queue(name), b.consumers[name]) for name in queues]
            self._subscribe(tuple(queues))
            while True:
                b.release_due()
                # Again each time: a standby takes over when the active consumer leaves.
                sources = [(name, source) for name, source, line in lines if line.serves(self)]
                ready = sum(len(s) for _, s in sources)
                remaining = deadline - time.monotonic()
                if ready >= max_count or (ready and remaining <= 0):
                    break
                if not ready and b.advance():
                    continue
                if remaining <= 0:
                    break
                b.cond.wait(remaining)
            picked = round_robin(sources, max_count)
            return [self._hold(name, item) for name, item in picked]

    def _subscribe(self, queues: tuple[str, ...]) -> None:
        """Consume ``queues`` from now on: like the RabbitMQ bus, other queues than last time
        mean leaving every line and joining again at the end."""
        if queues != self._consuming:
            self.broker.subscribe(self, self._consuming, queues)
            self._consuming = queues

    def _hold(self, queue: str, item: _Stored) -> Delivery:
        tag = next(self._tags)
        self._unacked[tag] = (queue, item)
        return make_delivery(
            queue, item.exchange, item.routing_key, item.body, item.headers, item.redelivered, tag
        )

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        with self.broker.cond:
            for delivery in deliveries:
                self._unacked.pop(delivery.token, None)

    def get(self, queue: str, limit: int, *, while_serving: str | None = None) -> list[Delivery]:
        with self.broker.cond:
            if while_serving is not None and not self._serves(while_serving):
                return []
            return self._get(queue, limit)

    def _serves(self, queue: str) -> bool:
        """Exact here: the broker's line says which handle it delivers to."""
        line = self.broker.consumers.get(queue)
        return line is not None and queue in self._consuming and line.serves(self)

    def _get(self, queue: str, limit: int) -> list[Delivery]:
        with self.broker.cond:
            source = self.broker.queue(queue)
            taken = [source.popleft() for _ in range(min(limit, len(source)))]
            return [self._hold(queue, item) for item in taken]

    # --- inspection ---------------------------------------------------------------------

    def queue_stats(self, queues: Sequence[str]) -> list[QueueStats]:
        with self.broker.cond:
            return [QueueStats(name, self.broker.count(name)) for name in queues]

    def peek(self, queue: str, limit: int) -> list[Delivery]:
        with self.broker.cond:
            items = list(itertools.islice(self.broker.queue(queue), limit))
        return [
            make_delivery(queue, i.exchange, i.routing_key, i.body, i.headers, i.redelivered, None)
            for i in items
        ]

    def purge(self, queue: str) -> int:
        with self.broker.cond:
            source = self.broker.queue(queue)
            count = len(source)
            source.clear()
            return count

    def interrupt(self) -> None:
        """Nothing to interrupt: an in-process broker is never away (a fetch waits its timeout)."""

    def keep_alive(self) -> None:
        """An in-process broker has no heartbeats."""

    def close(self) -> None:
        """Like a closed connection: every unacked delivery is requeued, first in line."""
        b = self.broker
        with b.cond:
            for _tag, (queue, item) in sorted(self._unacked.items(), reverse=True):
                item.redelivered = True
                if queue in b.queues:
                    b.queues[queue].appendleft(item)
            self._unacked.clear()
            self._subscribe(())
            b.cond.notify_all()


_brokers: dict[str, MemoryBroker] = {}
_brokers_lock = threading.Lock()


def memory_broker(url: str) -> MemoryBroker:
    """One broker per ``memory://name`` in a process, so collector and engines share it."""
    with _brokers_lock:
        return _brokers.setdefault(url.rstrip("/"), MemoryBroker())
