"""``maas dlq list|show|replay|purge``."""

from __future__ import annotations

import typer

from maas_cli.options import not_built

app = typer.Typer(help="Look at, replay or purge dead-lettered messages.", no_args_is_help=True)


@app.command(name="list")
def list_() -> None:
    """List dead-letter queues and their message counts."""
    raise not_built("maas dlq list", 4)


@app.command()
def show() -> None:
    """Show dead-lettered messages with their reason, attempts and origin."""
    raise not_built("maas dlq show", 4)


@app.command()
def replay() -> None:
    """Put dead-lettered messages back on their original routing key."""
    raise not_built("maas dlq replay", 4)


@app.command()
def purge() -> None:
    """Delete dead-lettered messages."""
    raise not_built("maas dlq purge", 4)
