"""The embedded store's shortcuts: its memory of what it committed lately, inserting without
asking when a family's writes have been new, searching lookup fields first through their
index. Faster, never other answers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from maas.model import ByDate, Document, DocumentClass, Field, FieldType
from maas.store.base import Range, Term, Terms
from maas.store.duckdb import DuckDBStore
from maas.store.presence import Presence
from maas.store.recent import RecentDocuments, attach, detach

pytestmark = pytest.mark.unit

T = FieldType
EVENTS = DocumentClass(
    "Event",
    "event",
    {
        "name": Field(T.KEYWORD),
        "kind": Field(T.KEYWORD),
        "n": Field(T.INTEGER),
        "at": Field(T.DATETIME),
        "tags": Field(T.KEYWORD, many=True),
    },
    ("name",),
    partition=ByDate("at"),
    lookups=("kind",),
)


def event(i: int, n: int | None = None) -> Document:
    return EVENTS.make(
        {
            "name": f"e{i:03d}",
            "kind": "ab"[i % 2],
            "n": i if n is None else n,
            "at": datetime(2024, 1 + i % 3, 1 + i % 28, i % 24, tzinfo=UTC),
            "tags": [f"t{i % 5}"],
        }
    )


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "maas.duckdb"


@pytest.fixture
def store(path: Path) -> Iterator[DuckDBStore]:
    store = DuckDBStore(path, recent_docs=25)  # smaller than the data: memory and DuckDB both answer
    yield store
    store.close()


def reads(store: DuckDBStore) -> list[object]:
    """Every kind of read, on every document of the test, as plain values."""
    ids = [EVENTS.id_for(f"e{i:03d}") for i in range(70)]
    return [
        sorted((k, v.index, v.data) for k, v in store.get(EVENTS, ids).items()),
        sorted((k, v.data) for k, v in store.get(EVENTS, ids, ["event-2024-02"]).items()),
        [d.data for d in store.find(EVENTS, [Term("kind", "a")], sort=[("n", "desc")])],
        [d.data for d in store.find(EVENTS, [Terms("tags", ["t1", "t3"])], sort=[("at", "asc")], limit=7)],
        [d.id for d in store.find(EVENTS, [Range("at", gte=datetime(2024, 2, 1, tzinfo=UTC))])],
        [d.data for d in store.find(EVENTS, [Range("n", gte=9), Terms("kind", ["b"])], [("at", "desc")], 5)],
    ]


def test_reads_answer_as_a_store_that_remembers_nothing(store: DuckDBStore, path: Path) -> None:
    store.setup([EVENTS])
    reads(store)  # every id remembered as not stored
    store.write([event(i) for i in range(60)])
    reads(store)
    store.write([event(i, n=100 + i) for i in range(0, 60, 3)])  # updates, some still remembered
    store.delete(EVENTS, [EVENTS.id_for(f"e{i:03d}") for i in range(0, 60, 7)])
    remembering = reads(store)
    forgetful = DuckDBStore(path, recent_docs=0)
    try:
        assert remembering == reads(forgetful)
    finally:
        forgetful.close()
    assert remembering[0] and remembering[2] and remembering[3]


def test_a_caller_changing_a_document_changes_nothing_stored(store: DuckDBStore) -> None:
    doc = event(1)
    store.write([doc])
    doc.data["n"] = -1
    got = store.get(EVENTS, [doc.id])[doc.id]
    assert got.data["n"] == 1
    got.data["n"] = -2
    assert store.get(EVENTS, [doc.id])[doc.id].data["n"] == 1
    assert store.find(EVENTS, [Term("name", "e001")])[0].data["n"] == 1


def test_writers_of_one_file_see_each_others_writes(store: DuckDBStore, path: Path) -> None:
    store.write([event(1)])
    assert store.get(EVENTS, [event(1).id])[event(1).id].data["n"] == 1
    other = DuckDBStore(path)
    try:
        other.write([event(1, n=2)])
        assert store.get(EVENTS, [event(1).id])[event(1).id].data["n"] == 2
        assert store.write([event(1, n=2)]).counts() == {"unchanged": 1}
        other.delete(EVENTS, [event(1).id])
        assert store.get(EVENTS, [event(1).id]) == {}
    finally:
        other.close()


def test_a_refused_document_is_not_remembered(store: DuckDBStore) -> None:
    stray = Document(EVENTS, EVENTS.id_for("stray"), "event-2024-01", {"name": "stray", "colour": "red"})
    assert store.write([stray]).counts() == {"permanent": 1}
    assert store.get(EVENTS, [stray.id]) == {}


def test_the_memory_keeps_the_latest_writes_up_to_its_capacity() -> None:
    memory = RecentDocuments(capacity=3)
    memory.remember((event(i), f"h{i}") for i in range(5))
    memory.remember([(event(3, n=30), "h3b")])
    assert len(memory) == 3
    assert memory.hashes([event(i).id for i in range(5)]) == {
        event(2).id: "h2",
        event(3).id: "h3b",
        event(4).id: "h4",
    }
    other_class = DocumentClass("Event", "event", dict(EVENTS.fields), ("name",), partition=ByDate("at"))
    assert memory.documents(other_class, [event(4).id]) == ({}, set())  # another version of the model


@pytest.mark.parametrize("recent_docs", [0, 25])
def test_a_reopened_store_tells_new_rewritten_and_changed_documents_apart(
    path: Path, recent_docs: int
) -> None:
    with DuckDBStoreClosing(path, recent_docs) as store:
        assert store.write([event(i) for i in range(10)]).counts() == {"created": 10}
    with DuckDBStoreClosing(path, recent_docs) as store:  # remembers nothing, assumes new first
        mixed = [event(i) for i in range(5)] + [event(i, n=50) for i in range(5, 8)] + [event(20)]
        report = store.write(mixed)
        assert {item.id: item.outcome for item in report.items} == {
            **{event(i).id: "unchanged" for i in range(5)},
            **{event(i).id: "updated" for i in range(5, 8)},
            event(20).id: "created",
        }
        assert store.write([event(21), event(22)]).counts() == {"created": 2}
        assert store.write([event(23), event(1, n=7)]).counts() == {"created": 1, "updated": 1}
        assert store.get(EVENTS, [event(1).id])[event(1).id].data["n"] == 7
        assert store.count(EVENTS) == 14


def test_the_filter_of_stored_ids_never_misses_one_as_it_grows() -> None:
    presence = Presence()
    ids = [f"event-{i}" for i in range(200_000)]  # three times its first capacity: it doubles
    presence.add(ids[:1000])
    presence.add(ids[1000:])
    assert presence.possible(ids) == ids
    size = presence.size
    for _ in range(3):  # rewrites add their ids again: repeats are dropped, not kept
        presence.add(ids)
    assert presence.possible(ids) == ids
    assert presence.size < 1.5 * size
    assert len(presence.possible([f"other-{i}" for i in range(10_000)])) < 100  # "maybe": 1 %


def test_ids_the_filter_knows_absent_are_answered_as_duckdb_would(path: Path) -> None:
    """A file written before (the filter starts from a scan), other writers of the file
    (forgetful or not), deletes: the filter never hides a stored document."""
    with DuckDBStoreClosing(path, 0) as store:
        store.write([event(i) for i in range(30)])
    ids = [event(i).id for i in range(70)]
    with DuckDBStoreClosing(path, 25) as store, DuckDBStoreClosing(path, 0) as forgetful:
        assert set(store.get(EVENTS, ids)) == set(ids[:30])  # reads enough ids to build the filter
        memory = attach(path, 0)
        detach(path)
        assert memory.presence(EVENTS.family) is not None
        forgetful.write([event(i) for i in range(30, 60)])
        forgetful.delete(EVENTS, ids[:10])
        assert set(store.get(EVENTS, ids)) == set(ids[10:60])
        assert store.write([event(i) for i in range(5)] + [event(65)]).counts() == {"created": 6}
        assert set(store.get(EVENTS, ids)) == {*ids[:5], *ids[10:60], ids[65]}
        assert reads(store) == reads(forgetful)


def kinded(i: int, kind: str) -> Document:
    return EVENTS.make({**event(i).data, "kind": kind})


def test_searches_by_lookup_values_answer_as_duckdb_would(path: Path) -> None:
    """Searches by lookup values answered from memory (the values no row out of memory holds)
    find what DuckDB finds: rows written before, other writers, updates, deletes, evictions."""
    with DuckDBStoreClosing(path, 0) as store:
        store.write([event(i) for i in range(10)])  # kinds a and b, not remembered
    with DuckDBStoreClosing(path, 100) as store, DuckDBStoreClosing(path, 0) as forgetful:
        assert store.find(EVENTS, [Terms("kind", [f"k{i}" for i in range(5)])]) == []  # builds
        store.write([kinded(i, "cd"[i % 2]) for i in range(10, 30)])
        forgetful.write([kinded(i, "e") for i in range(30, 35)])
        store.write([kinded(10, "d"), kinded(1, "c")])  # c -> d, and a row written before -> c
        store.delete(EVENTS, [kinded(12, "c").id])
        lookups = attach(path, 0).lookups(EVENTS)
        detach(path)
        assert lookups is not None and lookups.split(["c", "d", "e"])[1] == []  # from memory
        assert_same_searches(store, forgetful)
        store.write([kinded(i, "f") for i in range(100, 175)])  # evicts the oldest writes
        assert lookups.split(["c", "e"])[1] == ["c"]  # c from DuckDB, e from memory
        assert_same_searches(store, forgetful)
        assert len(store.find(EVENTS, [Term("kind", "c")])) == 9


def assert_same_searches(store: DuckDBStore, forgetful: DuckDBStore) -> None:
    searches = [
        [Term("kind", "c")],
        [Terms("kind", ["c", "d", "e"])],
        [Terms("kind", ["c", "e", "f", "a"])],
        [Terms("kind", ["c", "d"]), Terms("name", ["e010", "e011", "e013", "e001"])],
        [Term("kind", "a")],
        [Term("kind", "f")],
    ]
    for filters in searches:
        for limit in (None, 3):
            expected = [(d.id, d.data) for d in forgetful.find(EVENTS, filters, limit=limit)]
            assert [(d.id, d.data) for d in store.find(EVENTS, filters, limit=limit)] == expected


class DuckDBStoreClosing:
    def __init__(self, path: Path, recent_docs: int) -> None:
        self.store = DuckDBStore(path, recent_docs=recent_docs)

    def __enter__(self) -> DuckDBStore:
        return self.store

    def __exit__(self, *exc_info: object) -> None:
        self.store.close()


def test_a_read_is_remembered_only_if_no_commit_ran_while_it_read() -> None:
    memory = RecentDocuments()
    started = memory.generation
    with memory.commit_lock:
        memory.remember([(event(1), "h1")])  # a commit of another thread, during the read
    memory.remember_read([(event(2), "h2")], [event(4).id], started)
    memory.remember_read([(event(3), "h3")], [event(5).id], memory.generation)
    assert memory.hashes([event(i).id for i in (1, 2, 3, 4, 5)]) == {
        event(1).id: "h1",
        event(3).id: "h3",
        event(5).id: None,  # known not to be stored
    }


def test_reads_by_id_are_remembered_but_not_inside_a_transaction(path: Path) -> None:
    with DuckDBStoreClosing(path, 25) as store:
        store.write([event(1), event(2), event(3)])
    with DuckDBStoreClosing(path, 25) as store:  # a fresh memory
        memory = attach(path)
        try:

            def modify(current: Document | None) -> Document | None:
                assert store.get(EVENTS, [event(2).id])[event(2).id].data["n"] == 2  # in the transaction
                return event(1, n=10)

            store.update(EVENTS, [event(1).id], modify)
            assert set(memory.hashes([event(i).id for i in (1, 2, 3)])) == {event(1).id}
            store.get(EVENTS, [event(2).id, event(3).id])
            assert set(memory.hashes([event(i).id for i in (1, 2, 3)])) == {event(i).id for i in (1, 2, 3)}
            assert store.write([event(3)]).counts() == {"unchanged": 1}
        finally:
            detach(path)


def test_reading_a_family_nothing_was_written_to_finds_nothing_then_its_writes(store: DuckDBStore) -> None:
    """Reads by id try the table first and ask the catalog only when DuckDB says it is missing."""
    ids = [event(i).id for i in range(3)]
    assert store.get(EVENTS, ids) == {}
    assert store.get(EVENTS, ids) == {}  # absent ids are not remembered as absent: no table, no read
    store.write([event(1)])
    assert list(store.get(EVENTS, ids)) == [event(1).id]


def test_a_table_another_store_of_the_process_creates_is_read(path: Path) -> None:
    """A family known missing is read again once any store of this process made a table."""
    first = DuckDBStore(path)
    try:
        first.write([event(2)])  # then a file without the events' table, as a new one would be:
        first._conn.execute('DROP TABLE "event"')
        second = DuckDBStore(path, read_only=True)  # shares the writer's database
        try:
            assert second.get(EVENTS, [event(1).id]) == {}  # missing, and known missing
            first._ready.clear()  # as a fresh writer: it creates the table again
            first.write([event(1)])
            assert list(second.get(EVENTS, [event(1).id])) == [event(1).id]
        finally:
            second.close()
    finally:
        first.close()


def test_hashes_read_without_documents_are_remembered_as_hashes_only() -> None:
    """A conditional write finds the hashes its engine just read; a read by id still reads the
    document (memory holds no copy of it), and a full copy is never replaced by a hash."""
    memory = RecentDocuments()
    memory.remember([(event(1), "h1")])
    started = memory.generation
    memory.remember_hashes({event(1).id: "other", event(2).id: "h2"}, started)
    memory.remember_hashes({event(3).id: "h3"}, started - 1)  # a commit ran while it was read
    assert memory.hashes([event(i).id for i in (1, 2, 3)]) == {event(1).id: "h1", event(2).id: "h2"}
    found, absent = memory.documents(EVENTS, [event(1).id, event(2).id])
    assert (list(found), absent) == ([event(1).id], set())


def test_a_conditional_write_after_hashes_read_from_duckdb_checks_them(path: Path) -> None:
    with DuckDBStoreClosing(path, 2) as store:
        store.write([event(i) for i in range(5)])  # event 0 forgotten: beyond the memory's 2
        expected = store.hashes(EVENTS, [event(0).id])
        assert store.get(EVENTS, [event(0).id])[event(0).id].data == event(0).data
        assert store.write([event(0, n=7)], expected=expected).counts() == {"updated": 1}
        assert store.write([event(0, n=8)], expected=expected).counts() == {"conflict": 1}
