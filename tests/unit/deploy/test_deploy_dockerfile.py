"""The image's Dockerfile: pinned base, non-root user, a healthcheck that works, a lean context.

No Docker engine runs here, so the file is parsed with the official BuildKit parser (the
``dockerfile`` package) and linted with hadolint; the healthcheck command itself is run against
the real /health endpoint of ``maas.observe``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import dockerfile
import pytest
from deploy_files import DOCKERFILE, METRICS_PORT, ROOT, image_pinned, probe_command, run, tool

pytestmark = pytest.mark.unit


def _commands() -> tuple[dockerfile.Command, ...]:
    return dockerfile.parse_file(str(DOCKERFILE))


def _args() -> dict[str, str]:
    """ARG defaults, to resolve ``FROM ${PYTHON_IMAGE}`` and ``USER ${MAAS_UID}``."""
    pairs = (c.value[0].split("=", 1) for c in _commands() if c.cmd == "ARG" and "=" in c.value[0])
    return {name: default for name, default in pairs}


def _resolve(text: str) -> str:
    args = _args()
    return re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m[1], m[0]), text)


def _last(instruction: str) -> dockerfile.Command:
    found = [c for c in _commands() if c.cmd == instruction]
    assert found, f"the Dockerfile has no {instruction}"
    return found[-1]


def test_every_base_image_is_pinned_to_a_release() -> None:
    stages: set[str] = set()
    for command in (c for c in _commands() if c.cmd == "FROM"):
        image = _resolve(command.value[0])
        assert image in stages or image_pinned(image), (
            f"line {command.start_line}: FROM {image} is not pinned"
        )
        if len(command.value) == 3 and command.value[1].upper() == "AS":
            stages.add(command.value[2])


def test_the_final_stage_runs_as_a_non_root_user() -> None:
    last_from = _last("FROM").start_line
    users = [c for c in _commands() if c.cmd == "USER" and c.start_line > last_from]
    assert users, "the final stage sets no USER: it would run as root"
    user = _resolve(users[-1].value[0]).split(":")[0]
    assert user not in ("root", "0"), f"USER {user} is root"


def test_healthcheck_probes_health_on_the_exposed_metrics_port() -> None:
    check = _last("HEALTHCHECK")
    exposed = {port for c in _commands() if c.cmd == "EXPOSE" for port in c.value}
    assert check.json and check.value[0] == "CMD"
    assert f"127.0.0.1:{METRICS_PORT}/health" in " ".join(check.value)
    assert str(METRICS_PORT) in exposed


def test_entrypoint_is_the_maas_command() -> None:
    assert _last("ENTRYPOINT").value == ("maas",)


def _healthcheck_argv(port: int) -> list[str]:
    command = list(_last("HEALTHCHECK").value[1:])
    assert command[0] == "python"
    return probe_command([sys.executable, *command[1:]], port)


def test_healthcheck_command_passes_against_a_live_health_endpoint(health_port: int) -> None:
    result = run(*_healthcheck_argv(health_port))
    assert result.returncode == 0, result.stderr


def test_healthcheck_command_fails_when_nothing_answers(closed_port: int) -> None:
    assert run(*_healthcheck_argv(closed_port)).returncode != 0


def _context_entries() -> set[str]:
    """Names the .dockerignore lets back in after excluding everything."""
    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    assert "*" in lines, ".dockerignore should start from 'exclude everything'"
    return {line[1:].rstrip("/") for line in lines if line.startswith("!")}


def test_every_copied_path_exists_and_is_in_the_build_context() -> None:
    allowed = _context_entries()
    for command in (c for c in _commands() if c.cmd == "COPY" and not c.flags):
        for source in command.value[:-1]:
            assert (ROOT / source).exists(), f"line {command.start_line}: COPY {source}: no such path"
            assert Path(source).parts[0] in allowed, f"COPY {source} is excluded by .dockerignore"


def test_the_context_holds_what_the_package_build_reads() -> None:
    """pip builds from pyproject.toml; its readme and every packaged top-level package must be copied."""
    copied = {Path(s).parts[0] for c in _commands() if c.cmd == "COPY" and not c.flags for s in c.value[:-1]}
    pyproject = (ROOT / "pyproject.toml").read_text()
    packages = re.search(r"include = \[([^]]*)\]", pyproject)
    assert packages
    wanted = {name.strip(' "*') for name in packages[1].split(",")}
    assert {"pyproject.toml", "README.md", *wanted} <= copied


def test_hadolint_finds_nothing() -> None:
    result = run(tool("hadolint"), "--format", "json", str(DOCKERFILE))
    findings = json.loads(result.stdout or "[]")
    assert not findings, "\n".join(f"line {f['line']}: {f['code']} {f['message']}" for f in findings)
