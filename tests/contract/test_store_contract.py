"""The Store contract: the same tests against every backend (see conftest ``STORE_BACKENDS``).

What a collector, engine, replay or inspection may rely on, whichever store is configured:
deterministic ids, honest create/update/unchanged reporting, partitions read through the family,
the shared filter language, no silent 10-hit cap, streaming scans, exact datetimes, no lost
update between concurrent read-modify-writes, and per-item permanent failures.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from maas.model import ByDate, Document, DocumentClass, Field, FieldType
from maas.store.base import Exists, Outcome, Range, Store, Term, Terms

# Markers come from the backend parameter (conftest): duckdb is a unit test, opensearch integration.
DocClassFactory = Callable[..., DocumentClass]
T = FieldType
JAN = datetime(2024, 1, 15, 12, 0, 0, 123456, tzinfo=UTC)
MANY = 10_050  # more than OpenSearch's default result window and page size

PRODUCT_FIELDS = {
    "name": Field(T.KEYWORD, required=True),
    "mission": Field(T.KEYWORD),
    "count": Field(T.INTEGER),
    "size": Field(T.LONG),
    "score": Field(T.FLOAT),
    "online": Field(T.BOOLEAN),
    "published": Field(T.DATETIME, required=True),
    "tags": Field(T.KEYWORD, many=True),
    "seen": Field(T.DATETIME, many=True),
    "attrs": Field(T.OBJECT),
    "files": Field(T.NESTED, many=True, properties={"path": Field(T.KEYWORD), "at": Field(T.DATETIME)}),
}


@pytest.fixture
def products(doc_class_factory: DocClassFactory) -> DocumentClass:
    return doc_class_factory("product", PRODUCT_FIELDS, ("name",), ByDate("published", "%Y-%m"))


def product(doc_class: DocumentClass, i: int, **extra: Any) -> Document:
    raw = {
        "name": f"P{i:06d}",
        "mission": ("S1A", "S2B", "S3A")[i % 3],
        "count": i % 7,
        "size": i * 1000,
        "published": JAN + timedelta(minutes=i),
        "tags": ["t", f"m{i % 5}"],
    }
    return doc_class.make(raw | extra)


def written(store: Store, docs: list[Document]) -> Counter[Outcome]:
    report = store.write(docs)
    store.refresh(docs[0].doc_class)
    return report.counts()


def names(docs: list[Document]) -> list[str]:
    return [d.data["name"] for d in docs]


# --- ids and change reporting ----------------------------------------------------------------


def test_ids_are_deterministic_and_a_rewrite_lands_on_the_same_document(
    store: Store, products: DocumentClass
) -> None:
    first = product(products, 1)
    assert first.id == products.id_for("P000001")
    assert written(store, [first]) == {Outcome.CREATED: 1}
    assert written(store, [product(products, 1, size=5)]) == {Outcome.UPDATED: 1}
    assert store.count(products) == 1
    assert store.get(products, [first.id])[first.id].data["size"] == 5


def test_same_documents_twice_are_created_then_unchanged(store: Store, products: DocumentClass) -> None:
    docs = [product(products, i) for i in range(10_000)]
    first = store.write(docs)
    store.refresh(products)
    second = store.write(docs)
    store.refresh(products)
    assert first.counts() == {Outcome.CREATED: 10_000}
    assert second.counts() == {Outcome.UNCHANGED: 10_000}
    assert second.changed == []
    assert {item.id for item in first.items} == {d.id for d in docs}
    assert store.count(products) == 10_000


def test_changing_one_field_is_updated_and_reads_back(store: Store, products: DocumentClass) -> None:
    docs = [product(products, i) for i in range(3)]
    written(store, docs)
    changed = docs[1].replace(mission="S5P", tags=["new"])
    report = store.write([docs[0], changed, docs[2]])
    store.refresh(products)
    assert {i.id: i.outcome for i in report.items} == {
        docs[0].id: Outcome.UNCHANGED,
        changed.id: Outcome.UPDATED,
        docs[2].id: Outcome.UNCHANGED,
    }
    assert [i.id for i in report.changed] == [changed.id]
    back = store.get(products, [changed.id])[changed.id]
    assert back.data["mission"] == "S5P" and back.data["tags"] == ["new"]


def test_the_last_of_one_id_in_a_write_wins(store: Store, products: DocumentClass) -> None:
    first, last = product(products, 1, size=1), product(products, 1, size=2)
    report = store.write([first, product(products, 2), last])
    store.refresh(products)
    assert not report.failed
    assert {i.id for i in report.items} == {first.id, products.id_for("P000002")}
    assert store.count(products) == 2
    assert store.get(products, [first.id])[first.id].data["size"] == 2


def test_removing_a_field_is_an_update(store: Store, products: DocumentClass) -> None:
    doc = product(products, 1, score=1.5)
    written(store, [doc])
    assert written(store, [doc.replace(score=None)]) == {Outcome.UPDATED: 1}
    assert "score" not in store.get(products, [doc.id])[doc.id].data


# --- partitions, reads ------------------------------------------------------------------------


def test_partitions_are_concrete_indices_read_through_the_family(
    store: Store, products: DocumentClass
) -> None:
    jan = product(products, 1)
    leap = product(products, 2, published="2024-02-29T23:59:59.999999-01:00")  # March in UTC
    report = store.write([jan, leap])
    store.refresh(products)
    family = products.family
    expected = {jan.id: f"{family}-2024-01", leap.id: f"{family}-2024-03"}
    assert {i.id: i.index for i in report.items} == expected
    assert {d.id: d.index for d in store.get(products, [jan.id, leap.id]).values()} == expected
    assert set(store.get(products, [jan.id, leap.id], indices=[f"{family}-2024-03"])) == {leap.id}
    assert set(names(store.find(products))) == {"P000001", "P000002"}
    assert store.count(products) == 2


def test_get_leaves_out_missing_ids(store: Store, products: DocumentClass) -> None:
    doc = product(products, 1)
    written(store, [doc])
    assert set(store.get(products, [doc.id, products.id_for("nope")])) == {doc.id}
    assert store.get(products, []) == {}


def test_a_family_never_written_reads_as_empty(store: Store, products: DocumentClass) -> None:
    """What a dry run's journal read meets on a new deployment: no table, no index yet."""
    assert store.get(products, [products.id_for("P000001")]) == {}
    assert list(store.find(products)) == []
    assert store.count(products) == 0


