"""``maas collect`` end to end on the embedded deployment, with a filesystem source."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from chain_catalog import CATALOG, RAW, TRIPLED
from collect_catalog import PRODUCT
from servers.fixed import answering

from maas.store.duckdb import DuckDBStore
from maas.store.lock import ProcessLock

pytestmark = pytest.mark.unit
TESTS = Path(__file__).resolve().parents[1]


def collector_file(inbox: Path) -> dict[str, object]:
    return {
        "collectors": [
            {
                "id": "inbox-csv",
                "interface_name": "Inbox",
                "source": {
                    "type": "filesystem",
                    "root": str(inbox),
                    "patterns": ["*.csv"],
                    "stable_checks": 0,
                },
                "extract": {
                    "format": "csv",
                    "fields": {
                        "name": {"path": "name", "required": True},
                        "value": {"path": "value", "type": "int"},
                    },
                },
                "model": "test-raw",
            }
        ]
    }


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "inbox").mkdir()
    (tmp_path / "collectors").mkdir()
    (tmp_path / "collectors" / "inbox.yaml").write_text(yaml.safe_dump(collector_file(tmp_path / "inbox")))
    settings = {
        "store": {"url": f"duckdb:///{tmp_path / 'maas.duckdb'}"},
        "archive_dir": str(tmp_path / "archive"),
        "state_dir": str(tmp_path / "state"),
        "collectors_dir": str(tmp_path / "collectors"),
        "routing_file": str(CATALOG.routing_file),
        "catalogs": ["chain_catalog:CATALOG"],
    }
    (tmp_path / "maas.yaml").write_text(yaml.safe_dump(settings))
    return tmp_path


def site_env(site: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAAS_")}
    return env | {"MAAS_CONFIG": str(site / "maas.yaml"), "PYTHONPATH": str(TESTS)}


def start(site: Path, *args: str) -> subprocess.Popen[str]:
    """A long-running command in the background, its output captured."""
    return subprocess.Popen(
        [sys.executable, "-m", "maas_cli", *args],
        env=site_env(site),
        cwd=site,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def maas(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return python(site, "-m", "maas_cli", *args)


def python(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        env=site_env(site),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=site,
    )


def stored(site: Path) -> tuple[dict[str, int], dict[str, int]]:
    store = DuckDBStore(site / "maas.duckdb", read_only=True)
    try:
        raw = {d.data["name"]: d.data["value"] for d in store.scan(RAW)}
        tripled = {d.data["name"]: d.data["tripled"] for d in store.scan(TRIPLED)}
        return raw, tripled
    finally:
        store.close()


def test_collect_stores_archives_runs_the_chain_and_is_incremental(site: Path) -> None:
    (site / "inbox" / "a.csv").write_text("name,value\na,1\nb,2\n")
    (site / "inbox" / "b.csv").write_text("name,value\nc,3\nbad,not-a-number\nd,4\n")
    first = maas(site, "collect")
    assert first.returncode == 0, first.stderr
    raw, tripled = stored(site)
    assert raw == {"a": 1, "b": 2, "c": 3, "d": 4}
    assert tripled == {"a": 6, "b": 12, "c": 18, "d": 24}
    assert "b.csv" in first.stderr and "record" in first.stderr and "value" in first.stderr  # the bad row
    archived = sorted(p.name for p in (site / "archive").rglob("*.gz"))
    assert archived == ["a.csv.gz", "b.csv.gz"]
    second = maas(site, "collect")
    assert second.returncode == 0, second.stderr
    assert stored(site) == (raw, tripled)
    assert "collector inbox-csv (Inbox): payloads=0 records=0" in second.stderr
    assert sorted(p.name for p in (site / "archive").rglob("*.gz")) == archived  # nothing new


def test_the_settings_choose_the_log_format_and_level_and_the_flags_win(site: Path) -> None:
    """deploy/config/maas.yaml asks for JSON logs (journald, Kubernetes): the settings must count."""
    settings = yaml.safe_load((site / "maas.yaml").read_text())
    (site / "maas.yaml").write_text(yaml.safe_dump(settings | {"log_format": "json"}))
    logged = [json.loads(line) for line in maas(site, "collect").stderr.splitlines() if line.startswith("{")]
    assert any(entry["message"].startswith("engine chain:") for entry in logged), logged
    text = maas(site, "--log-format", "text", "collect").stderr  # the flag over the settings
    assert "engine chain:" in text and not any(line.startswith("{") for line in text.splitlines())
    (site / "maas.yaml").write_text(yaml.safe_dump(settings | {"log_level": "WARNING"}))
    assert "engine chain:" not in maas(site, "collect").stderr
    assert "engine chain:" in maas(site, "-v", "collect").stderr


def test_dry_run_writes_nothing(site: Path) -> None:
    (site / "inbox" / "a.csv").write_text("name,value\na,1\n")
    result = maas(site, "collect", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert '"family": "test-raw"' in result.stdout and '"name": "a"' in result.stdout
    assert not (site / "maas.duckdb").exists() or stored(site)[0] == {}
    assert not (site / "archive").exists()


def test_dry_run_previews_what_the_next_run_collects_and_leaves_the_journal(site: Path) -> None:
    (site / "inbox" / "a.csv").write_text("name,value\na,1\n")
    assert maas(site, "collect").returncode == 0
    (site / "inbox" / "b.csv").write_text("name,value\nb,2\n")
    preview = maas(site, "collect", "--dry-run")
    assert preview.returncode == 0, preview.stderr
    assert [json.loads(line)["data"]["name"] for line in preview.stdout.splitlines()] == ["b"]
    assert "payloads=1" in preview.stderr
    after = maas(site, "collect")  # the journal did not move: b is still new
    assert after.returncode == 0, after.stderr
    assert "collector inbox-csv (Inbox): payloads=1 records=1 created=1" in after.stderr
    assert stored(site)[0] == {"a": 1, "b": 2}


def test_overlapping_run_exits_3(site: Path) -> None:
    with ProcessLock(site / "state" / "locks" / "collect-inbox-csv.lock", "collector inbox-csv"):
        result = maas(site, "collect")
    assert result.returncode == 3
    assert "collector inbox-csv is in use by PID" in result.stderr


def test_a_metrics_port_in_use_is_a_usage_error_naming_it(site: Path) -> None:
    """Two pools or collectors on one host need two ports (docs/operations.md): say which clashed."""
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        port = taken.getsockname()[1]
        taken.listen()
        result = maas(site, "collect", "--metrics-port", str(port))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"error: --metrics-port {port}: cannot listen (Address already in use)" in result.stderr


def test_unknown_collector_id_is_a_config_error(site: Path) -> None:
    result = maas(site, "collect", "--collector", "nope")
    assert result.returncode == 2
    assert "unknown collector id(s): nope" in result.stderr


def test_an_error_is_one_line_and_names_no_settings_file_it_did_not_come_from(site: Path) -> None:
    """Cron mail and logs are read with grep: no wrapping at 80 columns, no made-up location."""
    unknown = "collector-" + "x" * 90
    result = maas(site, "collect", "--collector", unknown)
    assert result.returncode == 2
    assert f"error: unknown collector id(s): {unknown} (known: inbox-csv)\n" in result.stderr


@pytest.mark.parametrize("mode", ["--once", "--loop"])
def test_no_enabled_collector_is_a_config_error_naming_the_directory(site: Path, mode: str) -> None:
    """The packaged collectors are all disabled: a fresh `maas collect` must say so, not idle."""
    collectors = site / "collectors" / "inbox.yaml"
    data = yaml.safe_load(collectors.read_text())
    data["collectors"][0]["enabled"] = False
    collectors.write_text(yaml.safe_dump(data))
    result = maas(site, "collect", mode)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"no collector to run: none is enabled in {site / 'collectors'}" in result.stderr
    assert "--collector ID (defined: inbox-csv)" in result.stderr


PRODUCT_FIELDS = {
    "product_id": {"path": "@id", "required": True},
    "name": {"path": "name", "required": True},
    "published": {"path": "published", "type": "datetime"},
}


def product_collectors(xml_inbox: Path, csv_inbox: Path) -> dict[str, object]:
    csv_fields = {k: v | {"path": k} for k, v in PRODUCT_FIELDS.items()}
    return {
        "collectors": [
            {
                "id": "products-xml",
                "interface_name": "ProductsXml",
                "source": {"type": "filesystem", "root": str(xml_inbox), "stable_checks": 0},
                "extract": {"format": "xml", "record": "product", "fields": PRODUCT_FIELDS},
                "model": "test-collected-product",
            },
            {
                "id": "products-csv",
                "interface_name": "ProductsCsv",
                "source": {"type": "filesystem", "root": str(csv_inbox), "stable_checks": 0},
                "extract": {"format": "csv", "fields": csv_fields},
                "model": "test-collected-product",
            },
        ]
    }


def product_xml(*products: tuple[str, str]) -> str:
    items = "".join(
        f'\n  <product id="{pid}"><name>{pid}.SAFE</name><published>{when}</published></product>'
        for pid, when in products
    )
    return f"<products>{items}\n</products>\n"


def test_malformed_xml_and_a_bad_csv_date_are_reported_while_the_rest_is_stored(tmp_path: Path) -> None:
    xml_inbox, csv_inbox = tmp_path / "xml", tmp_path / "csv"
    for directory in (xml_inbox, csv_inbox, tmp_path / "collectors"):
        directory.mkdir()
    (xml_inbox / "good.xml").write_text(product_xml(("X1", "2024-03-09T10:00:00Z")))
    (xml_inbox / "mixed.xml").write_text(product_xml(("X2", "2024-03-09T10:01:00Z"), ("X3", "yesterday")))
    (xml_inbox / "broken.xml").write_text('<products>\n  <product id="X4"><name>X4</name>\n')
    (csv_inbox / "plan.csv").write_text(
        "product_id,name,published\nC1,C1.SAFE,2024-03-09T10:00:00Z\nC2,C2.SAFE,2024-02-30T08:00:00Z\n"
        "C3,C3.SAFE,2024-03-09T10:02:00+01:00\n"
    )
    (tmp_path / "collectors" / "products.yaml").write_text(
        yaml.safe_dump(product_collectors(xml_inbox, csv_inbox))
    )
    settings = {
        "store": {"url": f"duckdb:///{tmp_path / 'maas.duckdb'}"},
        "archive_dir": str(tmp_path / "archive"),
        "state_dir": str(tmp_path / "state"),
        "collectors_dir": str(tmp_path / "collectors"),
        "catalogs": ["collect_catalog:CATALOG"],
    }
    (tmp_path / "maas.yaml").write_text(yaml.safe_dump(settings))

    result = maas(tmp_path, "collect")

    assert result.returncode == 0, result.stderr  # rejected records do not fail the collector
    problems = sorted(line.strip() for line in result.stderr.splitlines() if line.startswith("  products-"))
    assert len(problems) == 3, result.stderr
    assert problems[0] == (  # listing order is the directory's: compare sorted
        "products-csv: plan.csv:3: record 3: published: not a date-time in ISO 8601: '2024-02-30T08:00:00Z'"
    )
    assert problems[1].startswith("products-xml: broken.xml: malformed XML: Premature end of data")
    assert problems[2] == (
        "products-xml: mixed.xml:3: record 2: published: not a date-time in ISO 8601: 'yesterday'"
    )
    assert "collector products-xml (ProductsXml): payloads=3 records=3 created=2 " in result.stderr
    assert "rejected=2 archived=3 reused=0 status=ok" in result.stderr
    assert "collector products-csv (ProductsCsv): payloads=1 records=3 created=2 " in result.stderr
    store = DuckDBStore(tmp_path / "maas.duckdb", read_only=True)
    try:
        assert sorted(d.data["product_id"] for d in store.scan(PRODUCT)) == ["C1", "C3", "X1", "X2"]
    finally:
        store.close()
    archived = sorted(p.name for p in (tmp_path / "archive").rglob("*.gz"))
    assert archived == ["broken.xml.gz", "good.xml.gz", "mixed.xml.gz", "plan.csv.gz"]  # kept for a replay


def test_loop_serves_health_readiness_and_collector_metrics(site: Path) -> None:
    import signal
    import socket
    import time
    import urllib.request

    (site / "inbox" / "a.csv").write_text("name,value\na,1\nb,2\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = start(site, "collect", "--loop", "--metrics-port", str(port))
    try:
        metrics = ""
        for _ in range(120):
            time.sleep(0.5)
            try:
                metrics = (
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
                )
            except OSError:
                continue
            created = (
                'maas_collector_documents_total{collector="inbox-csv",interface="Inbox",outcome="created"}'
            )
            if f"{created} 2.0" in metrics:
                break
        assert 'outcome="created"} 2.0' in metrics, metrics[-2000:]
        assert (
            'maas_collector_last_success_timestamp_seconds{collector="inbox-csv",interface="Inbox"}'
            in metrics
        )
        for path in ("/health", "/ready"):
            assert urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5).status == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, process.stderr.read() if process.stderr else ""


def test_loop_stops_at_once_on_sigterm_while_the_broker_is_unreachable(site: Path) -> None:
    """A stop must not wait out the reconnect budget (300 s): compose gives 120 s, then kills."""
    import signal
    import time

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = yaml.safe_load((site / "maas.yaml").read_text())
    settings["bus"] = {"url": f"amqp://127.0.0.1:{port}/"}
    (site / "maas.yaml").write_text(yaml.safe_dump(settings))
    process = start(site, "-v", "collect", "--loop")
    try:
        time.sleep(4)  # started, and retrying the broker
        assert process.poll() is None
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        err = process.stderr.read() if process.stderr else ""
        assert "broker unreachable" in err and "stop requested" in err, err[-2000:]
    finally:
        process.kill()
        process.wait()


def test_a_file_whose_name_is_not_utf8_is_rejected_by_name_and_collected_once_renamed(site: Path) -> None:
    inbox = site / "inbox"
    (inbox / "a.csv").write_text("name,value\na,1\n")
    bad = os.path.join(os.fsencode(inbox), b"caf\xe9.csv")
    Path(os.fsdecode(bad)).write_text("name,value\nb,2\n")

    result = maas(site, "collect")

    assert result.returncode == 0, result.stderr  # a rejection, like a bad record: not a failure
    assert "Traceback" not in result.stderr
    problem = r"file caf\xe9.csv: its name is not valid UTF-8 (byte 0xE9 at offset 3); rename it"
    assert f"  inbox-csv: {problem} to collect it" in result.stderr.splitlines(), result.stderr
    assert "payloads=1 records=1 created=1 updated=0 unchanged=0 rejected=1 archived=1" in result.stderr
    assert stored(site)[0] == {"a": 1}
    assert os.path.exists(bad)
    assert sorted(p.name for p in (site / "archive").rglob("*.gz*")) == ["a.csv.gz", "a.csv.gz.json"]

    os.rename(bad, inbox / "cafe.csv")
    again = maas(site, "collect")

    assert again.returncode == 0, again.stderr
    assert "payloads=1 records=1 created=1 updated=0 unchanged=0 rejected=0" in again.stderr
    assert stored(site)[0] == {"a": 1, "b": 2}


API_KEY = "APIKEYS3CRETXYZ"


def api_collector(collector_id: str, url: str) -> dict[str, object]:
    """A JSON API collector sending the key in a header, which its server echoes back."""
    fields = {"name": {"path": "name", "required": True}, "value": {"path": "value", "type": "int"}}
    return {
        "id": collector_id,
        "interface_name": collector_id,
        "source": {"type": "http", "url": url, "secret_headers": {"X-Api-Key": "env:SUMMARY_API_KEY"}},
        "extract": {"format": "json", "record": "items[*]", "fields": fields},
        "model": "test-raw",
    }


@pytest.fixture
def echoing_apis(site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """One API refuses the key quoting it (the collector fails), one serves it as a record's
    value (the record is rejected): both texts reach the end-of-run summary."""
    monkeypatch.setenv("SUMMARY_API_KEY", API_KEY)
    refusal = json.dumps({"error": f"invalid API key {API_KEY}"}).encode()
    records = json.dumps({"items": [{"name": "a", "value": API_KEY}]}).encode()
    with (
        answering(400, refusal, "application/json") as refusing,
        answering(200, records, "application/json") as echoing,
    ):
        collectors = [
            api_collector("api-refusing", f"{refusing}/probes"),
            api_collector("api-echoing", f"{echoing}/probes"),
        ]
        (site / "collectors" / "inbox.yaml").write_text(yaml.safe_dump({"collectors": collectors}))
        yield


@pytest.mark.parametrize("terminal", ["0", "1"])
def test_the_summary_masks_secrets_in_errors_and_rejections(
    site: Path, echoing_apis: None, terminal: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cron mail (key=value lines) and a terminal (a table) show the failure and the rejection."""
    monkeypatch.setenv("TTY_COMPATIBLE", terminal)  # rich draws its table on a terminal only
    monkeypatch.setenv("COLUMNS", "300")
    result = maas(site, "collect")
    assert result.returncode == 1
    assert API_KEY not in result.stderr
    assert "HTTP 400" in result.stderr and "invalid API key ***" in result.stderr
    assert "api-echoing: " in result.stderr and "'***'" in result.stderr, result.stderr


