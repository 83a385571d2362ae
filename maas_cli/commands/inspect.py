"""``maas inspect``: investigate a DuckDB store or replay output."""

from __future__ import annotations

from typing import Annotated

import typer

from maas_cli.options import not_built

app = typer.Typer(help="Investigate with DuckDB SQL and ready-made views.", no_args_is_help=True)


@app.command()
def sql(query: Annotated[str, typer.Argument(help="A read-only SQL query.")]) -> None:
    """Run a read-only SQL query on the embedded store."""
    raise not_built("maas inspect sql", 7)


@app.command()
def product(name: Annotated[str, typer.Argument(help="Product name.")]) -> None:
    """The journey of one product across interfaces."""
    raise not_built("maas inspect product", 7)


@app.command()
def datatake(
    datatake_id: Annotated[str, typer.Argument(help="Datatake key, e.g. S1A-233959.")],
) -> None:
    """Completeness per type, missing periods and products of one datatake."""
    raise not_built("maas inspect datatake", 7)


@app.command()
def timeliness() -> None:
    """Timeliness percentiles by type, interface or day."""
    raise not_built("maas inspect timeliness", 7)


@app.command()
def completeness() -> None:
    """Datatake completeness, optionally filtered by status."""
    raise not_built("maas inspect completeness", 7)


@app.command()
def interfaces() -> None:
    """Interface status timelines."""
    raise not_built("maas inspect interfaces", 7)


@app.command()
def export() -> None:
    """Pull an OpenSearch index slice into DuckDB for offline investigation."""
    raise not_built("maas inspect export", 7)


@app.command()
def report() -> None:
    """Write a self-contained HTML report with plots."""
    raise not_built("maas inspect report", 7)
