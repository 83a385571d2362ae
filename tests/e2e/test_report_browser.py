"""``maas inspect report`` of the replayed sample, opened in a real headless Chromium.

The page must render without a console error, draw every plot with as many marks as the sample
has records (counted from ``expected.json``), keep the negative timeliness left of zero, and
load nothing from anywhere. Debian's ``chromium`` and ``chromium-driver`` are driven through
selenium; ``tests/run.sh`` installs them. Without them the test skips, except under
``MAAS_REQUIRE_SERVICES=1`` (CI), where it fails.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from services import services_required
from test_sample_replay import SAMPLE, maas

from cds.naming import parse
from cds.sample import EXPECTED_FILE

pytestmark = pytest.mark.unit  # no service of ours: a local browser on a local file

EXPECTED: dict[str, Any] = json.loads((SAMPLE / EXPECTED_FILE).read_text())
NOT_PRIP = {"AUXIP-1", "DD-DHUS", "LTA-1"}  # the sample's interfaces that are no production service
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1200,5000",
)
MARKS = "return document.querySelectorAll(arguments[0]).length"


def _missing(reason: str) -> None:
    if services_required():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """A fresh headless Chromium (own profile, no network features) with its console log kept."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        _missing("Debian's chromium and chromium-driver are not installed (tests/run.sh installs them)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is not installed (pip install -e '.[test]')")
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    session = webdriver.Chrome(options=options, service=Service(executable_path=str(driver)))
    try:
        yield session
    finally:
        session.quit()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report")
    assert maas(root, "replay", str(SAMPLE), "--out", "sample.duckdb").returncode == 0
    done = maas(root, "inspect", "report", "--db", "sample.duckdb", "--out", "report.html")
    assert done.returncode == 0, done.stderr
    assert "8 of 8 sections" in done.stdout and not done.stderr
    again = maas(root, "inspect", "report", "--db", "sample.duckdb", "--out", "again.html")
    assert again.returncode == 0, again.stderr
    assert (root / "again.html").read_bytes() == (root / "report.html").read_bytes()  # deterministic
    return root / "report.html"


def errors(browser: Any) -> list[dict[str, Any]]:
    return [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def expected_marks() -> dict[str, int]:
    """How many marks each plot must draw, from expected.json alone."""
    timed = [p for p in EXPECTED["publications"] if p["from_sensing_seconds"] is not None]
    prip = [p for p in timed if p["interface_name"] not in NOT_PRIP]
    global_records = [c for c in EXPECTED["completeness"] if c["product_type"] == "ALL"]
    return {
        'svg[data-plot="completeness"] [data-mark="point"]': len(EXPECTED["completeness"]),
        'svg[data-plot="completeness"] [data-mark="line"]': len(
            {c["datatake_key"][:3] for c in global_records}
        ),
        'svg[data-plot="timeliness-type"] [data-mark="value"]': len(prip),
        'svg[data-plot="timeliness-type"] [data-mark="median"]': len(
            {parse(p["product_name"]).product_type for p in prip}  # type: ignore[union-attr]
        ),
        'svg[data-plot="timeliness-interface"] [data-mark="value"]': len(timed),
        'svg[data-plot="timeliness-interface"] [data-mark="median"]': len(
            {p["interface_name"] for p in timed}
        ),
        'svg[data-plot="availability"] [data-mark="interval"]': len(EXPECTED["interface_status"]),
    }


def test_the_report_opens_without_console_errors_and_draws_its_plots(
    browser: Any, report: Path, tmp_path: Path
) -> None:
    browser.get(report.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    assert browser.title == "MaaS report — sample.duckdb"
    shot = tmp_path / "report.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    assert errors(browser) == []
    drawn = {selector: browser.execute_script(MARKS, selector) for selector in expected_marks()}
    assert drawn == expected_marks()
    for plot in ("completeness", "timeliness-type", "timeliness-interface", "availability"):
        size = browser.execute_script(
            "const r = document.querySelector(`svg[data-plot='${arguments[0]}']`).getBoundingClientRect();"
            "return [r.width, r.height]",
            plot,
        )
        assert size[0] > 500 and size[1] > 100, (plot, size)
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0


def test_a_negative_timeliness_is_drawn_left_of_zero(browser: Any, report: Path) -> None:
    browser.get(report.as_uri())
    negatives = browser.execute_script(
        "const svg = document.querySelector(`svg[data-plot='timeliness-type']`);"
        "const zero = svg.querySelector('[data-axis=zero]').getBoundingClientRect().x;"
        "return [...svg.querySelectorAll('[data-mark=value]')]"
        "  .filter(m => m.getAttribute('stroke') === '#d62728')"
        "  .map(m => [m.getBoundingClientRect().x < zero, m.textContent])"
    )
    expected = [p for p in EXPECTED["publications"] if (p["from_sensing_seconds"] or 0) < 0]
    assert len(negatives) == len(expected) == 1
    left_of_zero, tooltip = negatives[0]
    assert left_of_zero and tooltip.endswith(": -1.5 min")  # -89.791 s
    assert errors(browser) == []


def test_the_console_check_sees_errors(browser: Any, tmp_path: Path) -> None:
    """The harness itself: a page with a failing script does show up as an error."""
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><title>broken</title><script>no_such_function()</script>")
    browser.get(page.as_uri())
    assert any("no_such_function" in entry["message"] for entry in errors(browser))
