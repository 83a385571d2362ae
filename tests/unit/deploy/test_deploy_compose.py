"""deploy/compose.yaml: valid for the Compose specification and true to our deployment rules.

No Docker engine runs here: the file is interpolated the way ``docker compose config`` does
(values from .env.example) and validated against the compose-spec JSON schema that
check-jsonschema ships; the rules below are ours.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from deploy_files import (
    COMPOSE,
    DEPLOY,
    METRICS_PORT,
    ROOT,
    cli_error,
    enabled_collectors,
    image_pinned,
    load_yaml,
    packaged_pools,
    probe_command,
    run,
    validate_deployment,
)

from maas.config import load_settings

pytestmark = pytest.mark.unit

ENV_EXAMPLE = DEPLOY / ".env.example"
COMPOSE_OWN = {"COMPOSE_PROFILES"}  # read by compose itself, never interpolated in the file
VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}|\$(\w+)")
SECRET_NAME = re.compile(r"PASS|SECRET|TOKEN|CREDENTIAL|PRIVATE", re.IGNORECASE)
# What each image really has to run a healthcheck with (the slim MaaS image has no curl).
PROBES = {
    "maas": {"python", "maas"},
    "rabbitmq": {"rabbitmq-diagnostics"},
    "opensearchproject/opensearch": {"curl"},
    "postgres": {"pg_isready"},
    "grafana/grafana-oss": {"curl", "wget"},
    "prom/prometheus": {"wget"},  # busybox
}


def _env_example() -> dict[str, str]:
    lines = (line.strip() for line in ENV_EXAMPLE.read_text().splitlines())
    pairs = (line.split("=", 1) for line in lines if line and not line.startswith("#"))
    return {name: value for name, value in pairs}


def _interpolate(value: Any, env: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {key: _interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [_interpolate(item, env) for item in value]
    if isinstance(value, str):
        return VARIABLE.sub(lambda m: _substitute(m, env), value)
    return value


def _substitute(match: re.Match[str], env: dict[str, str]) -> str:
    if match[0] == "$$":
        return "$"
    name, operator, argument = match[1] or match[4], match[2], match[3]
    value = env.get(name)
    if operator and operator.endswith("-") and not value:
        return str(argument)
    if operator and operator.endswith("?") and not value:
        raise AssertionError(f"compose would stop: {name}: {argument}")
    return value or ""


def _variables(value: Any) -> Iterator[re.Match[str]]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _variables(item)
    elif isinstance(value, list):
        for item in value:
            yield from _variables(item)
    elif isinstance(value, str):
        yield from (m for m in VARIABLE.finditer(value) if m[0] != "$$")


@cache
def _raw() -> dict[str, Any]:
    return dict(load_yaml(COMPOSE))


@cache
def _compose() -> dict[str, Any]:
    """The file as compose runs it, secrets filled with stand-ins (as an operator's .env would)."""
    env = {name: value or f"example-{name.lower()}" for name, value in _env_example().items()}
    return dict(_interpolate(_raw(), env))


def _services() -> dict[str, dict[str, Any]]:
    return dict(_compose()["services"])


def _maas_services() -> dict[str, dict[str, Any]]:
    return {
        name: s for name, s in _services().items() if s.get("build", {}).get("dockerfile") == "Dockerfile"
    }


def _pools() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in _maas_services().items() if s["command"][:2] == ["engine", "pool"]}


def _one_shots() -> set[str]:
    return {name for name, s in _services().items() if s.get("restart") == "no"}


def _family(image: str) -> str:
    return "maas" if image.startswith("maas:") else image.rsplit(":", 1)[0]


def _compose_schema() -> dict[str, Any]:
    vendored = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    return dict(json.loads(vendored.read_text()))


