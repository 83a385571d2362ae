"""OpenSearchStore against the real OpenSearch: what the contract suite cannot see.

Requests are observed through a thin transport hook (a real HTTP connection that notes each
request and may run a hook just before sending it), never through a mock: every answer asserted
on here came from the server. Each test works under its own family prefix and removes its
indices and templates afterwards.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from opensearchpy import OpenSearch, Urllib3HttpConnection
from services import missing

from maas.errors import StoreUnavailable
from maas.model import ByDate, Document, DocumentClass, Field, FieldType, NoPartition, Partition
from maas.store._bulk import RetryPolicy, classify
from maas.store.base import Outcome, Range, Term
from maas.store.opensearch import OpenSearchStore

pytestmark = pytest.mark.integration

T = FieldType
BULK_ACTIONS = ("create", "index", "update", "delete")


# --- the transport hook ------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    body: bytes

    def bulk_ops(self) -> list[tuple[str, str]]:
        """(action, id) of each operation of a ``_bulk`` body."""
        ops, lines = [], iter(self.body.splitlines())
        for line in lines:
            action, meta = next(iter(json.loads(line).items()))
            assert action in BULK_ACTIONS, line
            ops.append((action, meta["_id"]))
            if action != "delete":
                next(lines)  # the source line
        return ops


@dataclass
class Recorder:
    requests: list[Request] = field(default_factory=list)
    # (method, path suffix, action): run once, just before the first matching request is sent
    hooks: list[tuple[str, str, Callable[[], object]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, method: str, path: str, body: Any) -> None:
        raw = body if isinstance(body, bytes) else (body or "").encode()
        with self.lock:
            self.requests.append(Request(method, path, raw))
            due = [h for h in self.hooks if h[0] == method and path.endswith(h[1])]
            for hook in due:
                self.hooks.remove(hook)
        for _, _, action in due:
            action()

    def before(self, method: str, path_suffix: str, action: Callable[[], object]) -> None:
        self.hooks.append((method, path_suffix, action))

    def bulks(self) -> list[list[tuple[str, str]]]:
        return [r.bulk_ops() for r in self.requests if r.path.endswith("/_bulk")]

    def paths(self, method: str | None = None) -> list[str]:
        return [r.path for r in self.requests if method in (None, r.method)]

    def clear(self) -> None:
        self.requests.clear()


class RecordingConnection(Urllib3HttpConnection):
    """The client's real urllib3 connection; it only tells the recorder what it sends."""

    def __init__(self, *args: Any, recorder: Recorder, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.recorder = recorder

    def perform_request(
        self, method: str, url: str, params: Any = None, body: Any = None, *args: Any, **kwargs: Any
    ) -> Any:
        self.recorder.note(method, url, body)
        return super().perform_request(method, url, params, body, *args, **kwargs)


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def prefix(opensearch_url: str) -> Iterator[str]:
    name = f"it{uuid.uuid4().hex[:12]}"
    yield name
    client = OpenSearch(hosts=[opensearch_url], max_retries=0)
    try:
        client.indices.delete(index=f"{name}-*", ignore_unavailable=True)  # blocks do not stop it
        found = client.indices.get_index_template(name=f"{name}-*", ignore=404)
        for template in found.get("index_templates", []):
            client.indices.delete_index_template(name=template["name"])
    finally:
        client.close()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(opensearch_url: str, recorder: Recorder) -> Iterator[OpenSearch]:
    client = OpenSearch(
        hosts=[opensearch_url],
        connection_class=RecordingConnection,
        recorder=recorder,
        max_retries=0,
        timeout=60,
    )
    yield client
    client.close()


@pytest.fixture
def admin(opensearch_url: str) -> Iterator[OpenSearch]:
    """A second, unobserved client: what a test does to the cluster is not a store request."""
    client = OpenSearch(hosts=[opensearch_url], max_retries=0, timeout=60)
    yield client
    client.close()


@pytest.fixture
def other_writer(opensearch_url: str) -> Iterator[OpenSearchStore]:
    """A second writer on its own connection, unobserved: the competitor in a race."""
    store = OpenSearchStore(OpenSearch(hosts=[opensearch_url], max_retries=0))
    yield store
    store.close()


Store = Callable[..., OpenSearchStore]


@pytest.fixture
def make_store(client: OpenSearch) -> Store:
    """Stores on the observed client (closed with it), with the options a test needs."""

    def make(**options: Any) -> OpenSearchStore:
        return OpenSearchStore(client, **options)

    return make


def items_class(prefix: str, partition: Partition | None = None, **extra: Field) -> DocumentClass:
    fields = {
        "name": Field(T.KEYWORD, required=True),
        "count": Field(T.INTEGER),
        "title": Field(T.TEXT),
        "at": Field(T.DATETIME),
        "blob": Field(T.OBJECT),
        **extra,
    }
    return DocumentClass("Item", f"{prefix}-item", fields, ("name",), partition or NoPartition())


def item(doc_class: DocumentClass, i: int, **extra: Any) -> Document:
    raw = {
        "name": f"n{i:05d}",
        "count": i,
        "title": f"Item number {i}",
        "at": datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=i),
    }
    return doc_class.make(raw | extra)


