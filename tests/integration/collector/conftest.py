"""Real servers for the collector source tests: sshd, pyftpdlib (FTP/FTPS), OData, JSON API.

A server that cannot run here is a skip on a developer machine and a failure in CI
(MAAS_REQUIRE_SERVICES=1), like the RabbitMQ and OpenSearch fixtures.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from servers.ftp import FtpServer, tls_handler_reason
from servers.json_api import JsonApi
from servers.odata import ODataService
from servers.pki import Pki, make_pki
from servers.sshd import Sshd, SshdUnavailable
from servers.web import AppServer
from services import services_required

from maas.collector.sources import Payload, Source, SourceState

Drain = Callable[[Source, SourceState], tuple[list[Payload], SourceState]]


def _unavailable(reason: str) -> None:
    if services_required():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@contextmanager
def appending(path: Path, chunk: bytes) -> Iterator[None]:
    """A writer keeps appending to ``path`` (a file still being uploaded) until the block ends."""
    stop = threading.Event()

    def writer() -> None:
        with path.open("ab") as out:
            while not stop.is_set():
                out.write(chunk)
                out.flush()
                time.sleep(0.01)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@pytest.fixture
def drain() -> Drain:
    """Poll like the orchestrator: take every payload, then fold its checkpoint into the state."""

    def run(source: Source, state: SourceState) -> tuple[list[Payload], SourceState]:
        payloads = []
        for payload in source.poll(state):
            payloads.append(payload)
            state = state.advance(payload.checkpoint)
        return payloads, state

    return run


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    try:
        with Sshd(tmp_path_factory.mktemp("sshd")) as server:
            yield server
    except SshdUnavailable as exc:
        _unavailable(f"OpenSSH sshd: {exc}")


@pytest.fixture(scope="session")
def known_hosts(sshd: Sshd, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("client") / "known_hosts"
    path.write_text(sshd.known_hosts_line())
    return path


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def ftp_root(tmp_path: Path) -> Path:
    root = tmp_path / "ftp-root"
    root.mkdir()
    return root


@pytest.fixture
def ftp_server(ftp_root: Path) -> Iterator[FtpServer]:
    with FtpServer(ftp_root) as server:
        yield server


@pytest.fixture
def ftps_server(ftp_root: Path, pki: Pki) -> Iterator[FtpServer]:
    reason = tls_handler_reason()
    if reason is not None:
        _unavailable(reason)
    with FtpServer(ftp_root, certfile=pki.cert_file, keyfile=pki.key_file) as server:
        yield server


@pytest.fixture
def odata() -> Iterator[ODataService]:
    """OData v4 + v2 service over the recorded products; server pages of 4 records."""
    service = ODataService(page_limit=4)
    with AppServer(service):
        yield service


@pytest.fixture
def json_api() -> Iterator[JsonApi]:
    api = JsonApi([{"id": i, "event": f"probe-{i}"} for i in range(7)], page_size=3)
    with AppServer(api):
        yield api
