"""The installed ``maas`` console command: its command tree, exit codes and masking."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

COMMANDS = ["collect", "engine", "routing", "replay", "inspect", "dlq", "cds", "config", "doctor", "version"]


def maas(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MAAS_")} | (env or {})
    return subprocess.run(
        ["maas", *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=60, check=False
    )


def test_help_lists_every_command() -> None:
    result = maas("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert f" {command} " in result.stdout, command


@pytest.mark.parametrize(
    ("group", "subcommands"),
    [
        ("routing", ["setup", "show"]),
        ("dlq", ["list", "show", "replay", "purge"]),
        ("cds", ["parse", "sample"]),
        ("config", ["validate", "show"]),
        ("engine", ["pool"]),
    ],
)
def test_groups_list_their_subcommands(group: str, subcommands: list[str]) -> None:
    result = maas(group, "--help")
    assert result.returncode == 0
    for sub in subcommands:
        assert f" {sub} " in result.stdout


def test_config_validate_names_file_key_and_reason(tmp_path: Path) -> None:
    cfg = tmp_path / "maas.yaml"
    cfg.write_text("store:\n  url: nosuch://x\nunknown_key: 1\n")
    result = maas("--config", str(cfg), "config", "validate", cwd=tmp_path)
    assert result.returncode == 2
    assert f"{cfg}:2: store.url: unsupported URL scheme" in result.stderr
    assert f"{cfg}:3: unknown_key: unknown key" in result.stderr


def test_config_validate_ok_on_defaults(tmp_path: Path) -> None:
    result = maas("config", "validate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK")


def test_config_validate_resolve_names_what_cannot_be_read_and_never_a_value(tmp_path: Path) -> None:
    cfg = tmp_path / "maas.yaml"
    cfg.write_text(
        "store:\n  url: http://127.0.0.1:1\n  username: u\n  password: env:MAAS_T_SECRET\n"
        "tls:\n  ca_file: ca.pem\n"
    )
    plain = maas("--config", str(cfg), "config", "validate", cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    assert "; secrets and referenced files not resolved (--resolve checks them)" in plain.stdout
    resolved = maas("--config", str(cfg), "config", "validate", "--resolve", cwd=tmp_path)
    assert resolved.returncode == 2
    assert f"{cfg}:4: store.password: secret env:MAAS_T_SECRET: environment variable is not set" in (
        resolved.stderr
    )
    # relative to the settings file's directory, shown as resolved
    assert f"{cfg}:6: tls.ca_file: cannot read {tmp_path / 'ca.pem'} (No such file or directory)" in (
        resolved.stderr
    )
    (tmp_path / "ca.pem").write_text("a CA")
    env = {"MAAS_T_SECRET": "very-secret-42"}
    ok = maas("--config", str(cfg), "config", "validate", "--resolve", env=env, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "; secrets and referenced files resolved" in ok.stdout
    assert "very-secret-42" not in ok.stdout + ok.stderr


def test_config_show_masks_secret_from_env(tmp_path: Path) -> None:
    cfg = tmp_path / "maas.yaml"
    cfg.write_text("store:\n  url: http://127.0.0.1:1\n  username: u\n  password: env:MAAS_T_SECRET\n")
    env = {"MAAS_T_SECRET": "very-secret-42", "MAAS_CONFIG": str(cfg)}
    shown = maas("config", "show", env=env, cwd=tmp_path)
    doctor = maas("-v", "--log-format", "json", "doctor", env=env, cwd=tmp_path)
    assert shown.returncode == 0
    assert '"password": "***"' in shown.stdout
    assert doctor.returncode == 1  # nothing listens on port 1: the store is down
    for output in (shown.stdout, shown.stderr, doctor.stdout, doctor.stderr):
        assert "very-secret-42" not in output


def test_doctor_embedded_default_is_ok(tmp_path: Path) -> None:
    result = maas("doctor", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "duckdb" in result.stdout


def test_doctor_names_an_unreachable_broker_and_why(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a local port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    (tmp_path / "maas.yaml").write_text(f"bus:\n  url: amqp://127.0.0.1:{port}/\n")
    result = maas("doctor", env={"MAAS_CONFIG": str(tmp_path / "maas.yaml"), "COLUMNS": "300"}, cwd=tmp_path)
    assert result.returncode == 1
    assert f"broker unreachable at 127.0.0.1:{port}: [Errno 111] Connection refused" in result.stdout


def test_doctor_says_in_one_line_why_the_store_cannot_be_reached(tmp_path: Path) -> None:
    cfg = tmp_path / "maas.yaml"
    cfg.write_text("store:\n  url: http://127.0.0.1:1\n  username: u\n  password: env:MAAS_T_SECRET\n")
    env = {"MAAS_T_SECRET": "very-secret-42", "MAAS_CONFIG": str(cfg), "COLUMNS": "300"}
    result = maas("doctor", env=env, cwd=tmp_path)
    assert result.returncode == 1
    store = next(line for line in result.stdout.splitlines() if " store " in line)
    assert "http://127.0.0.1:1: cannot connect (Connection refused) while reading its version" in store
    assert store.count("Connection refused") == 1 and "Error" not in store
    assert "very-secret-42" not in result.stdout + result.stderr


@pytest.mark.parametrize("command", [["routing", "setup"], ["dlq", "list"]], ids=" ".join)
def test_a_one_shot_command_gives_up_on_an_unreachable_broker_in_seconds(
    command: list[str], tmp_path: Path
) -> None:
    """A mistyped port must not hold a person for the pools' 300 s: the one-shot budget applies."""
    with socket.socket() as sock:  # a local port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        "MAAS_BUS_URL": f"amqp://127.0.0.1:{port}/",
        "MAAS_BUS__ONE_SHOT_RECONNECT_MAX_S": "2",
        "MAAS_BUS__RECONNECT_MAX_S": "120",  # the services' budget: not this command's
        "COLUMNS": "300",
    }
    started = time.monotonic()
    result = maas(*command, env=env, cwd=tmp_path)
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stdout + result.stderr
    reason = f"broker unreachable at 127.0.0.1:{port}: [Errno 111] Connection refused"
    assert f"error: {reason}; gave up after 2 s" in result.stderr
    assert f"{reason}; retrying in " in result.stderr  # each attempt is logged while it waits
    assert 2 <= elapsed < 30, elapsed


def test_bad_log_format_is_a_usage_error(tmp_path: Path) -> None:
    result = maas("--log-format", "xml", "version", cwd=tmp_path)
    assert result.returncode == 2


def test_version_option_prints_what_the_version_command_prints(tmp_path: Path) -> None:
    option, command = maas("--version", cwd=tmp_path), maas("version", cwd=tmp_path)
    assert option.returncode == 0, option.stderr
    assert option.stdout == command.stdout
    assert option.stdout.startswith("maas ")
