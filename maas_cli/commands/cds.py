"""``maas cds parse|sample``: the Sentinel business at hand for operators."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from maas_cli.options import not_built

app = typer.Typer(
    help="Sentinel business tools: product-name parsing, sample data.", no_args_is_help=True
)


@app.command()
def parse(names: Annotated[list[str], typer.Argument(help="Product names to parse.")]) -> None:
    """Parse Sentinel product names; one JSON object per line."""
    raise not_built("maas cds parse", 6)


@app.command()
def sample(
    out: Annotated[Path, typer.Option("--out", help="Archive directory to write.")],
    seed: Annotated[int, typer.Option("--seed")] = 1,
    days: Annotated[int, typer.Option("--days")] = 1,
) -> None:
    """Generate a seeded synthetic ground segment as archived raw payloads with expected KPIs."""
    raise not_built("maas cds sample", 6)
