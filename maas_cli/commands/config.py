"""``maas config validate|show``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from maas.collector.config import check_collector_file
from maas.config import Settings
from maas.config.checks import check_files, check_settings, summary
from maas.engine.routing import check_routing
from maas.errors import ConfigError, ConfigProblem
from maas_cli.defaults import catalog_for
from maas_cli.help import MaasTyper
from maas_cli.options import state

app = MaasTyper(help="Validate and show the configuration.", no_args_is_help=True)


ResolveOpt = Annotated[
    bool,
    typer.Option(
        "--resolve",
        help="Also read every secret reference (env:NAME, file:/path) and open every file the "
        "settings and enabled collectors name (TLS CA and client files, SSH key, known_hosts). "
        "An empty secret is a problem too. Values are never printed. Without it, validation needs "
        "none of them (CI).",
    ),
]


@app.command()
def validate(ctx: typer.Context, resolve: ResolveOpt = False) -> None:
    """Check settings, every collector config and the routing file; print every problem.

    Problems are printed as `file:line: key: reason`; exit code 2 if there is any.
    """
    path = state(ctx).config_path
    settings, problems = check_settings(path, resolve=resolve)
    checked = [path] if path else []
    if settings is not None:
        more, files = _business_checks(settings, resolve)
        problems, checked = problems + more, checked + files
    err = Console(stderr=True, highlight=False)
    for problem in problems:
        err.print(problem.render(), markup=False, soft_wrap=True)
    if problems:
        err.print(summary(problems), markup=False)
        raise typer.Exit(2)
    source = "" if path else " (settings from defaults and MAAS_*)"
    references = (
        "resolved (settings, enabled collectors)" if resolve else "not resolved (--resolve checks them)"
    )
    print(f"OK: {len(checked)} file(s) valid{source}; secrets and referenced files {references}")


def _business_checks(settings: Settings, resolve: bool) -> tuple[list[ConfigProblem], list[Path]]:
    """The collector and routing files, the routing file checked against the catalog's engines."""
    try:
        catalog = catalog_for(settings)
    except ConfigError as exc:
        return exc.problems, []
    return check_files(
        settings.collectors_dir or catalog.collectors_dir,
        settings.routing_file or catalog.routing_file,
        collector_check=lambda p: check_collector_file(p, catalog.models, resolve=resolve),
        routing_check=lambda p: check_routing(p, catalog.engines),
        settings=settings,
    )


@app.command()
def show(ctx: typer.Context) -> None:
    """Print the effective settings as JSON, secrets and URL passwords masked."""
    print(json.dumps(state(ctx).settings.shown(), indent=2))


PAGES = ("settings", "collectors", "routing")
_SETTINGS_INTRO = """\
Every configuration file (settings, collectors, routing) is plain YAML: tags (`!!python/...`,
`!custom`), merge keys (`<<`) and a key written twice in one mapping are errors.

Relative paths written in a settings file (`archive_dir`, `state_dir`, `collectors_dir`,
`routing_file`, the `tls` files, `file:` secret references, the path of a `duckdb:///` store
URL) are relative to the directory of the settings file; given by a `MAAS_*` variable, and in
the defaults, they are relative to the working directory.

Environment variables override the file: `MAAS_<KEY>` for a top-level key (`MAAS_ARCHIVE_DIR`),
`MAAS_<SECTION>__<KEY>` for a key of a section (`MAAS_BUS__PREFETCH`), and `MAAS_STORE_URL`,
`MAAS_BUS_URL`. An unknown key below a section (`MAAS_STORE__URLL`) is an error; any other
`MAAS_*` variable is not a setting and is ignored (other tools and `env:NAME` secrets use such
names), with a warning when it is spelled almost like a setting (`MAAS_ARCHIVE_DIRR`,
`MAAS_STORE_USERNAME`)."""


_COLLECTORS_INTRO = """\
Local paths written in a collector file (a `filesystem` source's `root`, an `sftp` source's
`key_file` and `known_hosts`, `file:` secret references) are relative to the directory of that
file, as in a settings file; a path on the server (an `sftp` or `ftp` `root`) is the server's.
Absolute paths and `~` are kept as written."""
_INTROS = {"settings": _SETTINGS_INTRO, "collectors": _COLLECTORS_INTRO}


@app.command()
def reference(
    page: Annotated[str, typer.Argument(help="Which file: settings, collectors or routing.")],
) -> None:
    """Print the Markdown reference of a configuration file, rendered from its schema."""
    from pydantic import BaseModel

    from maas.collector.config import CollectorFile
    from maas.config.reference import render
    from maas.config.settings import Settings as SettingsModel
    from maas.engine.routing import RoutingFile

    models: dict[str, type[BaseModel]] = {
        "settings": SettingsModel,
        "collectors": CollectorFile,
        "routing": RoutingFile,
    }
    if page not in models:
        raise ConfigError(f"unknown reference page {page!r}; choose one of: {', '.join(PAGES)}")
    title = f"{page} file reference"
    intro = f"Rendered from the schema by `maas config reference {page}`; unknown keys are errors."
    if page in _INTROS:
        intro += "\n\n" + _INTROS[page]
    print(render(title, models[page], intro), end="")
