"""The embedded store: one DuckDB file, one table per index family, upsert by id.

Why these choices:
- Partitions are a column (``maas_partition``), not tables: a family is read as one table and
  the concrete index name is rebuilt as ``<family>-<partition>``.
- Datetimes are ``TIMESTAMPTZ`` with the database's TimeZone set to UTC: DuckDB (ICU built in)
  returns aware datetimes without pytz, so no "naive means UTC" convention is needed on read.
- Writes bind one list per column and upsert a chunk in one transaction; the stored
  ``maas_hash`` tells unchanged documents apart, and those are not rewritten.
- DuckDB allows one writing process per file and no readers beside it; a PID lock file beside
  the database turns a second writer into a clear ``LockHeldError`` (exit 3).
- Threads of one process share the database through one cursor each; DuckDB's optimistic
  transactions report write-write conflicts, and we retry the whole read-modify-write.
- Writers remember what they committed lately (``maas.store.recent``): an embedded chain reads
  back, a moment later, what the previous engine wrote, and a dictionary answers that faster
  than a row fetch. Searches ask DuckDB for the matching ids only and take the remembered
  documents among them from memory.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import duckdb
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from maas.config import Settings
from maas.errors import LockHeldError, StoreError, StoreUnavailable
from maas.model import Document, DocumentClass
from maas.model.ids import content_bytes, hash_encoded
from maas.model.schema import ID_COLUMN
from maas.store.base import (
    NOTHING_EXPECTED,
    Expected,
    Filter,
    ItemResult,
    Modify,
    Outcome,
    SortKey,
    StoreCapabilities,
    Terms,
    WriteReport,
    unexpected,
)
from maas.store.duckdb_sql import BY_IDS, TableSpec, table_name
from maas.store.factory import duckdb_path
from maas.store.lock import ProcessLock
from maas.store.presence import Presence
from maas.store.recent import DEFAULT_CAPACITY, Lookups, attach, detach

T = TypeVar("T")
Cursor = duckdb.DuckDBPyConnection
Plan = Callable[[Cursor], tuple[list[Document], list[ItemResult]]]
# What a write transaction did: every item's outcome, and the documents now stored as given
# (with their content hash), to remember once it committed.
Merged = tuple[list[ItemResult], list[tuple[Document, str]]]
Encoded = tuple[Document, bytes, str]  # a document, its canonical JSON and content hash
# The (id, index) of every document a write was asked for: built only when a write gives up.
Targets = Callable[[], list[tuple[str, str]]]

CHUNK_DOCS = 10_000
# WAL size that triggers a checkpoint (DuckDB's default: 16 MB). A checkpoint's cost grows
# with the tables (their indexes included), not only with the WAL: in the CDS chain the 16 MB
# default checkpointed every 25,000 products, for up to 1.2 s at 200,000 products and more
# after, so ingesting N documents cost O(N^2). The WAL is fsync'd at every commit either way:
# durability is the same; a crash replays more WAL on restart, and close() checkpoints more.
CHECKPOINT_THRESHOLD = "256MB"
# DuckDB threads of a writing connection. A writer's statements are batches (a payload's or an
# engine batch's documents, up to CHUNK_DOCS rows): DuckDB's parallel insert into a table with
# a primary key cost more than it won. bench/replay.py 1000000 on two cores, alternated: 18.3 and
# 20.0 us per record with one thread, 22.0 and 23.1 with DuckDB's default (one per core).
# Read-only connections (maas inspect's analytics) keep the default.
WRITER_THREADS = 1
# Above this many ids, DuckDB scans the table instead of using the primary key's index
# (its ``index_scan_max_count``): a search missing that many documents in memory reads its
# rows directly instead of asking for their ids twice.
FETCH_BY_ID_MAX = 2048
CONFLICT_ATTEMPTS = 60
# A filter of a table's stored ids (``_track``) is built once the ids read by key, one absent id
# costing DuckDB 7-10 us, would have paid for the scan that builds it (about 3 us per row:
# fetching the id and adding it). Read in pages of SCAN_PAGE rows.
SCANNED_PER_READ = 3
SCAN_PAGE = 100_000
# What DuckDB raises when a bound value does not fit its column (then we find the item).
_ITEM_ERRORS = (duckdb.DataError, duckdb.InvalidInputException, duckdb.NotImplementedException)
_LOCK_PID = re.compile(r"\(PID (\d+)\)")
DUCKDB_INTERRUPTED = "Query interrupted"  # the RuntimeError DuckDB makes of a SIGINT during a query


class _RefusedItems(Exception):
    """Internal: DuckDB refused a chunk; ``lines`` are the documents' JSON, in order."""

    def __init__(self, docs: list[Document], lines: list[bytes]) -> None:
        super().__init__(f"{len(docs)} documents")
        self.docs = docs
        self.lines = lines


