"""What a broker really has, compared with what a routing file's topology needs.

Declarations are idempotent and never remove anything, so the two drift apart: a binding
deleted by hand silently starves a pool, and a binding left over from an older routing file
keeps filling a queue with messages its engines were meant no longer to see (``maas routing
setup`` removes those: :attr:`QueueCheck.stale_bindings`). The comparison is backend-neutral: a
backend that can list its exchanges, queues and bindings gives a :class:`LiveTopology`;
:func:`compare` says, per work queue, what is missing (an error: messages are lost or never
arrive), what is extra (stale, from the file's exchanges: an error; from another exchange:
worth a look, someone else's doing) and which of the
file's queue options the queue on the broker lacks or has beyond them (an error: a broker never
changes an existing queue, so the option is not in force until the queue is recreated).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from maas.bus.topology import Binding, QueueSpec, Topology


@dataclass(frozen=True)
class LiveQueue:
    """A queue on the broker with its message counts as last sampled by the broker."""

    name: str
    ready: int = 0
    unacked: int = 0
    consumers: int = 0
    single_active_consumer: bool = False


@dataclass(frozen=True)
class LiveTopology:
    """A snapshot: exchanges, queues and exchange-to-queue bindings (default exchange left out)."""

    exchanges: frozenset[str]
    queues: Mapping[str, LiveQueue]
    bindings: frozenset[tuple[Binding, str]]  # (binding, destination queue)

    def bindings_of(self, queue: str) -> set[Binding]:
        return {binding for binding, target in self.bindings if target == queue}


@dataclass(frozen=True)
class QueueCheck:
    """One work queue of the file against the broker."""

    spec: QueueSpec
    live: LiveQueue | None  # None: the work queue itself is missing
    missing_bindings: tuple[Binding, ...] = ()
    extra_bindings: tuple[Binding, ...] = ()
    # The extra ones from the file's own exchanges: left over from an older routing file.
    stale_bindings: tuple[Binding, ...] = ()
    missing_queues: tuple[str, ...] = ()  # the work queue or one it brings (DLQ, suspects, delays)
    stale_delay_queues: tuple[LiveQueue, ...] = ()  # from an older retry policy
    dlq: LiveQueue | None = None
    solo: LiveQueue | None = None  # suspects waiting to be processed alone (maas.engine.pool)
    delayed: int = 0  # messages waiting in the delay queues for their retry
    differences: tuple[str, ...] = ()  # options of the file the queue on the broker does not have

    @property
    def missing(self) -> bool:
        return bool(self.missing_bindings or self.missing_queues)


@dataclass(frozen=True)
class TopologyCheck:
    missing_exchanges: tuple[str, ...]
    queues: tuple[QueueCheck, ...]
    # Queues the file does not know, bound to the file's exchanges: they receive copies.
    foreign_bindings: tuple[tuple[Binding, str], ...] = field(default=())

    @property
    def missing(self) -> bool:
        return bool(self.missing_exchanges) or any(q.missing for q in self.queues)

    @property
    def differs(self) -> bool:
        return any(q.differences for q in self.queues)

    @property
    def stale(self) -> bool:
        return any(q.stale_bindings for q in self.queues)


def compare(expected: Topology, live: LiveTopology) -> TopologyCheck:
    missing_exchanges = tuple(e for e in expected.exchanges if e not in live.exchanges)
    known = {spec.name for spec in expected.queues}
    foreign = tuple(
        sorted(
            ((b, q) for b, q in live.bindings if b.exchange in expected.exchanges and q not in known),
            key=lambda item: (item[1], item[0].exchange, item[0].pattern),
        )
    )
    checks = tuple(_check(s, live, expected.exchanges) for s in expected.queues)
    return TopologyCheck(missing_exchanges, checks, foreign)


def _check(spec: QueueSpec, live: LiveTopology, exchanges: tuple[str, ...]) -> QueueCheck:
    wanted, found = set(spec.bindings), live.bindings_of(spec.name)
    extra = found - wanted
    delayed = sum(live.queues[q].ready for q in spec.delay_queues() if q in live.queues)
    return QueueCheck(
        spec,
        live.queues.get(spec.name),
        missing_bindings=_sorted(wanted - found),
        extra_bindings=_sorted(extra),
        stale_bindings=_sorted({b for b in extra if b.exchange in exchanges}),
        missing_queues=tuple(q for q in (spec.name, *spec.companions()) if q not in live.queues),
        stale_delay_queues=tuple(_stale_delay_queues(spec, live.queues)),
        dlq=live.queues.get(spec.dlq),
        solo=live.queues.get(spec.solo),
        delayed=delayed,
        differences=tuple(_differences(spec, live.queues.get(spec.name))),
    )


def _differences(spec: QueueSpec, live: LiveQueue | None) -> Iterator[str]:
    """The file's queue options that the queue on the broker does not have (as YAML says them)."""
    if live is not None and live.single_active_consumer != spec.single_active_consumer:
        wanted, found = json.dumps(spec.single_active_consumer), json.dumps(live.single_active_consumer)
        yield f"single_active_consumer {wanted} in the file, {found} on the broker"


def _stale_delay_queues(spec: QueueSpec, queues: Mapping[str, LiveQueue]) -> Iterator[LiveQueue]:
    prefix, current = f"{spec.name}.delay.", spec.delay_queues()
    for name in sorted(queues):
        if name.startswith(prefix) and name.endswith("ms") and name not in current:
            yield queues[name]


def _sorted(bindings: set[Binding]) -> tuple[Binding, ...]:
    return tuple(sorted(bindings, key=lambda b: (b.exchange, b.pattern)))