def test_file_validates_against_the_compose_specification() -> None:
    validator = jsonschema.Draft202012Validator(_compose_schema())
    errors = sorted(validator.iter_errors(_compose()), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


def test_every_variable_is_documented_in_env_example_and_none_is_stale() -> None:
    used = {m[1] or m[4] for m in _variables(_raw())}
    documented = set(_env_example())
    assert used - documented == set(), "used in compose.yaml, missing from .env.example"
    assert documented - used - _secret_sources() - COMPOSE_OWN == set(), "in .env.example, used nowhere"


def test_env_example_repeats_the_defaults_of_the_compose_file() -> None:
    example = _env_example()
    for match in _variables(_raw()):
        if match[2] and match[2].endswith("-"):
            assert example[match[1]] == match[3], f"{match[1]}: .env.example says {example[match[1]]!r}"


def _secret_sources() -> set[str]:
    return {s["environment"] for s in _compose().get("secrets", {}).values() if "environment" in s}


def test_secrets_come_from_the_environment_or_files_and_are_blank_in_the_example() -> None:
    example = _env_example()
    for name, secret in _raw()["secrets"].items():
        assert set(secret) <= {"environment", "file", "external"}, f"secret {name}: inline value?"
    for variable in _secret_sources() | {n for n in example if SECRET_NAME.search(n)}:
        assert example.get(variable) == "", f".env.example gives {variable} a value"


def _literal_secrets(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str) and SECRET_NAME.search(str(key)) and not _is_reference(str(key), item):
                yield f"{path}.{key}"
            yield from _literal_secrets(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _literal_secrets(item, f"{path}[{index}]")


def _is_reference(key: str, value: str) -> bool:
    interpolated = bool(re.fullmatch(r"\$\{\w+(:?\?[^}]*)?\}", value))
    return interpolated or (key.endswith("FILE") and value.startswith("/run/secrets/"))


def test_no_literal_secret_in_the_file() -> None:
    assert list(_literal_secrets(_raw()["services"], "services")) == []


def test_every_image_is_pinned_and_the_maas_image_is_this_version() -> None:
    version = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    assert version
    for name, service in _services().items():
        assert image_pinned(service["image"]), f"{name}: {service['image']} is not pinned"
    assert {s["image"] for s in _maas_services().values()} == {f"maas:{version[1]}"}


def test_every_long_running_service_has_a_healthcheck_its_image_can_run() -> None:
    for name, service in _services().items():
        if name in _one_shots():
            continue
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"
        program = test[1].split()[0]
        assert program in PROBES[_family(service["image"])], f"{name}: {program} is not in its image"


def test_one_shots_are_awaited_to_completion_not_health() -> None:
    assert _one_shots() == {"routing-setup"}
    for name, service in _maas_services().items():
        if name in _one_shots():
            assert service["healthcheck"] == {"disable": True}
            continue
        condition = service["depends_on"]["routing-setup"]["condition"]
        assert condition == "service_completed_successfully", name


def test_named_volumes_are_declared_and_used() -> None:
    declared = set(_compose()["volumes"])
    used = set()
    for name, service in _services().items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name} mounts undeclared volume {source}"
                used.add(source)
    assert declared == used


def _bind_mounts() -> Iterator[tuple[str, str]]:
    for name, service in _services().items():
        for volume in service.get("volumes", []):
            if volume.startswith("."):
                yield name, volume.split(":")[0]


def test_bind_mounts_stay_inside_the_repository() -> None:
    for name, source in _bind_mounts():
        assert (DEPLOY / source).resolve().is_relative_to(ROOT), f"{name}: {source}"


def test_bind_mounts_point_at_existing_files() -> None:
    mounts = list(_bind_mounts())
    assert any("grafana" in source for _, source in mounts), "Grafana's provisioning is not mounted"
    missing = [f"{name}: {source}" for name, source in mounts if not (DEPLOY / source).exists()]
    assert not missing, f"mounted but missing: {missing}"


def test_maas_commands_are_real_cli_commands() -> None:
    for name, service in _maas_services().items():
        assert cli_error(service["command"]) is None, name
        healthcheck = service.get("healthcheck", {}).get("test", [])
        if healthcheck[1:2] == ["maas"]:
            assert cli_error(healthcheck[2:]) is None, f"{name} healthcheck"


def test_pools_serve_metrics_where_their_healthcheck_looks_and_stop_gracefully() -> None:
    assert _pools()
    for name, service in _pools().items():
        command = service["command"]
        assert command[command.index("--metrics-port") + 1] == str(METRICS_PORT), name
        assert f"127.0.0.1:{METRICS_PORT}/health" in " ".join(service["healthcheck"]["test"]), name
        assert service["stop_signal"] == "SIGTERM" and service["stop_grace_period"], name
        assert name == f"pool-{command[2]}"


def test_every_pool_of_the_packaged_routing_file_has_a_service() -> None:
    pools = packaged_pools()
    assert {s["command"][2] for s in _pools().values()} == pools


def test_prometheus_scrapes_every_pool_on_its_metrics_port() -> None:
    config = load_yaml(DEPLOY / _compose()["configs"]["prometheus-config"]["file"])
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "maas-pools"]
    (discovery,) = job["dns_sd_configs"]
    assert discovery["port"] == METRICS_PORT
    assert sorted(discovery["names"]) == sorted(_pools())


def _scraped() -> set[tuple[str, int]]:
    """(service name, port) of every target the bundled Prometheus finds by DNS."""
    config = load_yaml(DEPLOY / _compose()["configs"]["prometheus-config"]["file"])
    return {
        (name, discovery["port"])
        for job in config["scrape_configs"]
        for discovery in job.get("dns_sd_configs", [])
        for name in discovery["names"]
    }


