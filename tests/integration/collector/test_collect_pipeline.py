"""Issue #5's acceptance, end to end: the real collect pipeline against the real servers and stores.

Each source type (filesystem, SFTP on sshd, FTP on pyftpdlib, OData v4 and v2, an HTTP JSON API)
is collected by ``CollectorRun`` — archive, extract, validate, write, publish (on the in-process
bus; publishing on RabbitMQ is the bus contract's), journal — into a DuckDB file and into the live
OpenSearch; a second run must find nothing new. Then the gates
that only matter end to end: a file still being written, a collector SIGKILLed between archive
and write (``maas collect`` in a subprocess, rerun), and hostile remote names. Last, the
filesystem and FTPS example collectors of ``cds/config/collectors/`` run on the samples their
comments document.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from collect_catalog import CATALOG, PRODUCT
from servers.ftp import FtpServer
from servers.json_api import JsonApi
from servers.odata import ODataService, load_records
from servers.pki import Pki
from servers.sshd import Sshd
from servers.web import AppServer

from cds.models import MODELS, RAW_MP_DATATAKE
from maas.bus.memory import MemoryBroker, MemoryBus
from maas.bus.message import Message
from maas.bus.topology import Binding, QueueSpec, Topology
from maas.collector.archive import Archive, ArchivedEntry, read_archive
from maas.collector.config import CollectorConfig, load_collector_file
from maas.collector.journal import JOURNAL, JOURNAL_CLASSES
from maas.collector.run import CollectorRun, CollectorStats, Target
from maas.config import Settings
from maas.config.settings import TLSSettings
from maas.model import ModelRegistry
from maas.store.base import Store, Term
from maas.store.factory import create_store, opensearch_client

pytestmark = pytest.mark.integration
TESTS = Path(__file__).resolve().parents[2]
FAST = {"stable_checks": 1, "stable_interval_s": 0.05}
FTP_PASSWORD = "s3cret-ftp"  # tests/servers/ftp.py's default
ODATA_BASIC = ("maas", "odata-pw-7d1")
HTTP_TOKEN = "http-token-4c9"


# --- what each source serves, and what the pipeline must make of it ---------------------------


@dataclass(frozen=True)
class Sample:
    """A collector on a live server, the documents it must produce and what the archive must hold."""

    collector: CollectorConfig
    expected: dict[str, dict[str, Any]]  # document id -> data
    payloads: int
    url_prefix: str  # every sidecar's source_url starts here
    files: dict[str, tuple[bytes, str]] | None = None  # file sources: name -> (bytes, source URL)
    secret: str | None = None  # must appear in no sidecar


def product(i: int) -> dict[str, Any]:
    return {
        "product_id": f"P{i:03d}",
        "name": f"S1A_IW_GRDH_1SDV_20240309T{i:06d}_{i:03d}",
        "published": datetime(2024, 3, 9, 10, 0, tzinfo=UTC) + timedelta(minutes=i),
        "size": 1000 + i,
    }


def expected_of(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {PRODUCT.id_for(r["product_id"]): r for r in rows}


def csv_bytes(rows: list[dict[str, Any]]) -> bytes:
    lines = ["product_id,name,published,size"]
    lines += [f"{r['product_id']},{r['name']},{r['published'].isoformat()},{r['size']}" for r in rows]
    return ("\n".join(lines) + "\n").encode()


def xml_bytes(rows: list[dict[str, Any]]) -> bytes:
    items = "".join(
        f'<product id="{r["product_id"]}"><name>{r["name"]}</name>'
        f"<published>{r['published'].isoformat()}</published><size>{r['size']}</size></product>\n"
        for r in rows
    )
    return f"<?xml version='1.0'?>\n<products>\n{items}</products>\n".encode()


def fields(id_: str, name: str, published: str | None, size: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "product_id": {"path": id_, "required": True},
        "name": {"path": name, "required": True},
    }
    if published:
        out["published"] = {"path": published, "type": "datetime"}
    return out | {"size": {"path": size, "type": "int"}}


CSV_EXTRACT = {"format": "csv", "fields": fields("product_id", "name", "published", "size")}
XML_EXTRACT = {"format": "xml", "record": "product", "fields": fields("@id", "name", "published", "size")}


def collector_data(
    interface: str, kind: str, source: dict[str, Any], extract: dict[str, Any]
) -> dict[str, Any]:
    """A collector as its file holds it."""
    return {
        "id": f"pipeline-{kind}",
        "interface_name": interface,
        "source": source,
        "extract": extract,
        "model": PRODUCT.family,
    }


def collector(interface: str, kind: str, source: dict[str, Any], extract: dict[str, Any]) -> CollectorConfig:
    return CollectorConfig.model_validate(collector_data(interface, kind, source, extract))


def put_files(root: Path, content: Callable[[list[dict[str, Any]]], bytes], ext: str) -> dict[str, bytes]:
    """Two files of three products, one in a subdirectory (the sources list recursively)."""
    files = {f"S1A_batch_1.{ext}": content([product(i) for i in (1, 2, 3)])}
    files[f"2024/S1A_batch_2.{ext}"] = content([product(i) for i in (4, 5, 6)])
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return files


FILE_ROWS = expected_of([product(i) for i in range(1, 7)])


def filesystem_sample(request: pytest.FixtureRequest, tmp_path: Path, interface: str) -> Sample:
    inbox = tmp_path / "inbox"
    files = put_files(inbox, csv_bytes, "csv")
    source = {"type": "filesystem", "root": str(inbox), "patterns": ["*.csv"], "recursive": True, **FAST}
    urls = {n: (d, (inbox / n).resolve().as_uri()) for n, d in files.items()}
    return Sample(collector(interface, "fs", source, CSV_EXTRACT), FILE_ROWS, 2, "file:///", urls)


def sftp_sample(request: pytest.FixtureRequest, tmp_path: Path, interface: str) -> Sample:
    sshd: Sshd = request.getfixturevalue("sshd")
    remote = tmp_path / "outbox"
    files = put_files(remote, xml_bytes, "xml")
    source = {
        "type": "sftp",
        "host": "127.0.0.1",
        "port": sshd.port,
        "username": "root",
        "key_file": str(sshd.client_key),
        "known_hosts": str(request.getfixturevalue("known_hosts")),
        "root": str(remote),
        "patterns": ["*.xml"],
        "recursive": True,
        **FAST,
    }
    prefix = f"sftp://root@127.0.0.1:{sshd.port}{remote}/"
    urls = {n: (d, prefix + n) for n, d in files.items()}
    return Sample(collector(interface, "sftp", source, XML_EXTRACT), FILE_ROWS, 2, prefix, urls)


def ftp_sample(request: pytest.FixtureRequest, tmp_path: Path, interface: str) -> Sample:
    server: FtpServer = request.getfixturevalue("ftp_server")
    request.getfixturevalue("monkeypatch").setenv("MAAS_TEST_FTP_PASSWORD", FTP_PASSWORD)
    root: Path = request.getfixturevalue("ftp_root")
    files = put_files(root / "incoming", csv_bytes, "csv")
    source = {
        "type": "ftp",
        "host": "127.0.0.1",
        "port": server.port,
        "username": server.user,
        "password": "env:MAAS_TEST_FTP_PASSWORD",
        "root": "/incoming",
        "patterns": ["*.csv"],
        "recursive": True,
        **FAST,
    }
    prefix = f"ftp://{server.user}@127.0.0.1:{server.port}/incoming/"
    urls = {n: (d, prefix + n) for n, d in files.items()}
    sample = collector(interface, "ftp", source, CSV_EXTRACT)
    return Sample(sample, FILE_ROWS, 2, prefix, urls, secret=FTP_PASSWORD)


def odata_rows(published: bool) -> dict[str, dict[str, Any]]:
    rows = [
        {"product_id": r["Id"], "name": r["Name"], "size": r["ContentLength"]}
        | ({"published": datetime.fromisoformat(r["PublicationDate"])} if published else {})
        for r in load_records()
    ]
    return expected_of(rows)


def odata_v4_sample(request: pytest.FixtureRequest, tmp_path: Path, interface: str) -> Sample:
    service: ODataService = request.getfixturevalue("odata")
    service.basic = ODATA_BASIC
    request.getfixturevalue("monkeypatch").setenv("MAAS_TEST_ODATA_PASSWORD", ODATA_BASIC[1])
    source = {
        "type": "odata",
        "service_url": service.v4_url,
        "entity_set": "Products",
        "auth": {"type": "basic", "username": ODATA_BASIC[0], "password": "env:MAAS_TEST_ODATA_PASSWORD"},
    }
    extract = {
        "format": "json",
        "record": "value[*]",
        "fields": fields("Id", "Name", "PublicationDate", "ContentLength"),
    }
    sample = collector(interface, "odata4", source, extract)
    return Sample(sample, odata_rows(True), 4, service.v4_url + "/Products?", secret=ODATA_BASIC[1])


def odata_v2_sample(request: pytest.FixtureRequest, tmp_path: Path, interface: str) -> Sample:
    service: ODataService = request.getfixturevalue("odata")
    source = {"type": "odata", "version": 2, "service_url": service.v2_url, "entity_set": "Products"}
    extract = {
        "format": "json",
        "record": "d.results[*]",
        "fields": fields("Id", "Name", "PublicationDate", "ContentLength"),  # /Date(ms)/ in v2's JSON
    }
    sample = collector(interface, "odata2", source, extract)
    return Sample(sample, odata_rows(True), 4, service.v2_url + "Products?")


def http_sample(request: pytest.FixtureRequest, tmp_path: Path, interface: str) -> Sample:
    api: JsonApi = request.getfixturevalue("product_api")
    api.bearer = HTTP_TOKEN
    request.getfixturevalue("monkeypatch").setenv("MAAS_TEST_HTTP_TOKEN", HTTP_TOKEN)
    source = {
        "type": "http",
        "url": f"{api.base_url}/events",
        "auth": {"type": "bearer", "token": "env:MAAS_TEST_HTTP_TOKEN"},
        "paging": {"mode": "cursor", "cursor_path": "next", "param": "cursor", "items_path": "items"},
    }
    extract = {
        "format": "json",
        "record": "items[*]",
        "fields": fields("product_id", "name", "published", "size"),
    }
    sample = collector(interface, "http", source, extract)
    return Sample(sample, expected_of(API_ROWS), 3, f"{api.base_url}/events", secret=HTTP_TOKEN)


API_ROWS = [product(i) for i in range(10, 17)]


@pytest.fixture
def product_api() -> Iterator[JsonApi]:
    """Seven products behind cursor paging, three per page."""
    api = JsonApi([r | {"published": r["published"].isoformat()} for r in API_ROWS], page_size=3)
    with AppServer(api):
        yield api


SAMPLES = {
    "filesystem": filesystem_sample,
    "sftp": sftp_sample,
    "ftp": ftp_sample,
    "odata-v4": odata_v4_sample,
    "odata-v2": odata_v2_sample,
    "http": http_sample,
}


# --- stores, runs, reading back ---------------------------------------------------------------


@pytest.fixture
def interface() -> str:
    """Unique per test: journal entries live in the shared ``maas-journal`` family."""
    return f"Pipeline-{uuid.uuid4().hex[:8]}"


def wipe_opensearch(settings: Settings) -> None:
    client = opensearch_client(settings)
    try:
        client.indices.delete(index=f"{PRODUCT.family}-*", ignore_unavailable=True)
    finally:
        client.close()


def forget_journal(store: Store, interface: str) -> None:
    """The journal entries and seen files of our interface leave the shared OpenSearch."""
    for doc_class in JOURNAL_CLASSES:
        store.refresh(doc_class)  # find() searches: it sees what a refresh made visible
        store.delete(doc_class, [d.id for d in store.find(doc_class, [Term("interface", interface)])])


@pytest.fixture(params=["duckdb", "opensearch"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path / 'maas.duckdb'}"
    return str(request.getfixturevalue("opensearch_url"))


@pytest.fixture
def store(store_url: str, interface: str) -> Iterator[Store]:
    """The store named by ``store_url``, our family wiped before and after, our journal removed."""
    settings = Settings.model_validate({"store": {"url": store_url}})
    remote = not store_url.startswith("duckdb")
    if remote:
        wipe_opensearch(settings)
    store = create_store(settings)
    store.setup([PRODUCT, *JOURNAL_CLASSES])
    yield store
    if remote:
        forget_journal(store, interface)
        wipe_opensearch(settings)
    store.close()


def run_once(
    store: Store, archive: Path, config: CollectorConfig, published: list[str] | None = None
) -> CollectorStats:
    """One collection; with ``published``, someone consumes everything collected, and the ids
    of the messages sent are appended to it."""
    bus = MemoryBus(MemoryBroker())
    everything = QueueSpec("t.collected", (Binding("collect", "#"),))
    bus.declare(Topology(("collect",), (everything,)))
    patterns = ("#",) if published is not None else ()
    target = Target(store, bus, "collect", patterns, Archive(archive))
    run = CollectorRun(target, CATALOG.models, TLSSettings())
    (stats,) = run.run([config])
    assert stats.error is None, stats.error
    for delivery in bus.fetch([everything.name], 100_000, 0) if published is not None else ():
        published += Message.decode(delivery.body).document_ids
    run.chain_idle()  # all consumed, as maas collect's chain does: the outbox empties
    return stats


def stored(store: Store) -> dict[str, dict[str, Any]]:
    """Document id -> data, missing optional fields left out; fails on a repeated id."""
    store.refresh(PRODUCT)
    docs = list(store.scan(PRODUCT))
    assert len(docs) == len({d.id for d in docs}), "a document is stored twice"
    return {d.id: {k: v for k, v in d.data.items() if v is not None} for d in docs}


def entries(archive: Path) -> list[ArchivedEntry]:
    found = list(read_archive(archive)) if archive.exists() else []
    assert all(e.ok for e in found), [e.problem for e in found if not e.ok]
    return found


# --- 1. every source type, both stores ---------------------------------------------------------


@pytest.mark.parametrize("kind", list(SAMPLES))
def test_each_source_type_collects_stores_archives_then_finds_nothing_new(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, interface: str, store: Store
) -> None:
    sample = SAMPLES[kind](request, tmp_path, interface)
    archive = tmp_path / "archive"

    published: list[str] = []
    first = run_once(store, archive, sample.collector, published)

    assert (first.payloads, first.archived, first.rejected) == (sample.payloads, sample.payloads, 0)
    assert first.created == len(sample.expected)
    assert stored(store) == sample.expected
    assert sorted(published) == sorted(sample.expected), "each new document announced once"
    archived = entries(archive)
    assert_sidecars(archived, sample)

    second = run_once(store, archive, sample.collector, published)

    assert (second.payloads, second.records, second.archived, second.created) == (0, 0, 0, 0)
    assert len(published) == len(sample.expected), "nothing new, nothing announced"
    assert store.count(PRODUCT) == len(sample.expected)
    assert [e.path for e in entries(archive)] == [e.path for e in archived]


def assert_sidecars(archived: list[ArchivedEntry], sample: Sample) -> None:
    config = sample.collector
    assert len(archived) == sample.payloads
    for entry in archived:
        sidecar = entry.sidecar
        assert sidecar is not None and entry.data is not None
        assert (sidecar.collector_id, sidecar.interface) == (config.id, config.interface_name)
        assert sidecar.config_hash == config.config_hash()
        assert sidecar.extractor == config.extract_format
        assert sidecar.sha256 == hashlib.sha256(entry.data).hexdigest()
        assert sidecar.source_url.startswith(sample.url_prefix), sidecar.source_url
        raw_sidecar = Path(str(entry.path) + ".json").read_text()
        assert sample.secret is None or sample.secret not in raw_sidecar
    if sample.files is not None:  # the bytes exactly as they were on the server, and where
        by_name = {e.sidecar.name: (e.data, e.sidecar.source_url) for e in archived if e.sidecar}
        assert by_name == sample.files


# --- 2. a file still being written --------------------------------------------------------------


@pytest.fixture
def local_store(tmp_path: Path) -> Iterator[Store]:
    store = create_store(
        Settings.model_validate({"store": {"url": f"duckdb:///{tmp_path / 'local.duckdb'}"}})
    )
    store.setup([PRODUCT, *JOURNAL_CLASSES])
    yield store
    store.close()


@contextmanager
def uploading(path: Path, first: int) -> Iterator[list[dict[str, Any]]]:
    """A CSV still arriving: one new product row every 10 ms until the block ends.

    Yields the rows written so far (complete once the block has ended)."""
    written: list[dict[str, Any]] = []
    stop = threading.Event()

    def writer() -> None:
        with path.open("ab") as out:
            while not stop.is_set():
                row = product(first + len(written))
                out.write(csv_bytes([row]).split(b"\n", 1)[1])  # the row without the header
                out.flush()
                written.append(row)
                time.sleep(0.01)

    path.write_bytes(csv_bytes([]))
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        yield written
    finally:
        stop.set()
        thread.join()


def test_a_file_still_being_written_is_collected_only_once_stable(
    tmp_path: Path, interface: str, local_store: Store
) -> None:
    inbox, archive = tmp_path / "inbox", tmp_path / "archive"
    inbox.mkdir()
    (inbox / "done.csv").write_bytes(csv_bytes([product(i) for i in (1, 2, 3)]))
    gates = {"stable_checks": 2, "stable_interval_s": 0.1}
    source = {"type": "filesystem", "root": str(inbox), "patterns": ["*.csv"], **gates}
    config = collector(interface, "growing", source, CSV_EXTRACT)

    with uploading(inbox / "growing.csv", first=100) as written:
        while len(written) < 5:
            time.sleep(0.01)
        during = run_once(local_store, archive, config)

    assert (during.payloads, during.created) == (1, 3)
    assert stored(local_store) == expected_of([product(i) for i in (1, 2, 3)])
    assert [e.sidecar.name for e in entries(archive) if e.sidecar] == ["done.csv"]

    after = run_once(local_store, archive, config)

    assert (after.payloads, after.created, after.rejected) == (1, len(written), 0)
    assert stored(local_store) == expected_of([product(i) for i in (1, 2, 3)] + written)
    assert sorted(e.sidecar.name for e in entries(archive) if e.sidecar) == ["done.csv", "growing.csv"]


# --- 4. SIGKILL between archive and write, then rerun -------------------------------------------

KILL_FILES, KILL_ROWS = 20, 250  # five kills of three payloads each still leave some


@dataclass(frozen=True)
class Site:
    """A deployment on disk for ``maas collect`` in a subprocess: settings, collector file, inbox."""

    root: Path
    env: dict[str, str]
    store: Store
    files: dict[str, bytes]  # inbox file name -> bytes
    ids: dict[str, set[str]]  # inbox file name -> the document ids it holds

    @property
    def archive(self) -> Path:
        return self.root / "archive"

    def maas(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "maas_cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
            cwd=self.root,
        )

    def popen(self, log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "maas_cli", "collect"],
                env=self.env,
                stdout=out,
                stderr=out,
                cwd=self.root,
            )


def kill_rows(n: int) -> list[dict[str, Any]]:
    stamp = datetime(2024, 3, 1, tzinfo=UTC) + timedelta(hours=n)
    return [
        {"product_id": f"F{n:03d}R{r:04d}", "name": f"batch-{n}-{r}", "published": stamp, "size": r}
        for r in range(KILL_ROWS)
    ]


@pytest.fixture
def site(tmp_path: Path, opensearch_url: str, interface: str) -> Iterator[Site]:
    inbox, collectors = tmp_path / "inbox", tmp_path / "collectors"
    inbox.mkdir()
    collectors.mkdir()
    files = {f"batch_{n:03d}.csv": csv_bytes(kill_rows(n)) for n in range(KILL_FILES)}
    for name, data in files.items():
        (inbox / name).write_bytes(data)
    ids = {f"batch_{n:03d}.csv": set(expected_of(kill_rows(n))) for n in range(KILL_FILES)}
    source = {"type": "filesystem", "root": str(inbox), "patterns": ["*.csv"], "stable_checks": 0}
    config = collector_data(interface, "killed", source, CSV_EXTRACT)
    (collectors / "inbox.yaml").write_text(yaml.safe_dump({"collectors": [config]}))
    settings = {
        "store": {"url": opensearch_url},
        "archive_dir": str(tmp_path / "archive"),
        "state_dir": str(tmp_path / "state"),
        "collectors_dir": str(collectors),
        "catalogs": ["collect_catalog:CATALOG"],
    }
    (tmp_path / "maas.yaml").write_text(yaml.safe_dump(settings))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAAS_")}
    env |= {"MAAS_CONFIG": str(tmp_path / "maas.yaml"), "PYTHONPATH": str(TESTS)}
    loaded = Settings.model_validate(settings)
    wipe_opensearch(loaded)
    store = create_store(loaded)
    store.setup([PRODUCT, *JOURNAL_CLASSES])
    yield Site(tmp_path, env, store, files, ids)
    forget_journal(store, interface)
    wipe_opensearch(loaded)
    store.close()


def sidecars(archive: Path) -> list[Path]:
    return list(archive.rglob("*.gz.json")) if archive.exists() else []


def kill_after_archiving(site: Site, log: Path) -> int:
    """Start ``maas collect`` and SIGKILL it the moment a third new archive entry appears."""
    before = len(sidecars(site.archive))
    process = site.popen(log)
    deadline = time.monotonic() + 60
    while len(sidecars(site.archive)) < before + 3:
        assert process.poll() is None, f"collect ended before it could be killed:\n{log.read_text()}"
        assert time.monotonic() < deadline, "no archive entry within 60 s"
        time.sleep(0.001)
    process.send_signal(signal.SIGKILL)
    process.wait()  # reaped: a zombie would still look alive to the journal's PID check
    return process.pid


def archived_but_not_stored(site: Site) -> list[str]:
    """Inbox files whose raw bytes are archived while some of their documents are not stored."""
    site.store.refresh(PRODUCT)
    present = {d.id for d in site.store.scan(PRODUCT)}
    names = [e.sidecar.name for e in read_archive(site.archive) if e.sidecar]
    return [n for n in names if not site.ids[n] <= present]


def test_killed_between_archive_and_write_the_rerun_leaves_no_gap_and_no_duplicate(
    site: Site, interface: str
) -> None:
    for attempt in range(5):  # a kill can land after a write: then kill the next run again
        pid = kill_after_archiving(site, site.root / f"killed-{attempt}.log")
        if archived_but_not_stored(site):
            break
    else:
        pytest.fail("5 kills in a row missed the window between archive and write")
    journal = site.store.get(JOURNAL, [JOURNAL.id_for(interface, "pipeline-killed")])
    (entry,) = journal.values()
    assert f":{pid}:" in entry.data["lease_owner"]  # the dead process still holds a live lease
    assert entry.data["lease_expires"] > datetime.now(UTC) + timedelta(minutes=5)
    journaled = len(entry.data["state"]["seen"])

    rerun = site.maas("collect")

    assert rerun.returncode == 0, rerun.stderr
    assert f"payloads={KILL_FILES - journaled} " in rerun.stderr  # exactly the files not journaled
    assert "status=ok" in rerun.stderr
    every_id = set().union(*site.ids.values())
    assert set(stored(site.store)) == every_id  # stored() also fails on a repeated id
    assert site.store.count(PRODUCT) == len(every_id)
    archived = entries(site.archive)
    # Each file's bytes are stored once; the file the kill interrupted was fetched twice, and
    # each fetch has its sidecar (the second one pointing at the bytes the first stored).
    assert sorted({e.sidecar.name for e in archived if e.sidecar}) == sorted(site.files)
    assert len(list(site.archive.rglob("*.gz"))) == len(site.files)
    digests = {hashlib.sha256(data).hexdigest() for data in site.files.values()}
    assert {e.sidecar.sha256 for e in archived if e.sidecar} == digests
    again = site.maas("collect")
    assert again.returncode == 0 and "payloads=0 records=0" in again.stderr, again.stderr


# --- 5. hostile remote names --------------------------------------------------------------------


def test_hostile_remote_names_cannot_write_outside_the_archive_root(
    tmp_path: Path,
    interface: str,
    local_store: Store,
    ftp_server: FtpServer,
    ftp_root: Path,
    product_api: JsonApi,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Names that climb out, as the servers list them (backslashes are plain characters on
    POSIX, so a file can carry them) and as API page names carry them (slashes)."""
    escaped = tmp_path / "escaped"  # where a name taken literally would land
    escaped.mkdir()
    archive = tmp_path / "deep" / "archive"
    climb = "../" * 12 + escaped.relative_to("/").as_posix()  # from the day directory to escaped/
    windows_name = climb.replace("/", "\\") + "\\x.csv"
    for root in (tmp_path / "inbox", ftp_root):
        root.mkdir(exist_ok=True)
        (root / windows_name).write_bytes(csv_bytes([product(1)]))
    monkeypatch.setenv("MAAS_TEST_FTP_PASSWORD", FTP_PASSWORD)
    ftp = {"type": "ftp", "host": "127.0.0.1", "port": ftp_server.port, "username": ftp_server.user}
    sources = [
        ({"type": "filesystem", "root": str(tmp_path / "inbox"), "stable_checks": 0}, CSV_EXTRACT),
        (ftp | {"password": "env:MAAS_TEST_FTP_PASSWORD", "stable_checks": 0}, CSV_EXTRACT),
    ]
    api_extract = {
        "format": "json",
        "record": "items[*]",
        "fields": fields("product_id", "name", "published", "size"),
    }
    for name in ["../../etc/x", f"{climb}/x", f"{escaped}/x"]:
        sources.append(({"type": "http", "url": f"{product_api.base_url}/events", "name": name}, api_extract))
    before = set(tmp_path.rglob("*"))

    for n, (source, extract) in enumerate(sources):  # one interface each: no deduplication
        run_once(local_store, archive, collector(f"{interface}-{n}", f"hostile-{n}", source, extract))

    assert list(escaped.iterdir()) == []
    created = set(tmp_path.rglob("*")) - before
    assert {p for p in created if archive not in p.parents} <= {
        tmp_path / "deep",
        archive,
        tmp_path / "local.duckdb",
        tmp_path / "local.duckdb.wal",
    }
    archived = [(e.sidecar.name, e.path) for e in entries(archive) if e.sidecar]
    assert len(archived) == 2 + 3  # two files, three API pages (the first page only: no paging)
    assert all(archive in path.parents and ".." not in path.parts for _, path in archived)
    assert [n for n, _ in archived if n == windows_name] == [windows_name] * 2  # kept for audit
    (etc,) = [path for name, path in archived if name.startswith("../../etc/x-")]
    assert (
        etc.name.startswith("etc~x-") and etc.parents[3] == archive / f"{interface}-2"
    )  # in its day directory
    assert set(stored(local_store)) == set(expected_of([product(1), *API_ROWS[:3]]))


