"""``maas cds parse|sample``: the Sentinel business at hand for operators."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated

import typer

from cds.naming import parse as parse_name
from maas_cli.options import not_built

app = typer.Typer(
    help="Sentinel business tools: product-name parsing, sample data.", no_args_is_help=True
)


_PARSE_HELP = (
    "Parse Sentinel product names; print one JSON object per line, in input order.\n\n"
    'Known names give their fields, dates in ISO 8601 UTC with a Z suffix, and "unknown": false. '
    'A name no grammar accepts gives {"name", "key", "unknown": true, "reason"}.\n\n'
    "Exit code 0 even when some or all names are unknown: unknown is a valid answer, not a "
    "failure (usage errors exit 2).\n\n"
    "Example: ls /archive | maas cds parse -"
)


@app.command(help=_PARSE_HELP)
def parse(
    names: Annotated[
        list[str],
        typer.Argument(
            metavar="NAME",
            help="Product names, with or without extensions; '-' reads names from standard "
            "input, one per line.",
            show_default=False,
        ),
    ],
) -> None:
    """Print each name's parse as a JSON line (the help text above is the contract)."""
    try:
        for name in _names(names, sys.stdin):
            sys.stdout.write(json.dumps(parse_name(name).as_record()) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # the reader (head, grep -m) has all it wanted: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _names(args: list[str], stdin: Iterable[str]) -> Iterator[str]:
    for arg in args:
        if arg == "-":
            yield from (line.strip() for line in stdin if line.strip())
        else:
            yield arg


@app.command()
def sample(
    out: Annotated[Path, typer.Option("--out", help="Archive directory to write.")],
    seed: Annotated[int, typer.Option("--seed")] = 1,
    days: Annotated[int, typer.Option("--days")] = 1,
) -> None:
    """Generate a seeded synthetic ground segment as archived raw payloads with expected KPIs."""
    raise not_built("maas cds sample", 6)
