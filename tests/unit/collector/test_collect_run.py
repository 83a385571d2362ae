"""The collect pipeline's ordering guarantees: journal after durable write, leases, crash reruns,
and the embedded mode's outbox."""

from __future__ import annotations

import dataclasses
import gc
import os
import socket
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import chain_catalog
import pytest
from chain_catalog import CATALOG, DOUBLED, RAW, TRIPLED

from maas.bus.memory import CAPABILITIES, MemoryBroker, MemoryBus
from maas.collector import journal
from maas.collector.archive import Archive
from maas.collector.config import CollectorConfig
from maas.collector.journal import JOURNAL, JOURNAL_CLASSES, JOURNAL_SEEN, OUTBOX, acquire
from maas.collector.run import CollectorRun, Hooks, Target
from maas.config.settings import BusSettings, TLSSettings
from maas.engine.pool import Chain
from maas.engine.routing import load_routing
from maas.errors import LockHeldError
from maas.gc_pacing import GC_YOUNG_THRESHOLD
from maas.model import Document, DocumentClass
from maas.store.base import Expected, ItemResult, Modify, Outcome, WriteReport
from maas.store.duckdb import DuckDBStore

pytestmark = pytest.mark.unit


@pytest.fixture
def store(tmp_path: Path) -> DuckDBStore:
    store = DuckDBStore(tmp_path / "c.duckdb")
    store.setup([*CATALOG.models, *JOURNAL_CLASSES])
    yield store
    store.close()


def collector(inbox: Path, archive: bool = True, **source: str) -> CollectorConfig:
    return CollectorConfig.model_validate(
        {
            "id": "inbox",
            "interface_name": "Inbox",
            "model": "test-raw",
            "archive": archive,
            "source": {
                "type": "filesystem",
                "root": str(inbox),
                "patterns": ["*.csv"],
                "stable_checks": 0,
                **source,
            },
            "extract": {
                "format": "csv",
                "fields": {"name": {"path": "name"}, "value": {"path": "value", "type": "int"}},
            },
        }
    )