# --- the example collectors of cds/config/collectors/ work on the samples they document ---------

EXAMPLES = (
    Path(__file__).resolve().parents[3] / "cds" / "config" / "collectors" / "examples-filesystem-ftp.yaml"
)
PLAN_XML = b"""<MissionPlan xmlns="urn:example:mission-plan:1" satellite="S2A"
             applicationDate="2024-01-02T00:00:00Z">
  <Datatake id="GS2A_20240103T101031_044512_N02.02">
    <ObservationStart>2024-01-03T10:10:31Z</ObservationStart>
    <ObservationStop>2024-01-03T10:24:02Z</ObservationStop>
    <Mode>NOBS</Mode><Timeliness>NOMINAL</Timeliness><AbsoluteOrbit>44512</AbsoluteOrbit>
  </Datatake>
</MissionPlan>
"""
PLAN_CSV = b"""satellite,datatake_id,start,stop,mode,timeliness,orbit
S3A,S3A-079-339,2024-01-03T10:10:31,2024-01-03T11:51:02,EO,NTC,41122
"""


def test_the_file_source_examples_collect_the_samples_they_document(
    tmp_path: Path, ftps_server: FtpServer, ftp_root: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    nfs, ftps = load_collector_file(EXAMPLES, ModelRegistry(MODELS))
    assert not nfs.enabled and not ftps.enabled
    (tmp_path / "planning" / "S2A").mkdir(parents=True)
    (tmp_path / "planning" / "S2A" / "S2A_MP_ACQ_20240102T000000.xml").write_bytes(PLAN_XML)
    (ftp_root / "outgoing").mkdir()  # the example's move_to (outgoing/done) is made by the source
    uploaded = ftp_root / "outgoing" / "S3A_MP_20240102T000000.csv"
    uploaded.write_bytes(PLAN_CSV)
    an_hour_ago = time.time() - 3600  # older than the example's min_age_s
    os.utime(uploaded, (an_hour_ago, an_hour_ago))
    monkeypatch.setenv("MAAS_MP_FTPS_PASSWORD", FTP_PASSWORD)
    here = {
        nfs.id: {"root": tmp_path / "planning", "stable_interval_s": 0.05},
        ftps.id: {"host": "127.0.0.1", "port": ftps_server.port, "username": ftps_server.user},
    }
    store = create_store(Settings.model_validate({"store": {"url": f"duckdb:///{tmp_path / 'cds.duckdb'}"}}))
    store.setup([RAW_MP_DATATAKE, *JOURNAL_CLASSES])
    target = Target(store, MemoryBus(MemoryBroker()), "collect", (), Archive(tmp_path / "archive"))
    run = CollectorRun(target, ModelRegistry(MODELS), TLSSettings(ca_file=pki.ca_file))

    stats = run.run(
        [c.model_copy(update={"source": c.source.model_copy(update=here[c.id])}) for c in (nfs, ftps)]
    )

    assert [(s.error, s.payloads, s.created, s.rejected) for s in stats] == [(None, 1, 1, 0)] * 2
    docs = {d.data["satellite"]: d.data for d in store.scan(RAW_MP_DATATAKE)}
    store.close()
    assert docs["S2A"]["plan_application_date"] == datetime(2024, 1, 2, tzinfo=UTC)
    assert docs["S2A"]["observation_stop"] == datetime(2024, 1, 3, 10, 24, 2, tzinfo=UTC)
    assert (docs["S2A"]["plan_file_name"], docs["S2A"]["absolute_orbit"]) == (
        "S2A/S2A_MP_ACQ_20240102T000000.xml",
        44512,
    )
    assert docs["S3A"]["plan_application_date"] == datetime(2024, 1, 2, tzinfo=UTC)
    assert docs["S3A"]["observation_start"] == datetime(2024, 1, 3, 10, 10, 31, tzinfo=UTC)
    assert (docs["S3A"]["datatake_id"], docs["S3A"]["timeliness_category"]) == ("S3A-079-339", "NTC")
    assert not uploaded.exists() and (ftp_root / "outgoing" / "done" / uploaded.name).exists()
