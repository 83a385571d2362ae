"""The ``source:`` block of a collector file: one strict model per source type, chosen by ``type``.

Secrets are references (``env:NAME`` / ``file:/path``) resolved only when connecting. TLS
verification and SSH host-key verification are on unless switched off explicitly, and
switching them off is logged as a warning at every connection.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from maas.collector.extract import jsonpath
from maas.config import SecretRef
from maas.config.references import ReadFile
from maas.config.secrets import LocalPath, has_url_password


def _plain_http_url(value: str) -> str:
    """No credentials in URLs: we log and archive URLs. The password is looked for in the text
    first, as for the settings' URLs: urllib does not see one holding '/', '?' or '#'."""
    parts = urlsplit(value)
    if has_url_password(value) or parts.username or parts.password:
        raise ValueError("do not put credentials in the URL; use auth with a secret reference")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http(s)://host/... URL")
    return value


def _json_path(value: str) -> str:
    jsonpath.parse(value)
    return value


HttpUrl = Annotated[str, AfterValidator(_plain_http_url)]
JsonPath = Annotated[str, AfterValidator(_json_path)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _FileGates(_Strict):
    """Listing and the gates that keep half-written files out, shared by the file sources."""

    patterns: list[str] = Field(
        default_factory=lambda: ["*"],
        min_length=1,
        description="globs matched against the path relative to root, from the right ('*.xml')",
    )
    recursive: bool = False
    min_age_s: float = Field(default=0.0, ge=0, description="skip files modified less than this ago")
    stable_checks: int = Field(
        default=1, ge=0, description="times the size/mtime is sampled again; any change skips the file"
    )
    stable_interval_s: float = Field(default=1.0, ge=0, description="pause between stability samples")
    after_success: Literal["keep", "delete", "move"] = Field(
        default="keep",
        description="what to do with a file once collected; one whose size or mtime changed since "
        "it was read is left in place and collected again at the next poll",
    )
    move_to: str | None = Field(
        default=None,
        description="directory for after_success: move (made if missing; under root unless absolute); "
        "a file of the same name already there is kept, the new one gets the fetch time in its name",
    )

    @model_validator(mode="after")
    def _move_target(self) -> _FileGates:
        if (self.after_success == "move") != (self.move_to is not None):
            raise ValueError("move_to is required with after_success: move, and only then")
        return self


class FilesystemConfig(_FileGates):
    type: Literal["filesystem"]
    root: LocalPath


class SftpConfig(_FileGates):
    type: Literal["sftp"]
    host: str = Field(min_length=1)
    port: int = Field(default=22, gt=0, lt=65536)
    username: str = Field(min_length=1)
    password: SecretRef | None = None
    key_file: Annotated[LocalPath | None, ReadFile(expand_user=True)] = None
    key_passphrase: SecretRef | None = None
    known_hosts: Annotated[LocalPath, ReadFile(expand_user=True, unless="insecure_accept_any_host_key")] = (
        Field(default_factory=lambda: Path("~/.ssh/known_hosts"))
    )
    insecure_accept_any_host_key: bool = False
    root: str = "."
    timeout_s: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _credentials(self) -> SftpConfig:
        if self.password is None and self.key_file is None:
            raise ValueError("give password (a secret reference) or key_file")
        return self


class FtpConfig(_FileGates):
    type: Literal["ftp"]
    host: str = Field(min_length=1)
    port: int = Field(default=21, gt=0, lt=65536)
    username: str = "anonymous"
    password: SecretRef | None = None
    tls: bool = Field(default=False, description="explicit FTPS (AUTH TLS) with a protected data channel")
    verify_tls: bool = True
    passive: bool = True
    root: str = "/"
    timeout_s: float = Field(default=30.0, gt=0)


class BasicAuth(_Strict):
    type: Literal["basic"]
    username: str = Field(min_length=1)
    password: SecretRef


class BearerAuth(_Strict):
    type: Literal["bearer"]
    token: SecretRef


class OAuth2Auth(_Strict):
    """A bearer token from an OAuth2 token endpoint, cached until shortly before it expires."""

    type: Literal["oauth2"]
    token_url: HttpUrl
    grant: Literal["client_credentials", "password"] = "client_credentials"
    client_id: str = Field(min_length=1)
    client_secret: SecretRef | None = None
    username: str | None = None
    password: SecretRef | None = None
    scope: str | None = None

    @model_validator(mode="after")
    def _grant_needs(self) -> OAuth2Auth:
        if self.grant == "password" and (self.username is None or self.password is None):
            raise ValueError("grant: password needs username and password")
        if self.grant == "client_credentials" and self.client_secret is None:
            raise ValueError("grant: client_credentials needs client_secret")
        return self


Auth = Annotated[BasicAuth | BearerAuth | OAuth2Auth, Field(discriminator="type")]


class _HttpCommon(_Strict):
    auth: Auth | None = None
    verify_tls: bool = True
    timeout_s: float = Field(default=30.0, gt=0)
    max_pages: int = Field(default=10_000, gt=0, description="safety stop for one poll")


class ODataWindow(_Strict):
    """Backfill in bounded time windows instead of one open-ended query."""

    size_s: float = Field(gt=0, description="width of one window on the watermark axis")
    until: AwareDatetime | None = Field(default=None, description="end of the backfill (default: now)")


class ODataConfig(_HttpCommon):
    type: Literal["odata"]
    version: Literal[4, 2] = 4
    service_url: HttpUrl
    entity_set: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")
    key_field: str = Field(
        default="Id",
        description="entity key: recognises records already seen, orders those sharing a watermark",
    )
    watermark_field: str = Field(default="PublicationDate", pattern=r"^[A-Za-z_][A-Za-z0-9_/]*$")
    overlap_s: float = Field(default=0.0, ge=0, description="re-read this much before the watermark")
    start: AwareDatetime | None = Field(default=None, description="watermark when the journal is empty")
    order_by: str | None = Field(
        default=None,
        description="default: '<watermark_field> asc,<key_field> asc', the watermark alone if the "
        "interface answers a second key with HTTP 400; must begin with the watermark",
    )
    page_size: int = Field(default=100, gt=0, description="$top (at least 2)")
    filter: str | None = Field(default=None, description="extra $filter, ANDed with the watermark")
    select: list[str] | None = None
    expand: list[str] | None = None
    window: ODataWindow | None = None

    @model_validator(mode="after")
    def _window_needs_start(self) -> ODataConfig:
        if self.window is not None and self.start is None:
            raise ValueError("window needs start (the first window begins there)")
        return self

    @model_validator(mode="after")
    def _ordered_by_watermark(self) -> ODataConfig:
        """Paging resumes from the highest watermark read: results must come in that order."""
        first = (self.order_by or self.watermark_field).split(",")[0].split()
        if first not in ([self.watermark_field], [self.watermark_field, "asc"]):
            raise ValueError(
                f"order_by must begin with '{self.watermark_field} asc' (paging follows the watermark)"
            )
        return self

    @field_validator("page_size")
    @classmethod
    def _room_past_the_anchor(cls, page_size: int) -> int:
        """A poll resumes from the last record read, which comes back first on the page: with
        one record a page it would never get further, and say ok."""
        if page_size < 2:
            raise ValueError("must be at least 2 (each page starts again with the last record read)")
        return page_size

    @model_validator(mode="after")
    def _selected_key_and_watermark(self) -> ODataConfig:
        """Without them a record can neither place the poll nor be recognised when read again."""
        missing = {self.key_field, self.watermark_field.split("/")[0]} - set(self.select or ())
        if self.select is not None and missing:
            raise ValueError(
                f"select must include {', '.join(sorted(missing))} (key and watermark of each record)"
            )
        return self

    @property
    def ordering(self) -> str:
        """The watermark, then the key: records sharing a watermark come in a stable order."""
        return self.order_by or f"{self.watermark_field} asc,{self.key_field} asc"

    @property
    def orders_by_key(self) -> bool:
        """Records sharing a watermark come in one order from request to request."""
        return self.key_field in (part.split()[0] for part in self.ordering.split(",") if part.strip())


class CursorPaging(_Strict):
    mode: Literal["cursor"]
    cursor_path: JsonPath = Field(description="JSON path of the next cursor in a response ('next')")
    param: str = Field(min_length=1, description="query parameter that carries the cursor")
    items_path: JsonPath | None = Field(default=None, description="JSON path of the items; empty page ends")


class PageNumberPaging(_Strict):
    mode: Literal["page_number"]
    param: str = Field(default="page", min_length=1)
    start: int = 1
    items_path: JsonPath = Field(description="JSON path of the items; the first empty page ends the poll")


class NoPaging(_Strict):
    mode: Literal["none"]


Paging = Annotated[CursorPaging | PageNumberPaging | NoPaging, Field(discriminator="mode")]


class HttpConfig(_HttpCommon):
    type: Literal["http"]
    url: HttpUrl
    method: Literal["GET", "POST"] = "GET"
    params: dict[str, str] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    secret_headers: dict[str, SecretRef] = Field(
        default_factory=dict, description="headers whose values are secret references"
    )
    json_body: dict[str, object] | None = Field(default=None, description="JSON body for POST")
    paging: Paging = Field(default_factory=lambda: NoPaging(mode="none"))
    name: str | None = Field(default=None, description="archive name stem (default: last URL segment)")


SourceConfig = Annotated[
    FilesystemConfig | SftpConfig | FtpConfig | ODataConfig | HttpConfig, Field(discriminator="type")
]


def implementation_key(config: SourceConfig) -> str:
    """The factory-table key: the type, plus the protocol version where it changes the client."""
    if isinstance(config, ODataConfig):
        return f"odata.v{config.version}"
    return config.type


__all__ = [
    "Auth",
    "BasicAuth",
    "BearerAuth",
    "CursorPaging",
    "FilesystemConfig",
    "FtpConfig",
    "HttpConfig",
    "NoPaging",
    "OAuth2Auth",
    "ODataConfig",
    "ODataWindow",
    "PageNumberPaging",
    "Paging",
    "SftpConfig",
    "SourceConfig",
    "implementation_key",
]
