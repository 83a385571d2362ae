"""Products per second through the whole CDS engine chain, embedded (MemoryBus + DuckDB).

Usage: ``python bench/cds_chain.py [N ...]`` (default 10,000 and 100,000 products).

For each size, a fresh store receives the mission plans (S1A datatakes of ten minutes), then
the products as a PRIP collector would deliver them: raw documents written and announced page
by page (``--page`` products, in sensing order), the chain run until idle after every page: the
most demanding pattern, a collector loop fetching small increments (``maas collect`` runs the
chain once after its pass and ``maas replay`` every 50,000 changed documents, so their batches
are larger; draining every 50,000 products measured 6 % less CPU per product). Each S1
datatake gets 76 products (24 slices of RAW, SLC and GRD, two noise and two calibration
products); one product in ``--s3-every`` is an S3 frame, so the orbit engine and its back-fill
run too. Timed: every page from its raw write to the idle chain
(making up the synthetic names is not on the clock). Besides the wall clock, the process's CPU
time per product is printed: the test machines have two cores shared with other work, and CPU
time moves much less than wall time when a neighbour is busy.

The point is the shape, not only the rate: completeness is recomputed for the datatakes a
batch touched, so the time per product must not grow with the size of the archive. Prints
``label: value unit`` lines per size, then ``ratio:`` = time per product at the smallest size
over time per product at the largest (1.0 is flat; below the target, something grows).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cds.catalog import CATALOG
from cds.models import COMPLETENESS, ORBIT_COMPLETENESS, PRODUCT, RAW_MP_DATATAKE, RAW_PRIP_PRODUCT
from cds.naming import rules as naming_rules
from cds.rules import rules as completeness_rules
from maas.bus.base import Envelope
from maas.bus.memory import MemoryBroker, MemoryBus
from maas.bus.message import chunk_messages
from maas.config.settings import BusSettings
from maas.engine.base import Batch, Context, Engine, Writes
from maas.engine.pool import Chain
from maas.engine.routing import load_routing
from maas.model import Document, DocumentClass
from maas.store.duckdb import DuckDBStore

TARGET_RATIO = 1 / 1.5  # time per product may grow by 1.5x at most from the smallest size
TARGET_RATE = 10_000.0  # products/s, embedded
BUS = BusSettings()
ORIGIN = datetime(2024, 1, 1, tzinfo=UTC)
SLICE_S, SLICES = 25, 24  # a ten-minute IW datatake in 25-second slices
S1_KINDS = [("RAW__0S", SLICES), ("SLC__1S", SLICES), ("GRDH_1S", SLICES), ("RAW__0N", 2), ("RAW__0C", 2)]
PER_DATATAKE = sum(n for _, n in S1_KINDS)
S3_TYPES = ["OL_1_EFR___", "SL_1_RBT___", "SR_1_SRA___"]


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S")


def datatake_start(dt: int) -> datetime:
    return ORIGIN + timedelta(minutes=12 * dt)  # ten minutes planned, two of gap


def plan_rows(datatakes: int) -> list[dict[str, Any]]:
    return [
        {
            "satellite": "S1A",
            "datatake_id": str(0x100000 + dt),
            "observation_start": datatake_start(dt),
            "observation_stop": datatake_start(dt) + timedelta(seconds=SLICE_S * SLICES),
            "instrument_mode": "IW",
            "timeliness_category": "NRT-3h",
            "absolute_orbit": 50_000 + dt // 8,
            "plan_application_date": ORIGIN - timedelta(days=7),
            "plan_file_name": "S1A_MP_bench.csv",
        }
        for dt in range(datatakes)
    ]


def s1_names(dt: int) -> Iterator[tuple[str, datetime, datetime]]:
    base = datatake_start(dt)
    for kind, count in S1_KINDS:
        step = SLICE_S * SLICES / count
        for i in range(count):
            start = base + timedelta(seconds=i * step)
            stop = start + timedelta(seconds=step if count > 2 else 1)
            ident = f"{50_000 + dt // 8:06d}_{0x100000 + dt:06X}_{(i * 7 + len(kind)) % 0xFFFF:04X}"
            yield f"S1A_IW_{kind}DV_{stamp(start)}_{stamp(stop)}_{ident}.SAFE.zip", start, stop


def s3_name(k: int) -> tuple[str, datetime, datetime]:
    orbit = k // 30  # thirty frames (3 types x 10) per orbit
    start = ORIGIN + timedelta(minutes=101 * orbit + 3 * (k % 10))
    stop = start + timedelta(minutes=3)
    cycle, relative = divmod(orbit, 385)
    kind = S3_TYPES[(k // 10) % 3]
    name = (
        f"S3A_{kind}_{stamp(start)}_{stamp(stop)}_{stamp(stop + timedelta(hours=1))}_0180_"
        f"{cycle + 100:03d}_{relative + 1:03d}_{k % 10 * 180:04d}_LN1_O_NR_004.SEN3"
    )
    return name, start, stop


def raw_products(count: int, s3_every: int) -> Iterator[dict[str, Any]]:
    """``count`` raw PRIP products in sensing order: S1 datatakes, an S3 frame every ``s3_every``."""
    s1 = (item for dt in range(count) for item in s1_names(dt))
    s3 = 0
    for n in range(count):
        if s3_every and n % s3_every == s3_every - 1:
            (name, start, stop), s3 = s3_name(s3), s3 + 1
            interface = "S3A-ACRI"
        else:
            name, start, stop = next(s1)
            interface = "S1A-Serco"
        yield {
            "interface_name": interface,
            "name": name,
            "publication_date": stop + timedelta(minutes=40),
            "content_start": start,
            "content_stop": stop,
            "content_length": 1_000_000,
        }


class Embedded:
    def __init__(self, path: Path) -> None:
        self.store = DuckDBStore(path)
        self.store.setup(list(CATALOG.models))
        self.bus = MemoryBus(MemoryBroker(), "bench")
        assert CATALOG.routing_file is not None
        routing = load_routing(CATALOG.routing_file, CATALOG.engines)
        self.bus.declare(routing.topology(BUS))
        self.chain = Chain.from_routing(
            routing, bus=self.bus, store=self.store, models=CATALOG.models, engines=CATALOG.engines,
            bus_settings=BUS,
        )  # fmt: skip
        self.engine_seconds: dict[str, float] = defaultdict(float)
        for pool in self.chain.pools:
            for queue in pool.queues.values():
                for bound in queue.processor.engines:
                    self._time(bound.engine)

    def _time(self, engine: Engine[Any]) -> None:
        """Time each engine's own work (its reads and computing; the framework's writes are apart)."""
        process = engine.process

        def timed(batch: Batch, ctx: Context) -> Writes:
            began = time.perf_counter()
            try:
                return process(batch, ctx)
            finally:
                self.engine_seconds[engine.ENGINE_ID] += time.perf_counter() - began

        engine.process = timed  # type: ignore[method-assign]

    def collect(self, doc_class: DocumentClass, raws: list[dict[str, Any]]) -> None:
        """What a collector does with one page: write, announce the new documents, run the chain."""
        docs: list[Document] = [doc_class.make(raw) for raw in raws]
        changed = self.store.write(docs).changed
        messages = chunk_messages(doc_class.name, [i.id for i in changed], [i.index for i in changed])
        self.bus.publish([Envelope.of(BUS.collect_exchange, f"new.{doc_class.family}", m) for m in messages])
        stats = self.chain.run_until_idle()
        if stats.dead_lettered:
            raise SystemExit(f"{stats.dead_lettered} message(s) dead-lettered: the bench data is wrong")


def pages(items: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    page: list[dict[str, Any]] = []
    for item in items:
        page.append(item)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page


def cpu_seconds() -> float:
    """User + system time of this process, every thread (DuckDB's included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(count: int, page: int, s3_every: int) -> tuple[float, float, dict[str, float]]:
    """Wall and CPU seconds to take ``count`` products through the chain (plans loaded before
    the clock), and the seconds each engine spent on them."""
    with tempfile.TemporaryDirectory(prefix="bench-cds-") as tmp:
        site = Embedded(Path(tmp) / "cds.duckdb")
        datatakes = count // PER_DATATAKE + 1
        for rows in pages(iter(plan_rows(datatakes)), 5000):
            site.collect(RAW_MP_DATATAKE, rows)
        site.engine_seconds.clear()
        wall = cpu = 0.0
        for raws in pages(raw_products(count, s3_every), page):
            began, began_cpu = time.perf_counter(), cpu_seconds()
            site.collect(RAW_PRIP_PRODUCT, raws)
            wall += time.perf_counter() - began
            cpu += cpu_seconds() - began_cpu
        check(site.store, count, s3_every)
        site.store.close()
    return wall, cpu, dict(site.engine_seconds)


def check(store: DuckDBStore, count: int, s3_every: int) -> None:
    """The chain really did the work: every product, and completeness for every datatake."""
    products = store.count(PRODUCT)
    if products != count:
        raise SystemExit(f"{products} products stored, {count} expected")
    records = store.count(COMPLETENESS)
    if records < count // PER_DATATAKE:
        raise SystemExit(f"only {records} completeness records for {count // PER_DATATAKE} datatakes")
    if s3_every and not store.count(ORBIT_COMPLETENESS):
        raise SystemExit("no orbit completeness records")


def warm_up() -> None:
    """Rule files are read once per process: not a per-product cost, so not on the clock."""
    naming_rules()
    completeness_rules()


def main() -> int:
    warm_up()
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("sizes", nargs="*", type=int, default=[10_000, 100_000], help="products per run")
    cli.add_argument("--page", type=int, default=1000, help="products per collected page")
    cli.add_argument("--s3-every", type=int, default=10, help="one S3 frame in this many products (0: none)")
    args = cli.parse_args()
    per_product = {}
    for size in sorted(args.sizes):
        seconds, cpu, engines = run(size, args.page, args.s3_every)
        per_product[size] = seconds / size
        print(f"products {size}: {size / seconds:.0f} products/s")
        print(f"time per product {size}: {1e6 * seconds / size:.1f} us")
        print(f"cpu time per product {size}: {1e6 * cpu / size:.1f} us")
        for engine_id, spent in sorted(engines.items(), key=lambda item: -item[1]):
            print(f"  {engine_id} {size}: {1e6 * spent / size:.1f} us/product")
        framework = seconds - sum(engines.values())
        print(f"  framework (loads, writes, bus) {size}: {1e6 * framework / size:.1f} us/product")
    small, large = min(per_product), max(per_product)
    rate = 1 / per_product[large]
    print(f"rate at {large}: {rate:.0f} products/s (target >= {TARGET_RATE:.0f})")
    print(f"ratio: {per_product[small] / per_product[large]:.2f} (target >= {TARGET_RATIO:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
