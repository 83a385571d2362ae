"""Conditional writes, on every backend: ``Store.hashes`` and ``Store.write(expected=...)``.

An engine that recomputes an aggregate reads the stored hashes of what it will write, then its
inputs, and writes on condition that those hashes did not change meanwhile: another writer's
newer result must never be overwritten by an older computation.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from maas.model import ByDate, Document, DocumentClass, Field, FieldType
from maas.store.base import CHANGED_SINCE_READ, Outcome, Store, WriteReport

DocClassFactory = Callable[..., DocumentClass]
FIELDS = {"name": Field(FieldType.KEYWORD, required=True), "value": Field(FieldType.INTEGER)}


@pytest.fixture
def aggregates(doc_class_factory: DocClassFactory) -> DocumentClass:
    return doc_class_factory("aggregate", FIELDS, ("name",))


def doc(doc_class: DocumentClass, name: str, value: int) -> Document:
    return doc_class.make({"name": name, "value": value})


def stored_hash(store: Store, document: Document) -> str:
    return store.hashes(document.doc_class, [document.id])[document.id]


def value_of(store: Store, document: Document) -> int | None:
    found = store.get(document.doc_class, [document.id])
    return found[document.id].data["value"] if document.id in found else None


def outcome(report: WriteReport) -> tuple[Outcome, str | None]:
    (item,) = report.items
    return item.outcome, item.reason


def test_hashes_are_realtime_and_leave_out_absent_ids(store: Store, aggregates: DocumentClass) -> None:
    first, second = doc(aggregates, "a", 1), doc(aggregates, "a", 2)
    assert store.hashes(aggregates, [first.id]) == {}
    store.write([first])
    one = store.hashes(aggregates, [first.id, aggregates.id_for("absent")])  # no refresh
    store.write([second])
    two = store.hashes(aggregates, [first.id])
    assert list(one) == [first.id] and list(two) == [first.id]
    assert one[first.id] != two[first.id], "the hash follows the content, at once"


def test_hashes_of_a_partitioned_family_where_the_caller_says(
    store: Store, doc_class_factory: DocClassFactory
) -> None:
    fields = {**FIELDS, "day": Field(FieldType.DATETIME, required=True)}
    dated = doc_class_factory("dated", fields, ("name",), ByDate("day", "%Y-%m"))
    document = dated.make({"name": "a", "value": 1, "day": "2024-02-03T00:00:00Z"})
    store.write([document])
    assert list(store.hashes(dated, [document.id], [document.index])) == [document.id]


def test_matching_expectation_is_written(store: Store, aggregates: DocumentClass) -> None:
    old = doc(aggregates, "a", 1)
    store.write([old])
    report = store.write([doc(aggregates, "a", 2)], expected={old.id: stored_hash(store, old)})
    assert outcome(report) == (Outcome.UPDATED, None)
    assert value_of(store, old) == 2


def test_expected_absent_and_absent_is_created(store: Store, aggregates: DocumentClass) -> None:
    new = doc(aggregates, "a", 1)
    assert outcome(store.write([new], expected={new.id: None})) == (Outcome.CREATED, None)


def test_unchanged_with_matching_expectation_is_unchanged(store: Store, aggregates: DocumentClass) -> None:
    same = doc(aggregates, "a", 1)
    store.write([same])
    assert outcome(store.write([same], expected={same.id: stored_hash(store, same)})) == (
        Outcome.UNCHANGED,
        None,
    )


def test_changed_since_read_is_a_conflict_and_not_written(store: Store, aggregates: DocumentClass) -> None:
    read = doc(aggregates, "a", 1)
    store.write([read])
    expected = {read.id: stored_hash(store, read)}
    store.write([doc(aggregates, "a", 2)])  # another writer, after the read
    kind, reason = outcome(store.write([doc(aggregates, "a", 3)], expected=expected))
    assert kind is Outcome.CONFLICT
    assert reason is not None and read.id in reason and CHANGED_SINCE_READ in reason
    assert value_of(store, read) == 2, "the other writer's document stays"


def test_expected_absent_but_created_since_is_a_conflict(store: Store, aggregates: DocumentClass) -> None:
    theirs = doc(aggregates, "a", 1)
    store.write([theirs])
    kind, reason = outcome(store.write([doc(aggregates, "a", 2)], expected={theirs.id: None}))
    assert kind is Outcome.CONFLICT and CHANGED_SINCE_READ in (reason or "")
    assert value_of(store, theirs) == 1


def test_expected_present_but_deleted_since_is_a_conflict(store: Store, aggregates: DocumentClass) -> None:
    gone = doc(aggregates, "a", 1)
    store.write([gone])
    expected = {gone.id: stored_hash(store, gone)}
    store.delete(aggregates, [gone.id])
    kind, reason = outcome(store.write([doc(aggregates, "a", 2)], expected=expected))
    assert kind is Outcome.CONFLICT and CHANGED_SINCE_READ in (reason or "")
    assert value_of(store, gone) is None, "not re-created"


def test_a_result_equal_to_the_other_writers_is_no_conflict(store: Store, aggregates: DocumentClass) -> None:
    """Writing nothing leaves the store as the late writer wants it: nothing to retry."""
    read = doc(aggregates, "a", 1)
    store.write([read])
    expected = {read.id: stored_hash(store, read)}
    store.write([doc(aggregates, "a", 2)])
    assert outcome(store.write([doc(aggregates, "a", 2)], expected=expected)) == (Outcome.UNCHANGED, None)


def test_only_the_conflicting_documents_are_held_back(store: Store, aggregates: DocumentClass) -> None:
    """Documents without an expectation, or with a met one, are written as usual."""
    mine, theirs = doc(aggregates, "mine", 1), doc(aggregates, "theirs", 1)
    store.write([mine, theirs])
    expected = {mine.id: stored_hash(store, mine), theirs.id: stored_hash(store, theirs)}
    store.write([doc(aggregates, "theirs", 2)])
    free = doc(aggregates, "free", 1)
    report = store.write([doc(aggregates, "mine", 5), doc(aggregates, "theirs", 5), free], expected=expected)
    outcomes = {item.id: item.outcome for item in report.items}
    assert outcomes == {mine.id: Outcome.UPDATED, theirs.id: Outcome.CONFLICT, free.id: Outcome.CREATED}
    assert [item.id for item in report.conflicts] == [theirs.id]
    assert [item.id for item in report.failed] == [theirs.id], "failed, to be retried"
    assert theirs.id not in {item.id for item in report.changed}, "a conflict is no change"
    assert (value_of(store, mine), value_of(store, theirs), value_of(store, free)) == (5, 2, 1)


def test_get_with_hashes_reads_what_get_and_hashes_read(store: Store, aggregates: DocumentClass) -> None:
    a, b = doc(aggregates, "a", 1), doc(aggregates, "b", 2)
    store.write([a, b])
    ids = [b.id, aggregates.id_for("absent"), a.id]
    found, hashes = store.get_with_hashes(aggregates, ids)  # no refresh: realtime
    assert found == store.get(aggregates, ids) and set(found) == {a.id, b.id}
    assert hashes == store.hashes(aggregates, ids) and set(hashes) == {a.id, b.id}


def test_a_document_read_with_its_hash_is_rewritten_on_condition(
    store: Store, aggregates: DocumentClass
) -> None:
    """What an engine rewriting its stored outputs does: another writer in between wins."""
    read = doc(aggregates, "a", 1)
    store.write([read])
    found, hashes = store.get_with_hashes(aggregates, [read.id])
    mine = found[read.id].replace(value=found[read.id].data["value"] + 10)
    assert outcome(store.write([mine], expected=hashes)) == (Outcome.UPDATED, None)
    found, hashes = store.get_with_hashes(aggregates, [read.id])
    store.write([doc(aggregates, "a", 2)])  # the other writer
    kind, _ = outcome(store.write([found[read.id].replace(value=20)], expected=hashes))
    assert kind is Outcome.CONFLICT and value_of(store, read) == 2


def test_a_document_moved_out_of_the_indices_read_gives_its_hash_only(
    store: Store, doc_class_factory: DocClassFactory
) -> None:
    """As ``get`` does not find it there, and ``hashes`` does (else its write would conflict
    for ever): the write's own read finds it wherever it is."""
    fields = {**FIELDS, "day": Field(FieldType.DATETIME, required=True)}
    dated = doc_class_factory("moving", fields, ("name",), ByDate("day", "%Y-%m"))
    february = dated.make({"name": "a", "value": 1, "day": "2024-02-03T00:00:00Z"})
    march = february.replace(day="2024-03-03T00:00:00Z")
    store.write([february])
    store.refresh(dated)
    found, hashes = store.get_with_hashes(dated, [february.id], [march.index])
    assert found == {} and list(hashes) == [february.id]
    assert outcome(store.write([march], expected=hashes)) == (Outcome.UPDATED, None)
