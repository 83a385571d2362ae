"""``maas routing setup|show``."""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from maas.bus.base import Bus
from maas.bus.factory import create_bus, pika_parameters
from maas.bus.live import QueueCheck, TopologyCheck, compare
from maas.bus.topology import Binding, Topology
from maas.config import Settings
from maas.errors import BusError, QueueConflict
from maas.model.schema import opensearch_template
from maas.store.factory import create_store
from maas_cli.help import MaasTyper
from maas_cli.options import JsonOpt, state
from maas_cli.runtime import routing_for

app = MaasTyper(help="Declare and compare the bus topology of the routing file.", no_args_is_help=True)


@app.command()
def setup(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan, declare nothing.")] = False,
) -> None:
    """Declare exchanges, queues (with delay and dead-letter queues), bindings and index templates.

    Idempotent: running it again changes nothing. Engine pools and collectors also declare the
    topology when they start, so setup is for operators who want it before any process runs.
    On RabbitMQ, setup then removes the bindings the routing file no longer lists (found through
    the management API, as 'maas routing show' does) and says which: only bindings from the
    file's exchanges to the file's work queues; other queues and other exchanges' bindings are
    left alone. A process still running an older routing file declares its bindings again when
    it (re)connects: roll it out first. --dry-run does not connect ('maas routing show' lists
    them). If the management API does not answer, setup still declares everything, then fails
    (exit 1) saying that stale bindings were not looked for.
    A queue the broker already holds with other arguments (single_active_consumer changed in
    the routing file) cannot be changed in place: everything else is declared, then setup
    fails naming the queue, what differs and how to recreate it without losing a message.
    An unreachable broker is retried for bus.one_shot_reconnect_max_s (15 s by default),
    then setup fails (exit 1) naming the broker and why.
    """
    settings = state(ctx).settings
    routing, catalog = routing_for(settings)
    topology = routing.topology(settings.bus)
    _print_plan(topology, [opensearch_template(c)["index_patterns"][0] for c in catalog.models])
    if dry_run:
        print("dry run: nothing declared")
        return
    bus = create_bus(settings, client_name="maas-routing-setup")
    unchecked = None
    try:
        conflict = _declared(bus, topology)
        if bus.capabilities.distributed:
            unchecked = _unbind_stale(bus, topology, settings)
    finally:
        bus.close()
    store = create_store(settings)
    try:
        store.setup(list(catalog.models))
    finally:
        store.close()
    if conflict:
        raise BusError(f"{conflict}\n{_how_to_recreate(conflict, settings)}")
    print(
        f"declared {len(topology.exchanges)} exchange(s), {len(topology.queues)} work queue(s) "
        f"and {len(list(catalog.models))} document famil(ies)"
    )
    if unchecked:  # the declaring is done; what is left is to be told
        raise BusError(f"bindings the routing file no longer lists were not looked for: {unchecked}")


def _declared(bus: Bus, topology: Topology) -> QueueConflict | None:
    try:
        bus.declare(topology)
    except QueueConflict as exc:
        return exc
    return None


def _unbind_stale(bus: Bus, topology: Topology, settings: Settings) -> str | None:
    """Declaring never removes a binding, so one dropped from the file would go on routing to
    the queue; AMQP cannot list bindings, the management API can. Why it could not look, if
    the API did not answer: declaring needs only AMQP, and is not undone for it."""
    from maas.bus.rabbitmq_admin import ManagementAPI  # requests: only when it is needed

    api = ManagementAPI(settings)
    try:
        check = compare(topology, api.snapshot())
    except BusError as exc:
        return str(exc)
    finally:
        api.close()
    for queue in check.queues:
        if queue.stale_bindings:
            bus.unbind(queue.spec.name, queue.stale_bindings)
        for b in queue.stale_bindings:
            print(f"removed {queue.spec.name}: binding {b.exchange}: {b.pattern} (not in the routing file)")
    return None


def _how_to_recreate(conflict: QueueConflict, settings: Settings) -> str:
    """The safe way: the broker deletes a queue only if it is empty and unused, atomically."""
    vhost = pika_parameters(settings).virtual_host
    deletes = "\n".join(
        f"       rabbitmqctl delete_queue --vhost {vhost} {name} --if-empty --if-unused"
        for name in sorted(conflict.conflicts)
    )
    return (
        "A broker cannot change the arguments of an existing queue; everything else was declared "
        "and the queue keeps working as it is. To recreate it without losing a message:\n"
        "  1. stop what publishes to it (collectors, upstream pools); let its pool work until "
        "'maas routing show' gives it ready 0, unacked 0 and retrying 0; stop that pool;\n"
        "  2. delete it, only if empty (the broker refuses while a message or a consumer is "
        "left; its dead letters stay):\n"
        f"{deletes}\n"
        "  3. run 'maas routing setup' again, then start the pool and what publishes to it."
    )


def _print_plan(topology: Topology, index_patterns: list[str]) -> None:
    table = Table("queue", "bindings (exchange: pattern)", "consumers", "retry", "queues it brings")
    for spec in topology.queues:
        bindings = "\n".join(f"{b.exchange}: {b.pattern}" for b in spec.bindings)
        consumers = "one active,\nothers wait" if spec.single_active_consumer else "all share"
        retry = f"{spec.retry.max_attempts} attempts"
        companions = "\n".join(spec.companions())
        table.add_row(spec.name, bindings, consumers, retry, companions)
    console = Console()
    console.print(f"exchanges (topic, durable): {', '.join(topology.exchanges)}")
    console.print(table)
    console.print(f"index templates: {', '.join(index_patterns) or '(none)'}")


