"""What a bus must have declared: exchanges, work queues with their bindings and retry policy.

Every work queue ``q`` brings two kinds of companions, named here so every backend and every
tool (``maas dlq``) agrees on them:

- ``q.dlq``: the dead-letter queue; messages land there with reason, attempts and origin.
- ``q.solo``: suspects, messages an engine process died holding (``maas.engine.pool``), each
  processed alone. A pool takes them one at a time (no prefetch), so when a process dies
  while processing one, that one is the only suspect it held: a death counts against the
  message that caused it, not against every suspect waiting behind it.
- ``q.delay.<ms>ms``: one delay queue per distinct backoff step. Messages wait there for the
  queue's fixed TTL, then the broker dead-letters them through the default exchange straight
  back to ``q`` (not to the topic exchange, so the other queues bound to the same key never
  see a retry that was not theirs).

One queue per step rather than a per-message expiration: RabbitMQ only expires messages at the
head of a queue, so a 5-minute message would hold back a 1-second one queued behind it. With
one fixed TTL per queue, FIFO order is expiry order. Naming the queue by its delay keeps
declarations idempotent when a policy changes (a new delay is a new queue, never a redeclare
with different arguments, which the broker refuses).

A work queue may have a *single active consumer*: of the processes consuming it, the broker
delivers to one only, and hands the queue (with what that one held unacked) to the next when it
stops. For an engine whose writes are not conditional (it cannot detect that another replica
wrote in between), extra replicas are then hot standbys instead of competitors. Only the work
queue carries it: dead letters are replayed by one command, and delay queues have no consumer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")


def _check_name(kind: str, name: str) -> None:
    if not _NAME.match(name):
        raise ValueError(f"{kind} name {name!r}: use 1-200 letters, digits, '_', '.', ':' or '-'")


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff: ``max_attempts`` processing attempts in total.

    ``delays_s[n]`` is the wait after the ``n+1``-th failure; the last delay repeats if there
    are more attempts than delays.
    """

    max_attempts: int = 5
    delays_s: tuple[float, ...] = (5.0, 30.0, 120.0, 600.0)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.max_attempts > 1 and not self.delays_s:
            raise ValueError("a policy that retries needs at least one delay")
        if any(d <= 0 for d in self.delays_s):
            raise ValueError("retry delays must be positive")

    def delay_after(self, attempts: int) -> float:
        """The wait before the next try, once ``attempts`` tries have failed."""
        return self.delays_s[min(attempts, len(self.delays_s)) - 1]

    def step_delays_ms(self) -> list[int]:
        """Distinct delays actually used, in milliseconds (one delay queue each)."""
        used = {_ms(self.delay_after(n)) for n in range(1, self.max_attempts)}
        return sorted(used)


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


NO_RETRY = RetryPolicy(max_attempts=1, delays_s=())


@dataclass(frozen=True)
class Binding:
    exchange: str
    pattern: str  # topic pattern: words separated by '.', '*' one word, '#' zero or more


@dataclass(frozen=True)
class QueueSpec:
    name: str
    bindings: tuple[Binding, ...] = ()
    retry: RetryPolicy = RetryPolicy()
    single_active_consumer: bool = False  # one consumer receives, the others wait their turn

    def __post_init__(self) -> None:
        _check_name("queue", self.name)

    @property
    def dlq(self) -> str:
        return dlq_name(self.name)

    @property
    def solo(self) -> str:
        return solo_queue_name(self.name)

    def companions(self) -> list[str]:
        """The queues this work queue brings with it: DLQ, suspects' queue, delay queues."""
        return [self.dlq, self.solo, *self.delay_queues()]

    def delay_queue(self, attempts: int) -> str:
        return delay_queue_name(self.name, _ms(self.retry.delay_after(attempts)))

    def delay_queues(self) -> dict[str, int]:
        """Delay queue name -> its message TTL in milliseconds."""
        return {delay_queue_name(self.name, ms): ms for ms in self.retry.step_delays_ms()}


def dlq_name(queue: str) -> str:
    return f"{queue}.dlq"


def solo_queue_name(queue: str) -> str:
    return f"{queue}.solo"


def delay_queue_name(queue: str, ms: int) -> str:
    return f"{queue}.delay.{ms}ms"


@dataclass(frozen=True)
class Topology:
    """Exchanges (all topic, durable) and work queues; ``declare`` makes it so, idempotently."""

    exchanges: tuple[str, ...] = ()
    queues: tuple[QueueSpec, ...] = field(default=())

    def __post_init__(self) -> None:
        for name in self.exchanges:
            _check_name("exchange", name)
        problems = list(self._problems())
        if problems:
            raise ValueError("; ".join(problems))

    def _problems(self) -> Iterator[str]:
        names = [q.name for q in self.queues]
        for name in sorted({n for n in names if names.count(n) > 1}):
            yield f"queue {name!r} is declared twice"
        companions = {c: spec.name for spec in self.queues for c in spec.companions()}
        for name in sorted(set(names) & set(companions)):
            yield f"queue {name!r} has the name of a queue that {companions[name]!r} brings; rename it"
        for spec in self.queues:
            for binding in spec.bindings:
                if binding.exchange not in self.exchanges:
                    yield f"queue {spec.name!r} binds to undeclared exchange {binding.exchange!r}"

    def queue(self, name: str) -> QueueSpec:
        for spec in self.queues:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def dead_letter_queues(self) -> dict[str, str]:
        """DLQ name -> its work queue."""
        return {spec.dlq: spec.name for spec in self.queues}

    def merged(self, other: Topology) -> Topology:
        """This topology plus another one's exchanges and queues (a queue must not be in both)."""
        exchanges = tuple(dict.fromkeys((*self.exchanges, *other.exchanges)))
        return Topology(exchanges, (*self.queues, *other.queues))


@lru_cache(maxsize=4096)
def topic_matches(pattern: str, key: str) -> bool:
    """AMQP topic matching: ``*`` is exactly one word, ``#`` zero or more words."""
    return _match(tuple(pattern.split(".")), tuple(key.split(".")))


def _match(pattern: tuple[str, ...], words: tuple[str, ...]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match(rest, words[i:]) for i in range(len(words) + 1))
    return bool(words) and head in ("*", words[0]) and _match(rest, words[1:])


def routed(patterns: tuple[str, ...], routing_key: str) -> bool:
    """Whether any of the binding patterns takes this key (else nobody consumes it)."""
    return any(topic_matches(pattern, routing_key) for pattern in patterns)
