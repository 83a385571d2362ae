"""Two test runs against the same services take turns (tests/services.py, ``services_held``)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from services import services_held, services_lock_path

TESTS = Path(__file__).resolve().parents[1]
HOLD = """
import sys, time
sys.path.insert(0, {tests!r})
from pathlib import Path
from services import services_held
with services_held(Path({path!r}), 60):
    print("held", flush=True)
    time.sleep({seconds})
"""


def hold_in_another_process(path: Path, seconds: float) -> subprocess.Popen[str]:
    code = HOLD.format(tests=str(TESTS), path=str(path), seconds=seconds)
    other = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert other.stdout is not None and other.stdout.readline().strip() == "held"
    return other


def test_a_second_run_waits_for_the_first_to_release_the_services(tmp_path: Path) -> None:
    path = tmp_path / "services.lock"
    other = hold_in_another_process(path, seconds=1.5)
    started = time.monotonic()
    with services_held(path, timeout_s=30, poll_s=0.05):
        waited = time.monotonic() - started
    assert waited > 1.0  # the other run held them for 1.5 s after saying so
    other.wait()


def test_a_run_that_waits_too_long_fails_naming_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "services.lock"
    other = hold_in_another_process(path, seconds=30)
    try:
        held_by_other = rf"held by another test run \(pid {other.pid} in "
        with pytest.raises(pytest.fail.Exception, match=held_by_other), services_held(path, 0.3, poll_s=0.05):
            pass
    finally:
        other.kill()
        other.wait()


def test_runs_against_other_services_do_not_share_a_lock() -> None:
    one = services_lock_path(["amqp://a:5672/", "http://127.0.0.1:9200"])
    assert one == services_lock_path(["http://127.0.0.1:9200", "amqp://a:5672/"])
    assert one != services_lock_path(["amqp://b:5672/", "http://127.0.0.1:9200"])
