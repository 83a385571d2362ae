"""Servers that are not the one configured: for the errors of a URL pointing at the wrong port.

``answering``: an HTTP server giving every request the same status and body (a web server, or
an OpenSearch refusing a login). ``silent``: accepts connections and never says a word (an HTTP
server waiting for a request line, as OpenSearch does for an AMQP header). ``closing``: answers
with an HTTP error and hangs up (what most servers do with bytes they do not understand).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def answering(status: int, body: bytes = b"", content_type: str = "text/html") -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of a server answering ``status`` and ``body`` to everything."""

    class Handler(BaseHTTPRequestHandler):
        def reply(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = reply

        def log_message(self, *_args: object) -> None:
            """Quiet: the tests read the client's errors, not the server's log."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def silent() -> Iterator[int]:
    """The port of a server that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)  # the backlog accepts for us: nothing is ever read or written
        yield int(listener.getsockname()[1])


@contextmanager
def closing() -> Iterator[int]:
    """The port of a server that answers its first bytes with an HTTP 400 and hangs up."""
    stop = threading.Event()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        listener.settimeout(0.1)
        thread = threading.Thread(target=_hang_up, args=(listener, stop), daemon=True)
        thread.start()
        try:
            yield int(listener.getsockname()[1])
        finally:
            stop.set()
            thread.join()


def _hang_up(listener: socket.socket, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            connection, _ = listener.accept()
        except TimeoutError:
            continue
        with connection:
            connection.recv(64)
            connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
