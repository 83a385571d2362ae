"""The FTP source against pyftpdlib on loopback: plain FTP, FTPS with PROT P, NLST fallback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import TypeAdapter
from servers.ftp import FtpServer
from servers.harness import (
    Drain,
    appending,
    leaves_a_file_grown_since_its_read,
    never_overwrites_in_move_to,
    rejects_names_not_utf8_alone,
    take,
)
from servers.net import free_port
from servers.pki import Pki

from maas.collector.archive import Archive, ArchiveContext
from maas.collector.sources import SourceConfig, SourceState, create_source
from maas.config.settings import TLSSettings
from maas.errors import SourceRefused, SourceUnavailable

pytestmark = pytest.mark.integration
FAST = {"stable_checks": 1, "stable_interval_s": 0.05}


@pytest.fixture(autouse=True)
def ftp_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAAS_TEST_FTP_PASSWORD", "s3cret-ftp")


def ftp_config(server: FtpServer, **overrides: object) -> SourceConfig:
    data = {
        "type": "ftp",
        "host": "127.0.0.1",
        "port": server.port,
        "username": server.user,
        "password": "env:MAAS_TEST_FTP_PASSWORD",
        "root": "/",
        **FAST,
        **overrides,
    }
    return TypeAdapter(SourceConfig).validate_python(data)


def fill(root: Path) -> None:
    (root / "incoming/2024").mkdir(parents=True)
    (root / "incoming/S2A_MP_20240309.csv").write_text("datatake,start\n1,2024-03-09\n")
    (root / "incoming/2024/S2B_MP_20240310.csv").write_text("datatake,start\n2,2024-03-10\n")
    (root / "incoming/notes.txt").write_text("-")


def test_collects_recursively_then_nothing_new(ftp_server: FtpServer, ftp_root: Path, drain: Drain) -> None:
    fill(ftp_root)
    cfg = ftp_config(ftp_server, root="/incoming", patterns=["*.csv"], recursive=True)
    with create_source(cfg) as source:
        first, state = drain(source, SourceState())
        again, _ = drain(source, state)

    by_name = {p.name: p for p in first}
    assert sorted(by_name) == ["2024/S2B_MP_20240310.csv", "S2A_MP_20240309.csv"]
    assert by_name["S2A_MP_20240309.csv"].data == b"datatake,start\n1,2024-03-09\n"
    url = by_name["2024/S2B_MP_20240310.csv"].source_url
    assert url == f"ftp://collector@127.0.0.1:{ftp_server.port}/incoming/2024/S2B_MP_20240310.csv"
    assert "s3cret" not in url
    assert again == []


def test_listing_without_mlsd_falls_back_to_nlst(ftp_root: Path, drain: Drain) -> None:
    fill(ftp_root)
    with FtpServer(ftp_root, mlsd=False) as server:
        cfg = ftp_config(server, root="/incoming", patterns=["*.csv"], recursive=True)
        with create_source(cfg) as source:
            first, state = drain(source, SourceState())
            again, _ = drain(source, state)
    assert sorted(p.name for p in first) == ["2024/S2B_MP_20240310.csv", "S2A_MP_20240309.csv"]
    assert again == []


def test_wrong_password_is_refused_without_leaking_it(
    ftp_server: FtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAAS_TEST_FTP_PASSWORD", "not-the-password")
    with create_source(ftp_config(ftp_server)) as source, pytest.raises(SourceRefused) as err:
        list(source.poll(SourceState()))
    assert "login refused" in str(err.value) and "not-the-password" not in str(err.value)


def test_nobody_listening_is_transient(ftp_server: FtpServer) -> None:
    cfg = ftp_config(ftp_server, port=free_port(), timeout_s=2)
    with create_source(cfg) as source, pytest.raises(SourceUnavailable):
        list(source.poll(SourceState()))


def test_growing_file_is_not_taken_until_stable(ftp_server: FtpServer, ftp_root: Path, drain: Drain) -> None:
    growing = ftp_root / "big.csv"
    growing.write_bytes(b"a,b\n")
    cfg = ftp_config(ftp_server, stable_checks=2, stable_interval_s=0.1)
    with appending(growing, b"1,2\n"), create_source(cfg) as source:
        while_growing, _ = drain(source, SourceState())
    with create_source(cfg) as source:
        after, _ = drain(source, SourceState())
    assert while_growing == []
    assert [p.data for p in after] == [growing.read_bytes()]


def test_after_success_move_and_delete(ftp_server: FtpServer, ftp_root: Path, drain: Drain) -> None:
    fill(ftp_root)
    moved = ftp_config(
        ftp_server, root="/incoming", patterns=["S2A*"], after_success="move", move_to="/done/2024"
    )
    with create_source(moved) as source:
        [payload], _ = drain(source, SourceState())
        assert (ftp_root / "incoming/S2A_MP_20240309.csv").exists()
        source.after_success(payload)  # /done/2024 does not exist yet: made, parents first
    assert (ftp_root / "done/2024/S2A_MP_20240309.csv").exists()

    deleted = ftp_config(ftp_server, root="/incoming", patterns=["*.txt"], after_success="delete")
    with create_source(deleted) as source:
        [payload], _ = drain(source, SourceState())
        source.after_success(payload)
    assert not (ftp_root / "incoming/notes.txt").exists()


@pytest.mark.parametrize("action", ["delete", "move"])
def test_a_file_grown_since_its_read_is_left_for_the_next_poll(
    ftp_server: FtpServer, ftp_root: Path, action: str
) -> None:
    extra = {"move_to": "/done"} if action == "move" else {}
    cfg = ftp_config(ftp_server, root="/incoming", patterns=["*.csv"], after_success=action, **extra)
    (ftp_root / "incoming").mkdir()
    done = ftp_root / "done" if action == "move" else None
    leaves_a_file_grown_since_its_read(lambda: create_source(cfg), ftp_root / "incoming", done)


def test_a_move_never_overwrites_a_file_already_in_move_to(ftp_server: FtpServer, ftp_root: Path) -> None:
    cfg = ftp_config(ftp_server, root="/incoming", patterns=["*.csv"], after_success="move", move_to="/done")
    (ftp_root / "incoming").mkdir()
    never_overwrites_in_move_to(lambda: create_source(cfg), ftp_root / "incoming", ftp_root / "done")


def test_hostile_remote_name_stays_inside_the_archive(
    ftp_server: FtpServer, ftp_root: Path, tmp_path: Path, drain: Drain
) -> None:
    (ftp_root / "..\\..\\etc\\x").write_text("x")
    with create_source(ftp_config(ftp_server)) as source:
        [payload], _ = drain(source, SourceState())
    archive_root = tmp_path / "archive"
    stored = Archive(archive_root).put(payload, ArchiveContext("c", "h", "MP", "csv"))
    assert archive_root in stored.path.parents and stored.path.name == "etc~x.gz"


def test_ftps_with_protected_data_channel(
    ftps_server: FtpServer, ftp_root: Path, pki: Pki, drain: Drain
) -> None:
    """The server refuses clear-text data connections (tls_data_required), so a successful
    listing and download prove PROT P; the certificate is verified against the test CA."""
    fill(ftp_root)
    cfg = ftp_config(ftps_server, tls=True, root="/incoming", patterns=["*.csv"])
    with create_source(cfg, TLSSettings(ca_file=pki.ca_file)) as source:
        payloads, state = drain(source, SourceState())
        again, _ = drain(source, state)
    assert [p.name for p in payloads] == ["S2A_MP_20240309.csv"]
    assert payloads[0].source_url.startswith(f"ftps://collector@127.0.0.1:{ftps_server.port}/")
    assert again == []


def test_ftps_untrusted_certificate_is_refused(ftps_server: FtpServer) -> None:
    with create_source(ftp_config(ftps_server, tls=True)) as source, pytest.raises(SourceRefused) as err:
        list(source.poll(SourceState()))
    assert "certificate" in str(err.value)


def test_ftps_verification_can_be_switched_off_explicitly(
    ftps_server: FtpServer, ftp_root: Path, drain: Drain, caplog: pytest.LogCaptureFixture
) -> None:
    (ftp_root / "a.csv").write_text("x")
    with create_source(ftp_config(ftps_server, tls=True, verify_tls=False)) as source:
        payloads, _ = drain(source, SourceState())
    assert [p.name for p in payloads] == ["a.csv"]
    assert any("NOT verified" in r.getMessage() for r in caplog.records)


def bad_name(directory: Path) -> bytes:
    """A file named in Latin-1 (``café.csv``), whose name is not valid UTF-8."""
    path = os.path.join(os.fsencode(directory), b"caf\xe9.csv")
    Path(os.fsdecode(path)).write_text("datatake,start\n3,2024-03-11\n")
    return path


@pytest.mark.parametrize("mlsd", [True, False], ids=["mlsd", "nlst"])
def test_a_name_sent_as_raw_bytes_is_rejected_alone_and_collected_once_renamed(
    ftp_root: Path, mlsd: bool
) -> None:
    """A server that sends names as the disk holds them (vsftpd): ftplib would decode the listing
    strictly and fail the whole directory; the connections are read with surrogate escapes, so
    only the Latin-1 names are rejected (and stay), and the rest is collected and deleted, valid
    UTF-8 names like ``été.csv`` sent back to the server as the bytes it listed."""
    with FtpServer(ftp_root, raw_names=True, mlsd=mlsd) as server:
        cfg = ftp_config(server, root="/incoming", patterns=["*.csv"], recursive=True, after_success="delete")
        rejects_names_not_utf8_alone(lambda: create_source(cfg), ftp_root / "incoming")


def test_over_ftps_a_name_sent_as_raw_bytes_is_rejected_alone_too(
    raw_names_ftps_server: FtpServer, ftp_root: Path, pki: Pki
) -> None:
    """FTP_TLS opens its control connection's text again after AUTH TLS: still with surrogate escapes."""
    server = raw_names_ftps_server
    cfg = ftp_config(
        server, tls=True, root="/incoming", patterns=["*.csv"], recursive=True, after_success="delete"
    )
    tls = TLSSettings(ca_file=pki.ca_file)
    rejects_names_not_utf8_alone(lambda: create_source(cfg, tls), ftp_root / "incoming")


