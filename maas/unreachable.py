"""Why a connection failed, in the operating system's words, for one readable error line.

HTTP clients wrap the socket's error several times (requests → urllib3's retry error → its
connection error → ``ConnectionRefusedError``), each wrapper repeating the connection's repr,
so printing the outermost one gives a paragraph saying "Connection refused" twice. The cause
is found down the chain instead, where the library error enters our exception tree.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

from maas.config import mask_url


def cannot_connect(url: str, exc: BaseException, doing: str = "") -> str:
    """``URL: cannot connect (Connection refused)``, then ``while DOING`` if given; the URL's
    password, if any, masked."""
    line = f"{mask_url(url)}: cannot connect ({reason(exc)})"
    return f"{line} while {doing}" if doing else line


def reason(exc: BaseException) -> str:
    """The innermost socket-level reason (refused, timed out, unknown host), else the first line
    of the outermost error."""
    for cause in _chain(exc):
        if isinstance(cause, socket.gaierror):
            return f"unknown host: {cause.strerror}" if cause.strerror else "unknown host"
        if isinstance(cause, TimeoutError):
            return "timed out"
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """Every error under ``exc``: causes, contexts, and errors held as arguments or ``reason``."""
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        held = (current.__cause__, current.__context__, getattr(current, "reason", None), *current.args)
        pending.extend(e for e in held if isinstance(e, BaseException))
