"""The ``maas`` command classes: help pages show a value placeholder only where a value goes.

Typer's rich help prints a type placeholder for every option, flags included (``--json
<bool>``, ``--help <bool>``, the count ``-v <int>``), which reads as if they took a value;
click's plain help leaves them bare. Typer prints an option's metavar instead of its type when
one is set, so an empty metavar on the options that take no value is the whole fix. Every group
and command of ``maas`` is built from these classes, typer's own ``--help`` and completion
options included, so no command can forget it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import typer
from typer.core import TyperCommand, TyperGroup

F = TypeVar("F", bound=Callable[..., Any])


def _bare_flags(params: list[Any]) -> list[Any]:
    for param in params:
        takes_no_value = getattr(param, "is_flag", False) or getattr(param, "count", False)
        if takes_no_value and param.metavar is None:
            param.metavar = ""
    return params


class MaasCommand(TyperCommand):
    # ``Any``: the context class is click's or typer's vendored copy, depending on typer's version
    def get_params(self, ctx: Any) -> list[Any]:
        return _bare_flags(super().get_params(ctx))


class MaasGroup(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _bare_flags(super().get_params(ctx))


class MaasTyper(typer.Typer):
    """A ``typer.Typer`` whose groups and commands are :class:`MaasGroup` and :class:`MaasCommand`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cls=MaasGroup, **kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Callable[[F], F]:
        return super().command(*args, cls=MaasCommand, **kwargs)