@pytest.mark.parametrize(
    ("checks", "reason"),
    [
        (
            1,
            "listed, then not found when checked again (removed meanwhile, or a name the server",
        ),
        (0, "cannot be read (550 "),
    ],
    ids=["stability-check", "read"],
)
def test_a_server_replacing_a_bad_name_by_question_marks_reports_it_and_collects_the_rest(
    ftp_server: FtpServer, ftp_root: Path, checks: int, reason: str
) -> None:
    """pyftpdlib by default lists ``caf?.csv``: a name it then says does not exist. It is
    reported as a rejection at every poll (by the stability check, or by the read when there is
    none), stays on the server, and the others are collected."""
    fill(ftp_root)
    bad = bad_name(ftp_root / "incoming")
    cfg = ftp_config(ftp_server, root="/incoming", patterns=["*.csv"], stable_checks=checks)
    for _ in range(2):
        with create_source(cfg) as source:
            payloads, rejected, _ = take(source, SourceState())
        assert [p.name for p in payloads] == ["S2A_MP_20240309.csv"]
        assert [r.name for r in rejected] == ["caf?.csv"]
        assert rejected[0].reason.startswith(reason)
        assert rejected[0].reason.endswith("; tried again at the next poll")
        assert os.path.exists(bad)


def test_a_sub_directory_the_server_cannot_list_is_reported_and_the_rest_collected(
    ftp_server: FtpServer, ftp_root: Path
) -> None:
    """pyftpdlib lists a directory named in Latin-1 as ``d?p?t``, then refuses to list that:
    reported as a directory rejection at every poll, its file left in place, the rest collected."""
    fill(ftp_root)
    inside = os.path.join(os.fsencode(ftp_root / "incoming"), b"d\xe9p\xf4t", b"S1C_MP_20240311.csv")
    os.makedirs(os.path.dirname(inside))
    Path(os.fsdecode(inside)).write_text("datatake,start\n4,2024-03-11\n")
    cfg = ftp_config(ftp_server, root="/incoming", patterns=["*.csv"], recursive=True)
    for _ in range(2):
        with create_source(cfg) as source:
            payloads, rejected, _ = take(source, SourceState())
        assert sorted(p.name for p in payloads) == ["2024/S2B_MP_20240310.csv", "S2A_MP_20240309.csv"]
        assert [r.render() for r in rejected] == [
            f"directory d?p?t: ftp://{ftp_server.user}@127.0.0.1:{ftp_server.port}: cannot list "
            "/incoming/d?p?t (550 No such file or directory.); its files are collected once it can be listed"
        ]
        assert os.path.exists(inside)
