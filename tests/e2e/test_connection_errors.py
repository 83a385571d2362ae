"""The installed command when a backend URL or secret is wrong: one line, the right exit code
(1 for a server that may come back, 2 for a setting to fix), never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from servers.fixed import silent
from test_cli import maas

pytestmark = pytest.mark.unit


def test_a_bus_url_on_a_port_that_is_not_amqp_is_one_line() -> None:
    with silent() as port:
        url = f"amqp://127.0.0.1:{port}/x"
        env = {"MAAS_BUS_URL": f"{url}?stack_timeout=0.5", "MAAS_BUS__ONE_SHOT_RECONNECT_MAX_S": "0.2"}
        result = maas("dlq", "list", env=env)
    assert result.returncode == 1  # unavailable: a server may come back
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"error: {url}: no AMQP answer (handshake timed out): is this a RabbitMQ port?; gave up after 0.2 s"
    ]


def test_an_unset_secret_is_a_located_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "maas.yaml").write_text(
        "bus:\n  url: amqp://127.0.0.1:9/\n  username: maas\n  password: env:E2E_UNSET_BUS_PW\n"
    )
    expected = "maas.yaml:4: bus.password: secret env:E2E_UNSET_BUS_PW: environment variable is not set"
    listed = maas("--config", "maas.yaml", "dlq", "list", cwd=tmp_path)
    assert listed.returncode == 2
    assert listed.stderr.strip().endswith(expected) and "Traceback" not in listed.stderr
    doctor = maas("--config", "maas.yaml", "doctor", cwd=tmp_path)
    assert doctor.returncode == 2  # was 1, as if the broker were down
    assert "bus.password" in doctor.stdout
