"""``maas replay``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from maas_cli.options import not_built


def replay(
    paths: Annotated[list[Path], typer.Argument(help="Archive file, day, interface or whole archive.")],
    out: Annotated[Path, typer.Option("--out", help="Fresh DuckDB file to replay into.")] = Path(
        "replay.duckdb"
    ),
) -> None:
    """Replay archived raw payloads offline through the same engine chain (never the remote)."""
    raise not_built("maas replay", 7)
