"""The settings file (``maas.yaml``) and its ``MAAS_*`` environment overrides.

Relative paths written in a settings file (``archive_dir``, ``state_dir``, ``collectors_dir``,
``routing_file``, the TLS files, ``file:`` secret references and the path of a ``duckdb:///``
store URL) are relative to the directory of that file, as compose files and systemd units
have them; paths given by ``MAAS_*`` variables, and the defaults, are relative to the working
directory.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import pydantic
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from maas.config.loader import Lines, nearest_line, problems_from, read_yaml
from maas.config.references import ReadFile
from maas.config.secrets import SecretRef, has_url_password, mask_url, relative_to_file
from maas.errors import ConfigError, ConfigProblem

log = logging.getLogger(__name__)

DEFAULT_STORE_URL = "duckdb:///.maas/maas.duckdb"
DUCKDB_PREFIX = "duckdb:///"
DUCKDB_FORM = "duckdb:///relative/path.duckdb or duckdb:////absolute/path.duckdb"
STORE_SCHEMES = ("duckdb", "http", "https")
BUS_SCHEMES = ("memory", "amqp", "amqps")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TLSSettings(_Strict):
    """TLS verification is on by default; turning it off is explicit and visible."""

    verify: bool = True
    ca_file: Annotated[Path | None, ReadFile()] = Field(
        default=None,
        description="CA certificates (PEM) to verify servers with",
    )
    client_cert: Annotated[Path | None, ReadFile()] = Field(
        default=None, description="client certificate (PEM) for servers that ask for one"
    )
    client_key: Annotated[Path | None, ReadFile()] = Field(
        default=None, description="the client certificate's private key (PEM)"
    )

    def warn_if_unverified(self, url: str) -> None:
        """Called by each connection built from the settings (store, bus, management API): the
        warning is what keeps verification off visible, as the collector sources' is."""
        if not self.verify and urlsplit(url).scheme in ("https", "amqps"):
            log.warning("%s: TLS certificate NOT verified (tls.verify: false)", mask_url(url))


class StoreSettings(_Strict):
    url: str = Field(
        default=DEFAULT_STORE_URL,
        description=(
            "duckdb:///relative/path.duckdb (three slashes) or duckdb:////absolute/path.duckdb "
            "(four) for the embedded store, http(s)://host:9200 for OpenSearch"
        ),
    )
    username: str | None = None
    password: SecretRef | None = None
    bulk_max_docs: int = Field(default=2000, gt=0)
    bulk_max_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    timeout_s: float = Field(default=30.0, gt=0)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        _check_url(value, STORE_SCHEMES, "duckdb:///path/file.duckdb or http(s)://host:9200")
        if value.startswith("duckdb:"):
            duckdb_file(value)
        return value


class BusSettings(_Strict):
    url: str = "memory://"
    username: str | None = None
    password: SecretRef | None = None
    collect_exchange: str = "collect"
    etl_exchange: str = "etl"
    prefetch: int = Field(default=500, gt=0)
    heartbeat_s: int = Field(default=60, ge=0)
    reconnect_max_s: float = Field(
        default=300.0,
        gt=0,
        description=(
            "seconds an engine pool or `maas collect --loop` keeps reconnecting to an "
            "unreachable broker before the operation fails: long enough to ride out a broker "
            "restart (a running pool then backs off and tries again)"
        ),
    )
    one_shot_reconnect_max_s: float = Field(
        default=15.0,
        gt=0,
        description=(
            "the same for one-shot commands (`maas collect --once`, `maas routing setup`, "
            "`maas dlq`): a wrong host or port is reported in seconds, not minutes"
        ),
    )
    # RabbitMQ management HTTP API (``maas routing show``); None: http://<bus host>:15672/
    # (https://<bus host>:15671/ for amqps), with the bus's username and password.
    management_url: str | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        example = "memory:// or amqp://host:5672/vhost"
        _check_url(value, BUS_SCHEMES, example)
        if value.startswith("amqp"):
            _check_pika_url(value, example)
        return value

    def reconnect_budget_s(self, long_running: bool) -> float:
        """A pool must outlast a broker restart; a person at a one-shot command who mistyped a
        port must not wait minutes to hear it."""
        return self.reconnect_max_s if long_running else self.one_shot_reconnect_max_s

    @field_validator("management_url")
    @classmethod
    def _management_url(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value, ("http", "https"), "http://host:15672/")


