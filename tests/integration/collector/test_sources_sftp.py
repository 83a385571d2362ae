"""The SFTP source against a real OpenSSH sshd on loopback (see tests/servers/sshd.py)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from pydantic import TypeAdapter
from servers.harness import (
    Drain,
    appending,
    leaves_a_file_grown_since_its_read,
    never_overwrites_in_move_to,
    rejects_names_not_utf8_alone,
    take,
)
from servers.net import free_port
from servers.sshd import PasswordUser, Sshd, keygen

from maas.collector.archive import Archive, ArchiveContext
from maas.collector.sources import SourceConfig, SourceState, create_source
from maas.errors import SourceRefused, SourceUnavailable

pytestmark = pytest.mark.integration
FAST = {"stable_checks": 1, "stable_interval_s": 0.05}


def login(
    user: PasswordUser,
    monkeypatch: pytest.MonkeyPatch,
    password: str | None = None,
    env: str = "MAAS_TEST_SFTP_PASSWORD",
) -> dict[str, object]:
    """Source settings logging in as ``user`` by password (its own unless given), passed in ``env``."""
    monkeypatch.setenv(env, password or user.password)
    return {"username": user.name, "key_file": None, "password": f"env:{env}"}


def sftp_config(sshd: Sshd, root: Path, known_hosts: Path, **overrides: object) -> SourceConfig:
    data = {
        "type": "sftp",
        "host": "127.0.0.1",
        "port": sshd.port,
        "username": "root",
        "key_file": str(sshd.client_key),
        "known_hosts": str(known_hosts),
        "root": str(root),
        **FAST,
        **overrides,
    }
    return TypeAdapter(SourceConfig).validate_python(data)


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    root = tmp_path / "outbox"
    (root / "2024").mkdir(parents=True)
    (root / "S1A_MP_20240309.xml").write_text("<plan unit='S1A'/>")
    (root / "2024" / "S1B_MP_20240310.xml").write_text("<plan unit='S1B'/>")
    (root / "ignore.tmp").write_text("partial")
    return root


def test_collects_recursively_then_nothing_new(
    sshd: Sshd, known_hosts: Path, remote: Path, drain: Drain
) -> None:
    cfg = sftp_config(sshd, remote, known_hosts, patterns=["*.xml"], recursive=True)
    with create_source(cfg) as source:
        first, state = drain(source, SourceState())
        again, _ = drain(source, state)

    by_name = {p.name: p for p in first}
    assert sorted(by_name) == ["2024/S1B_MP_20240310.xml", "S1A_MP_20240309.xml"]
    assert by_name["S1A_MP_20240309.xml"].data == b"<plan unit='S1A'/>"
    url = by_name["2024/S1B_MP_20240310.xml"].source_url
    assert url == f"sftp://root@127.0.0.1:{sshd.port}{remote}/2024/S1B_MP_20240310.xml"
    assert state.seen["S1A_MP_20240309.xml"].size == len(b"<plan unit='S1A'/>")
    assert again == []


def test_host_key_mismatch_is_refused(sshd: Sshd, remote: Path, tmp_path: Path) -> None:
    impostor = keygen(tmp_path / "impostor")
    wrong = tmp_path / "known_hosts_wrong"
    wrong.write_text(sshd.known_hosts_line(key=(tmp_path / "impostor.pub").read_text().split()[1]))
    assert impostor.exists()

    with create_source(sftp_config(sshd, remote, wrong)) as source, pytest.raises(SourceRefused) as err:
        list(source.poll(SourceState()))
    message = str(err.value)
    assert "host key mismatch" in message and f"127.0.0.1:{sshd.port}" in message
    assert not err.value.transient


def test_unknown_host_is_refused(sshd: Sshd, remote: Path, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts_empty"
    empty.write_text("")
    with create_source(sftp_config(sshd, remote, empty)) as source, pytest.raises(SourceRefused) as err:
        list(source.poll(SourceState()))
    assert "not in known_hosts" in str(err.value)


def test_missing_known_hosts_file_is_refused(sshd: Sshd, remote: Path, tmp_path: Path) -> None:
    cfg = sftp_config(sshd, remote, tmp_path / "nope")
    with create_source(cfg) as source, pytest.raises(SourceRefused, match="cannot read known_hosts"):
        list(source.poll(SourceState()))


def test_insecure_flag_connects_and_warns(
    sshd: Sshd, remote: Path, tmp_path: Path, drain: Drain, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = sftp_config(sshd, remote, tmp_path / "nope", insecure_accept_any_host_key=True)
    with caplog.at_level(logging.WARNING), create_source(cfg) as source:
        payloads, _ = drain(source, SourceState())
    assert [p.name for p in payloads if p.name.endswith(".xml")] == ["S1A_MP_20240309.xml"]
    assert any("host key NOT verified" in r.getMessage() for r in caplog.records)


def test_unauthorised_key_is_refused(sshd: Sshd, known_hosts: Path, remote: Path, tmp_path: Path) -> None:
    stranger = keygen(tmp_path / "stranger")
    cfg = sftp_config(sshd, remote, known_hosts, key_file=str(stranger))
    with create_source(cfg) as source, pytest.raises(SourceRefused, match="authentication failed"):
        list(source.poll(SourceState()))


def test_closed_port_is_transient(known_hosts: Path, remote: Path, tmp_path: Path, sshd: Sshd) -> None:
    cfg = sftp_config(sshd, remote, known_hosts, port=free_port(), timeout_s=2)
    with create_source(cfg) as source, pytest.raises(SourceUnavailable) as err:
        list(source.poll(SourceState()))
    assert err.value.transient


def test_password_authentication(
    sshd: Sshd, known_hosts: Path, sftp_user: PasswordUser, drain: Drain, monkeypatch: pytest.MonkeyPatch
) -> None:
    (sftp_user.root / "plan.csv").write_text("id\n1\n")
    os.chmod(sftp_user.root / "plan.csv", 0o644)
    good = sftp_config(sshd, sftp_user.root, known_hosts, **login(sftp_user, monkeypatch))
    with create_source(good) as source:
        payloads, _ = drain(source, SourceState())
    assert [(p.name, p.data) for p in payloads] == [("plan.csv", b"id\n1\n")]

    wrong = login(sftp_user, monkeypatch, password="wrong-horse", env="MAAS_TEST_SFTP_WRONG")
    bad = sftp_config(sshd, sftp_user.root, known_hosts, **wrong)
    with create_source(bad) as source, pytest.raises(SourceRefused) as err:
        list(source.poll(SourceState()))
    assert "authentication failed" in str(err.value) and "wrong-horse" not in str(err.value)


def test_a_sub_directory_the_user_may_not_list_is_reported_and_collected_once_opened(
    sshd: Sshd, known_hosts: Path, sftp_user: PasswordUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Logged in as a user who is not root, so the server's permission check applies: a
    sub-directory of mode 000 (root's) is a directory rejection at every poll, naming it and
    the reason; its siblings' files are collected and journaled, its own are not, and they are
    collected at the first poll after it is opened."""
    root = sftp_user.root / "outbox"
    files = {
        "S1A_MP_20240309.csv": b"id\n1\n",
        "2024/S1B_MP_20240310.csv": b"id\n2\n",
        "locked/S1C_MP_20240311.csv": b"id\n3\n",
    }
    for name, data in files.items():
        (root / name).parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        (root / name).write_bytes(data)
        (root / name).chmod(0o644)
    locked = root / "locked"
    locked.chmod(0o000)
    cfg = sftp_config(
        sshd, root, known_hosts, patterns=["*.csv"], recursive=True, **login(sftp_user, monkeypatch)
    )
    refusal = (
        f"directory locked: SFTP {sftp_user.name}@127.0.0.1:{sshd.port}: cannot list {locked} "
        "(permission denied); its files are collected once it can be listed"
    )
    with create_source(cfg) as source:  # the poll does not fail: it goes on past the refusal
        payloads, rejected, state = take(source, SourceState())
    assert sorted((p.name, p.data) for p in payloads) == [
        ("2024/S1B_MP_20240310.csv", b"id\n2\n"),
        ("S1A_MP_20240309.csv", b"id\n1\n"),
    ]
    assert [(r.kind, r.render()) for r in rejected] == [("directory", refusal)]
    assert sorted(state.seen) == ["2024/S1B_MP_20240310.csv", "S1A_MP_20240309.csv"]

    with create_source(cfg) as source:  # still closed: reported again, nothing new
        again, rejected, state = take(source, state)
    assert again == [] and [r.render() for r in rejected] == [refusal]

    locked.chmod(0o755)
    with create_source(cfg) as source:
        payloads, rejected, state = take(source, state)
    assert [(p.name, p.data) for p in payloads] == [("locked/S1C_MP_20240311.csv", b"id\n3\n")]
    assert rejected == [] and sorted(state.seen) == sorted(files)