class DuckDBStore:
    """The embedded store (see the module docstring for the why)."""

    def __init__(
        self,
        path: Path,
        *,
        read_only: bool = False,
        chunk_docs: int = CHUNK_DOCS,
        recent_docs: int = DEFAULT_CAPACITY,
    ) -> None:
        self.path = path
        self.read_only = read_only
        self.chunk_docs = chunk_docs
        self.capabilities = StoreCapabilities(
            name="duckdb", distributed=False, needs_refresh=False, max_bulk_docs=chunk_docs, sql=True
        )
        self._lock = ProcessLock(path.with_name(path.name + ".lock"), f"embedded store {path}")
        self._conn = self._open()
        # Writers share the memory of what the file's writers committed lately (every commit
        # updates it); those that remember (``recent_docs`` > 0) read from it too.
        self._memory = None if read_only else attach(path, recent_docs)
        self._recent = self._memory if recent_docs > 0 else None
        self._local = threading.local()
        self._cursors: list[Cursor] = []
        self._guard = threading.Lock()
        self._specs: dict[str, TableSpec] = {}  # family -> spec of the class last seen
        self._ready: set[TableSpec] = set()  # specs whose table exists with all their columns
        self._scratch_dir: tempfile.TemporaryDirectory[str] | None = None
        # Families whose last write found none of its unknown ids stored: the next write
        # inserts those without asking (the primary key refuses one that exists, and the write
        # starts again reading first). Like the OpenSearch store's plain creates.
        self._assume_new: dict[str, bool] = {}
        self._missing: dict[str, int] = {}  # family -> _tables_made() when its table was missing
        # Reads by id of ids not remembered, per family, and how many make a filter of the
        # table's ids worth building (see _track).
        self._asked: dict[str, int] = {}
        self._build_at: dict[str, int] = {}

    @classmethod
    def from_settings(cls, settings: Settings, *, read_only: bool = False) -> DuckDBStore:
        return cls(duckdb_path(settings.store.url), read_only=read_only)

    # --- opening and closing ------------------------------------------------------------

    def _open(self) -> Cursor:
        if self.read_only:
            return self._connect_reader()
        self._lock.acquire()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return self._connect(read_only=False)
        except duckdb.ConnectionException:
            self._lock.release()
            raise LockHeldError(
                f"embedded store {self.path} is open read-only in this process (PID {os.getpid()}):"
                " close its readers before opening a writer"
            ) from None
        except BaseException:
            self._lock.release()
            raise

    def _connect_reader(self) -> Cursor:
        if not self.path.exists():
            raise StoreError(f"embedded store {self.path} does not exist yet (nothing written to it)")
        try:
            return self._connect(read_only=True)
        except duckdb.ConnectionException:
            # A writer of this process has the file open: share its database (we still only read).
            return self._connect(read_only=False)

    def _connect(self, read_only: bool) -> Cursor:
        try:
            conn = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            raise self._open_error(exc) from None
        except duckdb.ConnectionException:
            raise  # the same file open with another mode in this process: the caller decides
        except duckdb.Error as exc:
            raise StoreError(f"embedded store {self.path} cannot be opened: {_first_line(exc)}") from exc
        configure(conn, read_only=read_only)
        return conn

    def _open_error(self, exc: duckdb.IOException) -> StoreError | LockHeldError:
        message = str(exc).splitlines()[0]
        if "lock" not in message.lower():
            return StoreUnavailable(f"embedded store {self.path}: {message}")
        pid = _LOCK_PID.search(message)
        return LockHeldError(
            f"embedded store {self.path} is in use by PID {pid.group(1) if pid else 'unknown'}"
            " (DuckDB allows no other process beside a writer)"
        )

    def close(self) -> None:
        with self._guard:
            for cursor in self._cursors:
                cursor.close()
            self._cursors.clear()
        self._conn.close()
        if self._memory is not None:
            detach(self.path)
            self._memory = self._recent = None
        if self._scratch_dir is not None:
            self._scratch_dir.cleanup()
        if not self.read_only:
            self._lock.release()

    def refresh(self, doc_class: DocumentClass | None = None) -> None:
        """Nothing to do: a committed write is visible to every later read."""

    def _cursor(self) -> Cursor:
        cursor: Cursor | None = getattr(self._local, "cursor", None)
        if cursor is None:
            with self._guard:
                cursor = self._conn.cursor()
                self._cursors.append(cursor)
            self._local.cursor = cursor
        return cursor

    # --- tables -------------------------------------------------------------------------

    def setup(self, classes: Iterable[DocumentClass]) -> None:
        for doc_class in classes:
            self._table(doc_class, create=True)

    def _spec(self, doc_class: DocumentClass) -> TableSpec:
        spec = self._specs.get(doc_class.family)
        if spec is None or spec.doc_class != doc_class:  # new, or the model changed
            spec = self._specs[doc_class.family] = TableSpec(doc_class)
        return spec

    def _table(self, doc_class: DocumentClass, create: bool) -> TableSpec | None:
        """The table of a class, created or completed with new columns for writers."""
        spec = self._spec(doc_class)
        if spec in self._ready:
            return spec
        with self._guard, _mapped(self.path):
            if create:
                self._require_writer()
                self._create(spec)
            elif not self._exists(spec):
                return None
            self._ready.add(spec)
        return spec

    def _writable(self, doc_class: DocumentClass) -> TableSpec:
        spec = self._table(doc_class, create=True)
        assert spec is not None
        return spec

    def _exists(self, spec: TableSpec) -> bool:
        sql = "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?"
        row = self._conn.execute(sql, [table_name(spec.doc_class)]).fetchone()
        return bool(row and row[0])

    def _create(self, spec: TableSpec) -> None:
        _table_made(self.path)  # before: a reader that sees the table then must not trust "missing"
        self._conn.execute(spec.create_sql())
        sql = "SELECT column_name FROM duckdb_columns() WHERE table_name = ?"
        present = {row[0] for row in self._conn.execute(sql, [table_name(spec.doc_class)]).fetchall()}
        for column in spec.columns:
            if column.name not in present:  # the model grew a field: add it, keep the data
                self._conn.execute(spec.add_column_sql(column))
        for statement in spec.index_sql():
            self._conn.execute(statement)

    def _require_writer(self) -> None:
        if self.read_only:
            raise StoreError(f"embedded store {self.path} was opened read-only")

    # --- writing ------------------------------------------------------------------------

    def write(self, docs: Iterable[Document], *, expected: Expected = NOTHING_EXPECTED) -> WriteReport:
        """``expected`` is checked inside the write's transaction: with one writing process per
        file, and the process' commits serialised with its memory, nobody writes in between."""
        report = WriteReport()
        stream = iter(docs)
        while chunk := list(itertools.islice(stream, self.chunk_docs)):
            for family_docs in _by_family(chunk):
                spec = self._writable(family_docs[0].doc_class)
                plan, targets = _as_plan(family_docs), _targets(family_docs)
                report.items.extend(self._commit(spec, plan, targets, remembered=True, expected=expected))
        return report

    def hashes(
        self, doc_class: DocumentClass, ids: Sequence[str], indices: Sequence[str] | None = None
    ) -> dict[str, str]:
        """From memory where remembered or known absent, DuckDB asked for the rest; wherever the
        ids are stored (``indices`` are a hint DuckDB needs not: ids are unique in a table)."""
        if not ids:
            return {}
        spec = self._spec(doc_class)
        found, unknown = self._known_hashes(ids)
        if unknown:
            with _mapped(self.path):
                found.update(self._if_table(spec, lambda: self._stored(spec, unknown)))
        return found

    def get_with_hashes(
        self, doc_class: DocumentClass, ids: Sequence[str], indices: Sequence[str] | None = None
    ) -> tuple[dict[str, Document], dict[str, str]]:
        """The hashes first, then the documents: a write in between fails the check (a needless
        retry), where the other order would let it pass over an older document. Both come from
        memory or the local file: one read would save nothing worth a second code path."""
        hashes = self.hashes(doc_class, ids, indices)
        return self.get(doc_class, ids, indices), hashes

    def _stored(self, spec: TableSpec, ids: list[str]) -> dict[str, str]:
        """The hashes DuckDB holds, remembered for the conditional write that follows (which
        then reads none of them again), unless a commit happened meanwhile."""
        generation = self._recent.generation if self._recent is not None else 0
        possible = self._possible(spec, ids)
        found = dict(self._cursor().execute(spec.hashes_sql(), [possible]).fetchall()) if possible else {}
        if found and self._recent is not None:
            self._recent.remember_hashes(found, generation)
        return found

    def update(self, doc_class: DocumentClass, ids: Sequence[str], modify: Modify) -> WriteReport:
        spec = self._writable(doc_class)
        report = WriteReport()
        for start in range(0, len(ids), self.chunk_docs):
            chunk = list(dict.fromkeys(ids[start : start + self.chunk_docs]))

            def plan(cur: Cursor, chunk: list[str] = chunk) -> tuple[list[Document], list[ItemResult]]:
                return self._modified(cur, spec, chunk, modify)

            report.items.extend(self._commit(spec, plan, _ids_only(chunk), remembered=False))
        return report

    def _modified(
        self, cur: Cursor, spec: TableSpec, ids: list[str], modify: Modify
    ) -> tuple[list[Document], list[ItemResult]]:
        """Apply ``modify`` to the current documents (read inside the transaction)."""
        current = self._fetch(cur, spec, ids)
        docs: list[Document] = []
        quiet: list[ItemResult] = []
        for doc_id in ids:
            old = current.get(doc_id)
            new = modify(old)
            index = old.index if old else ""
            if new is None:
                quiet.append(ItemResult(doc_id, index, Outcome.UNCHANGED))
            elif new.id != doc_id:
                reason = f"modify changed the id to {new.id}"
                quiet.append(ItemResult(doc_id, index, Outcome.PERMANENT, reason))
            else:
                docs.append(new)
        return docs, quiet

    def _commit(
        self,
        spec: TableSpec,
        plan: Plan,
        targets: Targets,
        remembered: bool,
        expected: Expected = NOTHING_EXPECTED,
    ) -> list[ItemResult]:
        """Run a plan in a transaction; items DuckDB refuses are reported, the rest written.

        ``remembered``: the stored hashes may come from the recent documents. Not for a
        read-modify-write: its plan read the transaction's snapshot, and a newer commit that
        happens to equal its result must still conflict with it (or an increment is lost).
        """
        refused: dict[str, ItemResult] = {}
        duplicates = 0
        with _mapped(self.path):
            while True:
                try:
                    done = self._attempt(spec, plan, refused, remembered, expected)
                    return [*refused.values(), *done]
                except _RefusedItems as exc:
                    refused.update(self._refused(spec, exc))
                except duckdb.ConstraintException as exc:  # stored after all, or inserted by another
                    self._assume_new[spec.doc_class.family] = False
                    duplicates += 1
                    if duplicates >= CONFLICT_ATTEMPTS:
                        return [*refused.values(), *_gave_up(targets, refused, exc)]
                except duckdb.TransactionException as exc:
                    return [*refused.values(), *_gave_up(targets, refused, exc)]

    def _attempt(
        self,
        spec: TableSpec,
        plan: Plan,
        refused: dict[str, ItemResult],
        remembered: bool,
        expected: Expected,
    ) -> list[ItemResult]:
        """An expectation needs the stored hashes of its ids: none is assumed new."""
        assume_new = remembered and not expected and self._assume_new.get(spec.doc_class.family, True)
        done, _ = self._transaction(
            lambda cur: self._merge(cur, spec, plan, refused, (remembered, assume_new), expected),
            on_commit=self._remember,
        )
        return done

    def _merge(
        self,
        cur: Cursor,
        spec: TableSpec,
        plan: Plan,
        refused: dict[str, ItemResult],
        how: tuple[bool, bool],
        expected: Expected,
    ) -> Merged:
        """Classify by stored hash and upsert only what changed (inside the transaction);
        ``how``: whether stored hashes may come from memory, and unknown ids be assumed new."""
        planned, results = plan(cur)
        docs = [d for d in {d.id: d for d in planned}.values() if d.id not in refused]
        refused.update(_unknown_fields(spec, docs))
        encoded = [_encode(d) for d in docs if d.id not in refused]
        stored = self._stored_hashes(cur, spec, [d.id for d, _, _ in encoded], *how)
        if expected:
            encoded, conflicts = _as_expected(encoded, stored, expected)
            results = [*results, *conflicts]
        changed = [item for item in encoded if stored.get(item[0].id) != item[2]]
        if changed:
            self._upsert(cur, spec, changed, [d.id for d, _, _ in changed if d.id in stored])
        items = [ItemResult(d.id, d.index, _outcome(stored, d.id, digest)) for d, _, digest in encoded]
        return results + items, [(d, digest) for d, _, digest in encoded]

    def _stored_hashes(
        self, cur: Cursor, spec: TableSpec, ids: list[str], remembered: bool, assume_new: bool
    ) -> dict[str, str]:
        """The stored content hashes: remembered ones from memory, DuckDB asked for the rest
        (unless they are assumed new: then the INSERT's primary key checks)."""
        stored, unknown = self._known_hashes(ids) if remembered else ({}, ids)
        if unknown and remembered:  # ids the filter knows new: nothing to read, nothing to refuse
            unknown = self._possible(spec, unknown, build=False)
        if unknown and not assume_new:
            found = cur.execute(spec.hashes_sql(), [unknown]).fetchall()
            self._assume_new[spec.doc_class.family] = not found
            stored.update(found)
        return stored

    def _known_hashes(self, ids: Sequence[str]) -> tuple[dict[str, str], list[str]]:
        """The stored hashes the memory knows, and the ids it knows nothing of (those it knows
        absent are in neither)."""
        known = self._recent.hashes(ids) if self._recent is not None else {}
        stored = {doc_id: digest for doc_id, digest in known.items() if digest is not None}
        return stored, [doc_id for doc_id in ids if doc_id not in known]

    def _remember(self, merged: Merged) -> None:
        if self._memory is not None:
            self._memory.remember(merged[1])

    def _forget(self, ids: Sequence[str]) -> None:
        if self._memory is not None:
            self._memory.forget(ids)

    def _upsert(self, cur: Cursor, spec: TableSpec, changed: list[Encoded], stored: list[str]) -> None:
        """Delete the ``stored`` versions, load the changed documents as JSON lines; a refusal
        names the whole chunk's lines."""
        lines = [spec.line(d, text, digest) for d, text, digest in changed]
        if stored:
            cur.execute(spec.delete_sql(), [stored])
        with tempfile.NamedTemporaryFile("wb", suffix=".ndjson", dir=self._scratch()) as f:
            f.write(b"\n".join(lines))
            f.flush()
            try:
                cur.execute(spec.insert_sql(), [f.name])
            except _ITEM_ERRORS as exc:
                raise _RefusedItems([d for d, _, _ in changed], lines) from exc

    def _scratch(self) -> str:
        """A private directory for the JSON-lines chunks DuckDB loads."""
        if self._scratch_dir is None:
            self._scratch_dir = tempfile.TemporaryDirectory(prefix="maas-duckdb-")
        return self._scratch_dir.name

    def _refused(self, spec: TableSpec, exc: _RefusedItems) -> dict[str, ItemResult]:
        """Every document of a refused chunk that DuckDB cannot store, with DuckDB's reason."""
        cur = self._cursor()
        texts = [line.decode("utf-8") for line in exc.lines]
        rows = cur.execute(spec.refused_sql(), [texts]).fetchall()
        if not rows:  # not the data after all: a real failure of the store
            raise StoreError(f"embedded store {self.path}: {exc.__cause__}") from exc.__cause__
        found = {}
        for position, fields in rows:
            doc = exc.docs[position]
            reason = self._reason(cur, spec, texts[position], fields[0])
            found[doc.id] = ItemResult(doc.id, doc.index, Outcome.PERMANENT, reason)
        return found

    def _reason(self, cur: Cursor, spec: TableSpec, line: str, field: str) -> str:
        if field not in spec.by_name:
            return "not a valid JSON document (a non-finite number?)"
        try:
            cur.execute(spec.refusal_sql(spec.by_name[field]), [line]).fetchall()
        except _ITEM_ERRORS as exc:
            return f"{field}: {_first_line(exc)}"
        return f"{field}: refused by DuckDB"

    def _transaction(self, work: Callable[[Cursor], T], on_commit: Callable[[T], None] | None = None) -> T:
        """One transaction, retried from the start when another writer conflicts;
        ``on_commit`` sees the result once committed (under the lock of the recent documents)."""
        retrying = Retrying(
            retry=retry_if_exception_type(duckdb.TransactionException),
            wait=wait_random_exponential(multiplier=0.002, max=0.1),
            stop=stop_after_attempt(CONFLICT_ATTEMPTS),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                return self._once(work, on_commit)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def _once(self, work: Callable[[Cursor], T], on_commit: Callable[[T], None] | None) -> T:
        self._require_writer()
        cur = self._cursor()
        cur.execute("BEGIN TRANSACTION")
        self._local.in_transaction = True
        try:
            result = work(cur)
            self._finish(cur, result, on_commit)
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                cur.execute("ROLLBACK")  # already gone when COMMIT itself conflicted
            raise
        finally:
            self._local.in_transaction = False
        return result

    def _finish(self, cur: Cursor, result: T, on_commit: Callable[[T], None] | None) -> None:
        """COMMIT; the recent documents change with it, in commit order across threads."""
        if on_commit is None or self._memory is None:
            cur.execute("COMMIT")
            return
        with self._memory.commit_lock:
            cur.execute("COMMIT")
            on_commit(result)

    def delete(self, doc_class: DocumentClass, ids: Sequence[str]) -> int:
        spec = self._table(doc_class, create=not self.read_only)
        if spec is None or not ids:
            return 0
        sql = spec.delete_sql()
        with _mapped(self.path):
            row = self._transaction(
                lambda cur: cur.execute(sql, [list(ids)]).fetchone(), on_commit=lambda _: self._forget(ids)
            )
        return int(row[0]) if row else 0

    # --- reading ------------------------------------------------------------------------

    def get(
        self, doc_class: DocumentClass, ids: Sequence[str], indices: Sequence[str] | None = None
    ) -> dict[str, Document]:
        if not ids:
            return {}
        found, known = self._remembered(doc_class, ids, indices)
        missing = [doc_id for doc_id in ids if doc_id not in found and doc_id not in known]
        if missing:
            with _mapped(self.path):
                found.update(self._read_if_any(self._spec(doc_class), missing, indices))
        return found

    def _read_if_any(
        self, spec: TableSpec, ids: list[str], indices: Sequence[str] | None
    ) -> dict[str, Document]:
        def read() -> dict[str, Document]:
            possible = self._possible(spec, ids)
            return self._read(spec, possible, indices) if possible else {}

        return self._if_table(spec, read)

    def _if_table(self, spec: TableSpec, read: Callable[[], dict[str, T]]) -> dict[str, T]:
        """``read``, unless the table is known missing (a family nothing was written to yet):
        engines load a batch's documents by id, and a failed query plus a catalog query per
        batch cost an engine pool 16 % of its time. Known missing until a store of this process
        creates a table in the file (no other process can: DuckDB has one writer per file)."""
        family, made = spec.doc_class.family, _tables_made(self.path)
        if self._missing.get(family) == made:
            return {}
        try:
            return read()
        except duckdb.CatalogException:
            if self._exists(spec):
                raise
            self._missing[family] = made
            return {}

    def _possible(self, spec: TableSpec, ids: list[str], build: bool = True) -> list[str]:
        """The ids the table may hold, by its filter of stored ids (``maas.store.presence``):
        built (outside transactions: a scan must see every commit) once reading ids by key
        has cost more than one scan of its ids would."""
        if self._recent is None:
            return ids
        presence = self._recent.presence(spec.doc_class.family)
        if presence is None and build and not getattr(self._local, "in_transaction", False):
            presence = self._track(spec, len(ids))
        if presence is None:
            return ids
        with self._recent.commit_lock:
            return presence.possible(ids)

    def _track(self, spec: TableSpec, asked: int) -> Presence | None:
        """The filter of the table's ids, built under the commit lock (no commit of the
        process between the scan and the filter's first update), or None while not worth it."""
        assert self._recent is not None
        family = spec.doc_class.family
        with self._recent.commit_lock:
            presence = self._recent.presence(family)
            rows = None if presence else self._scan_rows(f"ids {family}", spec, asked)
            if rows is None:
                return presence
            cur = self._cursor().execute(f"SELECT {ID_COLUMN} FROM {spec.table}")
            return self._recent.track(family, (row[0] for row in _rows(cur)), rows)

    def _scan_rows(self, key: str, spec: TableSpec, asked: int) -> int | None:
        """The table's rows, once the reads that ``key`` counts (``asked`` more now) would have
        paid for one scan of them; None before then (call under the commit lock)."""
        asked = self._asked[key] = self._asked.get(key, 0) + asked
        if asked < self._build_at.get(key, 0):
            return None
        row = self._cursor().execute(f"SELECT count(*) FROM {spec.table}").fetchone()
        rows = int(row[0]) if row else 0
        if asked * SCANNED_PER_READ < rows:
            self._build_at[key] = rows // SCANNED_PER_READ
            return None
        return rows

    def _remembered(
        self, doc_class: DocumentClass, ids: Sequence[str], indices: Sequence[str] | None = None
    ) -> tuple[dict[str, Document], set[str]]:
        """The remembered documents, and the ids known not to be stored (there)."""
        if self._recent is None:
            return {}, set()
        return self._recent.documents(doc_class, ids, None if indices is None else set(indices))

    def _fetch(self, cur: Cursor, spec: TableSpec, ids: list[str]) -> dict[str, Document]:
        """Documents by id as the cursor's transaction sees them (nothing remembered)."""
        rows = cur.execute(spec.select_sql(BY_IDS), [ids]).fetchall()
        return {row[0]: spec.document(row) for row in rows}

    def _read(
        self, spec: TableSpec, ids: list[str], indices: Sequence[str] | None = None
    ) -> dict[str, Document]:
        """Documents by id, remembered unless read inside a transaction or while a commit of
        this process happened (the datatakes every batch reads, the orbits of a back-fill).

        The partitions are checked here, not in SQL: DuckDB reads ids through the primary key
        only when no other filter is on the scan (30 ms per 1,000 ids at 300,000 rows, growing,
        against a flat 7 ms)."""
        generation = self._recent.generation if self._recent is not None else 0
        rows = self._cursor().execute(spec.select_sql(BY_IDS, with_hash=True), [ids]).fetchall()
        read = [(spec.document(row), row[-1]) for row in rows]
        if self._recent is not None and not getattr(self._local, "in_transaction", False):
            stored = {row[0] for row in rows}
            self._recent.remember_read(read, [i for i in ids if i not in stored], generation)
        if indices is not None:
            wanted = set(indices)
            read = [(doc, digest) for doc, digest in read if doc.index in wanted]
        return {doc.id: doc for doc, _ in read}

    def find(
        self,
        doc_class: DocumentClass,
        filters: Sequence[Filter] = (),
        sort: Sequence[SortKey] = (),
        limit: int | None = None,
    ) -> list[Document]:
        spec = self._spec(doc_class)
        spec.where(filters)  # checks the filters, table or not
        spec.order_by(sort)
        if self._table(doc_class, create=False) is None:
            return []
        with _mapped(self.path):
            found = self._find_remembered(spec, filters, sort, limit)
            return self._find_stored(spec, filters, sort, limit) if found is None else found

    def _find_stored(
        self, spec: TableSpec, filters: Sequence[Filter], sort: Sequence[SortKey], limit: int | None
    ) -> list[Document]:
        """DuckDB's matches: their ids, documents from memory where remembered, or whole rows."""
        found = None
        if self._recent is not None:
            found = self._find_by_ids(spec, *spec.ids_sql(filters, sort, limit))
        if found is None:
            where, params = spec.where(filters)
            sql = spec.select_sql(where, spec.order_by(sort), limit)
            found = [spec.document(row) for row in self._cursor().execute(sql, params).fetchall()]
        return found

    def _find_remembered(
        self, spec: TableSpec, filters: Sequence[Filter], sort: Sequence[SortKey], limit: int | None
    ) -> list[Document] | None:
        """A search by lookup values (and other exact values) answered from memory for the
        values whose every match the family's lookups know remembered (``Lookups``), from
        DuckDB for the others; None when it is not such a search, or for none of its values.
        Ordered by id only: other sorts go to DuckDB."""
        if self._recent is None or sort or getattr(self._local, "in_transaction", False):
            return None
        search = spec.exact_search(filters)
        if search is None:
            return None
        field, values, matches = search
        lookups = self._recent.lookups(spec.doc_class) or self._track_lookups(spec, len(values))
        if lookups is None:
            return None
        with self._recent.commit_lock:
            ids, cold = lookups.split(values)
            if len(cold) == len(values):
                return None
            found, _ = self._recent.documents(spec.doc_class, sorted(ids))
        if len(found) < len(ids):  # not all remembered after all: DuckDB answers
            return None
        docs = [doc for doc in found.values() if matches(doc)]
        if cold:  # values that rows out of memory may hold: DuckDB finds those
            stored = self._find_stored(spec, [Terms(field, cold), *filters], (), limit)
            docs = sorted({doc.id: doc for doc in [*docs, *stored]}.values(), key=_doc_id)
        return docs if limit is None else docs[:limit]

    def _track_lookups(self, spec: TableSpec, asked: int) -> Lookups | None:
        """The family's lookups, built like ``_track`` builds its filter of ids."""
        assert self._recent is not None
        doc_class = spec.doc_class
        with self._recent.commit_lock:
            lookups = self._recent.lookups(doc_class)
            rows = None if lookups else self._scan_rows(f"lookups {doc_class.family}", spec, asked)
            if rows is None:
                return lookups
            columns = ", ".join(spec.by_name[name].sql for name in doc_class.lookups)
            cur = self._cursor().execute(f"SELECT {columns} FROM {spec.table}")
            return self._recent.track_lookups(doc_class, _rows(cur))

    def _find_by_ids(self, spec: TableSpec, sql: str, params: list[Any]) -> list[Document] | None:
        """The matching ids from DuckDB, their documents from memory where remembered;
        None when too many are not (one query for whole rows is then cheaper)."""
        cur = self._cursor()
        ids = [row[0] for row in cur.execute(sql, params).fetchall()]
        found, _ = self._remembered(spec.doc_class, ids)
        missing = [doc_id for doc_id in ids if doc_id not in found]
        if len(missing) > FETCH_BY_ID_MAX:
            return None
        if missing:
            found.update(self._read(spec, missing))
        return [found[doc_id] for doc_id in ids if doc_id in found]

    def scan(
        self, doc_class: DocumentClass, filters: Sequence[Filter] = (), batch_size: int = 1000
    ) -> Iterator[Document]:
        """Keyset pages on id: each page is one short query, so memory stays at one page."""
        spec = self._spec(doc_class)
        where, params = spec.where(filters)
        sql = spec.select_sql(" AND ".join(filter(None, [where, "id > ?"])), "id", batch_size)
        return self._pages(spec, sql, params, batch_size)

    def _pages(self, spec: TableSpec, sql: str, params: list[Any], size: int) -> Iterator[Document]:
        if self._table(spec.doc_class, create=False) is None:
            return
        last = ""
        while True:
            with _mapped(self.path):
                rows = self._cursor().execute(sql, [*params, last]).fetchall()
            yield from (spec.document(row) for row in rows)
            if len(rows) < size:
                return
            last = rows[-1][0]

    def count(self, doc_class: DocumentClass, filters: Sequence[Filter] = ()) -> int:
        spec = self._spec(doc_class)
        where, params = spec.where(filters)
        if self._table(doc_class, create=False) is None:
            return 0
        sql = f"SELECT count(*) FROM {spec.table}" + (f" WHERE {where}" if where else "")
        with _mapped(self.path):
            row = self._cursor().execute(sql, params).fetchone()
        return int(row[0]) if row else 0


_made: dict[Path, int] = {}  # database file -> tables created (or completed) in this process
_made_guard = threading.Lock()


def _tables_made(path: Path) -> int:
    return _made.get(path.absolute(), 0)


def _table_made(path: Path) -> None:
    with _made_guard:
        key = path.absolute()
        _made[key] = _made.get(key, 0) + 1


def configure(conn: Cursor, *, read_only: bool) -> None:
    """The settings of every connection the store opens (``bench/cds_floor.py`` times bare
    DuckDB with them, so that it compares like with like)."""
    conn.execute("SET GLOBAL TimeZone = 'UTC'")
    if not read_only:
        conn.execute(f"SET GLOBAL checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
        conn.execute(f"SET GLOBAL threads = {WRITER_THREADS}")


def _rows(cur: Cursor) -> Iterator[tuple[Any, ...]]:
    """Every row of the cursor's result, a page at a time."""
    while rows := cur.fetchmany(SCAN_PAGE):
        yield from rows


def _doc_id(doc: Document) -> str:
    return doc.id


def _by_family(docs: list[Document]) -> list[list[Document]]:
    groups: dict[str, list[Document]] = {}
    for doc in docs:
        groups.setdefault(doc.doc_class.family, []).append(doc)
    return list(groups.values())


def _as_plan(docs: list[Document]) -> Plan:
    return lambda cur: (docs, [])


def _encode(doc: Document) -> Encoded:
    """The canonical JSON (also the bulk line) and its content hash: one encoding per document."""
    text = content_bytes(doc.data)
    return doc, text, hash_encoded(text)


def _unknown_fields(spec: TableSpec, docs: list[Document]) -> dict[str, ItemResult]:
    """The table has no column for them: refuse, like OpenSearch's strict mapping does."""
    found = {}
    names = spec.doc_class.fields.keys()
    for doc in docs:
        if doc.data.keys() <= names:  # the common case, without building a set
            continue
        unknown = spec.unknown_fields(doc)
        if unknown:
            reason = f"unknown field(s) {', '.join(sorted(unknown))}: the table has no such column"
            found[doc.id] = ItemResult(doc.id, doc.index, Outcome.PERMANENT, reason)
    return found


def _targets(docs: list[Document]) -> Targets:
    return lambda: [(d.id, d.index) for d in docs]


def _ids_only(ids: list[str]) -> Targets:
    return lambda: [(i, "") for i in ids]


def _gave_up(targets: Targets, refused: dict[str, ItemResult], exc: Exception) -> list[ItemResult]:
    """Still conflicting after bounded retries: retryable, for the caller's retry queue. Not an
    ``Outcome.CONFLICT``: nothing says the caller's read is stale (a write without expectations
    gives up the same way); the store could not commit under contention, which an operator
    should see as such."""
    reason = f"gave up after {CONFLICT_ATTEMPTS} write conflicts: {_first_line(exc)}"
    return [ItemResult(i, index, Outcome.RETRYABLE, reason) for i, index in targets() if i not in refused]


def _as_expected(
    encoded: list[Encoded], stored: dict[str, str], expected: Expected
) -> tuple[list[Encoded], list[ItemResult]]:
    """The documents still as their writer expected, and the others: conflicts, not written."""
    kept, conflicts = [], []
    for item in encoded:
        doc, _, digest = item
        reason = unexpected(expected, doc.id, stored.get(doc.id), digest)
        if reason is None:
            kept.append(item)
        else:
            conflicts.append(ItemResult(doc.id, doc.index, Outcome.CONFLICT, reason))
    return kept, conflicts


def _outcome(stored: dict[str, str], doc_id: str, new_hash: str) -> Outcome:
    stored_hash = stored.get(doc_id)
    if stored_hash is None:
        return Outcome.CREATED
    return Outcome.UNCHANGED if stored_hash == new_hash else Outcome.UPDATED


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0]


@contextlib.contextmanager
def restored_interrupts() -> Iterator[None]:
    """A Ctrl-C that DuckDB caught during a query leaves it as the KeyboardInterrupt it was.

    DuckDB raises a plain RuntimeError instead, which an engine's ``except Exception`` would
    take for bad data (a dead letter) and the CLI would print as a traceback.
    """
    try:
        yield
    except RuntimeError as exc:
        if str(exc) != DUCKDB_INTERRUPTED:
            raise
        raise KeyboardInterrupt from exc


@contextlib.contextmanager
def _mapped(path: Path) -> Iterator[None]:
    """DuckDB errors become ours where they leave the store."""
    try:
        with restored_interrupts():
            yield
    except duckdb.TransactionException as exc:
        raise StoreError(f"embedded store {path}: gave up after write conflicts: {exc}") from exc
    except duckdb.IOException as exc:
        raise StoreUnavailable(f"embedded store {path}: {_first_line(exc)}") from exc
    except duckdb.Error as exc:
        raise StoreError(f"embedded store {path}: {_first_line(exc)}") from exc