def bypassing_model(doc: Document, **data: Any) -> Document:
    """What a buggy engine hands over: values the model never checked."""
    return Document(doc.doc_class, doc.id, doc.index, {**doc.data, **data})


def outcomes(report: Any) -> dict[str, Outcome]:
    return {i.id: i.outcome for i in report.items}


# --- templates ---------------------------------------------------------------------------------


def test_setup_installs_the_template_once(
    make_store: Store, recorder: Recorder, admin: OpenSearch, prefix: str
) -> None:
    doc_class = items_class(prefix)
    make_store().setup([doc_class])
    found = admin.indices.get_index_template(name=doc_class.family)["index_templates"][0]["index_template"]
    assert found["index_patterns"] == [f"{doc_class.family}-*"]
    assert set(found["template"]["aliases"]) == {doc_class.family}
    mappings = found["template"]["mappings"]
    assert mappings["dynamic"] == "strict"
    assert {"maas_hash", "maas_id", "name", "title"} <= set(mappings["properties"])

    recorder.clear()
    make_store().setup([doc_class])  # a fresh store: nothing memoised, it has to ask the server
    assert recorder.paths("PUT") == []
    assert recorder.paths() == [f"/_index_template/{doc_class.family}"]


def test_a_grown_model_reaches_the_existing_indices(make_store: Store, prefix: str) -> None:
    """Without extending the live mapping, ``dynamic: strict`` would refuse the new field."""
    store = make_store()
    store.write([item(items_class(prefix), 1)])
    grown = items_class(prefix, origin=Field(T.KEYWORD))
    store.setup([grown])
    report = store.write([item(grown, 2, origin="PRIP")])
    assert report.counts() == {Outcome.CREATED: 1}
    assert report.items[0].index == f"{grown.family}-all"


# --- classification against the live server ----------------------------------------------------


def test_mapping_violations_are_permanent_with_the_server_reason(make_store: Store, prefix: str) -> None:
    doc_class = items_class(prefix)
    good = item(doc_class, 1)
    wrong_type = bypassing_model(item(doc_class, 2), count="many")
    unknown_field = bypassing_model(item(doc_class, 3), colour="red")
    report = make_store().write([good, wrong_type, unknown_field])
    by_id = {i.id: i for i in report.items}
    assert by_id[good.id].outcome is Outcome.CREATED
    assert by_id[wrong_type.id].outcome is Outcome.PERMANENT
    assert "mapper_parsing_exception" in str(by_id[wrong_type.id].reason)
    assert "failed to parse field [count] of type [integer]" in str(by_id[wrong_type.id].reason)
    assert by_id[unknown_field.id].outcome is Outcome.PERMANENT
    assert "strict_dynamic_mapping_exception" in str(by_id[unknown_field.id].reason)
    assert "[colour]" in str(by_id[unknown_field.id].reason)


