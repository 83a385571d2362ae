"""``maas dlq list|show|replay|purge``: dead letters of the routing file's queues."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from maas.bus.base import Bus, Delivery
from maas.bus.factory import create_bus
from maas.bus.topology import Topology, dlq_name
from maas.errors import ConfigError
from maas_cli.help import MaasTyper
from maas_cli.options import state
from maas_cli.runtime import routing_for

app = MaasTyper(
    help=(
        "Look at, replay or purge dead-lettered messages. An unreachable broker is retried for "
        "bus.one_shot_reconnect_max_s (15 s by default), then the command fails (exit 1). Needs a "
        "distributed bus (bus.url amqp://…): the embedded bus keeps no dead letters (exit 2)."
    ),
    no_args_is_help=True,
)
QueueArg = Annotated[str, typer.Argument(help="Work queue (or its '.dlq') from the routing file.")]
LimitOpt = Annotated[int | None, typer.Option("--limit", "-n", help="At most this many messages.")]
ReplayLimitOpt = Annotated[
    int | None, typer.Option("--limit", "-n", help="At most this many messages (default: all of them).")
]


# What the memory bus held is gone with the process that ran the chain: nothing to read here.
_EMBEDDED = (
    "the embedded in-process bus ({url}) keeps no dead letters between processes, so there are none "
    "to list, show, replay or purge. On the embedded deployment 'maas collect' and 'maas replay' "
    "report the engine messages they dead-lettered when they end ('maas replay' then exits 1), "
    "their log names each with the reason, and the raw payloads stay in the archive to replay "
    "after a fix. 'maas dlq' needs a distributed bus: set bus.url (MAAS_BUS_URL) to "
    "amqp://HOST:5672/VHOST"
)


@contextmanager
def _dead_letters(ctx: typer.Context) -> Iterator[tuple[Bus, Topology]]:
    settings = state(ctx).settings
    routing, _ = routing_for(settings)
    bus = create_bus(settings, client_name="maas-dlq")
    if not bus.capabilities.persistent:
        bus.close()
        raise ConfigError(_EMBEDDED.format(url=settings.bus.url))
    try:
        yield bus, routing.topology(settings.bus)
    finally:
        bus.close()


def _dlq(topology: Topology, queue: str) -> str:
    name = queue if queue.endswith(".dlq") else dlq_name(queue)
    if name not in topology.dead_letter_queues():
        known = ", ".join(topology.dead_letter_queues()) or "none"
        raise ConfigError(f"{queue!r} is not a queue of the routing file (dead-letter queues: {known})")
    return name


@app.command(name="list")
def list_(ctx: typer.Context) -> None:
    """List the dead-letter queues of the routing file with their message counts."""
    with _dead_letters(ctx) as (bus, topology):
        table = Table("dead-letter queue", "work queue", "messages")
        stats = bus.queue_stats(list(topology.dead_letter_queues()))
        for stat in stats:
            table.add_row(stat.name, topology.dead_letter_queues()[stat.name], str(stat.messages))
        Console().print(table)


@app.command()
def show(ctx: typer.Context, queue: QueueArg, limit: LimitOpt = 20) -> None:
    """Show dead letters (left in place): reason, attempts, solo attempts, consumer, failure times, origin."""
    with _dead_letters(ctx) as (bus, topology):
        for delivery in bus.peek(_dlq(topology, queue), limit or 20):
            print(json.dumps(_describe(delivery), ensure_ascii=False))


def _describe(delivery: Delivery) -> dict[str, object]:
    failure = delivery.failure
    out: dict[str, object] = {
        "routing_key": delivery.routing_key,
        "exchange": delivery.exchange,
        "reason": failure.reason if failure else None,
        "attempts": failure.attempts if failure else 0,
        "solo_attempts": delivery.solo_attempts,  # deaths of the pool while it was processed alone
        "consumer": failure.consumer if failure else None,
        "first_failure": failure.first_failure if failure else None,
        "last_failure": failure.last_failure if failure else None,
    }
    try:
        message = delivery.message()
        out |= {
            "message_id": message.message_id,
            "document_class": message.document_class,
            "documents": len(message.document_ids),
            "ancestor_ids": list(message.ancestor_ids),
        }
    except Exception:  # a poison body is shown as it is, that is why it is here
        out["body"] = delivery.body[:500].decode("utf-8", errors="replace")
    return out


@app.command()
def replay(ctx: typer.Context, queue: QueueArg, limit: ReplayLimitOpt = None) -> None:
    """Put dead letters back on their work queue with fresh attempts (after a fix)."""
    with _dead_letters(ctx) as (bus, topology):
        moved = bus.replay(_dlq(topology, queue), limit)
        print(f"replayed {moved} message(s) to {queue.removesuffix('.dlq')}")


@app.command()
def purge(
    ctx: typer.Context,
    queue: QueueArg,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: the messages are deleted for good.")] = False,
) -> None:
    """Delete every dead letter of a queue (asks for --yes: this loses them)."""
    if not yes:
        raise ConfigError("purge deletes dead letters for good; add --yes to confirm")
    with _dead_letters(ctx) as (bus, topology):
        print(f"purged {bus.purge(_dlq(topology, queue))} message(s)")
