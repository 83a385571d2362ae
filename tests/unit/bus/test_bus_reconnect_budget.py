"""How long each command waits for an unreachable broker: services ride out a broker restart,
one-shot commands report a wrong host or port in seconds."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

import maas.bus.rabbitmq
from maas.bus.factory import create_bus
from maas.config import Settings
from maas.config.settings import BusSettings
from maas_cli.app import app
from maas_cli.defaults import catalog_for

pytestmark = pytest.mark.unit

SERVICE_S, ONE_SHOT_S = 111.0, 7.0  # not the defaults: the test tells which setting was used


class _Built(Exception):
    """Stops a command right after it built its bus: nothing connects."""


def test_defaults_split_services_from_one_shot_commands() -> None:
    bus = BusSettings()
    assert bus.reconnect_budget_s(long_running=True) == bus.reconnect_max_s == 300
    assert bus.reconnect_budget_s(long_running=False) == bus.one_shot_reconnect_max_s == 15


@pytest.mark.parametrize(("long_running", "budget"), [(True, SERVICE_S), (False, ONE_SHOT_S)])
def test_the_factory_gives_the_rabbitmq_bus_the_budget_of_its_kind(long_running: bool, budget: float) -> None:
    bus_settings = {
        "url": "amqp://127.0.0.1:1/",
        "reconnect_max_s": SERVICE_S,
        "one_shot_reconnect_max_s": ONE_SHOT_S,
    }
    bus = create_bus(Settings.model_validate({"bus": bus_settings}), "test", long_running=long_running)
    assert isinstance(bus, maas.bus.rabbitmq.RabbitMQBus)
    assert bus._reconnect_max_s == budget


@pytest.fixture
def budgets(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """The reconnect budget of every RabbitMQ bus a command builds; the command stops there."""
    built: list[float] = []

    def record(*args: Any, reconnect_max_s: float, **kwargs: Any) -> None:
        built.append(reconnect_max_s)
        raise _Built

    monkeypatch.setattr(maas.bus.rabbitmq, "RabbitMQBus", record)
    loggers = [logging.getLogger(name) for name in ("", "pika")]
    saved = [(logger, logger.level, list(logger.handlers)) for logger in loggers]
    yield built
    for logger, level, handlers in saved:  # the CLI configures logging for a process
        logger.setLevel(level)
        logger.handlers[:] = handlers


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """Settings for RabbitMQ with an enabled collector (``maas collect`` refuses to run none)."""
    packaged = catalog_for(Settings()).collectors_dir
    assert packaged is not None
    collectors = tmp_path / "collectors"
    collectors.mkdir()
    probes = (packaged / "probes.yaml").read_text()
    (collectors / "probes.yaml").write_text(probes.replace("enabled: false", "enabled: true"))
    settings = {
        "store": {"url": f"duckdb:///{tmp_path / 'maas.duckdb'}"},
        "bus": {
            "url": "amqp://127.0.0.1:1/",
            "reconnect_max_s": SERVICE_S,
            "one_shot_reconnect_max_s": ONE_SHOT_S,
        },
        "collectors_dir": str(collectors),
        "state_dir": str(tmp_path / "state"),
        "archive_dir": str(tmp_path / "archive"),
    }
    (tmp_path / "maas.yaml").write_text(yaml.safe_dump(settings))
    return tmp_path / "maas.yaml"


@pytest.mark.parametrize(
    ("argv", "budget"),
    [
        (["routing", "setup"], ONE_SHOT_S),
        (["dlq", "list"], ONE_SHOT_S),
        (["dlq", "purge", "product", "--yes"], ONE_SHOT_S),
        (["collect", "--once"], ONE_SHOT_S),
        (["collect", "--loop"], SERVICE_S),
        (["engine", "pool", "product"], SERVICE_S),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else f"{v:g}s",
)
def test_each_command_waits_for_the_broker_as_long_as_its_kind(
    argv: list[str], budget: float, site: Path, budgets: list[float]
) -> None:
    result = CliRunner().invoke(app, ["--config", str(site), *argv])
    assert isinstance(result.exception, _Built), result.output
    assert budgets == [budget]


@pytest.mark.parametrize(
    ("argv", "setting"),
    [
        (["collect"], "one_shot_reconnect_max_s"),
        (["collect"], "reconnect_max_s"),
        (["routing", "setup"], "one_shot_reconnect_max_s"),
        (["dlq"], "one_shot_reconnect_max_s"),
        (["engine", "pool"], "reconnect_max_s"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else v,
)
def test_help_names_the_setting_and_its_true_default(argv: list[str], setting: str) -> None:
    result = CliRunner().invoke(app, [*argv, "--help"], env={"COLUMNS": "500"})
    default = BusSettings.model_fields[setting].default
    assert f"bus.{setting} ({default:g} s" in " ".join(result.output.split()), result.output
