"""``maas config validate|show``."""

from __future__ import annotations

import json

import typer
from rich.console import Console

from maas.config.checks import check_all
from maas_cli.defaults import DEFAULT_COLLECTORS_DIR, DEFAULT_ROUTING_FILE
from maas_cli.options import state

app = typer.Typer(help="Validate and show the configuration.", no_args_is_help=True)


@app.command()
def validate(ctx: typer.Context) -> None:
    """Check settings, every collector config and the routing file; print every problem.

    Problems are printed as ``file:line: key: reason``; exit code 2 if there is any.
    """
    path = state(ctx).config_path
    _, problems, checked = check_all(path, DEFAULT_COLLECTORS_DIR, DEFAULT_ROUTING_FILE)
    err = Console(stderr=True, highlight=False)
    for problem in problems:
        err.print(problem.render(), markup=False, soft_wrap=True)
    if problems:
        err.print(f"{len(problems)} problem(s) in {len(checked)} file(s)", markup=False)
        raise typer.Exit(2)
    print(f"OK: {len(checked)} file(s) valid" + ("" if path else " (settings from defaults and MAAS_*)"))


@app.command()
def show(ctx: typer.Context) -> None:
    """Print the effective settings as JSON, secrets and URL passwords masked."""
    print(json.dumps(state(ctx).settings.shown(), indent=2))
