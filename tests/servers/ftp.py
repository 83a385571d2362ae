"""pyftpdlib in a thread on a loopback port: plain FTP, or explicit FTPS requiring PROT P."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer

logging.getLogger("pyftpdlib").setLevel(logging.WARNING)


def tls_handler_reason() -> str | None:
    """None when pyftpdlib can do TLS here, else why not (pyOpenSSL missing)."""
    try:
        from pyftpdlib.handlers import TLS_FTPHandler  # noqa: F401
    except ImportError as exc:
        return f"FTPS needs pyOpenSSL for pyftpdlib's TLS_FTPHandler ({exc})"
    return None


class FtpServer:
    """``with FtpServer(root, ...) as server:`` serves ``root`` to ``user``/``password``."""

    def __init__(
        self,
        root: Path,
        user: str = "collector",
        password: str = "s3cret-ftp",
        certfile: Path | None = None,
        keyfile: Path | None = None,
        mlsd: bool = True,
        raw_names: bool = False,
    ) -> None:
        self.root, self.user, self.password = root, user, password
        handler = self._handler(certfile, keyfile)
        if raw_names:  # send names as the disk holds them, like vsftpd (pyftpdlib replaces bad bytes by '?')
            handler.unicode_errors = "surrogateescape"
        if not mlsd:
            handler.proto_cmds = {k: v for k, v in handler.proto_cmds.items() if k not in ("MLSD", "MLST")}
        self.server = FTPServer(("127.0.0.1", 0), handler)
        self.port = int(self.server.address[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _handler(self, certfile: Path | None, keyfile: Path | None) -> Any:
        authorizer = DummyAuthorizer()
        authorizer.add_user(self.user, self.password, str(self.root), perm="elradfmwMT")
        attributes: dict[str, Any] = {
            "authorizer": authorizer,
            "banner": "maas test ftpd",
            "auth_failed_timeout": 0.1,
        }
        base: Any = FTPHandler
        if certfile is not None:
            from pyftpdlib.handlers import TLS_FTPHandler

            base = TLS_FTPHandler
            attributes.update(
                certfile=str(certfile),
                keyfile=str(keyfile),
                tls_control_required=True,
                tls_data_required=True,
            )
        return type("Handler", (base,), attributes)

    def _serve(self) -> None:
        while not self._stop.is_set():
            self.server.serve_forever(timeout=0.05, blocking=False, handle_exit=False)
        self.server.close_all()

    def __enter__(self) -> FtpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
