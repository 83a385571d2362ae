"""``maas doctor``."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from maas.doctor import diagnose
from maas_cli.options import state


def doctor(ctx: typer.Context) -> None:
    """Check that each configured backend is reachable and report its version.

    Exit 1 if one is down, 2 if one refused the configured credentials or a setting (a secret)
    cannot be used."""
    checks = diagnose(state(ctx).settings)
    table = Table("component", "status", "url", "detail")
    table.columns[2].overflow = "fold"
    for check in checks:
        status = "[green]ok[/green]" if check.ok else "[red]DOWN[/red]"
        table.add_row(check.component, status, check.url, check.detail)
    Console().print(table)
    code = max(check.exit_code for check in checks)
    if code:
        raise typer.Exit(code)
