"""Resolving a configuration's references: secrets read, referenced files opened, never shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from maas.collector.config import check_collector_file
from maas.config.checks import check_settings

pytestmark = pytest.mark.unit

SECRET = "very-secret-42"


def settings_file(tmp_path: Path, password: str, ca_file: Path) -> Path:
    path = tmp_path / "maas.yaml"
    path.write_text(
        "store:\n"
        "  url: http://127.0.0.1:9200\n"
        "  username: maas\n"
        f"  password: {password}\n"
        "bus:\n"
        "  url: amqp://127.0.0.1:5672/\n"
        "  username: maas\n"
        f"  password: file:{tmp_path / 'bus-password'}\n"
        "tls:\n"
        f"  ca_file: {ca_file}\n"
    )
    return path


def rendered(problems: list[Any]) -> list[str]:
    return [problem.render() for problem in problems]


def test_unresolvable_secrets_and_missing_files_are_problems_only_when_resolving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MAAS_T_UNSET", raising=False)
    cfg = settings_file(tmp_path, "env:MAAS_T_UNSET", tmp_path / "ca.pem")
    assert check_settings(cfg)[1] == []
    assert rendered(check_settings(cfg, resolve=True)[1]) == [
        f"{cfg}:4: store.password: secret env:MAAS_T_UNSET: environment variable is not set",
        f"{cfg}:8: bus.password: secret file:{tmp_path / 'bus-password'}: cannot read file "
        "(No such file or directory)",
        f"{cfg}:10: tls.ca_file: cannot read {tmp_path / 'ca.pem'} (No such file or directory)",
    ]


def test_resolvable_references_are_no_problem_and_values_are_never_in_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAAS_T_PASSWORD", SECRET)
    (tmp_path / "bus-password").write_bytes(b"\xff" + SECRET.encode())  # not UTF-8
    (tmp_path / "ca.pem").write_text("a CA")
    cfg = settings_file(tmp_path, "env:MAAS_T_PASSWORD", tmp_path / "ca.pem")
    problems = rendered(check_settings(cfg, resolve=True)[1])
    assert problems == [
        f"{cfg}:8: bus.password: secret file:{tmp_path / 'bus-password'}: the file is not UTF-8 text"
    ]
    (tmp_path / "bus-password").write_text(SECRET)
    assert check_settings(cfg, resolve=True)[1] == []


def sftp(collector_id: str, **source: Any) -> dict[str, Any]:
    return {
        "id": collector_id,
        "interface_name": "Site",
        "source": {"type": "sftp", "host": "sftp.example", "username": "maas", **source},
        "extract": {"format": "csv", "fields": {"name": {"path": "name"}}},
        "model": "raw",
    }


def test_enabled_collectors_have_their_secrets_and_ssh_files_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MAAS_T_UNSET", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ssh/known_hosts there
    collectors = [
        sftp("keyed", key_file="~/id_ed25519", key_passphrase="env:MAAS_T_UNSET"),
        sftp("disabled", password="env:MAAS_T_UNSET") | {"enabled": False},
        sftp("trusting", password="env:HOME", insecure_accept_any_host_key=True),
    ]
    path = tmp_path / "sites.yaml"
    path.write_text(yaml.safe_dump({"collectors": collectors}, sort_keys=False))
    assert check_collector_file(path) == []
    problems = check_collector_file(path, resolve=True)
    assert all(p.file == str(path) and p.line for p in problems)
    missing = "(No such file or directory)"
    assert [(p.key, p.reason) for p in problems] == [
        ("collectors.0.source.key_file", f"cannot read {tmp_path / 'id_ed25519'} {missing}"),
        ("collectors.0.source.key_passphrase", "secret env:MAAS_T_UNSET: environment variable is not set"),
        ("collectors.0.source.known_hosts", f"cannot read {tmp_path / '.ssh/known_hosts'} {missing}"),
    ]


def test_an_empty_secret_is_a_problem_when_resolving(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAAS_T_EMPTY", "")
    (tmp_path / "bus-password").write_text("\n")  # a file holding only a newline reads as empty
    (tmp_path / "ca.pem").write_text("a CA")
    cfg = settings_file(tmp_path, "env:MAAS_T_EMPTY", tmp_path / "ca.pem")
    assert rendered(check_settings(cfg, resolve=True)[1]) == [
        f"{cfg}:4: store.password: secret env:MAAS_T_EMPTY: resolves to an empty value",
        f"{cfg}:8: bus.password: secret file:{tmp_path / 'bus-password'}: resolves to an empty value",
    ]
