"""A live broker refusing the configured login or vhost: exit 2 at once (a setting to fix, so
retrying for the reconnect budget cannot help), one line naming the URL, the user, the vhost
and the settings to check; never the password."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.integration

WRONG = "not-the-password-0f3"


def run(tmp_path: Path, rabbitmq_url: str, vhost: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``maas`` with the test broker's user, a wrong password and a one-shot budget of 60 s."""
    parts = urlsplit(rabbitmq_url)
    settings = tmp_path / "maas.yaml"
    settings.write_text(
        f"bus:\n  url: amqp://{parts.hostname}:{parts.port or 5672}/{vhost}\n"
        f"  username: {parts.username or 'guest'}\n  password: env:IT_BUS_PW\n"
        "  one_shot_reconnect_max_s: 60\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAAS_")}
    env["COLUMNS"] = "500"  # doctor's table on one line per component
    env["IT_BUS_PW"] = WRONG if vhost == "%2F" else (parts.password or "guest")
    command = ["maas", "--config", str(settings), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)


@pytest.mark.parametrize("command", [("dlq", "list"), ("routing", "setup")])
def test_a_wrong_password_fails_fast_naming_url_user_and_keys(
    tmp_path: Path, rabbitmq_url: str, command: tuple[str, ...]
) -> None:
    parts = urlsplit(rabbitmq_url)
    started = time.monotonic()
    result = run(tmp_path, rabbitmq_url, "%2F", *command)
    assert time.monotonic() - started < 20  # not the 60 s budget: a refusal is not retried
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and WRONG not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: amqp://{parts.hostname}:{parts.port or 5672}/%2F: ")
    assert f"refused the login of user '{parts.username or 'guest'}' (403 ACCESS_REFUSED" in line
    assert line.endswith("check bus.username and bus.password")


def test_an_unknown_vhost_names_it(tmp_path: Path, rabbitmq_url: str) -> None:
    result = run(tmp_path, rabbitmq_url, "maas-no-such-vhost", "dlq", "list")
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert "refused access to vhost 'maas-no-such-vhost' (530 NOT_ALLOWED" in line
    assert "check the vhost in bus.url" in line


def test_doctor_exits_2_on_a_refused_login(tmp_path: Path, rabbitmq_url: str) -> None:
    result = run(tmp_path, rabbitmq_url, "%2F", "doctor")
    assert result.returncode == 2
    assert "refused the login" in result.stdout and WRONG not in result.stdout