def test_growing_file_is_not_taken_until_stable(
    sshd: Sshd, known_hosts: Path, remote: Path, drain: Drain
) -> None:
    growing = remote / "S1A_MP_growing.xml"
    growing.write_bytes(b"<plan>")
    cfg = sftp_config(
        sshd, remote, known_hosts, patterns=["*growing*"], stable_checks=2, stable_interval_s=0.1
    )
    with appending(growing, b"<dt/>"), create_source(cfg) as source:
        while_growing, _ = drain(source, SourceState())
    with create_source(cfg) as source:
        after, _ = drain(source, SourceState())
    assert while_growing == []
    assert [p.data for p in after] == [growing.read_bytes()]


def test_after_success_delete_and_move(sshd: Sshd, known_hosts: Path, remote: Path, drain: Drain) -> None:
    moved = sftp_config(
        sshd, remote, known_hosts, patterns=["S1A*"], after_success="move", move_to="done/2024"
    )
    with create_source(moved) as source:
        [payload], _ = drain(source, SourceState())
        source.after_success(payload)  # done/2024 does not exist yet: made, parents first
    assert (remote / "done/2024/S1A_MP_20240309.xml").exists()

    deleted = sftp_config(sshd, remote, known_hosts, patterns=["*.tmp"], after_success="delete")
    with create_source(deleted) as source:
        [payload], _ = drain(source, SourceState())
        assert (remote / "ignore.tmp").exists()
        source.after_success(payload)
    assert not (remote / "ignore.tmp").exists()


