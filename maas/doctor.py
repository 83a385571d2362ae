"""``maas doctor``: is each configured backend reachable, and which version is it?

Probes are chosen by URL scheme from one table; heavy clients are imported only when probed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from maas.config import Settings, mask_url, redactor
from maas.errors import MaasError


@dataclass(frozen=True)
class Check:
    """``exit_code``: 0 when ok, else the failure's (2 for settings to fix, 1 for a server down),
    so doctor's exit says which kind of problem the operator has."""

    component: str
    url: str
    ok: bool
    detail: str
    exit_code: int = 0


Probe = Callable[[Settings], str]


def _duckdb(settings: Settings) -> str:
    import duckdb

    from maas.store.factory import duckdb_path

    path = duckdb_path(settings.store.url)
    where = "will be created" if not path.exists() else "exists"
    parent = next((p for p in [path.parent, *path.parent.parents] if p.exists()), Path("."))
    if not parent.is_dir() or not _writable(parent):
        raise OSError(f"{parent} is not a writable directory")
    return f"duckdb {duckdb.__version__}, file {path} ({where})"


def _writable(path: Path) -> bool:
    import os

    return os.access(path, os.W_OK)


def _opensearch(settings: Settings) -> str:
    from maas.store._bulk import endpoint, translate_errors, user_of
    from maas.store.factory import opensearch_client

    client = opensearch_client(settings, timeout=5)
    with translate_errors("reading its version", endpoint(client), user_of(client)):
        info = client.info()
    return f"{info['version'].get('distribution', 'opensearch')} {info['version']['number']}"


def _memory(_settings: Settings) -> str:
    return "in-process bus (embedded mode)"


def _amqp(settings: Settings) -> str:
    import pika

    from maas.bus.factory import pika_parameters
    from maas.bus.rabbitmq import CONNECT_ERRORS, map_error

    params = pika_parameters(settings)
    params.connection_attempts, params.socket_timeout = 1, 5
    try:
        connection = pika.BlockingConnection(params)
    except CONNECT_ERRORS as exc:  # pika's own print as nothing, or as its repr
        raise map_error(exc, params) from None
    try:
        props = connection._impl.server_properties  # the broker announces itself here
        return f"{_text(props.get('product'))} {_text(props.get('version'))}"
    finally:
        connection.close()


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "?")


STORE_PROBES: dict[str, Probe] = {"duckdb": _duckdb, "http": _opensearch, "https": _opensearch}
BUS_PROBES: dict[str, Probe] = {"memory": _memory, "amqp": _amqp, "amqps": _amqp}


def _run(component: str, url: str, probe: Probe, settings: Settings) -> Check:
    try:
        return Check(component, mask_url(url), True, probe(settings))
    except Exception as exc:  # a probe reports any failure; it never crashes doctor
        # Ours already say what failed; a foreign one is named by its type.
        text = str(exc) if isinstance(exc, MaasError) else f"{type(exc).__name__}: {exc}"
        reason = redactor.mask(text.strip())
        code = exc.exit_code if isinstance(exc, MaasError) else 1
        return Check(component, mask_url(url), False, reason, code)


def probe_store(settings: Settings) -> str:
    """The store's version; raises when it cannot be reached (also a readiness check)."""
    return STORE_PROBES[urlsplit(settings.store.url).scheme](settings)


def probe_bus(settings: Settings) -> str:
    """The bus's version; raises when it cannot be reached (also a readiness check)."""
    return BUS_PROBES[urlsplit(settings.bus.url).scheme](settings)


def diagnose(settings: Settings) -> list[Check]:
    """One check per configured backend."""
    return [
        _run("store", settings.store.url, probe_store, settings),
        _run("bus", settings.bus.url, probe_bus, settings),
    ]
