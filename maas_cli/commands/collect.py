"""``maas collect``."""

from __future__ import annotations

from typing import Annotated

import typer

from maas_cli.options import not_built


def collect(
    collector: Annotated[
        list[str] | None, typer.Option("--collector", help="Only this collector id (repeatable).")
    ] = None,
    once: Annotated[bool, typer.Option("--once/--loop", help="One pass, or loop on each period.")] = True,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Fetch and extract, write nothing, print documents.")
    ] = False,
    since: Annotated[
        str | None, typer.Option("--since", help="Collect from this date (ISO 8601), for backfill.")
    ] = None,
) -> None:
    """Fetch new data from the configured interfaces, archive it, extract and store documents."""
    raise not_built("maas collect", 5)