@pytest.mark.parametrize("action", ["delete", "move"])
def test_a_file_grown_since_its_read_is_left_for_the_next_poll(
    sshd: Sshd, known_hosts: Path, remote: Path, action: str
) -> None:
    extra = {"move_to": "done"} if action == "move" else {}
    cfg = sftp_config(sshd, remote, known_hosts, patterns=["*.csv"], after_success=action, **extra)
    done = remote / "done" if action == "move" else None
    leaves_a_file_grown_since_its_read(lambda: create_source(cfg), remote, done)


def test_a_move_never_overwrites_a_file_already_in_move_to(
    sshd: Sshd, known_hosts: Path, remote: Path
) -> None:
    cfg = sftp_config(sshd, remote, known_hosts, patterns=["*.csv"], after_success="move", move_to="done")
    never_overwrites_in_move_to(lambda: create_source(cfg), remote, remote / "done")


def test_hostile_remote_name_stays_inside_the_archive(
    sshd: Sshd, known_hosts: Path, tmp_path: Path, drain: Drain
) -> None:
    remote = tmp_path / "hostile"
    remote.mkdir()
    (remote / "..\\..\\etc\\x").write_text("x")
    with create_source(sftp_config(sshd, remote, known_hosts)) as source:
        [payload], _ = drain(source, SourceState())
    archive_root = tmp_path / "archive"
    stored = Archive(archive_root).put(payload, ArchiveContext("c", "h", "MP", "xml"))
    assert archive_root in stored.path.parents and stored.path.name == "etc~x.gz"
    assert not (tmp_path / "etc").exists()


def test_a_name_that_is_not_utf8_is_rejected_alone_and_collected_once_renamed(
    sshd: Sshd, known_hosts: Path, tmp_path: Path
) -> None:
    """paramiko would decode the listing strictly and fail the whole directory; the names are read
    as bytes, so only the Latin-1 ones are rejected (and stay), the rest collected and deleted."""
    root = tmp_path / "mixed"
    cfg = sftp_config(sshd, root, known_hosts, patterns=["*.csv"], recursive=True, after_success="delete")
    rejects_names_not_utf8_alone(lambda: create_source(cfg), root)