def inbox_with(tmp_path: Path, files: dict[str, str]) -> Path:
    """An inbox folder holding ``files`` (name: CSV text)."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name, text in files.items():
        (inbox / name).write_text(text)
    return inbox


def make_run(store: DuckDBStore, archive: Path) -> CollectorRun:
    target = Target(store, MemoryBus(MemoryBroker()), "collect", (), Archive(archive))
    return CollectorRun(target, CATALOG.models, TLSSettings())


class DurableBus(MemoryBus):
    """An in-process bus claiming a broker's durability (as RabbitMQ's)."""

    capabilities = dataclasses.replace(CAPABILITIES, persistent=True)


def test_crash_between_archive_and_write_leaves_no_gap_and_no_duplicate(
    tmp_path: Path, store: DuckDBStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = inbox_with(tmp_path, {"a.csv": "name,value\na,1\nb,2\n", "b.csv": "name,value\nc,3\n"})
    config = collector(inbox)
    real_write = store.write
    calls = {"n": 0}

    def crash_on_second_payload(docs: list[Document]) -> object:
        calls["n"] += any(doc.doc_class is RAW for doc in docs)  # the journal writes too
        if calls["n"] == 2:
            raise SystemExit("killed between archive and write")  # not a MaasError: nothing catches it
        return real_write(docs)

    monkeypatch.setattr(store, "write", crash_on_second_payload)
    with pytest.raises(SystemExit):
        make_run(store, tmp_path / "archive").run([config])
    assert len(list((tmp_path / "archive").rglob("*.gz"))) == 2  # both archived, one written
    monkeypatch.setattr(store, "write", real_write)
    (stats,) = make_run(store, tmp_path / "archive").run([config])
    assert stats.error is None
    assert stats.payloads == 1 and stats.created == 1  # only the payload whose write never happened
    assert {d.data["name"] for d in store.scan(RAW)} == {"a", "b", "c"}
    assert store.count(RAW) == 3
    assert len(list((tmp_path / "archive").rglob("*.gz"))) == 2  # same bytes: not archived twice
    (again,) = make_run(store, tmp_path / "archive").run([config])
    assert again.payloads == 0


@pytest.mark.parametrize("outcome", [Outcome.RETRYABLE, Outcome.CONFLICT])
def test_documents_not_written_yet_leave_their_payload_to_the_next_run(
    tmp_path: Path, store: DuckDBStore, monkeypatch: pytest.MonkeyPatch, outcome: Outcome
) -> None:
    inbox = inbox_with(tmp_path, {"a.csv": "name,value\na,1\n"})
    real_write = store.write

    def not_yet(docs: list[Document]) -> WriteReport:
        if docs[0].doc_class is not RAW:
            return real_write(docs)
        return WriteReport([ItemResult(d.id, d.index, outcome, "not now") for d in docs])

    monkeypatch.setattr(store, "write", not_yet)
    (failed,) = make_run(store, tmp_path / "archive").run([collector(inbox)])
    assert failed.error is not None and "1 document(s) not written: not now" in failed.error
    monkeypatch.setattr(store, "write", real_write)
    (again,) = make_run(store, tmp_path / "archive").run([collector(inbox)])
    assert (again.error, again.payloads, again.created) == (None, 1, 1)


def test_lease_blocks_a_live_holder_and_expires(store: DuckDBStore) -> None:
    acquire(store, "I", "c", timedelta(seconds=60), owner="otherhost:1:x")
    with pytest.raises(LockHeldError, match="being collected by otherhost:1:x"):
        acquire(store, "I", "c", timedelta(seconds=60))
    acquire(store, "J", "c", timedelta(seconds=-1), owner="otherhost:1:x")  # already expired
    assert acquire(store, "J", "c", timedelta(seconds=60)).owner != "otherhost:1:x"


def test_lease_of_a_dead_process_on_this_host_is_taken_over(store: DuckDBStore) -> None:
    dead = f"{socket.gethostname()}:4194303:x"  # above the default pid_max: never a live PID
    acquire(store, "I", "c", timedelta(hours=1), owner=dead)
    lease = acquire(store, "I", "c", timedelta(minutes=1))
    assert lease.owner != dead
    doc = store.get(JOURNAL, [lease.doc_id])[lease.doc_id]
    assert doc.data["lease_expires"] < datetime.now(UTC) + timedelta(minutes=2)


def test_a_failing_move_after_success_does_not_stop_the_run(
    tmp_path: Path, store: DuckDBStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from maas.collector.sources.filesystem import FilesystemSource
    from maas.errors import SourceRefused

    inbox = inbox_with(tmp_path, {"a.csv": "name,value\na,1\n", "b.csv": "name,value\nb,2\n"})

    def refuse(self: object, payload: object) -> None:
        raise SourceRefused("permission denied on the source")

    monkeypatch.setattr(FilesystemSource, "after_success", refuse)
    (stats,) = make_run(store, tmp_path / "archive").run([collector(inbox)])
    assert stats.error is None and stats.payloads == 2
    assert {d.data["name"] for d in store.scan(RAW)} == {"a", "b"}
    assert sum("not moved/deleted" in p for p in stats.problems) == 2
    (again,) = make_run(store, tmp_path / "archive").run([collector(inbox)])
    assert again.payloads == 0  # journaled: not collected twice


def test_bytes_the_archive_holds_already_count_as_reused_not_archived(
    tmp_path: Path, store: DuckDBStore
) -> None:
    inbox = inbox_with(tmp_path, {"a.csv": "name,value\na,1\n", "a_v2.csv": "name,value\na,1\n"})
    (stats,) = make_run(store, tmp_path / "archive").run([collector(inbox)])
    assert (stats.payloads, stats.archived, stats.reused) == (2, 1, 1)
    assert len(list((tmp_path / "archive").rglob("*.gz"))) == 1
    entries = Archive(tmp_path / "archive").entries()
    assert sorted(e.sidecar.name for e in entries if e.ok and e.sidecar) == ["a.csv", "a_v2.csv"]


@pytest.mark.parametrize("action", ["delete", "move"])
def test_rows_appended_while_a_file_is_processed_are_collected_at_the_next_run(
    tmp_path: Path, store: DuckDBStore, monkeypatch: pytest.MonkeyPatch, action: str
) -> None:
    """A producer appends after the read, before after_success: the file is not deleted nor moved
    with the late row in it (found nowhere else), so the next run collects it."""
    inbox = inbox_with(tmp_path, {"a.csv": "name,value\na,1\n"})
    config = collector(inbox, after_success=action, **({"move_to": "done"} if action == "move" else {}))
    real_write = store.write

    def append_while_writing(docs: list[Document]) -> WriteReport:
        if any(doc.doc_class is RAW for doc in docs) and "late" not in (inbox / "a.csv").read_text():
            with (inbox / "a.csv").open("a") as out:
                out.write("late,99\n")
        return real_write(docs)

    monkeypatch.setattr(store, "write", append_while_writing)
    (first,) = make_run(store, tmp_path / "archive").run([config])
    assert (inbox / "a.csv").exists() and not (inbox / "done/a.csv").exists()
    (second,) = make_run(store, tmp_path / "archive").run([config])
    assert (first.created, second.created, second.unchanged) == (1, 1, 1)
    assert sorted(d.data["name"] for d in store.scan(RAW)) == ["a", "late"]
    assert not (inbox / "a.csv").exists() and (inbox / "done/a.csv").exists() == (action == "move")


def test_run_after_a_failed_publish_publishes_the_unchanged_documents(
    tmp_path: Path, store: DuckDBStore
) -> None:
    from maas.bus.base import Envelope
    from maas.bus.topology import Binding, QueueSpec, Topology
    from maas.errors import BusUnavailable

    inbox = inbox_with(tmp_path, {"a.csv": "name,value\na,1\nb,2\n"})
    bus = DurableBus(MemoryBroker())  # a broker: what it confirmed waits for the engine pools
    bus.declare(Topology(("collect",), (QueueSpec("q", (Binding("collect", "*.test-raw"),)),)))

    def run() -> CollectorRun:
        return CollectorRun(
            Target(store, bus, "collect", ("*.test-raw",), Archive(tmp_path / "archive")),
            CATALOG.models,
            TLSSettings(),
        )

    real_publish = bus.publish

    def broker_down(envelopes: list[Envelope]) -> None:
        raise BusUnavailable("broker unreachable")

    bus.publish = broker_down  # type: ignore[method-assign]
    (failed,) = run().run([collector(inbox)])
    assert failed.error and store.count(RAW) == 2  # written, never announced
    bus.publish = real_publish  # type: ignore[method-assign]
    (recovered,) = run().run([collector(inbox)])
    assert recovered.error is None and recovered.unchanged == 2
    (delivery,) = bus.fetch(["q"], 10, 0)
    assert delivery.routing_key == "update.test-raw"
    assert set(delivery.message().document_ids) == {RAW.id_for("a"), RAW.id_for("b")}
    (quiet,) = run().run([collector(inbox)])  # a clean run after that stays quiet
    assert quiet.payloads == 0 and bus.fetch(["q"], 10, 0) == []


def test_published_messages_list_changed_documents_first_then_unchanged_ones(
    tmp_path: Path, store: DuckDBStore
) -> None:
    from maas.bus.topology import Binding, QueueSpec, Topology
    from maas.collector.run import CollectorStats
    from maas.collector.sources.base import Checkpoint, Payload

    bus = MemoryBus(MemoryBroker())
    bus.declare(Topology(("collect",), (QueueSpec("q", (Binding("collect", "*.test-raw"),)),)))
    run = CollectorRun(Target(store, bus, "collect", ("*.test-raw",), None), CATALOG.models, TLSSettings())
    config = collector(tmp_path)
    stats = CollectorStats(config.id, config.interface_name)

    def ingest(rows: str) -> dict[str, list[str]]:
        payload = Payload(
            "p.csv", f"name,value\n{rows}".encode(), "file:///x", Checkpoint(), datetime.now(UTC)
        )
        run.ingest(config, payload, stats)
        deliveries = bus.fetch(["q"], 10, 0)
        bus.ack(deliveries)
        return {d.routing_key: list(d.message().document_ids) for d in deliveries}

    ingest("a,1\nb,2\nc,3\n")
    ids = [RAW.id_for(name) for name in "abcd"]
    assert ingest("a,1\nb,20\nd,4\nc,30\n") == {
        "update.test-raw": [ids[1], ids[2], ids[0]],  # updated b and c, then unchanged a
        "new.test-raw": [ids[3]],
    }
    assert (stats.created, stats.updated, stats.unchanged) == (4, 2, 1)


def test_the_cycle_collector_is_paced_while_collectors_run_and_restored_after(
    tmp_path: Path, store: DuckDBStore
) -> None:
    """At the default pace it took a quarter of a collect's CPU (100,000 CSV records)."""
    inbox = inbox_with(tmp_path, {"a.csv": "name,value\na,1\n"})
    seen: list[int] = []

    class Watch(Hooks):
        def payload_done(self, *_: object) -> None:
            seen.append(gc.get_threshold()[0])

    before = gc.get_threshold()
    target = Target(store, MemoryBus(MemoryBroker()), "collect", (), Archive(tmp_path / "archive"))
    CollectorRun(target, CATALOG.models, TLSSettings(), hooks=Watch()).run([collector(inbox)])
    assert seen == [GC_YOUNG_THRESHOLD] and gc.get_threshold() == before


