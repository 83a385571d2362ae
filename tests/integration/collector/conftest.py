"""Real servers for the collector source tests: sshd, pyftpdlib (FTP/FTPS), OData, JSON API.

A server that cannot run here is a skip on a developer machine and a failure in CI
(MAAS_REQUIRE_SERVICES=1), like the RabbitMQ and OpenSearch fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import harness
from servers.ftp import FtpServer, tls_handler_reason
from servers.harness import Drain
from servers.json_api import JsonApi
from servers.odata import ODataService
from servers.pki import Pki, make_pki
from servers.sshd import PasswordUser, Sshd, SshdUnavailable, password_user
from servers.web import AppServer
from services import services_required


def _unavailable(reason: str) -> None:
    if services_required():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def drain() -> Drain:
    """Poll like the orchestrator: take every payload, then fold its checkpoint into the state."""
    return harness.drain


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    try:
        with Sshd(tmp_path_factory.mktemp("sshd")) as server:
            yield server
    except SshdUnavailable as exc:
        _unavailable(f"OpenSSH sshd: {exc}")


@pytest.fixture
def sftp_user(sshd: Sshd) -> Iterator[PasswordUser]:
    """A user of that sshd who is not root (permissions stop it), with a directory to serve."""
    try:
        with password_user("Corr3ct-horse") as user:
            yield user
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
    yield from _ftps(ftp_root, pki)


@pytest.fixture
def raw_names_ftps_server(ftp_root: Path, pki: Pki) -> Iterator[FtpServer]:
    """FTPS sending names as the disk holds them, bytes that are not UTF-8 included (vsftpd)."""
    yield from _ftps(ftp_root, pki, raw_names=True)


def _ftps(root: Path, pki: Pki, raw_names: bool = False) -> Iterator[FtpServer]:
    reason = tls_handler_reason()
    if reason is not None:
        _unavailable(reason)
    with FtpServer(root, certfile=pki.cert_file, keyfile=pki.key_file, raw_names=raw_names) as server:
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