def test_thousand_documents_three_wrong_typed_nothing_retried_or_lost(
    make_store: Store, recorder: Recorder, admin: OpenSearch, prefix: str
) -> None:
    doc_class = items_class(prefix)
    docs = [item(doc_class, i) for i in range(1000)]
    bad = {17: "x", 500: 1.5e12, 998: "true?"}  # not a number; out of range; not a number
    for position, value in bad.items():
        docs[position] = bypassing_model(docs[position], count=value)
    report = make_store().write(docs)

    assert report.counts() == {Outcome.CREATED: 997, Outcome.PERMANENT: 3}
    assert {i.id for i in report.failed} == {docs[p].id for p in bad}
    assert all("[count]" in str(i.reason) for i in report.failed)
    [bulk] = recorder.bulks()  # one request: every item went exactly once, none was resent
    assert sorted(doc_id for _, doc_id in bulk) == sorted(d.id for d in docs)
    admin.indices.refresh(index=doc_class.family)
    assert admin.count(index=doc_class.family)["count"] == 997


RECORDED = "tests/unit/store/data/opensearch_bulk_items.json"


def capture_bulk_items(client: OpenSearch, index: str) -> dict[str, dict[str, Any]]:
    """The bulk answers the classifier is unit-tested on, produced live (see ``RECORDED``)."""
    client.indices.create(
        index=index,
        body={
            "settings": {"number_of_shards": 1, "number_of_replicas": 0},
            "mappings": {"dynamic": "strict", "properties": {"n": {"type": "integer"}}},
        },
    )

    def one(*lines: dict[str, Any]) -> dict[str, Any]:
        return dict(client.bulk(body=list(lines))["items"][0])

    meta = {"_index": index, "_id": "a"}
    items = {"created": one({"create": meta}, {"n": 1})}
    items["updated"] = one({"index": {**meta, "if_seq_no": 0, "if_primary_term": 1}}, {"n": 2})
    items["create_conflict"] = one({"create": meta}, {"n": 1})
    items["seq_no_conflict"] = one({"index": {**meta, "if_seq_no": 0, "if_primary_term": 1}}, {"n": 3})
    items["mapper_parsing"] = one({"create": {**meta, "_id": "b"}}, {"n": "x"})
    items["integer_out_of_range"] = one({"create": {**meta, "_id": "b"}}, {"n": 99999999999})
    items["strict_dynamic"] = one({"create": {**meta, "_id": "b"}}, {"zz": 1})
    for block in ("index.blocks.write", "index.blocks.read_only_allow_delete"):
        client.indices.put_settings(index=index, body={block: True})
        items[block] = one({"create": {**meta, "_id": "c"}}, {"n": 1})
        client.indices.put_settings(index=index, body={block: None})
    items["deleted"] = one({"delete": meta})
    items["delete_not_found"] = one({"delete": meta})
    return items


def test_recorded_bulk_items_are_what_the_server_answers(admin: OpenSearch, prefix: str) -> None:
    """Keeps the unit test's recordings honest: same status, same error type, same verdict."""
    live = capture_bulk_items(admin, f"{prefix}-capture")
    with open(RECORDED) as recorded_file:
        recorded = json.load(recorded_file)["items"]
    assert set(live) == set(recorded)
    for name, item_ in live.items():
        body, was = next(iter(item_.values())), next(iter(recorded[name].values()))
        assert (body["status"], body.get("error", {}).get("type")) == (
            was["status"],
            was.get("error", {}).get("type"),
        ), name
        assert classify(item_).verdict == classify(recorded[name]).verdict, name


# --- retryable items: bounded, and only those resent ---------------------------------------------


@pytest.mark.parametrize("block", ["index.blocks.write", "index.blocks.read_only_allow_delete"])
def test_blocked_index_is_retried_within_the_bound_then_reported_retryable(
    make_store: Store, recorder: Recorder, admin: OpenSearch, prefix: str, block: str
) -> None:
    doc_class = items_class(prefix)
    sleeps = Sleeps()
    store = make_store(retry=RetryPolicy(attempts=3, initial_s=0.01, sleep=sleeps))
    docs = [item(doc_class, i) for i in range(5)]
    store.write(docs[:1])  # the index exists, now block it
    admin.indices.put_settings(index=doc_class.family, body={block: True})
    recorder.clear()

    report = store.write([docs[0].replace(count=-1), *docs[1:]])

    assert report.counts() == {Outcome.RETRYABLE: 5}
    assert all("cluster_block_exception" in str(i.reason) for i in report.items)
    bulks = recorder.bulks()
    assert len(bulks) == 3 and all(len(ops) == 5 for ops in bulks)
    assert len(sleeps.seconds) == 2 and sleeps.seconds[0] <= sleeps.seconds[1]  # backoff grows


