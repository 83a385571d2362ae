"""``maas collect`` end to end on the embedded deployment, with a filesystem source."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from chain_catalog import CATALOG, RAW, TRIPLED

from maas.store.duckdb import DuckDBStore
from maas.store.lock import ProcessLock

pytestmark = pytest.mark.unit
TESTS = Path(__file__).resolve().parents[1]


def collector_file(inbox: Path) -> dict[str, object]:
    return {
        "collectors": [
            {
                "id": "inbox-csv",
                "interface_name": "Inbox",
                "source": {
                    "type": "filesystem",
                    "root": str(inbox),
                    "patterns": ["*.csv"],
                    "stable_checks": 0,
                },
                "extract": {
                    "format": "csv",
                    "fields": {
                        "name": {"path": "name", "required": True},
                        "value": {"path": "value", "type": "int"},
                    },
                },
                "model": "test-raw",
            }
        ]
    }


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "inbox").mkdir()
    (tmp_path / "collectors").mkdir()
    (tmp_path / "collectors" / "inbox.yaml").write_text(yaml.safe_dump(collector_file(tmp_path / "inbox")))
    settings = {
        "store": {"url": f"duckdb:///{tmp_path / 'maas.duckdb'}"},
        "archive_dir": str(tmp_path / "archive"),
        "state_dir": str(tmp_path / "state"),
        "collectors_dir": str(tmp_path / "collectors"),
        "routing_file": str(CATALOG.routing_file),
        "catalogs": ["chain_catalog:CATALOG"],
    }
    (tmp_path / "maas.yaml").write_text(yaml.safe_dump(settings))
    return tmp_path


def maas(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAAS_")}
    env |= {"MAAS_CONFIG": str(site / "maas.yaml"), "PYTHONPATH": str(TESTS)}
    return subprocess.run(
        [sys.executable, "-m", "maas_cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=site,
    )


def stored(site: Path) -> tuple[dict[str, int], dict[str, int]]:
    store = DuckDBStore(site / "maas.duckdb", read_only=True)
    try:
        raw = {d.data["name"]: d.data["value"] for d in store.scan(RAW)}
        tripled = {d.data["name"]: d.data["tripled"] for d in store.scan(TRIPLED)}
        return raw, tripled
    finally:
        store.close()


def test_collect_stores_archives_runs_the_chain_and_is_incremental(site: Path) -> None:
    (site / "inbox" / "a.csv").write_text("name,value\na,1\nb,2\n")
    (site / "inbox" / "b.csv").write_text("name,value\nc,3\nbad,not-a-number\nd,4\n")
    first = maas(site, "collect")
    assert first.returncode == 0, first.stderr
    raw, tripled = stored(site)
    assert raw == {"a": 1, "b": 2, "c": 3, "d": 4}
    assert tripled == {"a": 6, "b": 12, "c": 18, "d": 24}
    assert "b.csv" in first.stderr and "record" in first.stderr and "value" in first.stderr  # the bad row
    archived = sorted(p.name for p in (site / "archive").rglob("*.gz"))
    assert archived == ["a.csv.gz", "b.csv.gz"]
    second = maas(site, "collect")
    assert second.returncode == 0, second.stderr
    assert stored(site) == (raw, tripled)
    assert "collector inbox-csv (Inbox): payloads=0 records=0" in second.stderr
    assert sorted(p.name for p in (site / "archive").rglob("*.gz")) == archived  # nothing new


def test_dry_run_writes_nothing(site: Path) -> None:
    (site / "inbox" / "a.csv").write_text("name,value\na,1\n")
    result = maas(site, "collect", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert '"family": "test-raw"' in result.stdout and '"name": "a"' in result.stdout
    assert not (site / "maas.duckdb").exists() or stored(site)[0] == {}
    assert not (site / "archive").exists()


def test_overlapping_run_exits_3(site: Path) -> None:
    with ProcessLock(site / "state" / "locks" / "collect-inbox-csv.lock", "collector inbox-csv"):
        result = maas(site, "collect")
    assert result.returncode == 3
    assert "collector inbox-csv is in use by PID" in result.stderr


def test_unknown_collector_id_is_a_config_error(site: Path) -> None:
    result = maas(site, "collect", "--collector", "nope")
    assert result.returncode == 2
    assert "unknown collector id(s): nope" in result.stderr
