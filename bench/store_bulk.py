"""Bulk write speed: OpenSearchStore.write against a bare ``helpers.streaming_bulk``.

    python bench/store_bulk.py [N] [--url http://127.0.0.1:9200] [--repeat R] [--profile]

Both sides write the same N small documents (default 100,000) into fresh indices with the same
mapping, shard and replica settings and bulk sizes, without refresh. The documents are built
(validated, ids computed) before the clock starts: that is the model's cost, not the store's.
The store pays for what the baseline does not do: content hashes, change detection (an ``_mget``
per batch, skipped while a family's batches keep coming out all new), conditional ``create``
operations and per-item classification. Each side runs R times (default 2), alternating which
goes first, on fresh indices dropped right after; the best run of each side counts.

Prints ``store``, ``baseline`` and ``duckdb`` (the same documents through DuckDBStore into a
temporary file, when that backend exists) in docs/s, then ``ratio: store/baseline (target >= 0.8)``.
Every index and template it creates is removed at the end. ``--profile`` adds the client-side
cProfile of the first store run (where the Python time goes) on stderr.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch, helpers

from maas.model import Document, DocumentClass, Field, FieldType
from maas.store.base import Outcome
from maas.store.opensearch import OpenSearchStore, index_template

TARGET = 0.8
WARM_UP_DOCS = 5_000
BULK_DOCS, BULK_BYTES = 2000, 8 * 1024 * 1024  # StoreSettings defaults, for both sides


def document_class(family: str) -> DocumentClass:
    """A small monitoring record: a key, a few keywords, numbers, a flag and a timestamp."""
    return DocumentClass(
        name="BenchProduct",
        family=family,
        key=("name",),
        fields={
            "name": Field(FieldType.KEYWORD, required=True),
            "mission": Field(FieldType.KEYWORD),
            "product_type": Field(FieldType.KEYWORD),
            "size": Field(FieldType.LONG),
            "latency_s": Field(FieldType.FLOAT),
            "online": Field(FieldType.BOOLEAN),
            "published": Field(FieldType.DATETIME),
        },
    )


def documents(doc_class: DocumentClass, n: int, offset: int = 0) -> list[Document]:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    return [
        doc_class.make(
            {
                "name": f"S2B_MSIL1C_{i:09d}.SAFE",
                "mission": ("S1", "S2", "S3")[i % 3],
                "product_type": ("L0", "L1C", "L2A", "AUX")[i % 4],
                "size": 1_000_000 + i,
                "latency_s": (i % 997) / 7,
                "online": i % 5 != 0,
                "published": start + timedelta(seconds=i, microseconds=i % 1000),
            }
        )
        for i in range(offset, offset + n)
    ]


class Cleanup:
    """Every index and template this run creates is removed, each run's right after it (so its
    merges do not slow the next one down) and all of them again at the end, whatever happened."""

    def __init__(self, client: OpenSearch) -> None:
        self.client, self.families = client, list[str]()

    def family(self) -> str:
        self.families.append(f"bench-{uuid.uuid4().hex[:10]}")
        return self.families[-1]

    def drop(self, indices: str) -> None:
        self.client.indices.delete(index=indices, ignore_unavailable=True)

    def __call__(self) -> None:
        for family in self.families:
            self.drop(f"{family}-*")
            self.client.indices.delete_index_template(name=family, ignore=[404])


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def store_run(store: OpenSearchStore, docs: list[Document], profile: bool) -> float:
    def write() -> None:
        counts = store.write(docs).counts()
        if counts[Outcome.CREATED] != len(docs):
            raise SystemExit(f"store wrote {dict(counts)} instead of {len(docs)} created")

    if not profile:
        return timed(write)
    profiler = cProfile.Profile()
    seconds = timed(lambda: profiler.runcall(write))
    pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
    return seconds


def baseline_run(client: OpenSearch, index: str, docs: list[Document]) -> float:
    """The bare client: one ``index`` action per document, nothing read, nothing compared."""

    def actions() -> Iterator[dict[str, Any]]:
        for doc in docs:
            yield {"_index": index, "_id": doc.id, "_source": doc.data}

    def write() -> None:
        bulk = helpers.streaming_bulk(
            client, actions(), chunk_size=BULK_DOCS, max_chunk_bytes=BULK_BYTES, raise_on_error=False
        )
        failed = sum(not ok for ok, _ in bulk)
        if failed:
            raise SystemExit(f"baseline: {failed} documents failed")

    return timed(write)


def create_like_template(client: OpenSearch, doc_class: DocumentClass, index: str) -> None:
    """A plain index with exactly the settings and mapping the store's template gives."""
    template = index_template(doc_class)["template"]
    body = {"settings": template["settings"], "mappings": template["mappings"]}
    client.indices.create(index=index, body=body)


