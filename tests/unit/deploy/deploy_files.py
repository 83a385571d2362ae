"""Paths and small readers shared by the deployment-file tests (no Docker, no cluster here)."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml
from services import missing

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
K8S = DEPLOY / "k8s"
SYSTEMD = DEPLOY / "systemd"
DOCKERFILE = ROOT / "Dockerfile"
METRICS_PORT = 9102

# A tag that names a release: at least major.minor (``3.13.7``, ``v2.55.1``, ``16.4-bookworm``).
PINNED_TAG = re.compile(r"^v?\d+\.\d+[\w.-]*$")


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def load_all_yaml(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def image_pinned(image: str) -> bool:
    """``name:tag`` with a release tag, or a digest; never a bare name or ``latest``."""
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and bool(PINNED_TAG.match(tag))


def tool(name: str) -> str:
    """The path of a command-line tool; without it a skip that says how to get it, or a failure
    where the whole suite is required to run (CI: ``MAAS_REQUIRE_SERVICES=1``)."""
    path = shutil.which(name)
    if path is None:
        missing(f"{name} is not installed (see docs/operations.md, 'Validating the deployment files')")
    return path


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, check=False)


def probe_command(command: list[str], port: int) -> list[str]:
    """A healthcheck command with the metrics port replaced, to run it against a real server."""
    return [part.replace(f":{METRICS_PORT}/", f":{port}/") for part in command]


def _invoke(argv: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    """Exit code and output of the real ``maas`` CLI, in this process.

    The app's callback configures logging for a process: the test process gets its own back.
    """
    from typer.testing import CliRunner

    from maas_cli.app import app

    loggers = [logging.getLogger(name) for name in ("", "pika", "opensearch", "urllib3", "paramiko")]
    saved = [(logger, logger.level, list(logger.handlers)) for logger in loggers]
    try:
        result = CliRunner().invoke(app, argv, env=env)
    finally:
        for logger, level, handlers in saved:
            logger.setLevel(level)
            logger.handlers[:] = handlers
    return result.exit_code, result.output


def cli_error(argv: list[str]) -> str | None:
    """What the real ``maas`` CLI says against this command line (None: it parses).

    ``--help`` at the end makes click check every command and option name without running
    anything, so a deployment file cannot call a command or option that does not exist.
    """
    code, output = _invoke([*argv, "--help"])
    return None if code == 0 else f"maas {' '.join(argv)}: {output.strip()}"


def validate_deployment(settings_file: Path, collectors: Path) -> tuple[int, str]:
    """``maas config validate`` of a deployment's settings with its collectors directory as the
    repository holds it (the settings name the path inside the container or pod)."""
    return _invoke(
        ["--config", str(settings_file), "config", "validate"], {"MAAS_COLLECTORS_DIR": str(collectors)}
    )


def enabled_collectors(directory: Path) -> list[str]:
    """Ids of the collectors a ``maas collect`` without ``--collector`` would run there."""
    from maas.collector.config import load_collectors, select
    from maas.config import Settings
    from maas_cli.defaults import catalog_for

    return [c.id for c in select(load_collectors(directory, catalog_for(Settings()).models), None)]


def packaged_pools() -> set[str]:
    """Pool names of the routing file the image ships."""
    from maas.config import Settings
    from maas_cli.defaults import catalog_for

    routing = catalog_for(Settings()).routing_file
    assert routing is not None, "the packaged catalog has no routing file (cds/config/routing.yaml)"
    return set(load_yaml(routing)["pools"])
