"""The settings file (``maas.yaml``) and its ``MAAS_*`` environment overrides."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from maas.config.loader import Lines, read_yaml, validate
from maas.config.references import ReadFile
from maas.config.secrets import SecretRef, mask_url
from maas.errors import ConfigError, ConfigProblem

DEFAULT_STORE_URL = "duckdb:///.maas/maas.duckdb"
STORE_SCHEMES = ("duckdb", "http", "https")
BUS_SCHEMES = ("memory", "amqp", "amqps")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TLSSettings(_Strict):
    """TLS verification is on by default; turning it off is explicit and visible."""

    verify: bool = True
    ca_file: Annotated[Path | None, ReadFile()] = None
    client_cert: Annotated[Path | None, ReadFile()] = None
    client_key: Annotated[Path | None, ReadFile()] = None


class StoreSettings(_Strict):
    url: str = DEFAULT_STORE_URL
    username: str | None = None
    password: SecretRef | None = None
    bulk_max_docs: int = Field(default=2000, gt=0)
    bulk_max_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    timeout_s: float = Field(default=30.0, gt=0)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_url(value, STORE_SCHEMES, "duckdb:///path/file.duckdb or http(s)://host:9200")


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
        return _check_url(value, BUS_SCHEMES, "memory:// or amqp://host:5672/vhost")

    def reconnect_budget_s(self, long_running: bool) -> float:
        """A pool must outlast a broker restart; a person at a one-shot command who mistyped a
        port must not wait minutes to hear it."""
        return self.reconnect_max_s if long_running else self.one_shot_reconnect_max_s

    @field_validator("management_url")
    @classmethod
    def _management_url(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value, ("http", "https"), "http://host:15672/")


def _check_url(value: str, schemes: tuple[str, ...], example: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes:
        raise ValueError(f"unsupported URL scheme {parts.scheme or '(none)'!r}; expected {example}")
    if parts.password is not None:
        raise ValueError("do not put a password in the URL; use the 'password: env:NAME' key")
    if parts.scheme in ("http", "https", "amqp", "amqps") and not parts.hostname:
        raise ValueError(f"URL has no host; expected {example}")
    return value


class Settings(_Strict):
    """Everything a MaaS process needs to know to find its store, bus, archive and configs.

    ``collectors_dir`` and ``routing_file`` default to None: the CLI then uses the packaged
    CDS defaults, which keeps the framework free of business knowledge.
    """

    store: StoreSettings = StoreSettings()
    bus: BusSettings = BusSettings()
    tls: TLSSettings = TLSSettings()
    archive_dir: Path = Path("backups")
    state_dir: Path = Path(".maas")  # local locks (overlapping cron runs) and the default store
    collectors_dir: Path | None = None
    routing_file: Path | None = None
    catalogs: list[str] | None = None  # module:ATTRIBUTE references; None: the CLI's default (CDS)
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    source_file: Path | None = Field(default=None, exclude=True)

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
        data["source_file"] = str(self.source_file) if self.source_file else None
        return data


# Environment overrides: MAAS_<SECTION>__<KEY> for nested keys, MAAS_<KEY> for top-level keys,
# plus the two everybody types: MAAS_STORE_URL and MAAS_BUS_URL.
_ENV_PREFIX = "MAAS_"
ENV_SOURCE = "<environment MAAS_*>"  # the file named by problems when there is no settings file
_ENV_ALIASES = {"MAAS_STORE_URL": ("store", "url"), "MAAS_BUS_URL": ("bus", "url")}


def env_overrides(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Nested dict of settings given as environment variables.

    Only variables whose first segment names a settings field are overrides: MAAS_CONFIG,
    MAAS_REQUIRE_SERVICES and the like belong to others, while a typo below a known section
    (MAAS_STORE__URLL) is still reported as an unknown key.
    """
    environ = dict(os.environ if environ is None else environ)
    out: dict[str, Any] = {}
    for name, value in sorted(environ.items()):
        path = _env_path(name)
        if path:
            _set_path(out, path, value)
    return out


def _env_path(name: str) -> tuple[str, ...] | None:
    if name in _ENV_ALIASES:
        return _ENV_ALIASES[name]
    if not name.startswith(_ENV_PREFIX):
        return None
    path = tuple(name[len(_ENV_PREFIX) :].lower().split("__"))
    return path if path[0] in Settings.model_fields and path[0] != "source_file" else None


def _set_path(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = value


def deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_settings(path: Path | None, environ: dict[str, str] | None = None) -> Settings:
    """Settings from an optional YAML file, then ``MAAS_*`` variables on top."""
    data: dict[str, Any] = {}
    lines: Lines = {}
    if path is not None:
        raw, lines = read_yaml(path)
        if not isinstance(raw, dict):
            raise ConfigError([ConfigProblem(str(path), 1, "", "expected a mapping at the top level")])
        data = raw
    data = deep_merge(data, env_overrides(environ))
    settings = validate(data, Settings, str(path) if path else ENV_SOURCE, lines)
    return settings.model_copy(update={"source_file": path})
