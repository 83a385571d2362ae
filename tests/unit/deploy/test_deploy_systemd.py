"""deploy/systemd and deploy/cron: units that systemd accepts, and our rules for running MaaS.

``systemd-analyze verify`` checks every unit offline (it needs no running systemd). Its warnings
(unknown keys, unparsable values) exit 0, so any output is a failure here. The ExecStart path
is where docs/operations.md installs MaaS; the test points it at the installed ``maas``.
"""

from __future__ import annotations

import re
import shlex
import shutil
from collections import defaultdict
from pathlib import Path

import pytest
from deploy_files import DEPLOY, SYSTEMD, cli_error, run, tool

pytestmark = pytest.mark.unit

INSTALLED_MAAS = "/opt/maas/bin/maas"
UNITS = sorted(SYSTEMD.glob("*.service")) + sorted(SYSTEMD.glob("*.timer"))
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "CapabilityBoundingSet": "",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
}
Unit = dict[str, dict[str, list[str]]]


def _unit(path: Path) -> Unit:
    """Sections → key → values (systemd keys may repeat, so no configparser)."""
    sections: Unit = defaultdict(lambda: defaultdict(list))
    section = ""
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
        else:
            key, _, value = line.partition("=")
            sections[section][key.strip()].append(value.strip())
    return sections


def _one(unit: Unit, section: str, key: str) -> str:
    values = unit[section][key]
    assert len(values) == 1, f"[{section}] {key}: {values}"
    return values[0]


def _env_file() -> dict[str, str]:
    lines = (line for line in (SYSTEMD / "maas.env").read_text().splitlines() if line and line[0] != "#")
    return dict(line.split("=", 1) for line in lines)


def _exec_argv(unit: Unit, instance: str) -> list[str]:
    """ExecStart as systemd runs it: %i is the instance, ${VAR} comes from the EnvironmentFile."""
    command = _one(unit, "Service", "ExecStart").replace("%i", instance)
    env = _env_file()
    argv = shlex.split(re.sub(r"\$\{(\w+)\}", lambda m: env[m[1]], command))
    assert argv[0] == INSTALLED_MAAS
    return argv[1:]


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_systemd_analyze_verify_accepts_the_unit(path: Path, tmp_path: Path) -> None:
    analyze = tool("systemd-analyze")
    maas = shutil.which("maas")
    assert maas, "the maas command is not installed (pip install -e .)"
    for unit in UNITS:  # side by side, so a timer finds its service
        (tmp_path / unit.name).write_text(unit.read_text().replace(INSTALLED_MAAS, maas))
    result = run(analyze, "verify", "--man=no", "--generators=no", str(tmp_path / path.name))
    assert result.returncode == 0 and not result.stdout and not result.stderr, result.stderr


@pytest.mark.parametrize("path", sorted(SYSTEMD.glob("*.service")), ids=lambda p: p.name)
def test_services_run_unprivileged_hardened_with_the_settings_file(path: Path) -> None:
    unit = _unit(path)
    service = unit["Service"]
    assert _one(unit, "Service", "User") == "maas"
    assert service["EnvironmentFile"][0] == "/etc/maas/maas.env"
    assert _env_file()["MAAS_CONFIG"] == "/etc/maas/maas.yaml"
    for key, value in HARDENING.items():
        assert _one(unit, "Service", key) == value, f"{path.name}: {key}"
    assert _one(unit, "Service", "KillSignal") == "SIGTERM"
    assert _one(unit, "Service", "TimeoutStopSec")


def test_collect_unit_is_a_one_pass_where_a_held_lock_is_success() -> None:
    unit = _unit(SYSTEMD / "maas-collect@.service")
    assert _one(unit, "Service", "Type") == "oneshot"
    assert "3" in _one(unit, "Service", "SuccessExitStatus").split()
    argv = _exec_argv(unit, "prip")
    assert argv == ["collect", "--collector", "prip", "--once"]
    assert cli_error(argv) is None


