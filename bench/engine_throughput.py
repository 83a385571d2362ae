"""Engine-pool throughput: a Pool with a no-op engine against a bare pika consume+ack loop.

    python bench/engine_throughput.py [N] [--url amqp://guest:guest@127.0.0.1:5672/]
                                      [--batch 500] [--prefetch 1000] [--ids 10] [--repeat R] [--profile]

Both sides consume the same N persistent messages (default 20,000; JSON messages of ``--ids``
document ids each, every message with ids of its own, as collectors publish) from a durable
queue, filled the same way and left to settle before the clock starts, so only the consumer
differs.

- bare: one ``basic_consume`` with ``basic_qos(prefetch)`` and one ``basic_ack(multiple=True)``
  every ``--batch`` messages; it neither decodes nor looks at the bodies.
- ours: :class:`maas.engine.pool.Pool` from a routing file of one queue (batch_size ``--batch``,
  the bus's prefetch ``--prefetch``) running ``BENCH_NOOP``, an engine that returns nothing.
  Everything the framework does per batch is paid: fetch through RabbitMQBus, decode and
  validate every message, group ids per (action, family), the bulk load, the engines, the
  (empty) write, reports (none: nobody consumes them) and the ack.

"Loads no documents": the framework asks the store for a batch's documents before any engine
runs, so a no-op engine cannot skip that call. The messages name ids of a family that was never
written, in a DuckDB store in a temporary directory: the one bulk ``get`` per batch happens, on
the real code path, and the store answers "nothing" after one lookup in its catalog, reading
no document (every id reaches the engine as missing). The cost of a *real* read is the store's, measured by
bench/store_bulk.py; ``ours_store_reads`` shows the share the store calls took here.

Prints ``ours`` and ``bare`` in messages/s and ``ratio: ours/bare (target >= 0.5)``. With
``--repeat R`` (default 3) each side runs R times, alternating which goes first; the best run
counts (the machines are shared and noisy: compare ratios, rerun before believing one).
``--profile`` prints the cProfile of one run of ours on stderr. Queues and exchanges are deleted
at the end; each side's queue is checked empty after its connection closed (all acked).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pika

from maas.bus.base import Envelope
from maas.bus.message import chunk_messages
from maas.bus.rabbitmq import RabbitMQBus
from maas.bus.topology import Topology
from maas.config.settings import BusSettings
from maas.engine.base import Batch, Context, Engine, NoArgs, Writes
from maas.engine.pool import Hooks, Pool
from maas.engine.processor import BatchResult
from maas.engine.registry import EngineRegistry
from maas.engine.routing import RoutingFile
from maas.model import Document, DocumentClass, Field, FieldType, ModelRegistry
from maas.store.duckdb import DuckDBStore

TARGET = 0.5
PROFILE_SORT = "tottime"
SETTLE_S = 2.0
NOOP_DOC = DocumentClass(
    "BenchNoop", "bench-noop", {"name": Field(FieldType.KEYWORD, required=True)}, key=("name",)
)
KEY = f"new.{NOOP_DOC.family}"


class Noop(Engine[NoArgs]):
    """Returns nothing: what is left is the framework's own cost."""

    ENGINE_ID = "BENCH_NOOP"

    def process(self, batch: Batch, ctx: Context) -> Writes:
        return Writes()


MODELS, ENGINES = ModelRegistry([NOOP_DOC]), EngineRegistry([Noop])


@dataclass(frozen=True)
class Options:
    url: str
    n: int
    batch: int
    prefetch: int
    ids: int


def payloads(n: int, ids: int) -> list[bytes]:
    """N messages of ``ids`` ids each, no id twice (a batch's ids are not deduplicated away)."""
    names = [f"{run}-{i}" for run in (uuid.uuid4().hex[:8],) for i in range(n * ids)]
    messages = chunk_messages(
        NOOP_DOC.name,
        [NOOP_DOC.id_for(name) for name in names],
        [f"{NOOP_DOC.family}-all"] * len(names),
        per_message=ids,
    )
    return [message.encode() for message in messages]


def routing(queue: str, batch: int) -> RoutingFile:
    return RoutingFile.model_validate(
        {
            "pools": {
                "bench": {
                    "queues": [
                        {
                            "name": queue,
                            "bindings": [{"exchange": "collect", "keys": [KEY]}],
                            "engines": [{"id": Noop.ENGINE_ID}],
                            "batch_size": batch,
                            "batch_timeout_s": 1.0,
                        }
                    ]
                }
            }
        }
    )


@dataclass
class Stage:
    """One side's private exchange and queue, filled with N settled messages."""

    bus_settings: BusSettings
    routing: RoutingFile
    topology: Topology

    @classmethod
    def make(cls, side: str, batch: int) -> Stage:
        run = uuid.uuid4().hex[:8]
        settings = BusSettings(collect_exchange=f"bench-{run}-{side}", etl_exchange=f"bench-{run}-{side}-etl")
        file = routing(f"bench-{run}-{side}", batch)
        return cls(settings, file, file.topology(settings))

    @property
    def queue(self) -> str:
        return self.topology.queues[0].name

    def fill(self, admin: RabbitMQBus, bodies: list[bytes]) -> None:
        admin.declare(self.topology)
        exchange = self.bus_settings.collect_exchange
        for start in range(0, len(bodies), 500):
            admin.publish([Envelope(exchange, KEY, body) for body in bodies[start : start + 500]])
        while self.depth(admin) < len(bodies):
            time.sleep(0.1)
        time.sleep(SETTLE_S)  # let the broker finish writing persistent messages to disk

    def depth(self, admin: RabbitMQBus) -> int:
        return admin.queue_stats([self.queue])[0].messages


