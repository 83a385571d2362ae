"""``maas routing setup|show`` as an operator runs them, against the real RabbitMQ.

Each test declares the test catalog's routing file under names of its own (queues and
exchanges carry a suffix) on the shared broker, damages it through the management API the
way a hand edit would, and reads what ``show`` says. Everything is deleted afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import requests
import yaml
from chain_catalog import CATALOG
from services import services_required

from maas.bus.base import Envelope
from maas.bus.factory import create_bus
from maas.bus.message import chunk_messages
from maas.bus.rabbitmq_admin import management_url as derived_management_url
from maas.config import Settings, load_settings
from maas.engine.routing import load_routing

TESTS = Path(__file__).resolve().parents[1]
PASSWORD_ENV = "MAAS_T_AMQP_PASSWORD"


@dataclass
class Site:
    """A settings file, a routing file with unique names, and how to run ``maas`` on them."""

    dir: Path
    env: dict[str, str]
    suffix: str = ""

    def maas(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "maas_cli", *args],
            env=self.env,
            cwd=self.dir,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def show(self) -> tuple[int, dict[str, Any]]:
        result = self.maas("routing", "show", "--json")
        assert result.returncode in (0, 1), result.stderr
        return result.returncode, json.loads(result.stdout)

    @property
    def settings(self) -> Settings:
        return load_settings(self.dir / "maas.yaml", environ={})

    def name(self, base: str) -> str:
        return f"{base}-{self.suffix}"

    def single_active(self) -> None:
        """The doubler's queue gets a single active consumer in the routing file."""
        path = self.dir / "routing.yaml"
        routing = yaml.safe_load(path.read_text())
        routing["pools"]["doubler"]["queues"][0]["single_active_consumer"] = True
        path.write_text(yaml.safe_dump(routing))


def make_site(tmp_path: Path, bus: dict[str, Any], suffix: str = "") -> Site:
    tmp_path.mkdir(parents=True, exist_ok=True)
    routing = yaml.safe_load(CATALOG.routing_file.read_text())
    for pool in routing["pools"].values():
        for queue in pool["queues"]:
            queue["name"] = f"{queue['name']}-{suffix}"
    (tmp_path / "routing.yaml").write_text(yaml.safe_dump(routing))
    settings = {
        "store": {"url": f"duckdb:///{tmp_path / 'maas.duckdb'}"},
        "bus": bus,
        "routing_file": str(tmp_path / "routing.yaml"),
        "catalogs": ["chain_catalog:CATALOG"],
    }
    (tmp_path / "maas.yaml").write_text(yaml.safe_dump(settings))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAAS_")}
    # The checkout's own packages first (the CLI runs in tmp_path, not in the checkout).
    path = os.pathsep.join([str(TESTS), str(TESTS.parent)])
    env |= {"MAAS_CONFIG": str(tmp_path / "maas.yaml"), PASSWORD_ENV: "guest", "PYTHONPATH": path}
    return Site(tmp_path, env, suffix)


@pytest.fixture
def management_url(rabbitmq_url: str) -> str:
    """The management API next to the test broker (MAAS_RABBITMQ_MGMT_PORT as services.sh)."""
    host = urlsplit(rabbitmq_url).hostname or "127.0.0.1"
    url = f"http://{host}:{os.environ.get('MAAS_RABBITMQ_MGMT_PORT', '15672')}"
    try:
        requests.get(f"{url}/api/overview", auth=("guest", "guest"), timeout=5).raise_for_status()
    except requests.RequestException as exc:
        reason = f"RabbitMQ management API not reachable at {url} ({exc})"
        if services_required():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return url


@pytest.fixture
def site(
    tmp_path: Path, rabbitmq_url: str, management_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Site]:
    monkeypatch.setenv(PASSWORD_ENV, "guest")  # for the buses this process opens
    suffix = uuid.uuid4().hex[:8]
    bus = {
        "url": f"amqp://{urlsplit(rabbitmq_url).netloc.split('@')[-1]}/",
        "username": "guest",
        "password": f"env:{PASSWORD_ENV}",
        "collect_exchange": f"collect-{suffix}",
        "etl_exchange": f"etl-{suffix}",
        "management_url": management_url,
    }
    site = make_site(tmp_path, bus, suffix)
    yield site
    settings = site.settings
    handle = create_bus(settings)
    try:
        handle.delete(load_routing(settings.routing_file, CATALOG.engines).topology(settings.bus))  # type: ignore[arg-type]
    finally:
        handle.close()


