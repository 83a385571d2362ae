"""Secrets by reference (``env:NAME`` / ``file:/path``), resolved late and masked everywhere.

A resolved value is registered with the redactor so that log records and error messages that
happen to contain it are masked before they are printed.
"""

from __future__ import annotations

import json
import os
import re
import threading
import unicodedata
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import AfterValidator
from pydantic_core import core_schema

from maas.errors import ConfigError

MASK = "***"
_REF = re.compile(r"^(env):([A-Za-z_][A-Za-z0-9_]*)$|^(file):(.+)$")


class _Redactor:
    """Remembers every resolved secret value and masks it in any text."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        if len(value) >= 3:  # masking 1-2 characters would shred unrelated text
            with self._lock:
                self._values.update(_escaped_forms(value))

    def replace(self, old: str | None, new: str) -> None:
        """A credential that is renewed (an OAuth2 token): its expired value is forgotten, or
        a collector looping for months would mask thousands of them in every line."""
        with self._lock:
            if old is not None and old != new:
                self._values.difference_update(_escaped_forms(old))
        self.add(new)

    def mask(self, text: str) -> str:
        for value in sorted(self._values, key=len, reverse=True):
            text = text.replace(value, MASK)
        return mask_url_passwords(text)


def _escaped_forms(value: str) -> set[str]:
    """The value as others quote it: libraries with repr() (requests' invalid header error),
    servers JSON-encoded in the error body our messages include."""
    quoted = (repr(value), json.dumps(value), json.dumps(value, ensure_ascii=False))
    return {value, *(form[1:-1] for form in quoted)}


redactor = _Redactor()
# scheme://user:password@, whatever the password holds: one with '/', '?' or '#' ends the
# host part early for urllib, whose parsed URL then has no password at all; but
# ``host:8443/path?mail=a@b`` is a port followed by a path, not a password
_PORT = r"(?!\d+(?:[/?#\s]|$))"
_URL_PASSWORD = re.compile(rf"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]+):{_PORT}(?P<pw>[^@\s]+)@")
_USER_AND_PASSWORD = re.compile(rf"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#@:]*:{_PORT}[^@]*@")


def has_url_password(url: str) -> bool:
    """Whether ``url`` starts with ``scheme://user:password@``, looked for in the text: urllib
    cannot see a password holding '/', '?' or '#', and names it as the port in its errors."""
    return _USER_AND_PASSWORD.match(url) is not None


def mask_url_passwords(text: str) -> str:
    """Mask ``scheme://user:password@`` wherever it appears in free text."""
    return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)


def mask_url(url: str) -> str:
    """Mask the password of one URL (for display)."""
    parts = urlsplit(url)
    if parts.password is None:
        return mask_url_passwords(url)  # one urllib does not see (see _URL_PASSWORD)
    netloc = parts.netloc.replace(f":{parts.password}@", f":{MASK}@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


# Validation context key: the directory a configuration file's relative paths are relative to.
BASE_DIR = "base_dir"


def relative_to_file(base: Path, path: str) -> str:
    """``path`` as written in a configuration file whose directory is ``base``: relative to
    that directory, not to wherever the process was started (cron and systemd start it
    elsewhere). Absolute paths and ``~`` (the home directory) stay as written."""
    if path.startswith("~") or Path(path).is_absolute():
        return path
    return str(base / path)


def anchor(path: Path, info: core_schema.ValidationInfo) -> Path:
    """``path`` relative to the validated file's directory (``BASE_DIR`` of the context)."""
    base = (info.context or {}).get(BASE_DIR)
    return path if base is None else Path(relative_to_file(Path(base), str(path)))


LocalPath = Annotated[Path, AfterValidator(anchor)]


class SecretRef:
    """A reference to a secret; ``str()`` and ``repr()`` never show the value."""

    __slots__ = ("kind", "target")

    def __init__(self, reference: str) -> None:
        match = _REF.match(reference.strip())
        if not match:
            raise ValueError(
                "secrets must be references: 'env:NAME' or 'file:/path' (literal values are refused)"
            )
        self.kind = match[1] or match[3]
        self.target = match[2] or match[4]

    @property
    def reference(self) -> str:
        return f"{self.kind}:{self.target}"

    def resolve(self) -> str:
        """Read the secret now (late, so a rotated file is picked up at next use)."""
        value = self._read()
        redactor.add(value)
        return value

    def unreadable(self) -> str | None:
        """Why the secret cannot be read now, or None: for checks that must never show the value.
        An empty value counts: an empty variable or file is a deployment mistake far more often
        than a real password, and the server would only say "authentication failed"."""
        try:
            value = self._read()
        except ConfigError as exc:
            return str(exc)
        return None if value else f"secret {self.reference}: resolves to an empty value"

    def _read(self) -> str:
        """The value without surrounding whitespace: ``echo`` and editors end a file or a
        variable with a newline no server expects. A control character left inside is refused:
        no password holds one, and libraries would print the value quoting it."""
        value = (self._from_env() if self.kind == "env" else self._from_file()).strip()
        if any(unicodedata.category(char) == "Cc" for char in value):
            raise ConfigError(f"secret {self.reference}: holds a control character (a line break, a tab)")
        return value

    def _from_env(self) -> str:
        if self.target not in os.environ:
            raise ConfigError(f"secret {self.reference}: environment variable is not set")
        return os.environ[self.target]

    def _from_file(self) -> str:
        path = Path(self.target)
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"secret {self.reference}: cannot read file ({exc.strerror})") from None
        except UnicodeDecodeError:
            raise ConfigError(f"secret {self.reference}: the file is not UTF-8 text") from None

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return f"SecretRef({MASK})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretRef) and other.reference == self.reference

    def __hash__(self) -> int:
        return hash(self.reference)

    @classmethod
    def __get_pydantic_core_schema__(cls, _source: Any, _handler: Any) -> core_schema.CoreSchema:
        return core_schema.with_info_plain_validator_function(
            cls._validate,
            serialization=core_schema.plain_serializer_function_ser_schema(lambda _v: MASK),
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, _schema: Any, _handler: Any) -> dict[str, Any]:
        return {
            "type": "string",
            "pattern": _REF.pattern,
            "description": "a secret reference: env:NAME or file:/path (never the secret itself)",
        }

    @classmethod
    def _validate(cls, value: Any, info: core_schema.ValidationInfo) -> SecretRef:
        if isinstance(value, SecretRef):
            return value
        if not isinstance(value, str):
            raise ValueError("a secret reference must be a string like 'env:NAME'")
        ref = cls(value)
        if ref.kind == "file":
            ref.target = str(anchor(Path(ref.target), info))
        return ref
