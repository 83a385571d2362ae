"""Bus throughput: RabbitMQBus against a bare pika BlockingConnection loop.

    python bench/bus_throughput.py [N] [--url amqp://guest:guest@127.0.0.1:5672/] [--batch 100]

Both sides move the same N persistent messages (default 20,000; a realistic JSON message of ten
document ids each) through a fresh durable queue bound to a durable topic exchange: publish with
publisher confirms, then consume with manual acks. Each consume phase starts from a queue filled
the same way and left to settle, so only the consumer differs (a broker still writing a fast
publisher's messages to disk would otherwise slow that side's consumer down).

- bare pika: ``confirm_delivery()`` + one ``basic_publish`` per message (BlockingChannel waits
  for each confirm: the only way its public API offers), then ``basic_consume`` with one
  ``multiple`` ack per batch.
- RabbitMQBus: ``publish`` of ``--batch`` envelopes (confirms waited for once per batch), then
  ``fetch(batch)`` + ``ack`` (Delivery objects, header decoding, round-robin, stale checks).

Prints publish, consume and end-to-end msgs/s for each side, the consume-only ratio (our
per-delivery overhead, where the bare loop has no handicap) and a final
``ratio: bus/bare end-to-end (target >= 0.5)``. Queues and exchanges are deleted at the end.
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable

import pika

from maas.bus.base import Envelope
from maas.bus.message import chunk_messages
from maas.bus.rabbitmq import RabbitMQBus
from maas.bus.topology import Binding, QueueSpec, Topology

TARGET = 0.5
KEY = "new.bench-product"
SETTLE_S = 2.0


def payload() -> bytes:
    (message,) = chunk_messages(
        "BenchProduct",
        [f"{uuid.uuid4().hex}" for _ in range(10)],
        ["bench-product-2026-01"] * 10,
        per_message=10,
    )
    return message.encode()


def topology(side: str) -> Topology:
    run = uuid.uuid4().hex[:8]
    exchange = f"bench-{run}-{side}"
    return Topology((exchange,), (QueueSpec(f"bench-{run}-{side}", (Binding(exchange, "new.*"),)),))


def timed(step: Callable[[], None]) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def settle(count: Callable[[], int], n: int) -> None:
    """Wait until all N are counted, then a pause for the broker's disk writes."""
    while count() < n:
        time.sleep(0.1)
    time.sleep(SETTLE_S)


class Side:
    """One contender: how it publishes N messages and how it consumes N messages."""

    def __init__(self, url: str, batch: int) -> None:
        self.url, self.batch = url, batch

    def publish(self, exchange: str, body: bytes, n: int) -> None:
        raise NotImplementedError

    def consume(self, queue: str, n: int) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


def measure(side: Side, admin: RabbitMQBus, body: bytes, n: int) -> tuple[float, float]:
    """Publish phase into a fresh queue; consume phase from a queue filled the same way for
    every side (so the broker's state is alike: only the consumer differs)."""
    topo = topology(type(side).__name__.lower())
    exchange, queue = topo.exchanges[0], topo.queues[0].name
    admin.declare(topo)
    try:
        published = timed(lambda: side.publish(exchange, body, n))
        admin.purge(queue)
        _fill(admin, exchange, body, n)
        settle(lambda: admin.queue_stats([queue])[0].messages, n)
        return published, timed(lambda: side.consume(queue, n))
    finally:
        side.close()
        admin.delete(topo)


def _fill(bus: RabbitMQBus, exchange: str, body: bytes, n: int) -> None:
    for start in range(0, n, 500):
        bus.publish([Envelope(exchange, KEY, body)] * min(500, n - start))


class BarePika(Side):
    """``confirm_delivery`` + ``basic_publish`` per message; ``consume`` + batch acks."""

    def __init__(self, url: str, batch: int) -> None:
        super().__init__(url, batch)
        self.connection = pika.BlockingConnection(pika.URLParameters(url))
        self.channel = self.connection.channel()

    def publish(self, exchange: str, body: bytes, n: int) -> None:
        self.channel.confirm_delivery()
        props = pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent)
        for _ in range(n):
            self.channel.basic_publish(exchange, KEY, body, props, mandatory=True)

    def consume(self, queue: str, n: int) -> None:
        channel = self.channel
        channel.basic_qos(prefetch_count=max(500, self.batch))
        for seen, (method, _props, _body) in enumerate(
            channel.consume(queue, inactivity_timeout=10), start=1
        ):
            if method is None:
                raise SystemExit(f"bare consumer starved after {seen - 1} of {n} messages")
            if seen % self.batch == 0 or seen == n:
                channel.basic_ack(method.delivery_tag, multiple=True)
            if seen == n:
                break
        channel.cancel()

    def close(self) -> None:
        self.connection.close()


class BusSide(Side):
    """``publish`` per batch (confirms awaited once); ``fetch`` + ``ack`` per batch."""

    def __init__(self, url: str, batch: int) -> None:
        super().__init__(url, batch)
        self.bus = RabbitMQBus(pika.URLParameters(url), "bench", prefetch=max(500, batch))

    def publish(self, exchange: str, body: bytes, n: int) -> None:
        for start in range(0, n, self.batch):
            self.bus.publish([Envelope(exchange, KEY, body)] * min(self.batch, n - start))

    def consume(self, queue: str, n: int) -> None:
        seen = 0
        while seen < n:
            deliveries = self.bus.fetch([queue], self.batch, 10.0)
            if not deliveries:
                raise SystemExit(f"bus consumer starved after {seen} of {n} messages")
            self.bus.ack(deliveries)
            seen += len(deliveries)

    def close(self) -> None:
        self.bus.close()


# --- report -----------------------------------------------------------------------------


def report(label: str, n: int, publish_s: float, consume_s: float) -> float:
    print(f"{label}_publish: {n / publish_s:,.0f} msgs/s")
    print(f"{label}_consume: {n / consume_s:,.0f} msgs/s")
    total = n / (publish_s + consume_s)
    print(f"{label}_end_to_end: {total:,.0f} msgs/s")
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=20_000)
    parser.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--batch", type=int, default=100, help="messages per publish/fetch")
    args = parser.parse_args()
    body = payload()
    print(f"messages: {args.n} persistent, {len(body)} bytes each, batch {args.batch}")
    admin = RabbitMQBus(pika.URLParameters(args.url), "bench-admin")
    measure(BusSide(args.url, args.batch), admin, body, min(args.n, 1000))  # warm-up
    bare_pub, bare_con = measure(BarePika(args.url, args.batch), admin, body, args.n)
    our_pub, our_con = measure(BusSide(args.url, args.batch), admin, body, args.n)
    admin.close()
    bare_rate = report("bare", args.n, bare_pub, bare_con)
    our_rate = report("bus", args.n, our_pub, our_con)
    print(f"consume_ratio: {bare_con / our_con:.2f}")
    print(f"ratio: {our_rate / bare_rate:.2f} (target >= {TARGET})")


if __name__ == "__main__":
    main()
