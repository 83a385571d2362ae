"""Every ``--help`` page: a flag shows no value placeholder, an option that takes a value does."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from maas_cli.app import app

pytestmark = pytest.mark.unit

# One option row of the rich help: maybe the required mark, long names, maybe a short name,
# maybe a type placeholder.
ROW = re.compile(r"^│ (?:\*)?\s*(?P<names>--[\w-]+(?:,--[\w-]+)*)\s+(?:-\w\s+)?(?P<placeholder><[^>]*>)?")


def commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from commands(sub, (*path, name))


EVERY_COMMAND = dict(commands(typer.main.get_command(app)))


def placeholders(path: tuple[str, ...]) -> dict[str, str | None]:
    """Each option's long name -> the placeholder its help row shows (None: none)."""
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    rows = {}
    for line in result.output.splitlines():
        match = ROW.match(line)
        if match:
            for name in match["names"].split(","):
                rows[name] = match["placeholder"]
    return rows


def takes_no_value(param: Any) -> bool:
    return bool(getattr(param, "is_flag", False) or getattr(param, "count", False))


@pytest.mark.parametrize("path", list(EVERY_COMMAND), ids=lambda p: " ".join(p) or "maas")
def test_flags_show_no_value_placeholder_and_valued_options_do(path: tuple[str, ...]) -> None:
    shown = placeholders(path)
    assert shown["--help"] is None
    for param in EVERY_COMMAND[path].params:
        long_names = [name for name in getattr(param, "opts", []) if name.startswith("--")]
        if param.param_type_name != "option" or param.hidden or not long_names:
            continue
        placeholder = shown[long_names[0]]
        if takes_no_value(param):
            assert placeholder is None, f"{' '.join(path)} {long_names[0]} shows {placeholder}"
        else:
            assert placeholder is not None, f"{' '.join(path)} {long_names[0]} shows no placeholder"
