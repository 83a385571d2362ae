"""``maas engine pool``."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from prometheus_client import CollectorRegistry

from maas.bus.base import declare_in_use
from maas.bus.factory import create_bus
from maas.engine.pool import Pool
from maas.errors import BusInterrupted
from maas.observe import PoolMetrics, readiness, serve
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
    process exits 0. A broker unreachable at start for bus.reconnect_max_s (300 s by default)
    ends the pool (exit 1); once it consumes, a lost broker is waited for and retried without
    end. While the broker is away the stop does not wait for it to come back: the process
    exits 0 at once and the broker redelivers what was not acknowledged.
    Transient failures retry through delay queues; permanent ones and exhausted retries go
    to the dead-letter queue (see `maas dlq`).
    """
    settings = state(ctx).settings
    routing, catalog = routing_for(settings)
    registry = CollectorRegistry()
    metrics = PoolMetrics(registry, name)
    store, bus = create_store(settings), create_bus(settings, f"maas-pool-{name}", long_running=True)
    stop = stop_on_signals(bus.interrupt, "the current batch")
    try:
        declare_in_use(bus, routing.topology(settings.bus))
        store.setup(list(catalog.models))
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
