"""Issue #5's acceptance, end to end: the real collect pipeline against the real servers and stores.

Each source type (filesystem, SFTP on sshd, FTP on pyftpdlib, OData v4 and v2, an HTTP JSON API)
is collected by ``CollectorRun`` — archive, extract, validate, write, publish, journal — into a
DuckDB file and into the live OpenSearch; a second run must find nothing new. Then the gates
that only matter end to end: a file still being written, a collector SIGKILLed between archive
and write (``maas collect`` in a subprocess, rerun), and hostile remote names.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from collect_catalog import CATALOG, PRODUCT
from servers.ftp import FtpServer
from servers.json_api import JsonApi
from servers.odata import ODataService, load_records
from servers.sshd import Sshd
from servers.web import AppServer

from maas.bus.memory import MemoryBroker, MemoryBus
from maas.collector.archive import Archive, ArchivedEntry, read_archive
from maas.collector.config import CollectorConfig
from maas.collector.journal import JOURNAL
from maas.collector.run import CollectorRun, CollectorStats, Target
from maas.config import Settings
from maas.config.settings import TLSSettings
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


def collector(interface: str, kind: str, source: dict[str, Any], extract: dict[str, Any]) -> CollectorConfig:
    return CollectorConfig.model_validate(
        {
            "id": f"pipeline-{kind}",
            "interface_name": interface,
            "source": source,
            "extract": extract,
            "model": PRODUCT.family,
        }
    )


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
        "fields": fields("Id", "Name", None, "ContentLength"),
    }
    sample = collector(interface, "odata2", source, extract)
    return Sample(sample, odata_rows(False), 4, service.v2_url + "Products?")


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
    store.setup([PRODUCT, JOURNAL])
    yield store
    if remote:
        store.delete(JOURNAL, [d.id for d in store.find(JOURNAL, [Term("interface", interface)])])
        wipe_opensearch(settings)
    store.close()


def run_once(store: Store, archive: Path, config: CollectorConfig) -> CollectorStats:
    target = Target(store, MemoryBus(MemoryBroker()), "collect", (), Archive(archive))
    (stats,) = CollectorRun(target, CATALOG.models, TLSSettings()).run([config])
    assert stats.error is None, stats.error
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

    first = run_once(store, archive, sample.collector)

    assert (first.payloads, first.archived, first.rejected) == (sample.payloads, sample.payloads, 0)
    assert first.created == len(sample.expected)
    assert stored(store) == sample.expected
    archived = entries(archive)
    assert_sidecars(archived, sample)

    second = run_once(store, archive, sample.collector)

    assert (second.payloads, second.records, second.archived, second.created) == (0, 0, 0, 0)
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