@app.command()
def show(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Compare the live topology with the routing file: missing and extra bindings and queues.

    Per work queue: bindings in the file but not on the broker (missing), bindings on the
    broker but not in the file (extra; from the file's exchanges they are left over from an
    older routing file and 'maas routing setup' removes them), missing dead-letter, suspects'
    and delay queues, a
    single_active_consumer the queue on the broker does not have, or has against the file
    (differs: the queue must be recreated, see ``maas routing setup``), and message counts
    (ready, unacked, consumers, dead letters, waiting retries, suspects waiting to be processed
    alone after an engine process died holding them) as last sampled by the broker.
    Exit 1 if anything the file needs is missing or differs, or a work queue has a binding from
    the file's exchanges the file does not list; 0 otherwise (other extras are reported: a
    binding from another exchange, a queue the file does not know bound to its exchanges,
    stale delay queues).
    """
    settings = state(ctx).settings
    routing, _ = routing_for(settings)
    bus = create_bus(settings, client_name="maas-routing-show")
    bus.close()  # only its capabilities are needed; a RabbitMQ bus connects on first use
    if not bus.capabilities.distributed:
        print(
            f"the {bus.capabilities.name} bus keeps its topology in-process: each run "
            "(maas collect, maas replay) declares it from the routing file, so there is no "
            "live topology to compare"
        )
        return
    from maas.bus.rabbitmq_admin import ManagementAPI  # requests: only when it is needed

    api = ManagementAPI(settings)
    try:
        check = compare(routing.topology(settings.bus), api.snapshot())
    finally:
        api.close()
    if as_json:
        print(json.dumps(_as_dict(check), indent=2))
    else:
        _print_check(check, api.base_url, api.vhost)
    if check.missing or check.differs or check.stale:
        raise typer.Exit(1)


def _print_check(check: TopologyCheck, url: str, vhost: str) -> None:
    console = Console()
    console.print(f"broker: {url} vhost {vhost!r} (counts as last sampled by the broker)")
    table = Table("queue", "state", "ready", "unacked", "consumers", "dlq", "retrying", "suspects")
    table.columns[0].overflow = "fold"
    for queue in check.queues:
        live = queue.live
        counts = [str(n) for n in (live.ready, live.unacked, live.consumers)] if live else ["-"] * 3
        dlq = str(queue.dlq.ready) if queue.dlq else "-"
        suspects = str(queue.solo.ready + queue.solo.unacked) if queue.solo else "-"
        table.add_row(queue.spec.name, _state(queue), *counts, dlq, str(queue.delayed), suspects)
    console.print(table)
    for line in _differences(check):
        console.print(line, highlight=False, soft_wrap=True)
    if check.missing or check.stale:
        console.print(f"to make the broker match the routing file: {SETUP}", highlight=False)


def _state(queue: QueueCheck) -> str:
    if queue.missing:
        return "[red]MISSING[/red]"
    return "[red]DIFFERS[/red]" if queue.differences else "ok"


MISSING, EXTRA, DIFFERS = "[red]missing[/red]", "[yellow]extra[/yellow]", "[red]differs[/red]"
RECREATE = "the queue must be recreated: maas routing setup says how"
SETUP = "maas routing setup"


def _differences(check: TopologyCheck) -> list[str]:
    lines = [f"{MISSING} exchange {name}" for name in check.missing_exchanges]
    for queue in check.queues:
        lines += _queue_differences(queue)
    lines += [
        f"{EXTRA} {queue} (not in the file): binding {b.exchange}: {b.pattern}"
        for b, queue in check.foreign_bindings
    ]
    return lines


def _queue_differences(queue: QueueCheck) -> list[str]:
    name = queue.spec.name
    return [
        *(f"{MISSING} {name}: binding {b.exchange}: {b.pattern}" for b in queue.missing_bindings),
        *(f"{MISSING} {name}: queue {missing}" for missing in queue.missing_queues),
        *(f"{DIFFERS} {name}: {what} ({RECREATE})" for what in queue.differences),
        *(
            f"{EXTRA} {name}: binding {b.exchange}: {b.pattern}{_stale(queue, b)}"
            for b in queue.extra_bindings
        ),
        *(
            f"{EXTRA} {name}: stale delay queue {q.name} ({q.ready} messages)"
            for q in queue.stale_delay_queues
        ),
    ]


def _stale(queue: QueueCheck, binding: Binding) -> str:
    return f" (not in the file: {SETUP} removes it)" if binding in queue.stale_bindings else ""


def _as_dict(check: TopologyCheck) -> dict[str, object]:
    def binding(b: Binding) -> dict[str, str]:
        return {"exchange": b.exchange, "pattern": b.pattern}

    return {
        "missing": check.missing,
        "differs": check.differs,
        "stale": check.stale,
        "missing_exchanges": list(check.missing_exchanges),
        "queues": [
            {
                "name": q.spec.name,
                "missing": q.missing,
                "live": dataclasses.asdict(q.live) if q.live else None,
                "dlq": dataclasses.asdict(q.dlq) if q.dlq else None,
                "solo": dataclasses.asdict(q.solo) if q.solo else None,
                "retrying": q.delayed,
                "missing_bindings": [binding(b) for b in q.missing_bindings],
                "extra_bindings": [binding(b) for b in q.extra_bindings],
                "stale_bindings": [binding(b) for b in q.stale_bindings],
                "missing_queues": list(q.missing_queues),
                "stale_delay_queues": [dataclasses.asdict(s) for s in q.stale_delay_queues],
                "differences": list(q.differences),
            }
            for q in check.queues
        ],
        "foreign_bindings": [binding(b) | {"queue": name} for b, name in check.foreign_bindings],
    }
