"""A stdlib HTTP server in a thread, with optional basic/bearer auth, redirects and TLS."""

from __future__ import annotations

import base64
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


class Handler(BaseHTTPRequestHandler):
    """Routes GET/POST to ``server.app.handle(method, path, query, body)`` after the auth check."""

    server: AppServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        app = self.server.app
        app.requests.append(f"{method} {self.path}")
        app.headers.append(dict(self.headers.items()))
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if parts.path in app.redirects:
            status, location = app.redirects[parts.path]
            return self.reply(status, b"", {"Location": location})
        if parts.path == "/token" and method == "POST":
            status, payload = app.issue_token(dict(parse_qsl(body.decode())))
            return self.reply(status, payload, {})
        if not app.authorised(self.headers.get("Authorization")):
            return self.reply(401, {"error": "unauthorised"}, {"WWW-Authenticate": 'Basic realm="t"'})
        status, payload, content_type = app.handle(method, parts.path, dict(parse_qsl(parts.query)), body)
        self.reply(status, payload, {"Content-Type": content_type})

    def reply(self, status: int, payload: Any, headers: dict[str, str]) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Quiet: the app keeps the request log the tests look at."""


class App:
    """Base of the fixture services: auth switches and a request log."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.headers: list[dict[str, str]] = []
        self.basic: tuple[str, str] | None = None
        self.bearer: str | None = None
        self.base_url = ""
        self.oauth_clients: dict[str, str] = {}  # client_id -> secret, for POST /token
        self.oauth_users: dict[str, str] = {}  # username -> password (password grant)
        self.tokens_issued = 0
        self.token_lifetime: object = 3600  # expires_in as answered (a quirky endpoint: a non-number)
        self.redirects: dict[str, tuple[int, str]] = {}  # path -> (3xx status, Location)

    def issue_token(self, form: dict[str, str]) -> tuple[int, Any]:
        """A minimal OAuth2 token endpoint: the newest token is the only one accepted."""
        secret = self.oauth_clients.get(form.get("client_id", ""))
        grant = form.get("grant_type")
        client_ok = grant == "password" or (secret is not None and form.get("client_secret") == secret)
        user_ok = grant != "password" or self.oauth_users.get(form.get("username", "")) == form.get(
            "password"
        )
        if grant not in ("client_credentials", "password") or not (client_ok and user_ok):
            return 401, {"error": "invalid_client", "error_description": "bad credentials"}
        self.tokens_issued += 1
        self.bearer = f"tok-{self.tokens_issued}"
        return 200, {"access_token": self.bearer, "token_type": "Bearer", "expires_in": self.token_lifetime}

    def authorised(self, header: str | None) -> bool:
        if self.basic is not None:
            expected = base64.b64encode(":".join(self.basic).encode()).decode()
            return header == f"Basic {expected}"
        if self.bearer is not None:
            return header == f"Bearer {self.bearer}"
        return True

    def handle(self, method: str, path: str, query: dict[str, str], body: bytes) -> tuple[int, Any, str]:
        raise NotImplementedError


class AppServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, app: App, context: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        if context is not None:
            self.socket = context.wrap_socket(self.socket, server_side=True)
        self.app = app
        scheme = "https" if context else "http"
        app.base_url = f"{scheme}://127.0.0.1:{self.server_address[1]}"
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> AppServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)
