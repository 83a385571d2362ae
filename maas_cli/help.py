"""The ``maas`` command classes: help pages show a value placeholder only where a value goes,
and prose reflows at the terminal's width.

Typer's rich help prints a type placeholder for every option, flags included (``--json
<bool>``, ``--help <bool>``, the count ``-v <int>``), which reads as if they took a value;
click's plain help leaves them bare. Typer prints an option's metavar instead of its type when
one is set, so an empty metavar on the options that take no value is the whole fix. Every group
and command of ``maas`` is built from these classes, typer's own ``--help`` and completion
options included, so no command can forget it.

Typer keeps a help text's line breaks after its first paragraph, so a docstring wrapped for the
source's width broke its sentences mid-line on a narrower terminal ("each payload is" alone on
a line at 80 columns). Each prose paragraph is joined into one line for rich to wrap; a paragraph
holding a list item, an indented line or click's ``\\b`` no-rewrap marker keeps its lines.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from typer.core import TyperCommand, TyperGroup

F = TypeVar("F", bound=Callable[..., Any])
_KEPT_LINE = re.compile(r"^(\s|\x08|[-*•] |\d+[.)] )")  # indented, \b, a list item


def reflow(text: str | None) -> str | None:
    """Prose paragraphs as one line each; what follows click's ``\\f`` is left as it is."""
    if not text:
        return text
    body, cut, rest = inspect.cleandoc(text).partition("\f")
    return "\n\n".join(_paragraph(p) for p in body.split("\n\n")) + cut + rest


def _paragraph(paragraph: str) -> str:
    lines = paragraph.splitlines()
    if any(_KEPT_LINE.match(line) for line in lines):
        return paragraph
    return " ".join(line.strip() for line in lines)


def _bare_flags(params: list[Any]) -> list[Any]:
    for param in params:
        takes_no_value = getattr(param, "is_flag", False) or getattr(param, "count", False)
        if takes_no_value and param.metavar is None:
            param.metavar = ""
    return params


class MaasCommand(TyperCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = reflow(self.help)

    # ``Any``: the context class is click's or typer's vendored copy, depending on typer's version
    def get_params(self, ctx: Any) -> list[Any]:
        return _bare_flags(super().get_params(ctx))


class MaasGroup(TyperGroup):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = reflow(self.help)

    def get_params(self, ctx: Any) -> list[Any]:
        return _bare_flags(super().get_params(ctx))


class MaasTyper(typer.Typer):
    """A ``typer.Typer`` whose groups and commands are :class:`MaasGroup` and :class:`MaasCommand`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cls=MaasGroup, **kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Callable[[F], F]:
        return super().command(*args, cls=MaasCommand, **kwargs)
