"""``maas engine pool``."""

from __future__ import annotations

from typing import Annotated

import typer

from maas_cli.options import not_built

app = typer.Typer(
    help="Run engine pools that consume routing keys and chain reports.", no_args_is_help=True
)


@app.command()
def pool(
    name: Annotated[str, typer.Argument(help="Pool name from the routing file.")],
    metrics_port: Annotated[
        int | None, typer.Option("--metrics-port", help="Serve /health, /ready and /metrics.")
    ] = None,
) -> None:
    """Consume the queues of one pool, process batches, write and emit reports."""
    raise not_built("maas engine pool", 4)
