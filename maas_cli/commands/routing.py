"""``maas routing setup|show``."""

from __future__ import annotations

from typing import Annotated

import typer

from maas_cli.options import not_built

app = typer.Typer(
    help="Declare and compare the bus topology of the routing file.", no_args_is_help=True
)


@app.command()
def setup(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan, declare nothing.")
    ] = False,
) -> None:
    """Declare exchanges, queues (with delay and dead-letter queues), bindings and index templates."""
    raise not_built("maas routing setup", 4)


@app.command()
def show() -> None:
    """Show the live topology against the routing file (missing and extra bindings)."""
    raise not_built("maas routing show", 4)
