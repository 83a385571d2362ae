"""Session fixtures for the real services.

A test that asks for `rabbitmq_url` or `opensearch_url` gets a URL that answered a probe. When the
service is down the test is skipped on a developer's machine and fails in CI
(MAAS_REQUIRE_SERVICES=1), so integration tests can never pass by not running.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from services import OPENSEARCH, RABBITMQ, Service, missing, services_held, services_lock_path

# Property tests check behaviour, not speed: hypothesis' default 200 ms deadline per example
# turns a busy shared machine into failures (speed is measured by bench/, not by tests).
settings.register_profile("maas", deadline=None)
settings.load_profile("maas")


CHECKOUT = Path(__file__).resolve().parents[1]
_WHERE = "import importlib.util as u; print(u.find_spec('maas_cli').origin)"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Many tests run ``python -m maas_cli`` in a scratch directory: that imports the installed
    package, which must be this checkout, or they would test another one (a second worktree, an
    old install) and pass or fail for the wrong code."""
    with tempfile.TemporaryDirectory() as scratch:
        found = subprocess.run(
            [sys.executable, "-c", _WHERE], cwd=scratch, capture_output=True, text=True, check=False
        ).stdout.strip()
    if not found or not Path(found).resolve().is_relative_to(CHECKOUT):
        pytest.exit(
            f"{sys.executable} imports maas_cli from {found or 'nowhere'}, not from {CHECKOUT}: "
            f"run `{sys.executable} -m pip install -e '.[test]'` in this checkout (or use a venv of its own)",
            returncode=4,
        )


SERVICES_WAIT_S = 1800.0  # a whole CI run is under 30 minutes


@pytest.fixture(scope="session")
def services_lock() -> Iterator[None]:
    """Held from the first test that needs a service to the end of the run (see services_held)."""
    with services_held(services_lock_path([RABBITMQ.url, OPENSEARCH.url]), SERVICES_WAIT_S):
        yield


def _require(service: Service) -> str:
    reason = service.unreachable_reason()
    if reason is None:
        return service.url
    missing(reason)


@pytest.fixture(scope="session")
def rabbitmq_url(services_lock: None) -> str:
    """AMQP URL of a live broker (MAAS_TEST_AMQP_URL, default guest on 127.0.0.1:5672)."""
    return _require(RABBITMQ)


@pytest.fixture(scope="session")
def opensearch_url(services_lock: None) -> str:
    """HTTP URL of a live OpenSearch (MAAS_TEST_OPENSEARCH_URL, default 127.0.0.1:9200)."""
    return _require(OPENSEARCH)