def test_collect_timer_starts_its_service_persistently() -> None:
    timer = _unit(SYSTEMD / "maas-collect@.timer")
    unit = timer["Timer"].get("Unit", ["maas-collect@%i.service"])[0]
    assert (SYSTEMD / unit.replace("%i", "")).is_file()
    assert _one(timer, "Timer", "Persistent") == "true"
    assert _one(timer, "Install", "WantedBy") == "timers.target"


def test_collect_timer_calendar_is_understood_by_systemd() -> None:
    calendar = _one(_unit(SYSTEMD / "maas-collect@.timer"), "Timer", "OnCalendar")
    result = run(tool("systemd-analyze"), "calendar", calendar)
    assert result.returncode == 0 and "Next elapse" in result.stdout, result.stderr


def test_pool_unit_restarts_on_failure_but_not_on_a_configuration_error() -> None:
    unit = _unit(SYSTEMD / "maas-engine-pool@.service")
    assert _one(unit, "Service", "Restart") == "on-failure"
    assert _one(unit, "Service", "RestartPreventExitStatus") == "2"
    assert unit["Service"]["EnvironmentFile"][1] == "-/etc/maas/pool-%i.env"
    argv = _exec_argv(unit, "publication")
    assert argv == ["engine", "pool", "publication", "--metrics-port", _env_file()["POOL_METRICS_PORT"]]
    assert cli_error(argv) is None
    assert _one(unit, "Install", "WantedBy") == "multi-user.target"


# ------------------------------------------------------------------------------------------ cron

CRON = DEPLOY / "cron" / "maas.cron"
CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")


def _cron_jobs(templates: bool = True) -> list[tuple[list[str], str, str]]:
    """(five schedule fields, user, command) of every job line; variable lines skipped.

    A template is a job line commented out by a '#' right before its schedule (what the
    operator uncomments); ``templates=False`` gives the lines cron would run as shipped.
    """
    jobs = []
    for line in CRON.read_text().splitlines():
        if templates:
            line = line[1:] if re.match(r"^#[*\d]", line) else ""
        if not line.strip() or line.startswith("#") or re.match(r"^\w+=", line):
            continue
        fields = line.split(None, 6)
        jobs.append((fields[:5], fields[5], fields[6]))
    return jobs


def _maas_argv(command: str) -> list[str]:
    match = re.search(r"\bmaas (collect [^;&|)]*)", command)
    assert match, command
    return shlex.split(match[1])


def test_cron_lines_have_a_schedule_a_user_and_valid_shell() -> None:
    assert _cron_jobs()
    for schedule, user, command in _cron_jobs():
        assert all(CRON_FIELD.match(field) for field in schedule), schedule
        assert user == "maas"
        assert "%" not in command, "cron turns % into a newline"
        syntax = run("sh", "-n", "-c", command)
        assert syntax.returncode == 0, syntax.stderr


def test_cron_commands_are_real_one_pass_collector_runs() -> None:
    for _, _, command in _cron_jobs():
        argv = _maas_argv(command)
        assert argv[0] == "collect" and "--once" in argv and "--collector" in argv
        assert cli_error(argv) is None


def test_cron_runs_nothing_until_the_operator_names_a_collector() -> None:
    """The packaged collectors are disabled examples with example hosts: a shipped line naming
    one would fail, and mail, every period. The templates name a placeholder to replace."""
    assert _cron_jobs(templates=False) == []
    for _, _, command in _cron_jobs():
        argv = _maas_argv(command)
        assert argv[argv.index("--collector") + 1] == "ID", command


def test_cron_line_mails_failures_only(tmp_path: Path) -> None:
    """The shell around the command: exit 0 and 3 stay silent, any other code prints and fails."""
    _, _, command = _cron_jobs()[0]
    for code, silent in ((0, True), (3, True), (1, False), (2, False)):
        fake = tmp_path / f"exit{code}"
        fake.mkdir()
        line = command.replace("cd /var/lib/maas", f"cd {fake}")
        shell = f"maas() {{ echo summary; return {code}; }}; logger() {{ :; }}; {line}"
        result = run("sh", "-c", shell)
        assert (result.returncode in (0,)) == silent and (result.stdout == "") == silent, (code, result)