def test_documents_read_back_equal(store: Store, products: DocumentClass) -> None:
    doc = products.make(
        {
            "name": "full",
            "mission": "S2B",
            "count": -3,
            "size": 2**53 + 1,
            "score": 0.1,
            "online": False,
            "published": "2024-01-31T23:00:00.000001-02:00",
            "tags": ["a", "b", "a"],
            "seen": ["2024-01-01T00:00:00Z", "2024-01-01T00:00:00.5+01:00"],
            "attrs": {"free": [1, "x", {"deep": True}], "empty": {}},
            "files": [{"path": "/a", "at": "2024-01-02T03:04:05.000006Z"}, {"path": "/b"}],
        }
    )
    written(store, [doc])
    back = store.get(products, [doc.id])[doc.id]
    assert back.id == doc.id and back.index == doc.index
    assert back.data == doc.data
    assert back.content_hash == doc.content_hash
    assert written(store, [back]) == {Outcome.UNCHANGED: 1}


def test_geo_shapes_round_trip(store: Store, doc_class_factory: DocClassFactory) -> None:
    """Kept apart: a cluster without the geo module fails this test alone, not the whole suite."""
    areas = doc_class_factory("area", {"name": Field(T.KEYWORD), "footprint": Field(T.GEO_SHAPE)}, ("name",))
    polygon = {"type": "Polygon", "coordinates": [[[0.5, 0], [1, 0], [1, 1], [0.5, 0]]]}
    doc = areas.make({"name": "a", "footprint": polygon})
    written(store, [doc])
    assert store.get(areas, [doc.id])[doc.id].data == {"name": "a", "footprint": polygon}
    assert names(store.find(areas, [Exists("footprint")])) == ["a"]


