"""Every ``--help`` page: a flag shows no value placeholder, an option that takes a value does."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from maas_cli.app import app
from maas_cli.help import reflow

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


def description(path: tuple[str, ...], columns: int) -> list[list[str]]:
    """The paragraphs of a help page's description (between the usage line and the first box)."""
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    text = result.output.split("╭")[0].split("Usage:", 1)[1].split("\n", 1)[1]
    blocks = re.split(r"\n\s*\n", text)
    return [[line.strip() for line in block.splitlines() if line.strip()] for block in blocks]


@pytest.mark.parametrize("path", list(EVERY_COMMAND), ids=lambda p: " ".join(p) or "maas")
def test_help_prose_reflows_at_the_terminal_width(path: tuple[str, ...]) -> None:
    """A line ends early only where its paragraph or a list item ends: the next word did not fit."""
    width = 80 - 2  # rich's margin of one column on each side
    for paragraph in description(path, 80):
        for line, following in zip(paragraph, paragraph[1:], strict=False):
            if re.match(r"[-*•] |\d+[.)] ", following):
                continue
            next_word = following.split()[0]
            assert len(line) + 1 + len(next_word) > width, f"{' '.join(path)}: {line!r} / {following!r}"


def test_reflow_joins_prose_and_keeps_lists_blocks_and_what_follows_the_cut() -> None:
    text = "Title.\n\nProse wrapped\nfor the source.\n\n- one\n- two\n\n\bkept\nas is\n\fprivate\nnotes"
    assert (
        reflow(text)
        == "Title.\n\nProse wrapped for the source.\n\n- one\n- two\n\n\bkept\nas is\n\fprivate\nnotes"
    )


def test_inspect_timeliness_says_its_percentiles_are_exact_and_grafanas_estimates() -> None:
    result = CliRunner().invoke(app, ["inspect", "timeliness", "--help"], env={"COLUMNS": "200"})
    text = " ".join(result.output.replace("│", " ").split())
    assert "quantile_cont" in text and "TDigest" in text, text
