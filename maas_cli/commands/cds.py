"""``maas cds parse|sample``: the Sentinel business at hand for operators."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated

import typer

from cds.naming import ParsedName, Unknown, strip_extensions
from cds.naming import parse as parse_name
from cds.sample import EXPECTED_FILE, generate
from maas.collector.names import first_bad_byte, name_bytes
from maas_cli.help import MaasTyper

app = MaasTyper(help="Sentinel business tools: product-name parsing, sample data.", no_args_is_help=True)


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
        for name in _names(names, sys.stdin.buffer):
            sys.stdout.write(json.dumps(_parsed(name).as_record()) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # the reader (head, grep -m) has all it wanted: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _names(args: list[str], stdin: Iterable[bytes]) -> Iterator[str]:
    """Names as the arguments are decoded: undecodable bytes kept as surrogate escapes.

    Standard input is read as bytes so that this does not depend on the locale (a strict one
    would stop the whole listing at the first bad byte).
    """
    for arg in args:
        if arg == "-":
            lines = (line.strip().decode("utf-8", "surrogateescape") for line in stdin)
            yield from (line for line in lines if line)
        else:
            yield arg


def _parsed(name: str) -> ParsedName:
    """A name that is not UTF-8 is unknown, shown with U+FFFD: the output stays valid UTF-8 JSON."""
    raw = name_bytes(name)
    at = first_bad_byte(raw)
    if at is None:
        return parse_name(name)
    shown = raw.decode("utf-8", "replace")
    reason = (
        f"not valid UTF-8 (byte 0x{raw[at]:02x} at offset {at}); shown with U+FFFD replacement characters"
    )
    return Unknown(name=shown, key=strip_extensions(shown), reason=reason)


@app.command()
def sample(
    out: Annotated[Path, typer.Option("--out", help="Directory to write (must be empty, unless --force).")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed and days, same bytes.")] = 1,
    days: Annotated[int, typer.Option("--days", min=1, max=366, help="Days of activity to generate.")] = 1,
    force: Annotated[bool, typer.Option("--force", help="Delete what --out holds first.")] = False,
) -> None:
    """Generate a seeded synthetic ground segment as archived raw payloads with expected KPIs.

    Writes mission plans (S1A, S2A), OData product pages (PRIPs, LTA, AUXIP, DD) and probe pages
    in the archive layout, as the packaged collectors would have archived them, plus
    expected.json: every KPI they must give, computed independently of the engines. Check with
    `maas replay DIR --out sample.duckdb`.
    """
    _empty_dir(out, force)
    try:
        summary = generate(out, seed, days)
    except KeyboardInterrupt:
        typer.echo(
            f"sample interrupted: {out} holds part of a sample; "
            "delete it, or run again with --force to replace it",
            err=True,
        )
        raise
    for collector_id, interface, payloads, records in summary.by_collector():
        typer.echo(f"{collector_id} ({interface}): {payloads} payloads, {records} records")
    typer.echo(", ".join(f"{count} {name}" for name, count in summary.counts.items()))
    typer.echo(f"wrote {out}/ ({summary.bytes} bytes, seed {seed}, {days} day(s)) and {out / EXPECTED_FILE}")


def _empty_dir(out: Path, force: bool) -> None:
    """``out`` as an empty directory: created, or emptied with --force, or refused."""
    if out.exists() and not out.is_dir():
        raise typer.BadParameter(f"{out} exists and is not a directory", param_hint="--out")
    entries = sorted(out.iterdir()) if out.exists() else []
    if entries and not force:
        raise typer.BadParameter(
            f"{out} is not empty ({len(entries)} entries); pass --force to replace what it holds",
            param_hint="--out",
        )
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    out.mkdir(parents=True, exist_ok=True)
