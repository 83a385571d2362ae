"""OAuth2 bearer tokens for the HTTP and OData sources (client-credentials or password grant).

The token is fetched on first use, cached, and fetched again shortly before it expires, so a
long poll does not fail halfway. An API that answers 401 anyway (token revoked, server
restarted) gets one retry with a fresh token; a second 401 is reported as refused credentials.
Client secret and password travel in the form body to the token endpoint only: a redirect
from it is an error, never followed.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any
from urllib.parse import urljoin

import requests

from maas.collector.sources.config import OAuth2Auth
from maas.config import redactor
from maas.errors import SourceError, SourceRefused, SourceUnavailable

_MARGIN_S = 30.0  # renew this long before the announced expiry
_RETRIED = "_maas_token_retried"  # marks the one retry of a request, so a second 401 stands


class OAuth2Token(requests.auth.AuthBase):
    def __init__(self, auth: OAuth2Auth, session: requests.Session, timeout_s: float) -> None:
        self.auth = auth
        self.session = session  # the source's session: same TLS settings, no auth of its own
        self.timeout_s = timeout_s
        self._token: str | None = None
        self._masked: str | None = None  # the token the redactor holds for us
        self._renew_at = 0.0
        self._lock = threading.Lock()

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        request.register_hook("response", self._retry_once_on_401)
        return request

    def token(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() >= self._renew_at:
                self._token, lifetime = self._fetch()
                self._renew_at = time.monotonic() + max(lifetime - _MARGIN_S, lifetime / 2)
            return self._token

    def _retry_once_on_401(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        """Only a request that carried our token: a redirect to another origin had it removed
        (``Web``'s session), and its 401 must not be answered with a fresh one."""
        request = response.request
        retried = getattr(request, _RETRIED, False)
        if response.status_code != 401 or retried or "Authorization" not in request.headers:
            return response
        with self._lock:
            self._token = None
        retry = request.copy()
        retry.headers["Authorization"] = f"Bearer {self.token()}"
        setattr(retry, _RETRIED, True)
        response.close()
        again: requests.Response = response.connection.send(retry, **kwargs)
        again.history.append(response)
        return again

    def _fetch(self) -> tuple[str, float]:
        try:
            response = requests.post(
                self.auth.token_url,
                data=self._form(),
                timeout=self.timeout_s,
                verify=self.session.verify,
                cert=self.session.cert,
                headers={"Accept": "application/json"},
                allow_redirects=False,  # a 307/308 would repeat the form, secret included, elsewhere
            )
        except requests.RequestException as exc:
            raise SourceUnavailable(f"OAuth2 token endpoint {self.auth.token_url}: {exc}") from None
        body = self._checked(response)
        token = str(body["access_token"])
        redactor.replace(self._masked, token)  # a credential for its lifetime: masked like the secrets
        self._masked = token
        return token, _lifetime(body.get("expires_in"))

    def _form(self) -> dict[str, str]:
        auth = self.auth
        form = {"grant_type": auth.grant, "client_id": auth.client_id}
        if auth.client_secret is not None:
            form["client_secret"] = auth.client_secret.resolve()
        if auth.grant == "password":
            assert auth.username is not None and auth.password is not None  # checked by the model
            form.update(username=auth.username, password=auth.password.resolve())
        if auth.scope:
            form["scope"] = auth.scope
        return form

    def _checked(self, response: requests.Response) -> dict[str, Any]:
        where = f"OAuth2 token endpoint {self.auth.token_url}"
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.is_redirect:
            raise _redirected(where, response)
        if response.status_code >= 500 or response.status_code == 429:
            raise SourceUnavailable(f"{where}: HTTP {response.status_code}")
        if response.status_code >= 400 or not isinstance(body, dict) or "access_token" not in body:
            raise _refused(where, response.status_code, body)
        return body


def _refused(where: str, status: int, body: Any) -> SourceError:
    detail = body if isinstance(body, dict) else {}
    reason = " ".join(str(detail.get(k, "")) for k in ("error", "error_description")).strip()
    return SourceRefused(f"{where}: refused (HTTP {status}{': ' + reason if reason else ''})")


def _redirected(where: str, response: requests.Response) -> SourceError:
    """Not retried: token_url is to be checked (it moved, or answers with a login page)."""
    target = urljoin(response.url, response.headers["Location"])
    return SourceRefused(
        f"{where}: answered HTTP {response.status_code}, a redirect to {target}: not followed, "
        "the client secret goes to token_url only (check token_url)"
    )


def _lifetime(expires_in: object, default: float = 300.0) -> float:
    """Seconds the token lasts; an answer without a usable number gets the usual five minutes
    (a token endpoint's quirk is no reason to stop collecting)."""
    try:
        seconds = float(expires_in)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return seconds if math.isfinite(seconds) and seconds > 0 else default
