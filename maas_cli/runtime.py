"""Build what commands need from the settings: catalog, routing file, store, bus."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

from maas.catalog import Catalog
from maas.config import Settings
from maas.engine.routing import RoutingFile, load_routing
from maas.errors import ConfigError
from maas_cli.defaults import catalog_for

log = logging.getLogger("maas")


def routing_for(settings: Settings, catalog: Catalog | None = None) -> tuple[RoutingFile, Catalog]:
    """The routing file (settings first, then the catalog's default), checked against the engines."""
    catalog = catalog or catalog_for(settings)
    path = settings.routing_file or catalog.routing_file
    if path is None:
        raise ConfigError("no routing file: set 'routing_file' in the settings (or MAAS_ROUTING_FILE)")
    return load_routing(path, catalog.engines), catalog


def stop_on_signals(interrupt: Callable[[], None], finishing: str) -> threading.Event:
    """SIGTERM/SIGINT set the returned event and ``interrupt`` a wait for the broker, so a
    long-running command stops within its grace period even while the broker is away."""
    stop = threading.Event()

    def handler(signum: int, _frame: object) -> None:
        log.info("signal %d: finishing %s, then stopping", signum, finishing)
        stop.set()
        interrupt()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop
