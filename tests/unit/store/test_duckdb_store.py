"""What only the embedded store does: one writer process (lock file), readers, schema growth."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from maas.errors import LockHeldError, StoreError, ValidationError
from maas.model import Document, DocumentClass, Field, FieldType
from maas.store.base import Outcome, Term
from maas.store.duckdb import DuckDBStore, restored_interrupts

pytestmark = pytest.mark.unit

T = FieldType
ITEMS = DocumentClass("Item", "item", {"name": Field(T.KEYWORD), "n": Field(T.INTEGER)}, ("name",))

HOLDER = """
import sys
from pathlib import Path
from maas.store.duckdb import DuckDBStore
store = DuckDBStore(Path(sys.argv[1]))
print("ready", flush=True)
sys.stdin.read()
store.close()
"""

# What `maas` does with our errors: message on stderr, the error's exit code.
OPENER = """
import sys
from pathlib import Path
from maas.errors import MaasError
from maas.store.duckdb import DuckDBStore
try:
    DuckDBStore(Path(sys.argv[1]), read_only=sys.argv[2] == "read").close()
except MaasError as exc:
    print(exc, file=sys.stderr)
    sys.exit(exc.exit_code)
"""


def run_opener(path: Path, mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", OPENER, str(path), mode], capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    path = tmp_path / "maas.duckdb"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    yield path, proc
    if proc.poll() is None:
        proc.communicate("", timeout=60)


def test_a_second_writer_process_is_told_who_holds_the_store(
    holder: tuple[Path, subprocess.Popen[str]],
) -> None:
    path, proc = holder
    second = run_opener(path, "write")
    assert second.returncode == LockHeldError.exit_code == 3
    assert f"embedded store {path} is in use by PID {proc.pid}" in second.stderr


def test_a_reader_process_beside_a_writer_gets_the_same_clear_error(
    holder: tuple[Path, subprocess.Popen[str]],
) -> None:
    path, proc = holder
    reader = run_opener(path, "read")
    assert reader.returncode == 3
    assert f"embedded store {path} is in use by PID {proc.pid}" in reader.stderr


def test_the_store_is_free_again_once_the_writer_closes(
    holder: tuple[Path, subprocess.Popen[str]],
) -> None:
    path, proc = holder
    proc.communicate("", timeout=60)
    assert proc.returncode == 0
    assert run_opener(path, "write").returncode == 0
    assert run_opener(path, "read").returncode == 0


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    lock = tmp_path / "maas.duckdb.lock"
    lock.write_text(dead.stdout)
    store = DuckDBStore(tmp_path / "maas.duckdb")
    try:
        assert lock.read_text().strip() == str(os.getpid())
    finally:
        store.close()


def test_stores_of_one_process_share_the_file(tmp_path: Path) -> None:
    path = tmp_path / "maas.duckdb"
    writer, other_writer = DuckDBStore(path), DuckDBStore(path)
    reader = DuckDBStore(path, read_only=True)
    try:
        doc = ITEMS.make({"name": "a", "n": 1})
        assert other_writer.write([doc]).counts() == {Outcome.CREATED: 1}
        assert set(reader.get(ITEMS, [doc.id])) == {doc.id}
        assert writer.write([doc]).counts() == {Outcome.UNCHANGED: 1}
        with pytest.raises(StoreError, match="opened read-only"):
            reader.write([doc.replace(n=2)])
    finally:
        for store in (reader, other_writer, writer):
            store.close()
    with DuckDBStoreClosing(path) as again:  # the in-process lock count went back to zero
        assert again.count(ITEMS) == 1


class DuckDBStoreClosing:
    def __init__(self, path: Path, read_only: bool = False) -> None:
        self.store = DuckDBStore(path, read_only=read_only)

    def __enter__(self) -> DuckDBStore:
        return self.store

    def __exit__(self, *exc_info: object) -> None:
        self.store.close()


def test_readers_open_read_only_and_see_committed_data(tmp_path: Path) -> None:
    path = tmp_path / "maas.duckdb"
    with DuckDBStoreClosing(path) as writer:
        writer.write([ITEMS.make({"name": "a", "n": 1})])
    with DuckDBStoreClosing(path, read_only=True) as reader:
        assert reader.count(ITEMS, [Term("n", 1)]) == 1
        other = DocumentClass("Other", "other", {"k": Field(T.KEYWORD)}, ("k",))
        assert reader.find(other) == [] and reader.count(other) == 0  # no table yet: empty
        with pytest.raises(StoreError, match="read-only"):
            reader.delete(ITEMS, [ITEMS.id_for("a")])
    assert not (tmp_path / "maas.duckdb.lock").exists()  # released: the lock file removed


def test_a_reader_of_a_missing_store_is_told_so(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist yet"):
        DuckDBStore(tmp_path / "none.duckdb", read_only=True)


def test_a_grown_model_adds_its_column_and_keeps_the_data(tmp_path: Path) -> None:
    path = tmp_path / "maas.duckdb"
    old = ITEMS.make({"name": "old", "n": 1})
    with DuckDBStoreClosing(path) as store:
        store.write([old])
    grown = DocumentClass("Item", "item", {**ITEMS.fields, "note": Field(T.TEXT)}, ("name",))
    with DuckDBStoreClosing(path) as store:
        new = grown.make({"name": "new", "note": "hello"})
        assert store.write([new]).counts() == {Outcome.CREATED: 1}
        got = store.get(grown, [old.id, new.id])
    assert got[old.id].data == {"name": "old", "n": 1}
    assert got[new.id].data == {"name": "new", "note": "hello"}


def test_a_model_grown_while_the_store_is_open_gets_its_column(tmp_path: Path) -> None:
    grown = DocumentClass("Item", "item", {**ITEMS.fields, "note": Field(T.TEXT)}, ("name",))
    with DuckDBStoreClosing(tmp_path / "maas.duckdb") as store:
        store.write([ITEMS.make({"name": "old"})])
        new = grown.make({"name": "new", "note": "hello"})
        assert store.write([new]).counts() == {Outcome.CREATED: 1}
        assert store.find(grown, [Term("note", "hello")]) == [new]


def test_a_writer_cannot_open_beside_a_reader_of_the_same_process(tmp_path: Path) -> None:
    path = tmp_path / "maas.duckdb"
    DuckDBStore(path).close()
    with DuckDBStoreClosing(path, read_only=True), pytest.raises(LockHeldError, match="close its readers"):
        DuckDBStore(path)
    DuckDBStore(path).close()  # the failed attempt did not keep the lock


def test_fields_the_table_does_not_have_are_refused_per_item(tmp_path: Path) -> None:
    good = ITEMS.make({"name": "good"})
    stray = Document(ITEMS, ITEMS.id_for("stray"), "item-all", {"name": "stray", "colour": "red"})
    with DuckDBStoreClosing(tmp_path / "maas.duckdb") as store:
        report = store.write([good, stray])
        assert report.counts() == {Outcome.CREATED: 1, Outcome.PERMANENT: 1}
        assert "unknown field(s) colour" in (report.failed[0].reason or "")
        assert store.count(ITEMS) == 1


def test_filters_name_what_they_cannot_do(tmp_path: Path) -> None:
    with_object = DocumentClass("O", "objects", {"k": Field(T.KEYWORD), "o": Field(T.OBJECT)}, ("k",))
    with DuckDBStoreClosing(tmp_path / "maas.duckdb") as store:
        store.setup([with_object])
        with pytest.raises(ValidationError, match="unknown field 'colour'"):
            store.find(with_object, [Term("colour", "red")])
        with pytest.raises(ValidationError, match="'o' is an object; only 'exists' applies"):
            store.find(with_object, [Term("o", "x")])
        with pytest.raises(ValidationError, match="sort direction"):
            store.find(with_object, sort=[("k", "up")])  # type: ignore[list-item]
        with pytest.raises(ValidationError, match="filter on 'n': expected an integer"):
            store.find(ITEMS, [Term("n", "many")])


@pytest.mark.parametrize("recent_docs", [0, 100])
def test_hashes_and_expectations_read_duckdb_when_nothing_is_remembered(
    tmp_path: Path, recent_docs: int
) -> None:
    """Remembered or read from the table, the hash an expectation is checked against is the same."""
    path = tmp_path / "maas.duckdb"
    store, other = DuckDBStore(path, recent_docs=recent_docs), DuckDBStore(path, recent_docs=0)
    try:
        doc = ITEMS.make({"name": "a", "n": 1})
        assert store.hashes(ITEMS, [doc.id]) == {}  # no table yet
        other.write([doc])
        expected = store.hashes(ITEMS, [doc.id, ITEMS.id_for("b")])
        assert expected == other.hashes(ITEMS, [doc.id]) and list(expected) == [doc.id]
        other.write([doc.replace(n=2)])
        report = store.write([doc.replace(n=3)], expected=expected)
        assert report.counts() == {Outcome.CONFLICT: 1}
        assert store.write([doc.replace(n=3)], expected=store.hashes(ITEMS, [doc.id])).counts() == {
            Outcome.UPDATED: 1
        }
    finally:
        other.close()
        store.close()


def test_a_ctrl_c_duckdb_caught_during_a_query_is_a_keyboard_interrupt_again() -> None:
    """DuckDB answers a SIGINT during a query with RuntimeError('Query interrupted'): the
    engines' ``except Exception`` took it for bad data and dead-lettered the batch, and
    ``maas replay`` died with a traceback. The store gives the interrupt back."""
    conn = duckdb.connect(config={"threads": 1})  # else a worker may run the query to its end
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    try:
        with pytest.raises(KeyboardInterrupt) as caught, restored_interrupts():
            timer.start()
            conn.execute("SELECT count(*) FROM range(30000000000)").fetchall()  # seconds: never hangs
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
        conn.close()
    assert isinstance(caught.value.__cause__, RuntimeError)  # DuckDB's, not Python's own