def test_datetimes_round_trip_in_utc_with_microseconds(store: Store, products: DocumentClass) -> None:
    doc = product(
        products,
        1,
        published="2024-06-30T23:59:59.999999+05:30",
        seen=["2000-01-01T00:00:00.000001Z"],
        files=[{"at": "2024-01-01T00:00:00.1-00:30"}],
    )
    written(store, [doc])
    data = store.get(products, [doc.id])[doc.id].data
    assert data["published"] == datetime(2024, 6, 30, 18, 29, 59, 999999, tzinfo=UTC)
    assert data["published"].utcoffset() == timedelta(0)
    assert data["seen"] == [datetime(2000, 1, 1, 0, 0, 0, 1, tzinfo=UTC)]
    assert data["files"][0]["at"] == datetime(2024, 1, 1, 0, 30, 0, 100000, tzinfo=UTC)


# --- filters, sort, limit ---------------------------------------------------------------------


@pytest.fixture
def hundred(store: Store, products: DocumentClass) -> list[Document]:
    docs = [product(products, i) for i in range(100)]
    docs[7] = docs[7].replace(score=0.5, online=True)
    docs[8] = docs[8].replace(score=2.5, online=False)
    written(store, docs)
    return docs


def expect(docs: list[Document], keep: Any) -> set[str]:
    return {d.data["name"] for d in docs if keep(d.data)}


def test_term_terms_range_exists_filters(
    store: Store, products: DocumentClass, hundred: list[Document]
) -> None:
    def found(*filters: Any) -> set[str]:
        return set(names(store.find(products, list(filters))))

    assert found(Term("mission", "S2B")) == expect(hundred, lambda d: d["mission"] == "S2B")
    assert found(Term("tags", "m3")) == expect(hundred, lambda d: "m3" in d["tags"])
    assert found(Term("online", True)) == {"P000007"}
    assert found(Terms("count", [1, 2])) == expect(hundred, lambda d: d["count"] in (1, 2))
    assert found(Terms("mission", [])) == set()
    assert found(Range("size", gte=10_000, lt=20_000)) == {f"P{i:06d}" for i in range(10, 20)}
    assert found(Range("size", gt=98_000)) == {"P000099"}
    assert found(Range("score", lte=1.0)) == {"P000007"}
    assert found(Exists("score")) == {"P000007", "P000008"}
    assert found(Term("mission", "S1A"), Range("count", lte=2), Exists("tags")) == expect(
        hundred, lambda d: d["mission"] == "S1A" and d["count"] <= 2
    )


def test_datetime_ranges(store: Store, products: DocumentClass, hundred: list[Document]) -> None:
    start = JAN + timedelta(minutes=10)
    by_string = Range("published", gte="2024-01-15T13:10:00.123456+01:00", lt=JAN + timedelta(minutes=20))
    assert set(names(store.find(products, [by_string]))) == {f"P{i:06d}" for i in range(10, 20)}
    just_after = Range("published", gt=start)
    assert "P000010" not in names(store.find(products, [just_after]))
    exact = Range("published", gte=start, lte=start)
    assert names(store.find(products, [exact])) == ["P000010"]
    other_zone = Term("published", start.astimezone(timezone(timedelta(hours=-3))))
    assert names(store.find(products, [other_zone])) == ["P000010"]


def test_sort_and_limit(store: Store, products: DocumentClass, hundred: list[Document]) -> None:
    top = store.find(products, [], sort=[("size", "desc")], limit=3)
    assert names(top) == ["P000099", "P000098", "P000097"]
    assert names(store.find(products, sort=[("name", "desc")], limit=1)) == ["P000099"]
    # documents without a score come last in both directions
    assert names(store.find(products, sort=[("score", "asc")], limit=2)) == ["P000007", "P000008"]
    assert names(store.find(products, sort=[("score", "desc")], limit=2)) == ["P000008", "P000007"]
    two_keys = store.find(products, [Range("size", lt=20_000)], sort=[("count", "asc"), ("size", "desc")])
    assert names(two_keys)[:3] == ["P000014", "P000007", "P000000"]
    newest_s1 = store.find(products, [Term("mission", "S1A")], sort=[("published", "desc")], limit=1)
    assert names(newest_s1) == ["P000099"]
    assert store.find(products, [], limit=0) == []