def test_every_long_running_maas_service_serves_metrics_and_prometheus_scrapes_them() -> None:
    """The pipeline dashboard's panels read what Prometheus scraped: a service that serves no
    metrics, or serves them where nothing looks, leaves its panels empty for good."""
    for name, service in _maas_services().items():
        if name in _one_shots():
            continue
        command = service["command"]
        assert "--metrics-port" in command, f"{name} serves no /metrics"
        port = int(command[command.index("--metrics-port") + 1])
        assert str(port) in service.get("expose", []), f"{name} does not expose {port}"
        assert (name, port) in _scraped(), f"Prometheus does not scrape {name} on {port}"


def _settings_file() -> str:
    configs = {c["source"]: c["target"] for c in _maas_services()["collect"]["configs"]}
    assert configs["maas-settings"] == _maas_services()["collect"]["environment"]["MAAS_CONFIG"]
    return str(_compose()["configs"]["maas-settings"]["file"])


def test_the_settings_file_validates_and_its_secret_files_are_mounted() -> None:
    settings = load_settings(DEPLOY / _settings_file(), environ={})
    assert settings.store.url.startswith("http://opensearch:") and settings.bus.url.startswith(
        "amqp://rabbitmq:"
    )
    references = [s.password.reference for s in (settings.store, settings.bus) if s.password]
    assert references, "the settings name no secret: then no secret needs mounting"
    for reference in references:
        assert reference.startswith("file:/run/secrets/"), reference
        secret = reference.removeprefix("file:/run/secrets/")
        for name, service in _maas_services().items():
            assert secret in service["secrets"], f"{name} does not get secret {secret}"


def _collectors_mount() -> tuple[str, Path]:
    """The container path of the settings' collectors_dir and the repository directory every
    MaaS container mounts there (read-only)."""
    settings = load_settings(DEPLOY / _settings_file(), environ={})
    assert settings.collectors_dir, "the packaged collectors are disabled examples: name your own"
    target = str(settings.collectors_dir)
    sources = set()
    for name, service in _maas_services().items():
        mounts = {v.split(":")[1]: v for v in service["volumes"]}
        assert target in mounts, f"{name} does not mount {target}"
        assert mounts[target].endswith(":ro"), f"{name} may write its collectors"
        sources.add(mounts[target].split(":")[0])
    (source,) = sources
    return target, DEPLOY / source


def test_the_settings_name_a_collectors_directory_of_the_repository_that_validates() -> None:
    _, directory = _collectors_mount()
    assert directory.is_dir() and list(directory.glob("*.yaml")), f"{directory}: no collector file"
    code, output = validate_deployment(DEPLOY / _settings_file(), directory)
    assert code == 0, output


def test_the_collect_service_waits_for_an_enabled_collector_and_stops_on_a_config_error() -> None:
    """Nothing enabled: ``maas collect`` exits 2, so the service is opt-in (profile) until the
    shipped directory enables one. Compose cannot spare exit 2 alone: the restarts are bounded."""
    _, directory = _collectors_mount()
    collect = _maas_services()["collect"]
    if not enabled_collectors(directory):
        assert collect.get("profiles") == ["collect"]
    assert re.fullmatch(r"on-failure:[1-9]\d?", collect["restart"]), collect["restart"]
    others = {name for name, s in _services().items() if s.get("profiles") and name != "collect"}
    assert not others, f"only the collect service waits for a profile: {others}"


def test_maas_containers_run_read_only_without_privileges() -> None:
    for name, service in _maas_services().items():
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert "/tmp" in service["tmpfs"], name


def test_only_grafana_is_published_beyond_the_host_loopback() -> None:
    for name, service in _services().items():
        for port in service.get("ports", []):
            assert name == "grafana" or str(port).startswith("127.0.0.1:"), f"{name} publishes {port}"


def test_opensearch_runs_the_minor_version_the_tests_run() -> None:
    script = (DEPLOY / "dev" / "services.sh").read_text()
    tested = re.search(r"MAAS_OPENSEARCH_VERSION:-([0-9.]+)", script)
    deployed = _services()["opensearch"]["image"].rsplit(":", 1)[1]
    assert tested and deployed.split(".")[:2] == tested[1].split(".")[:2]


def test_pool_healthcheck_command_passes_against_a_live_health_endpoint(health_port: int) -> None:
    for name, service in _pools().items():
        command = service["healthcheck"]["test"][1:]
        assert command[0] == "python", name
        result = run(*probe_command([sys.executable, *command[1:]], health_port))
        assert result.returncode == 0, f"{name}: {result.stderr}"


def test_pool_healthcheck_command_fails_on_a_not_found_answer(health_port: int) -> None:
    command = next(iter(_pools().values()))["healthcheck"]["test"][1:]
    broken = [part.replace("/health", "/no-such-page") for part in command]
    assert run(*probe_command([sys.executable, *broken[1:]], health_port)).returncode != 0
