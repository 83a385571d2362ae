"""The requests session the HTTP and OData sources share: auth, TLS, timeouts, error mapping.

Credentials travel in headers, never in URLs, so every URL we record (sidecar, logs, errors)
is safe to show; they stay on the configured origin: a redirect or a next link elsewhere never
gets them. Secrets are resolved when the session is first used, so a rotated secret
file is picked up by the next run without a restart of a long-lived process.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlencode, urljoin, urlsplit

import requests

from maas.collector.sources.config import BasicAuth, BearerAuth, HttpConfig, OAuth2Auth, ODataConfig
from maas.collector.sources.oauth2 import OAuth2Token
from maas.collector.sources.tls import requests_cert, requests_verify
from maas.config.settings import TLSSettings
from maas.errors import SourceError, SourceQueryRefused, SourceRefused, SourceUnavailable

log = logging.getLogger(__name__)
_RETRYABLE = {408, 425, 429, 500, 502, 503, 504}
_REFUSED_AUTH = {401, 403}


class Web:
    """One lazily built session per source; ``get``/``request`` return checked responses."""

    def __init__(self, config: HttpConfig | ODataConfig, tls: TLSSettings | None) -> None:
        self.config = config
        self.tls = tls or TLSSettings()
        self._session: requests.Session | None = None

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = self._build()
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
        self._session = None

    def _build(self) -> requests.Session:
        session = _Session(_secret_header_names(self.config))
        session.verify = requests_verify(self.tls, self.config.verify_tls)
        if session.verify is False:
            log.warning("%s: TLS certificate NOT verified (verify_tls: false)", _origin(self._base_url))
        session.cert = requests_cert(self.tls)
        session.headers.update({"Accept": "application/json", **_headers(self.config)})
        _authenticate(session, self.config.auth, self.config.timeout_s)
        return session

    @property
    def _base_url(self) -> str:
        return self.config.service_url if isinstance(self.config, ODataConfig) else self.config.url

    def request(
        self, method: str, url: str, params: Mapping[str, str] | None = None, json: Any = None
    ) -> requests.Response:
        """Send, then map transport errors and HTTP statuses to transient/permanent errors."""
        # %20 for spaces, not '+': a '+' is data in OData literals (time offsets)
        query = urlencode(params, safe="$,'():", quote_via=quote) if params else None
        try:
            response = self.session.request(
                method, url, params=query, json=json, timeout=self.config.timeout_s
            )
        except requests.RequestException as exc:
            raise transport_error(url, exc) from None
        check_status(response)
        return response

    def follow(self, current: str, link: str) -> str:
        """A server-given next link, resolved against the current URL and kept on its origin
        (our credentials must never be sent to another host)."""
        target = urljoin(current, link)
        if _origin(target) != _origin(self._base_url):
            where = _origin(self._base_url)
            raise SourceRefused(f"{where}: refusing a next link to another origin: {target}")
        return target


class _Session(requests.Session):
    """Our rules where requests has its own hooks for them: credentials and TLS settings."""

    def __init__(self, secret_headers: Iterable[str]) -> None:
        super().__init__()
        self.private_headers = {"Authorization", *secret_headers}

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        """requests drops only Authorization on a redirect to another host or port: our
        secret headers (API keys) must not leave the origin either, as for ``Web.follow``."""
        if _origin(str(prepared_request.url)) != _origin(str(response.request.url)):
            for name in self.private_headers:
                prepared_request.headers.pop(name, None)
        super().rebuild_auth(prepared_request, response)

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        """REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE would override ``session.verify``: an explicit
        ``tls.ca_file`` or ``verify_tls: false`` from our settings must win over the environment."""
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if verify is None and self.verify is not True:
            settings["verify"] = self.verify
        return settings


def _secret_header_names(config: HttpConfig | ODataConfig) -> list[str]:
    return list(config.secret_headers) if isinstance(config, HttpConfig) else []


def _headers(config: HttpConfig | ODataConfig) -> dict[str, str]:
    if not isinstance(config, HttpConfig):
        return {}
    return {**config.headers, **{name: ref.resolve() for name, ref in config.secret_headers.items()}}


def _authenticate(
    session: requests.Session, auth: BasicAuth | BearerAuth | OAuth2Auth | None, timeout_s: float
) -> None:
    if isinstance(auth, OAuth2Auth):
        session.auth = OAuth2Token(auth, session, timeout_s)
    elif isinstance(auth, BasicAuth):
        session.auth = (auth.username, auth.password.resolve())
    elif isinstance(auth, BearerAuth):
        session.headers["Authorization"] = f"Bearer {auth.token.resolve()}"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def transport_error(url: str, exc: requests.RequestException) -> SourceError:
    where = _origin(url)
    if isinstance(exc, requests.exceptions.SSLError):
        return SourceRefused(f"{where}: TLS verification failed ({_short(exc)})")
    if isinstance(exc, requests.Timeout):
        return SourceUnavailable(f"{where}: timed out")
    return SourceUnavailable(f"{where}: unreachable ({_short(exc)})")


def check_status(response: requests.Response) -> None:
    code = response.status_code
    if code < 400:
        return
    where = f"{response.request.method} {response.url}"
    if code in _REFUSED_AUTH:
        raise SourceRefused(f"{where}: HTTP {code}, credentials refused (check auth and the secret)")
    detail = response.text[:300].strip()
    if code in _RETRYABLE:
        raise SourceUnavailable(f"{where}: HTTP {code} {detail}".rstrip())
    refused = SourceQueryRefused if code == 400 else SourceRefused
    raise refused(f"{where}: HTTP {code} {detail}".rstrip())


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) < 300 else text[:300] + "..."


def json_body(response: requests.Response) -> Any:
    """The parsed body; a non-JSON answer (a proxy's HTML error page) is worth a later retry."""
    try:
        return response.json()
    except ValueError:
        kind = response.headers.get("Content-Type", "?")
        raise SourceUnavailable(f"{response.url}: expected JSON, got {kind}") from None