def test_a_kept_directory_is_journaled_in_bounded_steps_not_the_whole_set_per_file(
    tmp_path: Path, store: DuckDBStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal, "SEEN_FLUSH", 5)
    inbox = inbox_with(tmp_path, {f"f{i:02d}.csv": f"name,value\nn{i},{i}\n" for i in range(12)})
    entry_sizes: list[int] = []
    real_update = store.update

    def watching(doc_class: DocumentClass, ids: Sequence[str], modify: Modify) -> WriteReport:
        def recorded(current: Document | None) -> Document | None:
            new = modify(current)
            entry_sizes.append(len(new.data["state"].get("seen", {})) if new else 0)
            return new

        return real_update(doc_class, ids, recorded)

    monkeypatch.setattr(store, "update", watching)
    (stats,) = make_run(store, tmp_path / "archive").run([collector(inbox)])
    assert stats.payloads == 12
    assert max(entry_sizes) <= 5  # the entry never holds more than a flush: not 12, not growing
    assert store.count(JOURNAL_SEEN) == 10  # two flushes of five; two entries still pending
    doc_id = JOURNAL.id_for("Inbox", "inbox")
    assert len(store.get(JOURNAL, [doc_id])[doc_id].data["state"]["seen"]) == 2
    (again,) = make_run(store, tmp_path / "archive").run([collector(inbox)])
    assert again.payloads == 0  # documents and pending entries together: nothing collected twice