class Management:
    """Hand edits an operator could make in the management UI."""

    def __init__(self, url: str) -> None:
        self.url, self.auth = url, ("guest", "guest")

    def unbind(self, exchange: str, queue: str, key: str) -> None:
        props = quote(key, safe="")  # a binding without arguments is named by its routing key
        response = requests.delete(
            f"{self.url}/api/bindings/%2F/e/{exchange}/q/{queue}/{props}", auth=self.auth, timeout=10
        )
        assert response.status_code == 204, response.text

    def bind(self, exchange: str, queue: str, key: str) -> None:
        response = requests.post(
            f"{self.url}/api/bindings/%2F/e/{exchange}/q/{queue}",
            json={"routing_key": key},
            auth=self.auth,
            timeout=10,
        )
        assert response.status_code == 201, response.text

    def delete_queue(self, queue: str, **conditions: str) -> None:
        response = requests.delete(
            f"{self.url}/api/queues/%2F/{queue}", params=conditions, auth=self.auth, timeout=10
        )
        assert response.status_code == 204, response.text

    def arguments(self, queue: str) -> dict[str, Any]:
        response = requests.get(f"{self.url}/api/queues/%2F/{queue}", auth=self.auth, timeout=10)
        response.raise_for_status()
        return dict(response.json()["arguments"])


def queue_entry(report: dict[str, Any], name: str) -> dict[str, Any]:
    (entry,) = [q for q in report["queues"] if q["name"] == name]
    return entry


@pytest.mark.integration
def test_show_reports_missing_and_extra_against_the_live_broker(site: Site, management_url: str) -> None:
    double, triple = site.name("test.double"), site.name("test.triple")
    collect, etl = site.name("collect"), site.name("etl")
    before = site.maas("routing", "show")
    assert before.returncode == 1, before.stdout  # nothing declared yet: everything is missing
    assert f"missing exchange {collect}" in before.stdout

    setup = site.maas("routing", "setup")
    assert setup.returncode == 0, setup.stderr
    code, report = site.show()
    assert code == 0 and report["missing"] is False
    assert all(not q["missing_bindings"] and not q["extra_bindings"] for q in report["queues"])

    api = Management(management_url)
    api.unbind(collect, double, "new.test-raw")
    api.bind(etl, double, "new.something-else")
    api.bind("amq.topic", double, "someone.elses")  # not the file's exchange: never touched
    api.delete_queue(f"{triple}.dlq")
    result = site.maas("routing", "show")
    assert result.returncode == 1
    assert f"missing {double}: binding {collect}: new.test-raw" in result.stdout
    assert (
        f"extra {double}: binding {etl}: new.something-else (not in the file: maas routing setup removes it)"
        in result.stdout
    )
    assert "to make the broker match the routing file: maas routing setup" in result.stdout
    assert f"missing {triple}: queue {triple}.dlq" in result.stdout
    code, report = site.show()
    assert code == 1
    missing = [{"exchange": collect, "pattern": "new.test-raw"}]
    assert queue_entry(report, double)["missing_bindings"] == missing
    assert queue_entry(report, double)["missing_queues"] == []
    assert queue_entry(report, triple)["missing_queues"] == [f"{triple}.dlq"]
    assert queue_entry(report, triple)["missing_bindings"] == []

    again = site.maas("routing", "setup")  # repairs what is missing, removes the file's extras
    assert again.returncode == 0, again.stderr
    assert f"removed {double}: binding {etl}: new.something-else" in again.stdout
    code, report = site.show()
    assert code == 0, report
    extra = [{"exchange": "amq.topic", "pattern": "someone.elses"}]
    assert queue_entry(report, double)["extra_bindings"] == extra
    assert queue_entry(report, double)["stale_bindings"] == []
    assert report["stale"] is False


@pytest.mark.integration
def test_a_binding_dropped_from_the_routing_file_is_removed_by_setup(site: Site) -> None:
    """The operator's case: a key deleted from a queue's bindings went on routing to it."""
    assert site.maas("routing", "setup").returncode == 0
    double, collect = site.name("test.double"), site.name("collect")
    path = site.dir / "routing.yaml"
    routing = yaml.safe_load(path.read_text())
    routing["pools"]["doubler"]["queues"][0]["bindings"][0]["keys"] = ["new.test-raw"]
    path.write_text(yaml.safe_dump(routing))

    code, report = site.show()
    assert code == 1 and report["stale"] is True
    assert queue_entry(report, double)["stale_bindings"] == [
        {"exchange": collect, "pattern": "update.test-raw"}
    ]
    setup = site.maas("routing", "setup")
    assert setup.returncode == 0, setup.stderr
    assert f"removed {double}: binding {collect}: update.test-raw (not in the routing file)" in setup.stdout
    code, report = site.show()
    assert code == 0, report
    assert all(not q["extra_bindings"] for q in report["queues"])
    again = site.maas("routing", "setup")
    assert again.returncode == 0 and "removed" not in again.stdout


