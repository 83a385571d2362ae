"""What every command does at the CLI boundary: paths it cannot write, option ranges, commands
that cannot work on the embedded deployment. Each ends in one ``error:`` line, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
SAMPLE = Path(__file__).resolve().parents[2] / "backups" / "sample"


def maas(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The default embedded configuration: no settings file, no MAAS_* variable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAAS_")}
    return subprocess.run(
        [sys.executable, "-m", "maas_cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def refused(result: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("cds", "sample", "--out", "/proc/maas-sample"),
            "error: /proc/maas-sample: No such file or directory",
        ),
        (("cds", "sample", "--out", "/dev/null/sample"), "error: /dev/null/sample: Not a directory"),
        (("replay", str(SAMPLE), "--out", "/proc/x.duckdb"), "error: /proc/x.duckdb.lock: No such file or"),
    ],
    ids=["sample-proc", "sample-under-a-file", "replay-proc"],
)
def test_an_output_path_that_cannot_be_created_is_named_with_the_reason(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    assert message in refused(maas(tmp_path, *args))


@pytest.mark.parametrize("port", ["99999", "-1"])
@pytest.mark.parametrize(
    "command", [("collect", "--collector", "mission-plans-nfs"), ("engine", "pool", "product")]
)
def test_a_metrics_port_out_of_range_is_a_usage_error(
    tmp_path: Path, command: tuple[str, ...], port: str
) -> None:
    stderr = refused(maas(tmp_path, *command, "--metrics-port", port))
    assert "Invalid value for '--metrics-port'" in stderr
    assert not (tmp_path / ".maas").exists()  # refused before the store was opened


def test_an_engine_pool_on_the_embedded_bus_is_refused_instead_of_waiting_for_good(tmp_path: Path) -> None:
    stderr = refused(maas(tmp_path, "engine", "pool", "publication"))
    assert "engine pools need a distributed bus, and memory:// is the embedded in-process one" in stderr
    assert "bus.url" in stderr and "'maas collect' and 'maas replay'" in stderr
    assert not (tmp_path / ".maas").exists()  # refused before the store was opened


@pytest.mark.parametrize(
    "command",
    [
        ("list",),
        ("show", "cds.publication"),
        ("replay", "cds.publication"),
        ("purge", "cds.publication", "--yes"),
    ],
    ids=lambda c: c[0],
)
def test_dead_letters_on_the_embedded_bus_are_refused_saying_where_they_are_seen(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    stderr = refused(maas(tmp_path, "dlq", *command))
    assert "the embedded in-process bus (memory://) keeps no dead letters between processes" in stderr
    assert "'maas collect' and 'maas replay' report the engine messages they dead-lettered" in stderr
    assert "does not exist" not in stderr


def test_with_json_logs_the_last_error_line_is_json_too(tmp_path: Path) -> None:
    """journald and Kubernetes read every stderr line of such a process as JSON."""
    result = maas(tmp_path, "--log-format", "json", "cds", "sample", "--out", "/proc/maas-sample")
    lines = refused(result).splitlines()
    assert lines, "nothing said"
    entries = [json.loads(line) for line in lines]
    assert entries[-1]["level"] == "error"
    assert entries[-1]["message"] == "/proc/maas-sample: No such file or directory"