def duckdb_line(docs: list[Document]) -> str:
    """The embedded store on the same documents, into a temporary file (not compared)."""
    from maas.store.duckdb import DuckDBStore

    with tempfile.TemporaryDirectory() as folder:
        store = DuckDBStore(Path(folder) / "bench.duckdb")
        try:
            store.setup([docs[0].doc_class])
            seconds = timed(lambda: store.write(docs))
        except Exception as exc:  # the other backend's failure must not hide this run's lines
            return f"duckdb: failed ({type(exc).__name__}: {exc})"
        finally:
            store.close()
    return f"duckdb: {rate(len(docs), seconds):,.0f} docs/s"


def measure_store(client: OpenSearch, n: int, profile: bool, cleanup: Cleanup) -> float:
    store = OpenSearchStore(client, bulk_max_docs=BULK_DOCS, bulk_max_bytes=BULK_BYTES)
    doc_class = document_class(cleanup.family())
    docs = documents(doc_class, n)
    store.setup([doc_class])
    try:
        return rate(n, store_run(store, docs, profile))
    finally:
        cleanup.drop(f"{doc_class.family}-*")


def measure_baseline(client: OpenSearch, n: int, cleanup: Cleanup) -> float:
    doc_class = document_class(cleanup.family())
    docs = documents(doc_class, n)
    index = f"{doc_class.family}-baseline"
    create_like_template(client, doc_class, index)
    try:
        return rate(n, baseline_run(client, index, docs))
    finally:
        cleanup.drop(index)


def best_rates(client: OpenSearch, n: int, repeat: int, profile: bool) -> tuple[float, float]:
    """Best of ``repeat`` runs each, alternating which side goes first (merges, JIT, page cache)."""
    cleanup = Cleanup(client)
    ours: list[float] = []
    bare: list[float] = []
    try:
        measure_store(client, WARM_UP_DOCS, False, cleanup)
        measure_baseline(client, WARM_UP_DOCS, cleanup)
        for round_ in range(repeat):
            store_first = round_ % 2 == 0
            if store_first:
                ours.append(measure_store(client, n, profile and round_ == 0, cleanup))
            bare.append(measure_baseline(client, n, cleanup))
            if not store_first:
                ours.append(measure_store(client, n, False, cleanup))
    finally:
        cleanup()
    return max(ours), max(bare)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("n", nargs="?", type=int, default=100_000, help="documents (default 100,000)")
    default_url = os.environ.get("MAAS_TEST_OPENSEARCH_URL", "http://127.0.0.1:9200")
    parser.add_argument("--url", default=default_url, help=f"OpenSearch URL (default {default_url})")
    parser.add_argument("--repeat", type=int, default=2, help="runs per side, best counts (default 2)")
    parser.add_argument("--profile", action="store_true", help="cProfile the first store run (stderr)")
    args = parser.parse_args()
    client = OpenSearch(hosts=[args.url], timeout=120, max_retries=0)
    ours, bare = best_rates(client, args.n, max(1, args.repeat), args.profile)
    print(f"store: {ours:,.0f} docs/s")
    print(f"baseline: {bare:,.0f} docs/s")
    print(duckdb_line(documents(document_class("bench-duckdb"), args.n)))
    print(f"ratio: {ours / bare:.2f} (target >= {TARGET})")


if __name__ == "__main__":
    main()