def test_with_json_logs_the_summary_is_one_json_line_per_collector(site: Path, echoing_apis: None) -> None:
    """journald and Kubernetes read every stderr line as JSON, secrets masked like the logs."""
    result = maas(site, "--log-format", "json", "collect")
    assert result.returncode == 1 and API_KEY not in result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    summary = {line["collector"]: line for line in lines if "collector" in line}
    refusing, echoing = summary["api-refusing"], summary["api-echoing"]
    assert refusing["level"] == "error" and "invalid API key ***" in refusing["error"]
    assert echoing["level"] == "warning" and echoing["error"] is None
    assert echoing["records"] == 1 and echoing["rejected"] == 1 and "'***'" in echoing["problems"][0]
    assert echoing["message"].startswith("collector api-echoing (api-echoing): payloads=1 records=1")


def test_an_unreadable_file_with_no_archive_fails_the_run_and_is_neither_journaled_nor_deleted(
    site: Path,
) -> None:
    collectors = site / "collectors" / "inbox.yaml"
    data = yaml.safe_load(collectors.read_text())
    data["collectors"][0] |= {"archive": False}
    data["collectors"][0]["source"] |= {"after_success": "move", "move_to": "done"}
    collectors.write_text(yaml.safe_dump(data))
    latin1 = site / "inbox" / "latin1.csv"
    latin1.write_bytes("name,value\nJos\xe9,1\n".encode("latin-1"))

    for _ in range(2):  # the next run reads it again
        result = maas(site, "collect")
        assert result.returncode == 1, result.stderr
        assert "status=FAILED: latin1.csv: line 2: not valid utf-8 at byte 14" in result.stderr
        assert "archive: false, so it is not journaled and left on the source" in result.stderr
        assert latin1.exists() and not (site / "archive").exists()

    latin1.write_text("name,value\nJosé,1\n")
    fixed = maas(site, "collect")
    assert fixed.returncode == 0, fixed.stderr
    assert stored(site) == ({"José": 1}, {"José": 6}) and not latin1.exists()
    assert (site / "inbox" / "done" / "latin1.csv").exists()


