"""Names that came from a listing as bytes: whether they are UTF-8, and how to show them.

Python decodes a local directory listing with ``surrogateescape`` (each byte that is not
UTF-8 becomes a lone surrogate), so such a name reaches us as a ``str`` that cannot be encoded
again: it would break the archive sidecar, the journal and every message that names it. The
collector refuses it at the boundary instead, naming the byte, so the operator can rename it.
"""

from __future__ import annotations


def name_bytes(name: str) -> bytes:
    """The bytes behind ``name``: surrogate escapes back to the bytes they stand for."""
    try:
        return name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that is no escape: keep it visible as bytes
        return name.encode("utf-8", "surrogatepass")


def printable(raw: bytes) -> str:
    """``raw`` as valid, printable text: bytes that are not UTF-8 shown as ``\\xe9``."""
    return raw.decode("utf-8", "backslashreplace")


def shown(text: str) -> str:
    """``text`` that may hold surrogate escapes (a name, or a server reply echoing one) as valid,
    printable text, so a message naming it can be logged and printed."""
    return printable(name_bytes(text))


def first_bad_byte(raw: bytes) -> int | None:
    """The offset of the first byte that makes ``raw`` invalid UTF-8, or None when it is valid."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    return None


def not_utf8(raw: bytes) -> str | None:
    """Why ``raw`` is not a valid UTF-8 name (its first bad byte and offset), or None."""
    at = first_bad_byte(raw)
    return None if at is None else f"its name is not valid UTF-8 (byte 0x{raw[at]:02X} at offset {at})"


def undecodable(exc: UnicodeDecodeError) -> str:
    """Why a client library could not decode a server's reply (paramiko reads the text of its
    error replies strictly as UTF-8), with the bytes around the bad one."""
    raw = bytes(exc.object)
    near = printable(raw[max(0, exc.start - 40) : exc.end + 40])
    return f"the server's reply is not valid UTF-8 (byte 0x{raw[exc.start]:02X} in '{near}')"


__all__ = ["first_bad_byte", "name_bytes", "not_utf8", "printable", "shown", "undecodable"]