def _check_url(value: str, schemes: tuple[str, ...], example: str) -> str:
    """Everything the code that later opens the URL would trip on, refused here: the scheme
    exactly as the backends compare it (lower case), a host, a port that is a number.

    A password is looked for in the text first: one holding '/', '?' or '#' ends the URL's
    host part early, and urllib's complaint about the "port" then quotes the password."""
    if has_url_password(value):
        raise ValueError("do not put a password in the URL; use the 'password: env:NAME' key")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  # raises ValueError for a port that is not a number in range
    except ValueError:
        raise ValueError(f"not a valid URL (host, or port from 0 to 65535); expected {example}") from None
    if parts.scheme not in schemes:
        raise ValueError(f"unsupported URL scheme {parts.scheme or '(none)'!r}; expected {example}")
    if not value.startswith(f"{parts.scheme}:"):
        raise ValueError(f"write the URL scheme in lower case ({parts.scheme}:); expected {example}")
    if parts.password is not None:
        raise ValueError("do not put a password in the URL; use the 'password: env:NAME' key")
    if parts.scheme in ("http", "https", "amqp", "amqps") and not parts.hostname:
        raise ValueError(f"URL has no host; expected {example}")
    return value


def _check_pika_url(value: str, example: str) -> None:
    """What pika refuses when connecting (``?heartbeat=x``, an unknown ``?name=``), refused now.
    The user part is left out as the bus factory leaves it out (pika cannot parse a user
    without a password). ``ssl_options`` is refused before pika sees it: pika evaluates it as a
    Python literal and opens its files, while the bus builds its TLS from the ``tls`` settings."""
    import pika  # a RabbitMQ URL: the bus connects with pika anyway

    parts = urlsplit(value)
    if any(key == "ssl_options" for key, _ in parse_qsl(parts.query, keep_blank_values=True)):
        raise ValueError(
            "ssl_options in the URL is not supported: TLS is set by the 'tls' section (amqps://)"
        )
    try:
        pika.URLParameters(urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a valid RabbitMQ URL ({exc}); expected {example}") from None


def duckdb_file(url: str) -> Path:
    """The database file of a ``duckdb:`` store URL: three slashes then a relative path, four
    for an absolute one. The one parser of these URLs (the store factory uses it too)."""
    if not url.startswith(DUCKDB_PREFIX):
        host = urlsplit(url).netloc if url.startswith("duckdb://") else ""
        hint = f" ({host!r} would be read as a host name: a DuckDB URL has none)" if host else ""
        raise ValueError(f"not a DuckDB file URL: {url!r}; expected {DUCKDB_FORM}{hint}")
    rest = url[len(DUCKDB_PREFIX) :]
    if "?" in rest or "#" in rest:
        raise ValueError(f"a DuckDB URL names a file, with no '?' or '#': {url!r}; expected {DUCKDB_FORM}")
    if rest.endswith("/"):
        raise ValueError(f"a DuckDB URL names a file, not a directory: {url!r}; expected {DUCKDB_FORM}")
    return Path(rest or "maas.duckdb")


_CATALOG_REF = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")


def _catalog_reference(value: str) -> str:
    if not _CATALOG_REF.match(value):
        raise ValueError(f"catalog {value!r}: expected 'package.module:ATTRIBUTE'")
    return value


CatalogRef = Annotated[str, AfterValidator(_catalog_reference)]


class Settings(_Strict):
    """Everything a MaaS process needs to know to find its store, bus, archive and configs.

    ``collectors_dir`` and ``routing_file`` default to None: the CLI then uses the packaged
    CDS defaults, which keeps the framework free of business knowledge.
    """

    store: StoreSettings = StoreSettings()
    bus: BusSettings = BusSettings()
    tls: TLSSettings = TLSSettings()
    archive_dir: Path = Field(
        default=Path("backups"), description="where collected payloads are kept, raw (replayable)"
    )
    state_dir: Path = Field(
        default=Path(".maas"), description="local locks (so that overlapping cron runs are told apart)"
    )
    collectors_dir: Path | None = Field(
        default=None,
        description="the directory of collector files (*.yaml); null: the catalog's (CDS: disabled examples)",
    )
    routing_file: Path | None = Field(default=None, description="the routing file; null: the catalog's")
    catalogs: list[CatalogRef] | None = Field(
        default=None,
        description="the businesses run, as 'package.module:ATTRIBUTE' references; null: CDS",
    )
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Where the values came from (not a setting: set by load_settings, never by a file).
    _origins: Origins = PrivateAttr(default_factory=lambda: Origins())

    @property
    def source_file(self) -> Path | None:
        """The settings file these settings were read from, if any."""
        return self._origins.source

    def where(self, key: tuple[str | int, ...]) -> tuple[str | None, int | None]:
        """The file and line (or the environment variable) a key was set by; (None, None) for
        a default."""
        return self._origins.where(key)

    def problem(self, key: tuple[str | int, ...], reason: str) -> ConfigProblem:
        """A problem with the value of ``key``, located where that value was set."""
        return self._origins.problem(key, reason)

    @field_validator("catalogs", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        """``MAAS_CATALOGS=a:B,c:D`` from the environment."""
        return (
            [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value
        )

    def shown(self) -> dict[str, Any]:
        """A display copy: secrets masked, URL passwords masked."""
        data = self.model_dump(mode="json")
        for section in ("store", "bus"):
            data[section]["url"] = mask_url(data[section]["url"])
        data["source_file"] = str(self.source_file) if self.source_file else None  # display only
        return data


@dataclass(frozen=True)
class Origins:
    """Where each value of a Settings came from: a line of the settings file, a ``MAAS_*``
    variable, or the defaults. Problems found after loading (a collectors directory that does
    not exist, a catalog that cannot be imported) are located with it."""

    source: Path | None = None
    lines: Lines = field(default_factory=dict)
    env: Mapping[tuple[str, ...], str] = field(default_factory=dict)  # key path -> variable

    def where(self, key: tuple[str | int, ...]) -> tuple[str | None, int | None]:
        for path, variable in self.env.items():
            if key[: len(path)] == path:
                return f"{ENV_SOURCE} {variable}", None
        if self.source is not None and any(key[:end] in self.lines for end in range(len(key), 0, -1)):
            return str(self.source), nearest_line(key, self.lines)
        return None, None

    def problem(self, key: tuple[str | int, ...], reason: str) -> ConfigProblem:
        file, line = self.where(key)
        return ConfigProblem(file, line, ".".join(map(str, key)), reason)


# Environment overrides: MAAS_<SECTION>__<KEY> for nested keys, MAAS_<KEY> for top-level keys,
# plus the two everybody types: MAAS_STORE_URL and MAAS_BUS_URL.
_ENV_PREFIX = "MAAS_"
ENV_SOURCE = "environment"  # problems with a value from MAAS_* name the variable after it
_ENV_ALIASES = {"MAAS_STORE_URL": ("store", "url"), "MAAS_BUS_URL": ("bus", "url")}


def is_environment(file: str | None) -> bool:
    """Whether a problem's ``file`` is a ``MAAS_*`` variable rather than a file."""
    return file is not None and (file == ENV_SOURCE or file.startswith(f"{ENV_SOURCE} "))


def _env_settings(environ: Mapping[str, str]) -> dict[str, tuple[tuple[str, ...], str]]:
    """Variable -> (key path, value) of the variables that are settings, in name order."""
    found = {}
    for name in sorted(environ):
        path = _env_path(name)
        if path:
            found[name] = (path, environ[name])
    return found


def _env_path(name: str) -> tuple[str, ...] | None:
    if name in _ENV_ALIASES:
        return _ENV_ALIASES[name]
    if not name.startswith(_ENV_PREFIX):
        return None
    path = tuple(name[len(_ENV_PREFIX) :].lower().split("__"))
    return path if path[0] in Settings.model_fields else None


def _env_names(model: type[BaseModel], prefix: str = _ENV_PREFIX) -> list[str]:
    """Every variable name that sets a key of ``model`` (of a section: each of its keys)."""
    names = []
    for name, info in model.model_fields.items():
        sub = _model_of(info.annotation)
        variable = f"{prefix}{name.upper()}"
        names += _env_names(sub, f"{variable}__") if sub is not None else [variable]
    return names


_warned: set[str] = set()


def warn_near_misses(environ: Mapping[str, str], settings: Settings | None = None) -> list[str]:
    """Warn (once per process and variable) about a ``MAAS_*`` variable that is no setting but
    is spelled almost like one (MAAS_ARCHIVE_DIRR, MAAS_STORE_USERNAME for
    MAAS_STORE__USERNAME): it is ignored, and the typo would otherwise go unnoticed.

    Other ``MAAS_*`` variables are legitimate and not reported: the CLI's MAAS_CONFIG, the test
    and dev-service variables (MAAS_REQUIRE_SERVICES, MAAS_TEST_*, MAAS_CACHE_DIR...) and above
    all secrets read through ``env:NAME`` references, whose names are the operator's choice
    (MAAS_PRIP_S1A_SERCO_PASSWORD): no list of "known" variables can be complete, so only near
    misses are reported. A variable the settings read as a secret never is. Returns the
    warnings (for tests).
    """
    referenced = _secret_variables(settings) if settings is not None else set()
    known = {name.removeprefix(_ENV_PREFIX): name for name in (*_env_names(Settings), *_ENV_ALIASES)}
    warnings = []
    for name in sorted(environ):
        if not name.startswith(_ENV_PREFIX) or _env_path(name) or name in referenced or name in _warned:
            continue
        close = difflib.get_close_matches(name.removeprefix(_ENV_PREFIX), list(known), n=1, cutoff=0.85)
        if close:
            _warned.add(name)
            message = f"{name} is not a setting and is ignored: did you mean {known[close[0]]}?"
            log.warning(message)
            warnings.append(message)
    return warnings


def _secret_variables(value: Any) -> set[str]:
    if isinstance(value, SecretRef):
        return {value.target} if value.kind == "env" else set()
    if isinstance(value, BaseModel):
        return {name for key in type(value).model_fields for name in _secret_variables(getattr(value, key))}
    return set()


# ---- relative paths of a settings file


def _leaf_types(annotation: Any) -> list[Any]:
    """The types a field annotation allows (through Optional, unions and Annotated)."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _leaf_types(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [leaf for arg in typing.get_args(annotation) for leaf in _leaf_types(arg)]
    return [annotation]


def _model_of(annotation: Any) -> type[BaseModel] | None:
    models = [t for t in _leaf_types(annotation) if isinstance(t, type) and issubclass(t, BaseModel)]
    return models[0] if models else None


def anchored(data: dict[str, Any], base: Path, model: type[BaseModel] | None = None) -> dict[str, Any]:
    """``data`` of a settings file with its relative paths made relative to ``base``.

    Every field typed as a path, every ``file:`` secret reference and the path of a
    ``duckdb:///`` store URL; values of the wrong type are left for validation to refuse.
    """
    model = model or Settings
    out = dict(data)
    for name, info in model.model_fields.items():
        value = out.get(name)
        leaves = _leaf_types(info.annotation)
        sub = _model_of(info.annotation)
        if sub is not None and isinstance(value, dict):
            out[name] = anchored(value, base, sub)
        elif not isinstance(value, str) or not value.strip():
            continue
        elif Path in leaves:
            out[name] = relative_to_file(base, value)
        elif SecretRef in leaves and value.strip().startswith("file:"):
            out[name] = "file:" + relative_to_file(base, value.strip().removeprefix("file:"))
        elif model is StoreSettings and name == "url" and value.startswith(DUCKDB_PREFIX):
            rest = value[len(DUCKDB_PREFIX) :]
            out[name] = DUCKDB_PREFIX + relative_to_file(base, rest or str(duckdb_file(value)))
    return out


def load_settings(path: Path | None, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from an optional YAML file, then ``MAAS_*`` variables on top.

    Every problem names where the value came from: ``file:line: key`` for the file, the
    variable (``environment MAAS_BUS__PREFETCH: bus.prefetch``) for the environment.
    """
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    lines: Lines = {}
    if path is not None:
        raw, lines = read_yaml(path)
        if not isinstance(raw, dict):
            raise ConfigError([ConfigProblem(str(path), 1, "", "expected a mapping at the top level")])
        data = anchored(raw, path.parent.resolve())
    from_env = _env_settings(environ)
    origins = Origins(path, lines, {key: name for name, (key, _value) in from_env.items()})
    for key, value in from_env.values():
        _set_path(data, key, value)
    try:
        settings = Settings.model_validate(data)
    except pydantic.ValidationError as exc:
        located = [origins.problem(key_path(p.key), p.reason) for p in problems_from(exc, None, lines)]
        raise ConfigError(sorted(located, key=lambda p: (p.file or "", p.line or 0))) from None
    settings._origins = origins
    warn_near_misses(environ, settings)
    return settings


def _set_path(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """Put an environment value over the file's, replacing a non-mapping where a section is."""
    target = data
    for part in path[:-1]:
        if not isinstance(target.get(part), dict):
            target[part] = {}
        target = target[part]
    target[path[-1]] = value


def key_path(dotted: str) -> tuple[str | int, ...]:
    """The key path of a problem's dotted key ('collectors.0.model' -> ('collectors', 0, 'model'))."""
    return tuple(int(part) if part.isdigit() else part for part in dotted.split(".")) if dotted else ()
