"""The ``maas`` command tree.

Exit codes: 0 ok, 1 failure, 2 usage or configuration error,
3 another run holds the lock (so overlapping cron runs are told apart from failures).
"""

from __future__ import annotations

import errno
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from maas import __version__
from maas.config import redactor
from maas.errors import MaasError
from maas.logs import logs_json, setup_logging
from maas_cli.commands import cds, collect, config, dlq, doctor, engine, inspect, replay, routing
from maas_cli.help import MaasTyper
from maas_cli.options import ConfigOpt, LogFormatOpt, QuietOpt, State, VerboseOpt

app = MaasTyper(
    name="maas",
    help=(
        "MaaS, Monitoring as a Service: collect ground-segment data, transform it through engine "
        "chains, and inspect what was produced, published, archived and disseminated.\n\n"
        "Exit codes: 0 ok, 1 failure, 2 usage/config error, "
        "3 another run holds the lock."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version_line() -> str:
    return f"maas {__version__}"


def _print_version(value: bool) -> None:
    """``maas --version``: answered before anything else is parsed, as every CLI does."""
    if value:
        print(_version_line())
        raise typer.Exit()


VersionOpt = Annotated[
    bool,
    typer.Option(
        "--version", callback=_print_version, is_eager=True, help="Print the MaaS version and exit."
    ),
]


@app.callback()
def _root(
    ctx: typer.Context,
    config_path: ConfigOpt = None,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
    log_format: LogFormatOpt = None,
    _version: VersionOpt = False,
) -> None:
    if log_format not in (None, "text", "json"):
        raise typer.BadParameter("must be 'text' or 'json'", param_hint="--log-format")
    level = "WARNING" if quiet else {0: None, 1: "INFO"}.get(verbose, "DEBUG")
    ctx.obj = State(config_path=config_path, log_level=level, log_format=log_format)
    setup_logging(level or "INFO", log_format or "text")  # until the settings are read


@app.command()
def version() -> None:
    """Print the MaaS version (the same as: maas --version)."""
    print(_version_line())


app.command(name="collect")(collect.collect)
app.command(name="replay")(replay.replay)
app.command(name="doctor")(doctor.doctor)
app.add_typer(config.app, name="config")
app.add_typer(engine.app, name="engine")
app.add_typer(routing.app, name="routing")
app.add_typer(inspect.app, name="inspect")
app.add_typer(dlq.app, name="dlq")
app.add_typer(cds.app, name="cds")


def main() -> None:
    """Console entry point: map our errors to messages and exit codes."""
    try:
        result = app(standalone_mode=False)
    except MaasError as exc:
        _fail(str(exc), exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except OSError as exc:
        if exc.filename is None:  # not about a path the user named: an unexpected bug, shown whole
            raise
        _fail(_os_error(exc), _os_exit_code(exc))
    except Exception as exc:  # click usage errors carry their own exit code
        code = getattr(exc, "exit_code", None)
        if code is None:
            raise
        if hasattr(exc, "show"):
            exc.show()
        sys.exit(code)
    sys.exit(result if isinstance(result, int) else 0)


def _fail(message: str, code: int) -> None:
    if logs_json():  # journald / Kubernetes read every stderr line as JSON
        logging.getLogger("maas").error(message)  # the formatter masks secrets
        sys.exit(code)
    # soft_wrap: one line per problem, whatever the width (cron mail and logs are grepped)
    line = Text.assemble(("error:", "red"), " ", redactor.mask(message))  # a '[' in a path is no markup
    Console(stderr=True).print(line, highlight=False, soft_wrap=True)
    sys.exit(code)


# The path itself is wrong (missing, not a directory, taken, not ours): the user must change the
# command or the settings, as for a usage error. Anything else (disk full, I/O) may pass.
_PATH_ERRORS = (FileNotFoundError, NotADirectoryError, IsADirectoryError, FileExistsError, PermissionError)


def _os_error(exc: OSError) -> str:
    """Any command that writes or reads a file the user named fails the same way: the path, why."""
    where = f"{exc.filename} -> {exc.filename2}" if exc.filename2 is not None else str(exc.filename)
    return f"{where}: {_reason(exc)}"


def _reason(exc: OSError) -> str:
    """mkdir's parents=True meets a file where a directory goes with 'File exists', which hides why."""
    if isinstance(exc, FileExistsError) and Path(exc.filename).exists() and not Path(exc.filename).is_dir():
        return "exists and is not a directory"
    return exc.strerror or str(exc)


def _os_exit_code(exc: OSError) -> int:
    return 2 if isinstance(exc, _PATH_ERRORS) or exc.errno == errno.EROFS else 1