# ``maas collect`` stopped when the engine chain starts, after the collectors stored and journaled,
# or when its second pool first steps, the doubles written and their reports in the in-process
# bus only: SIGKILL is a kill -9, an OOM kill or a power cut; SIGINT a Ctrl-C during --once.
STOPPED = """
import os, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # as on a terminal (background: SIG_IGN)
from maas.engine.pool import Pool
step, pools, signum = Pool.step, sys.argv[1].split(","), int(sys.argv[2])
def stopped(self, *args, **kwargs):
    if self.name in pools:
        os.kill(os.getpid(), signum)
    return step(self, *args, **kwargs)
Pool.step = stopped
from maas_cli.app import main
sys.argv = ["maas", *sys.argv[3:]]
main()
"""


@pytest.mark.parametrize(
    ("pools", "signum"),
    [("doubler,tripler", signal.SIGKILL), ("tripler", signal.SIGKILL), ("doubler,tripler", signal.SIGINT)],
    ids=["killed-before-the-chain", "killed-inside-the-chain", "ctrl-c-before-the-chain"],
)
def test_a_collect_stopped_before_its_engine_chain_finished_loses_no_derived_document(
    site: Path, pools: str, signum: int
) -> None:
    (site / "inbox" / "a.csv").write_text("name,value\na,1\nb,2\n")
    stopped = python(site, "-c", STOPPED, pools, str(int(signum)), "collect")
    assert stopped.returncode in (-signum, 130), stopped.stderr
    assert stored(site) == ({"a": 1, "b": 2}, {})  # stored and journaled, not derived
    (site / "inbox" / "b.csv").write_text("name,value\nc,3\n")
    after = maas(site, "collect")
    assert after.returncode == 0, after.stderr
    assert stored(site) == ({"a": 1, "b": 2, "c": 3}, {"a": 6, "b": 12, "c": 18})
    assert "1 message(s) of an earlier run announced again" in after.stderr
    quiet = maas(site, "collect")
    assert "announced again" not in quiet.stderr and "engine chain: 0 message(s)" in quiet.stderr


@pytest.mark.parametrize("json_logs", [False, True])
def test_dead_lettered_engine_messages_are_told_in_the_log_format(site: Path, json_logs: bool) -> None:
    """TEST_DOUBLE refuses the value 666 (a permanent error): the run says so, as JSON lines
    when the logs are JSON (journald and Kubernetes read every stderr line as one)."""
    (site / "inbox" / "a.csv").write_text("name,value\nevil,666\n")
    result = maas(site, *(["--log-format", "json"] if json_logs else []), "collect")
    told = [line for line in result.stderr.splitlines() if "engine message(s) dead-lettered" in line]
    assert len(told) == 1, result.stderr
    if json_logs:
        lines = [json.loads(line) for line in result.stderr.splitlines()]  # every line is JSON
        (entry,) = [e for e in lines if "dead_lettered" in e]
        assert entry["level"] == "error" and entry["dead_lettered"] >= 1
    assert stored(site)[0] == {"evil": 666}  # kept: a replay after a fix computes the rest