def test_only_the_retryable_items_are_resent_and_then_written(
    make_store: Store, recorder: Recorder, admin: OpenSearch, prefix: str
) -> None:
    """One partition is blocked, the other is not: the second attempt carries only the blocked
    items, and succeeds because the block is lifted during the backoff."""
    doc_class = items_class(prefix, ByDate("at", "%Y-%m"))
    jan, feb = item(doc_class, 1), item(doc_class, 24 * 40)
    sleeps = Sleeps()
    store = make_store(retry=RetryPolicy(attempts=3, initial_s=0.01, sleep=sleeps))
    store.write([jan, feb])
    admin.indices.put_settings(index=jan.index, body={"index.blocks.write": True})
    sleeps.on_first = lambda: admin.indices.put_settings(index=jan.index, body={"index.blocks.write": None})
    recorder.clear()

    report = store.write([jan.replace(count=-1), feb.replace(count=-2)])

    assert outcomes(report) == {jan.id: Outcome.UPDATED, feb.id: Outcome.UPDATED}
    assert [[doc_id for _, doc_id in ops] for ops in recorder.bulks()] == [[jan.id, feb.id], [jan.id]]
    assert len(sleeps.seconds) == 1


def test_a_request_the_server_rejects_as_a_whole_makes_each_item_retryable(
    make_store: Store, recorder: Recorder, admin: OpenSearch, prefix: str
) -> None:
    """A bulk larger than the node's indexing-pressure limit is refused with 429
    ``rejected_execution_exception`` before anything is applied (real back-pressure)."""
    stats = admin.nodes.stats(metric="indexing_pressure")
    limit = min(n["indexing_pressure"]["memory"]["limit_in_bytes"] for n in stats["nodes"].values())
    if limit > 256 * 2**20:
        missing(f"indexing pressure limit {limit} bytes is too large to exceed in a test")
    doc_class = items_class(prefix)
    pad = "x" * 2**20
    docs = [item(doc_class, i, blob={"pad": pad}) for i in range(limit // 2**20 + 2)]
    retry = RetryPolicy(attempts=2, initial_s=0.01, sleep=Sleeps())
    store = make_store(bulk_max_bytes=2 * limit, retry=retry)

    report = store.write(docs)

    assert report.counts() == {Outcome.RETRYABLE: len(docs)}
    assert "rejected_execution_exception" in str(report.items[0].reason)
    assert [len(ops) for ops in recorder.bulks()] == [len(docs), len(docs)]
    assert admin.count(index=doc_class.family, ignore_unavailable=True, allow_no_indices=True)["count"] == 0


@dataclass
class Sleeps:
    """The retry policy's sleep: notes the backoff instead of waiting, may act on the first."""

    seconds: list[float] = field(default_factory=list)
    on_first: Callable[[], Any] | None = None

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)
        if self.on_first and len(self.seconds) == 1:
            self.on_first()


# --- two writers -------------------------------------------------------------------------------


def test_create_that_loses_the_race_is_re_read_and_becomes_an_update(
    make_store: Store, recorder: Recorder, other_writer: OpenSearchStore, prefix: str
) -> None:
    """Writer A reads (absent), writer B creates the document, A's ``create`` answers 409: A
    re-reads and overwrites conditionally, and says UPDATED, not CREATED."""
    doc_class = items_class(prefix)
    mine, theirs = item(doc_class, 1, title="mine"), item(doc_class, 1, title="theirs")
    recorder.before("POST", "/_bulk", lambda: other_writer.write([theirs]))

    report = make_store().write([mine])

    assert outcomes(report) == {mine.id: Outcome.UPDATED}
    actions = [[action for action, _ in ops] for ops in recorder.bulks()]
    assert actions == [["create"], ["index"]]  # the second one carries if_seq_no
    assert other_writer.get(doc_class, [mine.id])[mine.id].data["title"] == "mine"


def test_a_lost_race_with_the_same_content_is_unchanged(
    make_store: Store, recorder: Recorder, other_writer: OpenSearchStore, prefix: str
) -> None:
    doc_class = items_class(prefix)
    doc = item(doc_class, 1)
    recorder.before("POST", "/_bulk", lambda: other_writer.write([doc]))
    assert outcomes(make_store().write([doc])) == {doc.id: Outcome.UNCHANGED}
    assert len(recorder.bulks()) == 1


def test_read_modify_write_redoes_its_change_on_top_of_the_other_writer(
    make_store: Store, other_writer: OpenSearchStore, prefix: str
) -> None:
    doc_class = items_class(prefix)
    store = make_store()
    doc = item(doc_class, 1, title="v0")
    store.write([doc])
    seen: list[str] = []

    def append_b(current: Document | None) -> Document | None:
        return current.replace(title=current.data["title"] + "+B") if current else None

    def append_a(current: Document | None) -> Document | None:
        assert current is not None
        seen.append(current.data["title"])
        if len(seen) == 1:  # the other writer slips in between our read and our write
            other_writer.update(doc_class, [doc.id], append_b)
        return current.replace(title=current.data["title"] + "+A")

    report = store.update(doc_class, [doc.id], append_a)

    assert outcomes(report) == {doc.id: Outcome.UPDATED}
    assert seen == ["v0", "v0+B"]
    assert store.get(doc_class, [doc.id])[doc.id].data["title"] == "v0+B+A"


def test_an_expectation_met_by_the_read_but_not_by_the_write_is_a_conflict(
    make_store: Store, recorder: Recorder, other_writer: OpenSearchStore, prefix: str
) -> None:
    """The other writer slips in between the store's own read and its conditional write: the
    409 makes it read again, see the changed hash, and write nothing (the check is atomic)."""
    doc_class = items_class(prefix)
    store = make_store()
    old = item(doc_class, 1, title="v0")
    store.write([old])
    expected = store.hashes(doc_class, [old.id])
    recorder.clear()
    recorder.before("POST", "/_bulk", lambda: other_writer.write([item(doc_class, 1, title="theirs")]))

    report = store.write([item(doc_class, 1, title="mine")], expected=expected)

    assert outcomes(report) == {old.id: Outcome.CONFLICT}
    assert report.conflicts and old.id in (report.conflicts[0].reason or "")
    assert [[action for action, _ in ops] for ops in recorder.bulks()] == [["index"]]
    assert store.get(doc_class, [old.id])[old.id].data["title"] == "theirs"


def test_an_expected_absent_document_created_meanwhile_is_a_conflict(
    make_store: Store, recorder: Recorder, other_writer: OpenSearchStore, prefix: str
) -> None:
    doc_class = items_class(prefix)
    mine = item(doc_class, 1, title="mine")
    recorder.before("POST", "/_bulk", lambda: other_writer.write([item(doc_class, 1, title="theirs")]))
    report = make_store().write([mine], expected={mine.id: None})
    assert outcomes(report) == {mine.id: Outcome.CONFLICT}
    assert other_writer.get(doc_class, [mine.id])[mine.id].data["title"] == "theirs"


def test_hashes_of_a_moving_document_are_found_beyond_the_given_index(
    make_store: Store, admin: OpenSearch, prefix: str
) -> None:
    """As the write's own read does: a document whose partition may change is also looked for
    in the family's other indices (a search, after a refresh)."""
    doc_class = items_class(prefix, ByDate("at"))
    store = make_store()
    doc = item(doc_class, 1)
    store.write([doc])
    admin.indices.refresh(index=f"{prefix}-*")
    elsewhere = f"{doc_class.family}-1999-01"
    assert list(store.hashes(doc_class, [doc.id], [elsewhere])) == [doc.id]


# --- change detection paths --------------------------------------------------------------------


def test_all_new_batches_skip_the_read_and_existing_ones_still_come_out_unchanged(
    make_store: Store, recorder: Recorder, admin: OpenSearch, prefix: str
) -> None:
    doc_class = items_class(prefix)
    store = make_store(bulk_max_docs=100)
    docs = [item(doc_class, i) for i in range(300)]
    assert store.write(docs).counts() == {Outcome.CREATED: 300}
    reads = [p for p in recorder.paths() if p.endswith("/_mget")]
    assert len(reads) == 1 and len(recorder.bulks()) == 3  # only the first batch was read

    versions = _seq_nos(admin, doc_class)
    recorder.clear()
    again = store.write(docs)  # the family is now "all new": the first batch learns otherwise
    assert again.counts() == {Outcome.UNCHANGED: 300}
    assert _seq_nos(admin, doc_class) == versions  # refused creates wrote nothing
    assert len(recorder.bulks()) == 1  # then read-first again: no more blind creates


def _seq_nos(admin: OpenSearch, doc_class: DocumentClass) -> dict[str, int]:
    admin.indices.refresh(index=doc_class.family)
    hits = admin.search(
        index=doc_class.family, body={"size": 1000, "seq_no_primary_term": True, "_source": False}
    )["hits"]["hits"]
    return {hit["_id"]: hit["_seq_no"] for hit in hits}


def test_a_document_that_changes_partition_leaves_no_copy_behind(
    make_store: Store, admin: OpenSearch, prefix: str
) -> None:
    doc_class = items_class(prefix, ByDate("at", "%Y-%m"))
    store = make_store()
    jan = item(doc_class, 1)
    store.write([jan])
    store.refresh(doc_class)  # the old copy is found through the alias
    feb = jan.replace(at="2024-02-10T00:00:00Z")
    report = store.write([feb])
    assert [(i.outcome, i.index) for i in report.items] == [(Outcome.UPDATED, f"{doc_class.family}-2024-02")]
    store.refresh(doc_class)
    assert store.count(doc_class) == 1
    assert admin.count(index=jan.index)["count"] == 0


def test_get_by_message_indices_is_realtime(make_store: Store, prefix: str) -> None:
    """A consumer reads what was just written, before any refresh, with the ids and indices
    the message carries (parallel lists, two partitions)."""
    doc_class = items_class(prefix, ByDate("at", "%Y-%m"))
    store = make_store()
    docs = [item(doc_class, 1), item(doc_class, 24 * 40)]
    report = store.write(docs)
    got = store.get(doc_class, [i.id for i in report.items], [i.index for i in report.items])
    assert {d.id: d.data for d in got.values()} == {d.id: d.data for d in docs}
    assert len({d.index for d in got.values()}) == 2


# --- reads -------------------------------------------------------------------------------------


def test_scan_closes_its_point_in_time_even_when_abandoned(
    make_store: Store, recorder: Recorder, prefix: str
) -> None:
    doc_class = items_class(prefix)
    store = make_store()
    store.write([item(doc_class, i) for i in range(30)])
    store.refresh(doc_class)
    recorder.clear()
    scan = store.scan(doc_class, batch_size=10)
    first = [next(scan) for _ in range(12)]
    scan.close()
    assert [d.id for d in first] == sorted(d.id for d in first)
    pits = [r for r in recorder.requests if "point_in_time" in r.path]
    assert [r.method for r in pits] == ["POST", "DELETE"]


def test_find_beyond_the_result_window_pages_and_text_filters_are_exact(
    make_store: Store, prefix: str
) -> None:
    doc_class = items_class(prefix)
    store = make_store()
    store.write([item(doc_class, i) for i in range(10_005)])
    store.refresh(doc_class)
    found = store.find(doc_class, [Range("count", gte=2)], sort=[("count", "desc")], limit=10_001)
    assert [d.data["count"] for d in found[:2]] == [10_004, 10_003] and len(found) == 10_001
    assert [d.data["count"] for d in store.find(doc_class, [Term("title", "Item number 7")])] == [7]


# --- the boundary ------------------------------------------------------------------------------


def test_an_unreachable_cluster_is_store_unavailable(prefix: str) -> None:
    store = OpenSearchStore(OpenSearch(hosts=["http://127.0.0.1:9"], max_retries=0, timeout=2))
    doc_class = items_class(prefix)
    with pytest.raises(StoreUnavailable) as caught:
        store.write([item(doc_class, 1)])
    assert caught.value.transient
    with pytest.raises(StoreUnavailable):
        store.get(doc_class, [doc_class.id_for("n00001")])
