"""``maas routing setup|show``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from maas.bus.factory import create_bus
from maas.bus.topology import Topology
from maas.model.schema import opensearch_template
from maas.store.factory import create_store
from maas_cli.options import not_built, state
from maas_cli.runtime import routing_for

app = typer.Typer(help="Declare and compare the bus topology of the routing file.", no_args_is_help=True)


@app.command()
def setup(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan, declare nothing.")] = False,
) -> None:
    """Declare exchanges, queues (with delay and dead-letter queues), bindings and index templates.

    Idempotent: running it again changes nothing. Engine pools also declare their own queues
    when they start, so setup is for operators who want the topology before any process runs.
    """
    settings = state(ctx).settings
    routing, catalog = routing_for(settings)
    topology = routing.topology(settings.bus)
    _print_plan(topology, [opensearch_template(c)["index_patterns"][0] for c in catalog.models])
    if dry_run:
        print("dry run: nothing declared")
        return
    bus = create_bus(settings, client_name="maas-routing-setup")
    try:
        bus.declare(topology)
    finally:
        bus.close()
    store = create_store(settings)
    try:
        store.setup(list(catalog.models))
    finally:
        store.close()
    print(
        f"declared {len(topology.exchanges)} exchange(s), {len(topology.queues)} work queue(s) "
        f"and {len(list(catalog.models))} document famil(ies)"
    )


def _print_plan(topology: Topology, index_patterns: list[str]) -> None:
    table = Table("queue", "bindings (exchange: pattern)", "retry", "delay queues / dlq")
    for spec in topology.queues:
        bindings = "\n".join(f"{b.exchange}: {b.pattern}" for b in spec.bindings)
        retry = f"{spec.retry.max_attempts} attempts"
        companions = "\n".join([*spec.delay_queues(), spec.dlq])
        table.add_row(spec.name, bindings, retry, companions)
    console = Console()
    console.print(f"exchanges (topic, durable): {', '.join(topology.exchanges)}")
    console.print(table)
    console.print(f"index templates: {', '.join(index_patterns) or '(none)'}")


@app.command()
def show() -> None:
    """Show the live topology against the routing file (missing and extra bindings)."""
    raise not_built("maas routing show", 4)
