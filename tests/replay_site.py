"""A small site for replay and inspect tests: a real ``maas collect`` run that leaves an archive.

The site has a filesystem inbox of CSV files, one collector file, and the test catalog
(``chain_catalog``: raw → doubled → tripled). ``Site.collect`` runs the real CLI once, so the
archive the replay tests read was written by the collector, sidecars and all.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from chain_catalog import CATALOG

from maas.catalog import Catalog
from maas.engine.registry import EngineRegistry
from maas.inspect.views import View
from maas.model import ModelRegistry

TESTS = Path(__file__).resolve().parent
COLLECTOR_ID = "inbox-csv"
INTERFACE = "Inbox"

# Views over the test catalog's tables, as a business catalog contributes them (``replay_site:VIEWS``).
VIEWS = Catalog(
    ModelRegistry(),
    EngineRegistry(),
    views=(
        View(
            "chain",
            "SELECT r.name, r.value, d.doubled, t.tripled FROM test_raw r "
            "LEFT JOIN test_doubled d USING (name) LEFT JOIN test_tripled t USING (name)",
            "each raw value with what the engines made of it",
            key="name",
            order_by=("name",),
        ),
        View(
            "completeness",
            "SELECT r.name, CASE WHEN t.tripled IS NULL THEN 'Missing' ELSE 'Complete' END AS status "
            "FROM test_raw r LEFT JOIN test_tripled t USING (name)",
            order_by=("name",),
        ),
        View("orphans", "SELECT * FROM no_such_family", "needs a table this database lacks"),
    ),
)


def csv_collector(
    inbox: Path, collector_id: str = COLLECTOR_ID, interface: str = INTERFACE
) -> dict[str, Any]:
    """One filesystem collector of ``name,value`` CSV files into ``test-raw``."""
    source = {"type": "filesystem", "root": str(inbox), "patterns": ["*.csv"], "stable_checks": 0}
    fields = {"name": {"path": "name", "required": True}, "value": {"path": "value", "type": "int"}}
    return {
        "id": collector_id,
        "interface_name": interface,
        "source": source,
        "extract": {"format": "csv", "fields": fields},
        "model": "test-raw",
    }


@dataclass(frozen=True)
class Site:
    root: Path

    @property
    def archive(self) -> Path:
        return self.root / "archive"

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def collectors(self) -> Path:
        return self.root / "collectors"

    @classmethod
    def create(cls, root: Path, store_url: str | None = None, **settings: Any) -> Site:
        site = cls(root)
        site.inbox.mkdir(parents=True)
        site.collectors.mkdir()
        site.write_collectors([csv_collector(site.inbox)])
        site.write_settings(store_url or f"duckdb:///{root / 'maas.duckdb'}", **settings)
        return site

    def clone(self, root: Path) -> Site:
        """A copy (archive, stores, collector files) configured for its new place.

        The collector files are copied unchanged, so the archived sidecars still match them.
        """
        shutil.copytree(self.root, root)
        site = Site(root)
        settings = yaml.safe_load((self.root / "maas.yaml").read_text())
        site.write_settings(settings["store"]["url"].replace(str(self.root), str(root)))
        return site

    def write_collectors(self, collectors: list[dict[str, Any]], directory: Path | None = None) -> Path:
        directory = directory or self.collectors
        directory.mkdir(exist_ok=True)
        (directory / "inbox.yaml").write_text(yaml.safe_dump({"collectors": collectors}))
        return directory

    def write_settings(self, store_url: str, name: str = "maas.yaml", **extra: Any) -> Path:
        settings = {
            "store": {"url": store_url},
            "archive_dir": str(self.archive),
            "state_dir": str(self.root / "state"),
            "collectors_dir": str(self.collectors),
            "routing_file": str(CATALOG.routing_file),
            "catalogs": ["chain_catalog:CATALOG"],
            **extra,
        }
        (self.root / name).write_text(yaml.safe_dump(settings))
        return self.root / name

    def drop(self, name: str, text: str) -> None:
        (self.inbox / name).write_text(text)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAAS_")}
        return env | {"MAAS_CONFIG": str(self.root / "maas.yaml"), "PYTHONPATH": str(TESTS), "COLUMNS": "200"}

    def maas(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """The real CLI in a subprocess, configured by this site only."""
        return subprocess.run(
            [sys.executable, "-m", "maas_cli", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=self.root,
        )

    def interrupted(self, *args: str, ready: Callable[[int], bool]) -> subprocess.CompletedProcess[str]:
        """The CLI stopped by Ctrl-C (SIGINT) once ``ready(pid)`` says it got where the test wants."""
        return interrupted([sys.executable, "-m", "maas_cli", *args], self.env(), self.root, ready)

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = self.maas(*args)
        assert result.returncode == 0, f"maas {' '.join(args)}: exit {result.returncode}\n{result.stderr}"
        return result

    def sql(self, query: str, db: str | None = None, fmt: str = "csv", *options: str) -> str:
        """``maas inspect sql`` output (on ``db``, default the site's configured store)."""
        return self.ok("inspect", "sql", query, *(["--db", db] if db else []), "-f", fmt, *options).stdout

    def payloads(self) -> list[Path]:
        return sorted(self.archive.rglob("*.gz"))


def interrupted(
    command: list[str], env: dict[str, str], cwd: Path, ready: Callable[[int], bool]
) -> subprocess.CompletedProcess[str]:
    """``command`` stopped by Ctrl-C (SIGINT) once ``ready(pid)`` says it got where the test wants."""
    process = subprocess.Popen(
        command,
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a shell without job control starts background jobs with SIGINT ignored: undo that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 60
        while not ready(process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # from where it is now to where it waits
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)
