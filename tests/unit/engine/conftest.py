"""Pools of the test catalog's routing file, as ``maas engine pool`` builds them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from chain_catalog import CATALOG

from maas.bus.base import Bus
from maas.config.settings import BusSettings
from maas.engine.pool import Hooks, Pool
from maas.engine.routing import RoutingFile
from maas.store.base import Store


def _catalog_pool(
    routing: RoutingFile, name: str, bus: Bus, store: Store, hooks: Hooks | None = None
) -> Pool:
    return Pool.from_routing(
        routing,
        name,
        bus=bus,
        store=store,
        models=CATALOG.models,
        engines=CATALOG.engines,
        bus_settings=BusSettings(),
        hooks=hooks,
    )


@pytest.fixture
def catalog_pool() -> Callable[..., Pool]:
    """``catalog_pool(routing, pool name, bus, store, hooks=None)``."""
    return _catalog_pool