@pytest.mark.integration
def test_setup_declares_without_the_management_api_and_says_what_it_could_not_do(site: Site) -> None:
    """Declaring needs only AMQP: a management API that does not answer fails the one step that
    needs it (finding bindings to remove), not the declaring."""
    settings = yaml.safe_load((site.dir / "maas.yaml").read_text())
    settings["bus"]["management_url"] = "http://127.0.0.1:1"
    (site.dir / "maas.yaml").write_text(yaml.safe_dump(settings))
    setup = site.maas("routing", "setup")
    assert setup.returncode == 1 and "declared 2 exchange(s)" in setup.stdout, setup.stderr
    assert setup.stderr.startswith("error: bindings the routing file no longer lists were not looked for: ")
    assert "http://127.0.0.1:1: cannot connect" in setup.stderr
    bus = create_bus(site.settings)
    try:
        assert bus.queue_stats([site.name("test.double")])[0].messages == 0  # declared
    finally:
        bus.close()


@pytest.mark.integration
def test_show_gives_message_counts_and_foreign_queues(site: Site, management_url: str) -> None:
    assert site.maas("routing", "setup").returncode == 0
    settings, double = site.settings, site.name("test.double")
    bus = create_bus(settings)
    try:
        messages = chunk_messages("TestRaw", ["a", "b", "c"], ["test-raw-all"] * 3, per_message=1)
        bus.publish([Envelope.of(settings.bus.collect_exchange, "update.test-raw", m) for m in messages])
        bus.publish([Envelope("", f"{double}.solo", messages[0].encode())])  # a suspect, as a pool sends it
    finally:
        bus.close()
    stray = site.name("stray")
    requests.put(
        f"{management_url}/api/queues/%2F/{stray}",
        json={"durable": False, "auto_delete": True},
        auth=("guest", "guest"),
        timeout=10,
    ).raise_for_status()
    try:
        Management(management_url).bind(settings.bus.collect_exchange, stray, "#")
        report = wait_for_report(
            site,
            lambda r: (
                (queue_entry(r, double)["live"] or {}).get("ready") == 3
                and (queue_entry(r, double)["solo"] or {}).get("ready") == 1
            ),
        )
        assert report["foreign_bindings"] == [
            {"exchange": settings.bus.collect_exchange, "pattern": "#", "queue": stray}
        ]
        assert report["missing"] is False  # a stray queue is worth a look, not a failure
        text = site.maas("routing", "show")
        assert text.returncode == 0
        assert f"extra {stray} (not in the file): binding {settings.bus.collect_exchange}: #" in text.stdout
    finally:
        requests.delete(f"{management_url}/api/queues/%2F/{stray}", auth=("guest", "guest"), timeout=10)


@pytest.mark.integration
def test_setup_cannot_change_a_queue_in_place_and_says_how_to_recreate_it(
    site: Site, management_url: str
) -> None:
    """A deployment whose queue predates single_active_consumer: the broker refuses the new
    declaration; setup declares the rest, leaves the queue and its messages, says what to do."""
    assert site.maas("routing", "setup").returncode == 0
    double, settings, api = site.name("test.double"), site.settings, Management(management_url)
    publish(settings, 2)
    api.delete_queue(f"{site.name('test.triple')}.dlq")  # something else for setup to repair
    site.single_active()
    site.env["COLUMNS"] = "300"  # an error line per line

    refused = site.maas("routing", "setup")
    assert refused.returncode == 1, refused.stdout
    differs = (
        "argument x-single-active-consumer: declared the value 'true' of type 'bool', the queue has none"
    )
    assert f"queue '{double}': {differs}" in refused.stderr
    assert f"rabbitmqctl delete_queue --vhost / {double} --if-empty --if-unused" in refused.stderr
    assert api.arguments(double) == {} and ready(settings, double) == 2  # left as it was
    code, report = site.show()  # the rest declared; the queue as it was, and show says so
    assert (code, report["missing"], report["differs"]) == (1, False, True)
    differs = "single_active_consumer true in the file, false on the broker"
    assert queue_entry(report, double)["differences"] == [differs]
    assert f"differs {double}: {differs}" in site.maas("routing", "show").stdout

    consumer = create_bus(settings)  # the steps: the pool empties it, then delete if empty
    try:
        consumer.ack(consumer.fetch([double], 10, 2.0))
    finally:
        consumer.close()
    api.delete_queue(double, **{"if-empty": "true", "if-unused": "true"})
    again = site.maas("routing", "setup")
    assert again.returncode == 0, again.stderr
    assert api.arguments(double) == {"x-single-active-consumer": True}
    code, report = site.show()
    assert code == 0 and queue_entry(report, double)["differences"] == []


def publish(settings: Settings, n: int) -> None:
    bus = create_bus(settings)
    try:
        messages = chunk_messages("TestRaw", [f"m{i}" for i in range(n)], ["test-raw-all"] * n, per_message=1)
        bus.publish([Envelope.of(settings.bus.collect_exchange, "new.test-raw", m) for m in messages])
    finally:
        bus.close()


def ready(settings: Settings, queue: str) -> int:
    bus = create_bus(settings)
    try:
        return bus.queue_stats([queue])[0].messages
    finally:
        bus.close()


def wait_for_report(site: Site, condition: Any, timeout: float = 30) -> dict[str, Any]:
    """The broker samples its counts every 5 s by default: poll until they show."""
    deadline = time.monotonic() + timeout
    while True:
        _, report = site.show()
        if condition(report) or time.monotonic() > deadline:
            assert condition(report), report
            return report
        time.sleep(1)


@pytest.mark.integration
def test_management_errors_are_clear_and_mask_the_password(
    tmp_path: Path, rabbitmq_url: str, management_url: str
) -> None:
    host = urlsplit(rabbitmq_url).netloc.split("@")[-1]
    bus = {"url": f"amqp://{host}/", "username": "guest", "password": f"env:{PASSWORD_ENV}"}
    closed = make_site(tmp_path / "a", {**bus, "management_url": "http://127.0.0.1:1"})
    down = closed.maas("routing", "show")
    assert down.returncode == 1
    assert down.stderr == (
        "error: http://127.0.0.1:1: cannot connect (Connection refused) "
        "while reading /api/vhosts/%2F of the RabbitMQ management API\n"
    )

    refused = make_site(tmp_path / "b", {**bus, "management_url": management_url})
    refused.env[PASSWORD_ENV] = "wrong-password-x1"
    result = refused.maas("routing", "show")
    assert result.returncode == 1
    assert "401" in result.stderr and "credentials refused" in result.stderr
    assert "wrong-password-x1" not in result.stderr + result.stdout


@pytest.mark.unit
def test_show_on_the_memory_bus_says_the_topology_is_in_process(tmp_path: Path) -> None:
    site = make_site(tmp_path, {"url": "memory://"})
    result = site.maas("routing", "show")
    assert result.returncode == 0, result.stderr
    assert "in-process" in result.stdout and "no live topology to compare" in result.stdout


@pytest.mark.unit
def test_setup_plan_says_which_queues_have_a_single_active_consumer(tmp_path: Path) -> None:
    site = make_site(tmp_path, {"url": "memory://"})
    site.single_active()
    site.env["COLUMNS"] = "200"  # one table row per line
    result = site.maas("routing", "setup", "--dry-run")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[1]: line for line in result.stdout.splitlines() if "test." in line}
    assert "one active," in rows["test.double-"] and "all share" in rows["test.triple-"]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("bus", "expected"),
    [
        ({"url": "amqp://rabbit.example:5672/prod"}, "http://rabbit.example:15672"),
        ({"url": "amqps://rabbit.example/prod"}, "https://rabbit.example:15671"),
        ({"url": "amqp://[::1]:5672/"}, "http://[::1]:15672"),
        (
            {"url": "amqp://rabbit.example/", "management_url": "https://mgmt.example/rmq/"},
            "https://mgmt.example/rmq",
        ),
    ],
)
def test_management_url_defaults_to_the_bus_host(bus: dict[str, str], expected: str) -> None:
    assert derived_management_url(Settings.model_validate({"bus": bus})) == expected


@pytest.mark.unit
def test_management_url_setting_refuses_a_password_and_other_schemes() -> None:
    for bad in ("http://u:pw@mgmt.example/", "amqp://mgmt.example/"):
        with pytest.raises(ValueError, match="password|scheme"):
            Settings.model_validate({"bus": {"url": "amqp://h/", "management_url": bad}})
