"""Probes for the real services the integration tests run against.

Kept out of conftest so that other helpers (benchmarks, ad-hoc scripts) can ask the same question
the fixtures ask: is the service there, and which version is it? A probe raises on any failure so
that the caller decides between skip and fail.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NoReturn

from maas.config.secrets import mask_url_passwords

START_HINT = (
    "start them with `bash deploy/dev/services.sh start` "
    "(or `docker compose -f deploy/compose.dev.yaml up -d --wait`)"
)
REQUIRE_ENV = "MAAS_REQUIRE_SERVICES"


def amqp_version(url: str, timeout: float = 5.0) -> str:
    """Open and close one AMQP connection; the broker announces its version in the handshake."""
    import pika

    params = pika.URLParameters(url)
    params.connection_attempts, params.socket_timeout = 1, timeout
    params.blocked_connection_timeout = timeout
    connection = pika.BlockingConnection(params)
    try:
        version = connection._impl.server_properties.get("version", b"?")
        return version.decode() if isinstance(version, bytes) else str(version)
    finally:
        connection.close()


def opensearch_version(url: str, timeout: float = 5.0) -> str:
    """The version number `GET /` reports; raises if the cluster does not answer."""
    from opensearchpy import OpenSearch

    client = OpenSearch(hosts=[url], timeout=timeout, max_retries=0)
    try:
        return str(client.info()["version"]["number"])
    finally:
        client.close()


@dataclass(frozen=True)
class Service:
    """A service the tests need: where it is by default, how to override that, how to probe it."""

    name: str
    url_env: str
    default_url: str
    probe: Callable[[str], str]

    @property
    def url(self) -> str:
        return os.environ.get(self.url_env) or self.default_url

    def unreachable_reason(self) -> str | None:
        """None when the service answers, else a message naming it, its (masked) URL and the fix."""
        try:
            self.probe(self.url)
        except Exception as exc:  # any failure means "not usable"; the message says which one
            detail = str(exc) or repr(exc)  # pika's connection errors have an empty str()
            reason = f"{self.name} is not reachable at {self.url} ({detail})"
            return f"{mask_url_passwords(reason)}; {START_HINT}"
        return None


RABBITMQ = Service("RabbitMQ", "MAAS_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/", amqp_version)
OPENSEARCH = Service("OpenSearch", "MAAS_TEST_OPENSEARCH_URL", "http://127.0.0.1:9200", opensearch_version)


def services_required() -> bool:
    """CI sets MAAS_REQUIRE_SERVICES=1: a missing service is then a failure, never a skip."""
    return os.environ.get(REQUIRE_ENV) == "1"


def missing(reason: str) -> NoReturn:
    """What a test does without a service or tool it needs: skip on a developer's machine, fail
    in CI (a skipped check there would pass unseen)."""
    import pytest

    if services_required():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def services_lock_path(urls: list[str]) -> Path:
    """One lock file per set of service URLs: runs against other services do not wait."""
    digest = hashlib.sha256("\n".join(sorted(urls)).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"maas-test-services-{digest}.lock"


@contextmanager
def services_held(path: Path, timeout_s: float, poll_s: float = 1.0) -> Iterator[None]:
    """Hold the services for one test run. Integration tests wipe shared families and restart the
    broker, so a second run at the same time (another checkout, a helper's worktree) would make
    both fail for nothing: it waits here instead, saying for whom, and fails after ``timeout_s``."""
    with path.open("a+") as handle:
        _wait_for(handle, timeout_s, poll_s)
        handle.truncate(0)
        handle.write(f"pid {os.getpid()} in {os.getcwd()}")
        handle.flush()
        yield


def _wait_for(handle: IO[str], timeout_s: float, poll_s: float) -> None:
    deadline, told = time.monotonic() + timeout_s, False
    while not _try_lock(handle):
        holder = _holder(handle)
        if time.monotonic() > deadline:
            _fail(f"the test services are still held by another test run ({holder}) after {timeout_s:.0f} s")
        if not told:
            print(f"waiting for another test run to release the services ({holder})", file=sys.__stderr__)
            told = True
        time.sleep(poll_s)


def _try_lock(handle: IO[str]) -> bool:
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _holder(handle: IO[str]) -> str:
    handle.seek(0)
    return handle.read().strip() or "holder unknown"


def _fail(reason: str) -> NoReturn:
    import pytest

    pytest.fail(reason, pytrace=False)
