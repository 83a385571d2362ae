"""The dev-services script and the compose file describe the same services and document their knobs."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "dev" / "services.sh"
COMPOSE = ROOT / "deploy" / "compose.dev.yaml"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", *args], capture_output=True, text=True, timeout=30, check=False)


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text()))


def test_script_parses() -> None:
    result = _run("-n", str(SCRIPT))
    assert result.returncode == 0, result.stderr


def test_help_documents_every_environment_knob_the_script_reads() -> None:
    result = _run(str(SCRIPT), "--help")
    knobs = set(re.findall(r"\$\{(MAAS_[A-Z_]+)", SCRIPT.read_text()))
    assert result.returncode == 0
    assert knobs and not {knob for knob in knobs if knob not in result.stdout}


def test_unknown_command_is_a_usage_error() -> None:
    result = _run(str(SCRIPT), "restart-everything")
    assert result.returncode == 2
    assert "Usage:" in result.stderr


def test_compose_runs_the_opensearch_minor_version_the_script_runs() -> None:
    script_version = re.search(r"MAAS_OPENSEARCH_VERSION:-([0-9.]+)", SCRIPT.read_text())
    image = _compose()["services"]["opensearch"]["image"]
    compose_version = re.search(r":-([0-9.]+)\}$", image)
    assert script_version and compose_version
    assert compose_version[1].split(".")[:2] == script_version[1].split(".")[:2]


def test_compose_services_publish_on_loopback_and_have_healthchecks() -> None:
    for name, service in _compose()["services"].items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