def bare(options: Options, stage: Stage) -> None:
    """What a competent hand-written consumer does: prefetch, consume, batch acks."""
    connection = pika.BlockingConnection(pika.URLParameters(options.url))
    channel = connection.channel()
    channel.basic_qos(prefetch_count=options.prefetch)
    seen = 0

    def on_message(ch: object, method: pika.spec.Basic.Deliver, _props: object, _body: bytes) -> None:
        nonlocal seen
        seen += 1
        if seen % options.batch == 0 or seen == options.n:
            channel.basic_ack(method.delivery_tag, multiple=True)

    channel.basic_consume(stage.queue, on_message)
    while seen < options.n:
        connection.process_data_events(time_limit=1)
    connection.close()


class _Count(Hooks):
    def __init__(self) -> None:
        self.messages = 0

    def batch_done(self, queue: str, result: BatchResult, messages: int, seconds: float) -> None:
        self.messages += messages


class TimedStore(DuckDBStore):
    """The store with its bulk reads timed: the part of ours that is the store's, not the pool's."""

    read_s = 0.0

    def get(
        self, doc_class: DocumentClass, ids: Sequence[str], indices: Sequence[str] | None = None
    ) -> dict[str, Document]:
        started = time.perf_counter()
        try:
            return super().get(doc_class, ids, indices)
        finally:
            TimedStore.read_s += time.perf_counter() - started


def ours(options: Options, stage: Stage, store: DuckDBStore) -> None:
    bus = RabbitMQBus(pika.URLParameters(options.url), "bench-pool", prefetch=options.prefetch)
    count = _Count()
    pool = Pool.from_routing(
        stage.routing,
        "bench",
        bus=bus,
        store=store,
        models=MODELS,
        engines=ENGINES,
        bus_settings=stage.bus_settings,
        hooks=count,
    )
    bus.declare(stage.topology)
    pool.run(lambda: count.messages >= options.n)
    bus.close()


def timed(
    options: Options, admin: RabbitMQBus, bodies: list[bytes], side: str, consume: Callable[[Stage], None]
) -> float:
    stage = Stage.make(side, options.batch)
    try:
        stage.fill(admin, bodies[: options.n])
        started = time.perf_counter()
        consume(stage)
        elapsed = time.perf_counter() - started
        left = stage.depth(admin)  # after the consumer's connection closed: unacked came back
        if left:
            raise SystemExit(f"{side}: {left} message(s) left in the queue (not acked)")
        return elapsed
    finally:
        admin.delete(stage.topology)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=20_000)
    parser.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--batch", type=int, default=500, help="messages per batch (routing default)")
    parser.add_argument("--prefetch", type=int, default=1000, help="unacked messages in flight")
    parser.add_argument("--ids", type=int, default=10, help="document ids per message")
    parser.add_argument("--repeat", type=int, default=3, help="runs per side, alternating; best counts")
    parser.add_argument("--profile", action="store_true", help="cProfile of one run of ours (stderr)")
    args = parser.parse_args()
    options = Options(args.url, args.n, args.batch, args.prefetch, args.ids)
    bodies = payloads(args.n, args.ids)
    print(
        f"messages: {args.n} persistent, {len(bodies[0])} bytes ({args.ids} ids) each, "
        f"batch {args.batch}, prefetch {args.prefetch}"
    )
    admin = RabbitMQBus(pika.URLParameters(args.url), "bench-admin")
    with tempfile.TemporaryDirectory() as tmp:
        store = TimedStore(Path(tmp) / "bench.duckdb")  # no setup: the family was never written
        ours_side = ("ours", lambda stage: ours(options, stage, store))
        bare_side = ("bare", lambda stage: bare(options, stage))
        warm = Options(args.url, min(args.n, 2 * args.batch), args.batch, args.prefetch, args.ids)
        timed(warm, admin, bodies, "warm-up", lambda stage: ours(warm, stage, store))
        best = {"ours": float("inf"), "bare": float("inf")}
        read_share = 0.0
        for run in range(args.repeat):
            for side, consume in (ours_side, bare_side) if run % 2 else (bare_side, ours_side):
                TimedStore.read_s = 0.0
                elapsed = timed(options, admin, bodies, side, consume)
                if elapsed < best[side]:
                    best[side] = elapsed
                    read_share = TimedStore.read_s / elapsed if side == "ours" else read_share
        if args.profile:
            profile(options, admin, bodies, store)
        store.close()
    admin.close()
    ours_rate, bare_rate = args.n / best["ours"], args.n / best["bare"]
    print(f"ours: {ours_rate:,.0f} messages/s")
    print(f"bare: {bare_rate:,.0f} messages/s")
    print(f"ours_store_reads: {100 * read_share:.0f} % of ours (the bulk get of each batch)")
    print(f"ratio: {ours_rate / bare_rate:.2f} (target >= {TARGET})")


def profile(options: Options, admin: RabbitMQBus, bodies: list[bytes], store: DuckDBStore) -> None:
    profiler = cProfile.Profile()
    timed(options, admin, bodies, "profiled", lambda stage: profiler.runcall(ours, options, stage, store))
    pstats.Stats(profiler, stream=sys.stderr).sort_stats(PROFILE_SORT).print_stats(30)


if __name__ == "__main__":
    main()
