"""The operator's path, through the console script: ``maas cds sample`` writes an archive,
``maas replay`` of the committed sample gives exactly its ``expected.json`` (no settings, no
server: the packaged CDS catalog, collectors and routing, into a fresh DuckDB file)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from replay_site import interrupted

from cds.sample import EXPECTED_FILE
from cds.sample.check import differences, observed
from maas.store.duckdb import DuckDBStore

pytestmark = pytest.mark.unit  # no external service: subprocesses of our own console script

SAMPLE = Path(__file__).resolve().parents[2] / "backups" / "sample"


def maas(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed console script with no settings file and no MAAS_* variables."""
    beside = Path(sys.executable).with_name("maas")
    command = str(beside) if beside.exists() else shutil.which("maas")
    assert command, "the maas console script is not installed (pip install -e .[test])"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAAS_")}
    return subprocess.run(
        [command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_replaying_the_committed_sample_gives_its_expected_kpis(tmp_path: Path) -> None:
    done = maas(tmp_path, "replay", str(SAMPLE), "--out", "sample.duckdb", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["ok"] and summary["payloads"]["failed"] == 0 and summary["totals"]["rejected"] == 0
    assert not summary["warnings"], summary["warnings"]
    expected: dict[str, Any] = json.loads((SAMPLE / EXPECTED_FILE).read_text())
    store = DuckDBStore(tmp_path / "sample.duckdb")
    try:
        problems = differences(expected, observed(store))
    finally:
        store.close()
    assert not problems, f"{len(problems)} differences from expected.json:\n" + "\n".join(problems)


def test_sample_writes_an_archive_and_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    out = tmp_path / "sample"
    done = maas(tmp_path, "cds", "sample", "--out", str(out), "--seed", "3", "--days", "2")
    assert done.returncode == 0, done.stderr
    assert "prip-s1a-serco (S1A-Serco):" in done.stdout and "mission-plans (MP-SFTP):" in done.stdout
    assert f"wrote {out}/" in done.stdout and "seed 3, 2 day(s)" in done.stdout
    first = tree(out)
    assert EXPECTED_FILE in first and any(name.endswith(".gz.json") for name in first)

    refused = maas(tmp_path, "cds", "sample", "--out", str(out), "--seed", "4")
    assert refused.returncode == 2
    assert "is not empty" in refused.stderr and "--force" in refused.stderr
    assert tree(out) == first  # nothing touched

    (out / "stray.txt").write_text("left over")
    again = maas(tmp_path, "cds", "sample", "--out", str(out), "--seed", "3", "--days", "2", "--force")
    assert again.returncode == 0, again.stderr
    assert tree(out) == first  # same seed and days: the same bytes, and nothing else


def test_a_file_is_not_an_output_directory(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("")
    done = maas(tmp_path, "cds", "sample", "--out", "taken", "--force")
    assert done.returncode == 2 and "not a directory" in done.stderr


def test_ctrl_c_says_the_directory_is_partial_and_a_forced_rerun_replaces_it(tmp_path: Path) -> None:
    out = tmp_path / "sample"
    command = [sys.executable, "-m", "maas_cli", "cds", "sample", "--out", str(out), "--days", "60"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAAS_")}
    result = interrupted(command, env, tmp_path, ready=lambda _: out.is_dir() and any(out.iterdir()))
    assert result.returncode == 130, result.stderr
    assert "Traceback" not in result.stderr
    said = f"sample interrupted: {out} holds part of a sample; delete it, or run again with --force"
    assert said in result.stderr
    assert maas(tmp_path, "cds", "sample", "--out", str(out), "--force").returncode == 0
