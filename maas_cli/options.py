"""Shared CLI options (defined once) and the per-invocation state."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer

from maas.config import Settings, load_settings
from maas.logs import setup_logging

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        envvar="MAAS_CONFIG",
        help="Settings file (maas.yaml). Without it: defaults plus MAAS_* environment variables.",
        show_default=False,
    ),
]
VerboseOpt = Annotated[int, typer.Option("--verbose", "-v", count=True, help="More logs (-vv: debug).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors.")]
LogFormatOpt = Annotated[
    str | None,
    typer.Option("--log-format", help="Log format: text (terminal) or json (journald, Kubernetes)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]
MetricsPortOpt = Annotated[
    int | None,
    typer.Option(
        "--metrics-port",
        min=0,
        max=65535,
        help="Serve /health, /ready (store and bus reachable) and /metrics on this port "
        "(0: any free port, logged).",
    ),
]


@dataclass
class State:
    """What the global options decided; settings are loaded on first use only.

    ``log_level`` and ``log_format`` are None when no flag set them: the settings' ``log_level``
    and ``log_format`` then apply from the moment the settings are read.
    """

    config_path: Path | None = None
    log_level: str | None = None
    log_format: str | None = None
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_path)
            setup_logging(
                self.log_level or self._settings.log_level, self.log_format or self._settings.log_format
            )
        return self._settings


def state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    assert isinstance(obj, State), "the root callback sets the state"
    return obj


def existing_out_directory(out: Path) -> None:
    """A typo'd directory in --out is a usage error (exit 2), not a directory tree created in
    silence (the lock beside the file would create it)."""
    if not out.parent.is_dir():
        reason = "is not a directory" if out.parent.exists() else "no such directory"
        raise typer.BadParameter(f"{out.parent}: {reason} (--out's directory must exist)", param_hint="--out")