# --- volume: no silent caps, streaming scans ------------------------------------------------------


@pytest.fixture
def many(store: Store, products: DocumentClass) -> list[Document]:
    docs = [product(products, i) for i in range(MANY)]
    assert store.write(docs).counts() == {Outcome.CREATED: MANY}
    store.refresh(products)
    return docs


def test_find_without_limit_returns_everything(
    store: Store, products: DocumentClass, many: list[Document]
) -> None:
    everything = store.find(products)
    assert len(everything) == MANY
    assert {d.id for d in everything} == {d.id for d in many}
    matching = store.find(products, [Range("count", gte=1)])
    assert len(matching) == sum(1 for d in many if d.data["count"] >= 1)
    assert store.count(products) == MANY


def test_scan_streams_every_document_once_in_id_order(
    store: Store, products: DocumentClass, many: list[Document]
) -> None:
    ids = [doc.id for doc in store.scan(products, batch_size=1000)]
    assert len(ids) == MANY
    assert ids == sorted({d.id for d in many})
    s2 = [doc.data["name"] for doc in store.scan(products, [Term("mission", "S2B")], batch_size=777)]
    assert sorted(s2) == sorted(expect(many, lambda d: d["mission"] == "S2B"))


# --- concurrency -----------------------------------------------------------------------------------


def test_concurrent_read_modify_write_loses_no_update(store: Store, products: DocumentClass) -> None:
    doc = product(products, 1, count=0)
    written(store, [doc])
    outcomes: Counter[Outcome] = Counter()
    errors: list[BaseException] = []

    def increment(current: Document | None) -> Document | None:
        assert current is not None
        return current.replace(count=current.data["count"] + 1)

    def worker() -> None:
        try:
            for _ in range(50):
                outcomes.update(store.update(products, [doc.id], increment).counts())
        except BaseException as exc:  # surfaced below: a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert outcomes == {Outcome.UPDATED: 100}
    store.refresh(products)
    assert store.get(products, [doc.id])[doc.id].data["count"] == 100


def test_update_reports_created_and_unchanged(store: Store, products: DocumentClass) -> None:
    existing = product(products, 1)
    written(store, [existing])
    missing_id = products.id_for("P000002")

    def modify(current: Document | None) -> Document | None:
        return product(products, 2) if current is None else None

    report = store.update(products, [existing.id, missing_id], modify)
    store.refresh(products)
    outcomes = {i.id: i.outcome for i in report.items}
    assert outcomes == {existing.id: Outcome.UNCHANGED, missing_id: Outcome.CREATED}
    assert store.count(products) == 2


# --- failures, deletes -------------------------------------------------------------------------------


def test_wrong_typed_values_are_permanent_for_those_items_only(store: Store, products: DocumentClass) -> None:
    docs = [product(products, i) for i in range(1000)]
    bad_positions = (3, 500, 999)
    for pos in bad_positions:  # what a buggy engine would hand over: the model was bypassed
        good = docs[pos]
        docs[pos] = Document(products, good.id, good.index, {**good.data, "count": "not-a-number"})
    report = store.write(docs)
    store.refresh(products)
    assert report.counts() == {Outcome.CREATED: 997, Outcome.PERMANENT: 3}
    failed = report.failed
    assert {f.id for f in failed} == {docs[p].id for p in bad_positions}
    for item in failed:
        assert item.reason and "count" in item.reason, item.reason
        assert item.index == docs[bad_positions[0]].index
    assert store.count(products) == 997
    assert store.get(products, [f.id for f in failed]) == {}


def test_delete_and_count(store: Store, products: DocumentClass) -> None:
    docs = [product(products, i) for i in range(5)]
    written(store, docs)
    assert store.delete(products, [docs[0].id, docs[1].id, products.id_for("nope")]) == 2
    store.refresh(products)
    assert store.count(products) == 3
    assert store.count(products, [Term("mission", "S1A")]) == 1
    assert store.get(products, [docs[0].id]) == {}
    assert store.delete(products, []) == 0
    assert written(store, [docs[0]]) == {Outcome.CREATED: 1}
