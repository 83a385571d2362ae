"""The dev-services script and the compose file describe the same services and document their knobs."""

from __future__ import annotations

import os
import re
import subprocess
import zipfile
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


def _script_version() -> str:
    match = re.search(r"MAAS_OPENSEARCH_VERSION:-([0-9.]+)", SCRIPT.read_text())
    assert match
    return match[1]


def _call(function: str, cache: Path, services: Path) -> subprocess.CompletedProcess[str]:
    """Runs one function of the sourced script, with the cache and services directories redirected."""
    env = {**os.environ, "MAAS_CACHE_DIR": str(cache), "MAAS_SERVICES_DIR": str(services)}
    return subprocess.run(
        ["bash", "-c", f'source "$1" && {function}', "sourcing", str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=env,
    )


def _cached_geo_jar(cache: Path, manifest: str) -> Path:
    """A jar in the cache where the script looks first, so the install runs without Maven."""
    cache.mkdir(parents=True)
    jar = cache / f"opensearch-geo-{_script_version()}.jar"
    with zipfile.ZipFile(jar, "w") as archive:
        archive.writestr("META-INF/MANIFEST.MF", manifest)
        archive.writestr("org/opensearch/geo/GeoModulePlugin.class", b"\xca\xfe\xba\xbe")
    return jar


def _properties(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line and line[0] != "#")
    return {key: value for key, value in pairs}


@pytest.fixture
def modules(tmp_path: Path) -> Path:
    """The modules directory of an unpacked distribution, as the script lays it out."""
    path = tmp_path / "services" / f"opensearch-{_script_version()}" / "modules"
    path.mkdir(parents=True)
    return path


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


# What OpenSearch 2.19 reads from a plugin descriptor (the transport-netty4 module's has the same keys).
DESCRIPTOR_KEYS = {
    "name",
    "description",
    "version",
    "opensearch.version",
    "java.version",
    "classname",
    "custom.foldername",
    "extended.plugins",
    "has.native.controller",
}


def test_geo_module_is_installed_as_jar_and_descriptor(tmp_path: Path, modules: Path) -> None:
    jar = _cached_geo_jar(tmp_path / "cache", "Manifest-Version: 1.0\r\nX-Compile-Target-JDK: 11\r\n\r\n")
    result = _call("os_install_geo", tmp_path / "cache", tmp_path / "services")
    assert result.returncode == 0, result.stderr
    version = _script_version()
    descriptor = _properties(modules / "geo" / "plugin-descriptor.properties")
    assert set(descriptor) == DESCRIPTOR_KEYS
    assert descriptor["name"] == "geo" and descriptor["classname"] == "org.opensearch.geo.GeoModulePlugin"
    assert descriptor["version"] == descriptor["opensearch.version"] == version
    assert descriptor["java.version"] == "11"
    assert descriptor["description"] and descriptor["has.native.controller"] == "false"
    assert (modules / "geo" / f"geo-{version}.jar").read_bytes() == jar.read_bytes()
    assert sorted(path.name for path in modules.iterdir()) == ["geo"]


def test_geo_module_already_installed_is_left_alone(tmp_path: Path, modules: Path) -> None:
    (modules / "geo").mkdir()
    (modules / "geo" / "plugin-descriptor.properties").write_text("name=geo\n")
    result = _call("os_install_geo", tmp_path / "no-cache", tmp_path / "services")
    assert result.returncode == 0, result.stderr
    assert (modules / "geo" / "plugin-descriptor.properties").read_text() == "name=geo\n"
    assert not (tmp_path / "no-cache").exists()


def test_geo_jar_without_a_target_jdk_installs_nothing(tmp_path: Path, modules: Path) -> None:
    jar = _cached_geo_jar(tmp_path / "cache", "Manifest-Version: 1.0\r\n\r\n")
    result = _call("os_install_geo", tmp_path / "cache", tmp_path / "services")
    assert result.returncode == 1
    assert str(jar) in result.stderr and "X-Compile-Target-JDK" in result.stderr
    assert not (modules / "geo").exists()