def test_files_gone_from_the_directory_leave_the_journal_and_come_back_as_new(
    tmp_path: Path, store: DuckDBStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal, "SEEN_FLUSH", 2)
    inbox = inbox_with(tmp_path, {"a.csv": "name,value\na,1\n", "b.csv": "name,value\nb,2\n"})
    make_run(store, tmp_path / "archive").run([collector(inbox)])
    (inbox / "a.csv").unlink()
    (inbox / "c.csv").write_text("name,value\nc,3\n")
    (stats,) = make_run(store, tmp_path / "archive").run([collector(inbox)])
    assert stats.payloads == 1
    assert [d.data["path"] for d in store.scan(JOURNAL_SEEN)] == ["b.csv"]  # a.csv's deleted
    (inbox / "a.csv").write_text("name,value\na,1\n")
    (back,) = make_run(store, tmp_path / "archive").run([collector(inbox)])
    assert back.payloads == 1  # forgotten, so collected again (onto the same document ids)
    assert store.count(RAW) == 3


def test_a_journal_written_with_its_seen_files_inside_is_migrated_once(
    tmp_path: Path, store: DuckDBStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = inbox_with(tmp_path, {"a.csv": "name,value\na,1\n", "b.csv": "name,value\nb,2\n"})
    listed = {p.name: p.stat() for p in inbox.iterdir()}
    legacy = {name: [st.st_size, st.st_mtime, "0" * 64] for name, st in listed.items()}
    store.write([JOURNAL.make({"interface": "Inbox", "collector_id": "inbox", "state": {"seen": legacy}})])
    (stats,) = make_run(store, tmp_path / "archive").run([collector(inbox)])
    assert stats.payloads == 0  # the old entries still count as seen
    (inbox / "c.csv").write_text("name,value\nc,3\n")
    monkeypatch.setattr(journal, "SEEN_FLUSH", 3)
    (more,) = make_run(store, tmp_path / "archive").run([collector(inbox)])
    assert more.payloads == 1
    assert sorted(d.data["path"] for d in store.scan(JOURNAL_SEEN)) == ["a.csv", "b.csv", "c.csv"]
    doc_id = JOURNAL.id_for("Inbox", "inbox")
    assert store.get(JOURNAL, [doc_id])[doc_id].data["state"]["seen"] == {}  # flushed on the first save


def test_a_file_whose_name_is_not_utf8_is_rejected_by_name_and_collected_once_renamed(
    tmp_path: Path, store: DuckDBStore
) -> None:
    inbox = inbox_with(tmp_path, {"a.csv": "name,value\na,1\n"})
    bad = os.path.join(os.fsencode(inbox), b"caf\xe9.csv")
    Path(os.fsdecode(bad)).write_text("name,value\nb,2\n")
    (stats,) = make_run(store, tmp_path / "archive").run([collector(inbox)])
    assert (stats.error, stats.payloads, stats.created, stats.rejected) == (None, 1, 1, 1)
    assert stats.problems == [
        r"file caf\xe9.csv: its name is not valid UTF-8 (byte 0xE9 at offset 3); rename it to collect it"
    ]
    assert os.path.exists(bad)  # left where it is, not moved, deleted or archived
    assert [e.sidecar.name for e in Archive(tmp_path / "archive").entries() if e.sidecar] == ["a.csv"]
    doc_id = JOURNAL.id_for("Inbox", "inbox")
    assert list(store.get(JOURNAL, [doc_id])[doc_id].data["state"]["seen"]) == ["a.csv"]  # not the bad one
    (again,) = make_run(store, tmp_path / "archive").run([collector(inbox)])
    assert (again.payloads, again.rejected) == (0, 1)  # reported at every pass until renamed
    os.rename(bad, inbox / "cafe.csv")
    (renamed,) = make_run(store, tmp_path / "archive").run([collector(inbox)])
    assert (renamed.payloads, renamed.created, renamed.rejected) == (1, 1, 0)
    assert {d.data["name"] for d in store.scan(RAW)} == {"a", "b"}


@pytest.mark.parametrize("after_success", ["move", "keep"])  # delete needs the archive (config)
def test_an_unreadable_payload_kept_nowhere_else_stays_on_the_source_and_out_of_the_journal(
    tmp_path: Path, store: DuckDBStore, after_success: str
) -> None:
    """archive: false: a rejection would journal it and move it out of the way, never read again."""
    inbox = inbox_with(tmp_path, {})
    (inbox / "latin1.csv").write_bytes("name,value\nJos\xe9,1\n".encode("latin-1"))
    moved = {"move_to": "done"} if after_success == "move" else {}
    config = collector(inbox, archive=False, after_success=after_success, **moved)
    (stats,) = make_run(store, tmp_path / "archive").run([config])
    assert stats.error is not None and stats.error.startswith("latin1.csv: line 2: not valid utf-8")
    assert "archive: false" in stats.error and "left on the source" in stats.error
    assert (inbox / "latin1.csv").exists() and not (tmp_path / "archive").exists()
    doc_id = JOURNAL.id_for("Inbox", "inbox")
    assert not store.get(JOURNAL, [doc_id])[doc_id].data["state"].get("seen")
    (inbox / "latin1.csv").write_text("name,value\nJosé,1\n")  # fixed at the source
    (fixed,) = make_run(store, tmp_path / "archive").run([config])
    assert (fixed.error, fixed.payloads, fixed.created) == (None, 1, 1)
    assert [d.data["name"] for d in store.scan(RAW)] == ["José"]


def test_an_unreadable_payload_that_is_archived_is_a_rejection_and_the_run_goes_on(
    tmp_path: Path, store: DuckDBStore
) -> None:
    """With the archive on, its bytes are kept for a replay after a fix: nothing is lost."""
    inbox = inbox_with(tmp_path, {"b.csv": "name,value\nb,2\n"})
    (inbox / "a.csv").write_bytes("name,value\nJos\xe9,1\n".encode("latin-1"))
    (stats,) = make_run(store, tmp_path / "archive").run([collector(inbox)])
    assert (stats.error, stats.payloads, stats.created, stats.rejected) == (None, 2, 1, 1)
    assert sorted(p.name for p in (tmp_path / "archive").rglob("*.gz")) == ["a.csv.gz", "b.csv.gz"]


# --- embedded mode: the in-process bus loses its messages with the process, the outbox does not.
# A process "killed" here is one whose broker is dropped before its chain ran (or ran to the
# end): the next run is a new CollectorRun on a new broker over the same store, as the next
# ``maas collect`` would be.

ROUTING = load_routing(CATALOG.routing_file, CATALOG.engines)
BUS = BusSettings()


class Process:
    """What one ``maas collect`` holds: a bus of its own, the collector run and the chain."""

    def __init__(self, store: DuckDBStore, archive: Path, bus: MemoryBus | None = None) -> None:
        self.bus = bus or MemoryBus(MemoryBroker())
        self.bus.declare(ROUTING.topology(BUS))
        target = Target(store, self.bus, BUS.collect_exchange, ROUTING.patterns("collect"), Archive(archive))
        self.run = CollectorRun(target, CATALOG.models, TLSSettings())
        pools = [
            chain_catalog.catalog_pool(ROUTING, name, self.bus, store, None, BUS) for name in ROUTING.pools
        ]
        self.chain = Chain(pools)

    def collect(self, config: CollectorConfig) -> None:
        (stats,) = self.run.run([config])
        assert stats.error is None, stats.error

    def run_chain(self) -> None:
        """The chain to idle, then what ``maas collect`` does next."""
        self.chain.run_until_idle()
        self.run.chain_idle()


def collected(store: DuckDBStore, tmp_path: Path, bus: MemoryBus | None = None) -> Process:
    """A new ``maas collect`` process over the same store, its collector run, its chain not yet."""
    process = Process(store, tmp_path / "archive", bus)
    process.collect(collector(tmp_path / "inbox"))
    return process


def derived(store: DuckDBStore) -> tuple[dict[str, int], dict[str, int]]:
    doubled = {d.data["name"]: d.data["doubled"] for d in store.scan(DOUBLED)}
    return doubled, {d.data["name"]: d.data["tripled"] for d in store.scan(TRIPLED)}


def test_a_run_killed_before_its_chain_leaves_its_messages_to_the_next_run(
    tmp_path: Path, store: DuckDBStore
) -> None:
    inbox_with(tmp_path, {"a.csv": "name,value\na,1\nb,2\n"})
    collected(store, tmp_path)  # journaled, then killed
    assert derived(store) == ({}, {})
    (tmp_path / "inbox" / "b.csv").write_text("name,value\nc,3\n")
    second = collected(store, tmp_path)
    second.run_chain()
    assert derived(store) == ({"a": 2, "b": 4, "c": 6}, {"a": 6, "b": 12, "c": 18})
    assert store.count(OUTBOX) == 0  # processed: the next run announces nothing again
    third = collected(store, tmp_path)
    assert third.chain.run_until_idle().deliveries == 0


def test_a_run_killed_inside_its_chain_is_finished_by_the_next_run(
    tmp_path: Path, store: DuckDBStore
) -> None:
    """The doubles were written, their reports lost with the process: the tripler never ran."""
    inbox_with(tmp_path, {"a.csv": "name,value\na,1\nb,2\n"})
    first = collected(store, tmp_path)
    doubler = next(pool for pool in first.chain.pools if pool.name == "doubler")
    doubler.step(timeout_s=0)
    assert derived(store) == ({"a": 2, "b": 4}, {})
    second = collected(store, tmp_path)
    second.run_chain()
    assert derived(store) == ({"a": 2, "b": 4}, {"a": 6, "b": 12})


def test_a_run_killed_after_its_chain_but_before_the_outbox_went_processes_again_and_loses_nothing(
    tmp_path: Path, store: DuckDBStore
) -> None:
    inbox_with(tmp_path, {"a.csv": "name,value\na,1\n"})
    first = collected(store, tmp_path)
    first.chain.run_until_idle()  # killed before chain_idle
    second = collected(store, tmp_path)
    steps = second.chain.run_until_idle()
    second.run.chain_idle()
    assert steps.deliveries == 2 and steps.dead_lettered == 0  # processed again, as a redelivery
    assert derived(store) == ({"a": 2}, {"a": 6}) and store.count(OUTBOX) == 0


def test_messages_announced_again_are_forced_so_every_engine_down_the_chain_reports(
    tmp_path: Path, store: DuckDBStore
) -> None:
    """Not only the first hop: the messages between the engines were lost with the process too."""
    inbox_with(tmp_path, {"a.csv": "name,value\na,1\nb,2\n"})
    collected(store, tmp_path)
    second = collected(store, tmp_path)
    (delivery,) = second.bus.fetch(["test.double"], 10, 0)
    message = delivery.message()
    assert message.force and set(message.document_ids) == {RAW.id_for("a"), RAW.id_for("b")}


def test_a_bus_that_keeps_its_messages_needs_no_outbox(tmp_path: Path, store: DuckDBStore) -> None:
    inbox_with(tmp_path, {"a.csv": "name,value\na,1\n"})
    collected(store, tmp_path, DurableBus(MemoryBroker()))
    assert store.count(OUTBOX) == 0


def test_an_outbox_that_cannot_be_written_keeps_the_journal_before_the_payload(
    tmp_path: Path, store: DuckDBStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox_with(tmp_path, {"a.csv": "name,value\na,1\n"})
    real_write = store.write

    def outbox_refused(docs: list[Document], **kwargs: Expected) -> WriteReport:
        if docs and docs[0].doc_class is OUTBOX:
            return WriteReport([ItemResult(d.id, d.index, Outcome.RETRYABLE, "disk full") for d in docs])
        return real_write(docs, **kwargs)

    monkeypatch.setattr(store, "write", outbox_refused)
    (failed,) = Process(store, tmp_path / "archive").run.run([collector(tmp_path / "inbox")])
    assert failed.error is not None and "outbox" in failed.error and "disk full" in failed.error
    monkeypatch.setattr(store, "write", real_write)
    second = Process(store, tmp_path / "archive")
    (again,) = second.run.run([collector(tmp_path / "inbox")])
    assert (again.error, again.payloads) == (None, 1)  # not journaled: collected again
    second.run_chain()
    assert derived(store) == ({"a": 2}, {"a": 6})
