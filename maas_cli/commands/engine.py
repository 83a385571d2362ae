"""``maas engine pool``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated

import typer
from prometheus_client import CollectorRegistry

from maas.bus.base import Bus, declare_in_use
from maas.bus.factory import create_bus
from maas.config import Settings
from maas.engine.pool import Pool
from maas.engine.waiting import until_available
from maas.errors import BusInterrupted, ConfigError
from maas.model import ModelRegistry
from maas.observe import PoolMetrics, readiness, serve
from maas.store.base import Store
from maas.store.factory import create_store
from maas_cli.help import MaasTyper
from maas_cli.options import MetricsPortOpt, state
from maas_cli.runtime import routing_for, stop_on_signals

app = MaasTyper(help="Run engine pools that consume routing keys and chain reports.", no_args_is_help=True)
log = logging.getLogger("maas.engine")


@app.command()
def pool(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Pool name from the routing file.")],
    metrics_port: MetricsPortOpt = None,
) -> None:
    """Consume the queues of one pool, process batches, write, emit reports; until SIGTERM.

    On SIGTERM or Ctrl-C the batch in hand is finished, written and acknowledged, then the
    process exits 0. A broker or a store unreachable at start is waited for, with backoff,
    for bus.reconnect_max_s (300 s by default), then the pool ends (exit 1); a login or vhost
    refused ends it at once (exit 2). Once it consumes, a lost broker is waited for and retried
    without end. While the broker or the store is away the stop does not wait for it: the
    process exits 0 at once (the broker redelivers what was not acknowledged).
    An unreachable store holds the batch in hand, tried again with backoff, without spending
    its attempts; other transient failures retry through delay queues; permanent ones and
    exhausted retries go to the dead-letter queue (see `maas dlq`).

    Needs a distributed bus (bus.url amqp://…): on the embedded bus (memory://) it exits 2,
    since the engine chain of the embedded deployment runs inside `maas collect` and
    `maas replay`.
    """
    settings = state(ctx).settings
    routing, catalog = routing_for(settings)
    registry = CollectorRegistry()
    metrics = PoolMetrics(registry, name)
    bus = _distributed_bus(settings, name)
    store = create_store(settings)
    stop = stop_on_signals(bus.interrupt, "the current batch")
    try:
        runner = Pool.from_routing(
            routing,
            name,
            bus=bus,
            store=store,
            models=catalog.models,
            engines=catalog.engines,
            bus_settings=settings.bus,
            hooks=metrics,
        )
        if metrics_port is not None:
            serve(metrics_port, registry, readiness(settings))
        declare_in_use(bus, routing.topology(settings.bus))
        if not _store_ready(settings, store, catalog.models, stop.is_set):
            log.info("pool %s stopped before consuming", name)
            return
        log.info("pool %s consuming %s", name, ", ".join(runner.queues))
        stats = runner.run(stop.is_set)
        log.info(
            "pool %s stopped: %d acked, %d retried, %d dead-lettered",
            name,
            stats.acked,
            stats.retried,
            stats.dead_lettered,
        )
    except BusInterrupted as exc:  # stopped while starting, the broker away
        log.info("pool %s stopped before consuming: %s", name, exc)
    finally:
        bus.close()
        store.close()


def _store_ready(
    settings: Settings, store: Store, models: ModelRegistry, stopped: Callable[[], bool]
) -> bool:
    """The store is waited for as long as the broker (bus.reconnect_max_s): after a reboot
    OpenSearch may answer minutes after the pools start, and exiting at once would use up the
    unit's restart budget (StartLimitBurst) and leave the pool failed for good."""
    setup = lambda: store.setup(list(models))  # noqa: E731 (idempotent: tried again as a whole)
    return until_available("the store", setup, settings.bus.reconnect_max_s, stopped)


def _distributed_bus(settings: Settings, name: str) -> Bus:
    """An in-process bus lives and dies with this process: no other process could ever publish
    to the pool, which would wait for good. Refused before the store is opened."""
    bus = create_bus(settings, f"maas-pool-{name}", long_running=True)
    if bus.capabilities.distributed:
        return bus
    bus.close()
    raise ConfigError(
        f"engine pools need a distributed bus, and {settings.bus.url} is the embedded in-process "
        "one: nothing could ever publish to this pool. Set bus.url (MAAS_BUS_URL) to "
        "amqp://HOST:5672/VHOST; on the embedded deployment the engine chain runs inside "
        "'maas collect' and 'maas replay', no pool is needed"
    )
