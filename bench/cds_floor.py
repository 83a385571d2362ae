"""The least the embedded CDS chain can cost per product on this machine, beside what it costs.

Usage: ``python bench/cds_floor.py [N] [--page P] [--s3-every K]`` (default 20,000 products).

``cds_chain.py`` measures the chain; this script asks how much of that time any design that
stores the same rows in DuckDB must pay. It runs the chain once on N products (as
``cds_chain.py`` does: a page collected, the chain run until idle) and records every chunk of
JSON lines the store loads and every document it hashes. Then, in the same process, on the
same data, it times the two bare floors:

- DuckDB alone: a fresh file with the store's tables and settings, every recorded chunk
  loaded in the chain's order (the replaced rows deleted first, as the store does), each in
  its own transaction. No Python between the statements: the files are written beforehand.
- Encoding alone: orjson and SHA-256 of every written document's data, what any writer that
  detects unchanged documents by content hash must do.
- Matching alone: one compiled regex per product name (the grammar that accepts it, chosen
  beforehand), the least any parser of the names pays (``naming.py``'s baseline).

For information, the same chunks are loaded twice more into tables of other shapes: each
document's id and its JSON text (two columns), then the id alone. They answer whether
narrower rows would make the target reachable: the id alone is what one transaction per chunk
and the primary key cost, whatever the rows hold.

Prints ``label: value unit`` lines (CPU time per product; the machines are shared, and
wall time moves with the neighbours), then ``ratio:`` = the 10,000 products/s budget
(100 us per product) over the three floors together. Below 1.00, no design that stores these
rows in DuckDB reaches the target on this machine; above it, the difference is what
everything else (name parsing, merging, attaching, completeness, the bus) may cost.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import orjson
from cds_chain import PER_DATATAKE, Embedded, cpu_seconds, pages, plan_rows, raw_products, warm_up
from naming import accepting_pattern

from cds.models import RAW_MP_DATATAKE, RAW_PRIP_PRODUCT
from cds.naming import strip_extensions
from maas.store import duckdb as embedded
from maas.store.duckdb_sql import TableSpec

BUDGET_US = 1e6 / 10_000  # per product, at the 10,000 products/s


SAMPLE = 50_000  # documents and names kept to time encoding and matching (per item, size-free)


@dataclass
class Chunk:
    """One load of the store: its table, the rows it replaced, the file of its JSON lines."""

    spec: TableSpec
    replaced: list[str]
    path: Path
    rows: int


@dataclass
class Recorder:
    """Records what the store loads while ``on`` (the chain's writes, not the plans'): every
    chunk to a file, the first documents and names as a sample; ``spent`` is its own CPU time,
    taken off the chain's."""

    folder: Path
    on: bool = False
    spent: float = 0.0
    chunks: list[Chunk] = field(default_factory=list)
    documents: int = 0
    sample: list[dict[str, Any]] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # of the raw products

    def install(self) -> None:
        load = embedded.DuckDBStore._upsert
        recorder = self

        def recording(store: Any, cur: Any, spec: TableSpec, changed: list[Any], stored: list[str]) -> None:
            if recorder.on:
                began = cpu_seconds()
                recorder.record(spec, changed, stored)
                recorder.spent += cpu_seconds() - began
            load(store, cur, spec, changed, stored)

        embedded.DuckDBStore._upsert = recording  # type: ignore[method-assign,assignment]

    def record(self, spec: TableSpec, changed: list[Any], stored: list[str]) -> None:
        path = self.folder / f"chunk-{len(self.chunks)}.ndjson"
        path.write_bytes(b"\n".join([spec.line(*item) for item in changed]))
        text = [doc.id.encode() + b"\t" + encoded for doc, encoded, _ in changed]
        path.with_suffix(".tsv").write_bytes(b"\n".join(text))  # orjson escapes tabs in strings
        path.with_suffix(".ids").write_bytes("\n".join([doc.id for doc, _, _ in changed]).encode())
        self.chunks.append(Chunk(spec, list(stored), path, len(changed)))
        self.documents += len(changed)
        self.sample += [dict(doc.data) for doc, _, _ in changed[: SAMPLE - len(self.sample)]]
        if spec.doc_class is RAW_PRIP_PRODUCT:
            self.names += [doc.data["name"] for doc, _, _ in changed[: SAMPLE - len(self.names)]]


def chain(count: int, page: int, s3_every: int, recorder: Recorder, tmp: Path) -> float:
    """CPU seconds for ``count`` products through the chain (the plans loaded before)."""
    site = Embedded(tmp / "chain.duckdb")
    for rows in pages(iter(plan_rows(count // PER_DATATAKE + 1)), 5000):
        site.collect(RAW_MP_DATATAKE, rows)
    recorder.on, spent = True, 0.0
    for raws in pages(raw_products(count, s3_every), page):
        began = cpu_seconds()
        site.collect(RAW_PRIP_PRODUCT, raws)
        spent += cpu_seconds() - began
    recorder.on = False
    site.store.close()
    (tmp / "chain.duckdb").unlink()
    return spent - recorder.spent


@dataclass(frozen=True)
class Shape:
    """How the rows are stored: the store's typed columns, or another layout of the same
    chunks (the other two answer "would narrower rows make DuckDB cheaper?")."""

    name: str
    create: Callable[[TableSpec], list[str]]
    load: Callable[[TableSpec], str]
    suffix: str


TEXT_LOAD = "COPY {} FROM ? (FORMAT csv, HEADER false, AUTO_DETECT false, DELIM '\t', QUOTE '', ESCAPE '')"
SHAPES = [
    Shape(
        "typed columns (the store's)",
        lambda s: [s.create_sql(), *s.index_sql()],
        TableSpec.insert_sql,
        ".ndjson",
    ),
    Shape(
        "id and the JSON text",
        lambda s: [f"CREATE TABLE {s.table} (id VARCHAR PRIMARY KEY, doc VARCHAR)"],
        lambda s: TEXT_LOAD.format(s.table),
        ".tsv",
    ),
    Shape(
        "the id alone",
        lambda s: [f"CREATE TABLE {s.table} (id VARCHAR PRIMARY KEY)"],
        lambda s: TEXT_LOAD.format(s.table),
        ".ids",
    ),
]


def duckdb_floor(chunks: list[Chunk], tmp: Path, shape: Shape = SHAPES[0]) -> tuple[float, dict[str, float]]:
    """CPU seconds DuckDB takes to load the chunks into a fresh file; and per table."""
    path = tmp / "floor.duckdb"
    conn = duckdb.connect(str(path))
    embedded.configure(conn, read_only=False)
    for spec in {chunk.spec.table: chunk.spec for chunk in chunks}.values():
        for statement in shape.create(spec):
            conn.execute(statement)
    per_table: dict[str, float] = {}
    for chunk in chunks:
        began = cpu_seconds()
        conn.execute("BEGIN TRANSACTION")
        if chunk.replaced:
            conn.execute(chunk.spec.delete_sql(), [chunk.replaced])
        conn.execute(shape.load(chunk.spec), [str(chunk.path.with_suffix(shape.suffix))])
        conn.execute("COMMIT")
        per_table[chunk.spec.table] = per_table.get(chunk.spec.table, 0.0) + cpu_seconds() - began
    conn.close()
    path.unlink()
    return sum(per_table.values()), per_table


def encoding_floor(recorder: Recorder) -> float:
    """CPU seconds to encode and hash every written document, bare orjson and hashlib (timed
    on the sample; keys in the order the documents hold them, a builder's fixed order)."""
    began = cpu_seconds()
    for data in recorder.sample:
        hashlib.sha256(orjson.dumps(data)).hexdigest()
    return (cpu_seconds() - began) * recorder.documents / len(recorder.sample)


def matching_floor(names: list[str], count: int) -> float:
    """CPU seconds to match ``count`` names with the one regex that accepts each (timed on
    ``names``)."""
    matches = [(accepting_pattern(name).fullmatch, strip_extensions(name)) for name in names]
    began = cpu_seconds()
    for fullmatch, key in matches:
        fullmatch(key)
    return (cpu_seconds() - began) * count / len(names)


def main() -> int:
    warm_up()
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("size", nargs="?", type=int, default=20_000, help="products")
    cli.add_argument("--page", type=int, default=1000, help="products per collected page")
    cli.add_argument("--s3-every", type=int, default=10, help="one S3 frame in this many products (0: none)")
    args = cli.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-cds-floor-") as tmp:
        recorder = Recorder(Path(tmp))
        recorder.install()
        spent = chain(args.size, args.page, args.s3_every, recorder, Path(tmp))
        store, per_table = duckdb_floor(recorder.chunks, Path(tmp))
        others = {shape.name: duckdb_floor(recorder.chunks, Path(tmp), shape)[0] for shape in SHAPES[1:]}
    floors = (store, per_table, encoding_floor(recorder), matching_floor(recorder.names, args.size))
    report(args.size, spent, floors, recorder)
    for name, seconds in others.items():
        print(f"duckdb load and commit per product, {name}: {1e6 * seconds / args.size:.1f} us")
    return 0


def report(
    size: int, chain_s: float, floors: tuple[float, dict[str, float], float, float], recorder: Recorder
) -> None:
    store_s, per_table, encode_s, match_s = floors

    def us(seconds: float) -> str:
        return f"{1e6 * seconds / size:.1f} us"

    rows: dict[str, int] = {}
    for chunk in recorder.chunks:
        rows[chunk.spec.table] = rows.get(chunk.spec.table, 0) + chunk.rows
    print(f"products: {size} products")
    print(f"chain cpu per product: {us(chain_s)}")
    print(f"duckdb load and commit per product: {us(store_s)}")
    for table, seconds in sorted(per_table.items(), key=lambda item: -item[1]):
        columns = len(next(c.spec for c in recorder.chunks if c.spec.table == table).columns)
        print(f"  {table.strip(chr(34))} ({rows[table] / size:.2f} rows, {columns} columns): {us(seconds)}")
    print(f"encode and hash per product: {us(encode_s)}")
    print(f"name match per product: {us(match_s)}")
    floor = store_s + encode_s + match_s
    print(f"floor per product: {us(floor)}")
    print(f"chain beyond the floor per product: {us(chain_s - floor)}")
    print(f"budget per product at 10,000 products/s: {BUDGET_US:.1f} us")
    print(f"ratio: {BUDGET_US * size / 1e6 / floor:.2f} (target >= 1.00)")


if __name__ == "__main__":
    sys.exit(main())
