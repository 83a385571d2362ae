"""Logging set-up: text for terminals, JSON lines for journald/Kubernetes; secrets masked."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime

from maas.config.secrets import redactor


class TextFormatter(logging.Formatter):
    """Masks resolved secrets and URL passwords in the finished line, traceback included."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return redactor.mask(super().format(record))


class JSONFormatter(logging.Formatter):
    """Masks the message and the traceback before encoding them: JSON escapes a '"' or '\\'
    in a secret, and the encoded line no longer holds the text the redactor looks for."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redactor.mask(record.getMessage()),
        }
        if record.exc_info:
            entry["exception"] = redactor.mask(self.formatException(record.exc_info))
        fields = getattr(record, _FIELDS, {})
        return json.dumps(entry | {key: _masked(value) for key, value in fields.items()}, ensure_ascii=False)


_FIELDS = "json_fields"  # a record attribute: more keys of its JSON line


def _masked(value: object) -> object:
    if isinstance(value, str):
        return redactor.mask(value)
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


def json_line(logger: str, level: int, message: str, fields: Mapping[str, object]) -> str:
    """A JSON line shaped like the logs, for a command's own output (the summary of ``maas
    collect``): printed whatever the log level, as in text mode, and masked like the logs."""
    record = logging.makeLogRecord({"name": logger, "levelno": level, "msg": message, _FIELDS: fields})
    record.levelname = logging.getLevelName(level)
    return JSONFormatter().format(record)


def logs_json() -> bool:
    """Whether the process logs JSON lines (its last error line must be one too)."""
    return any(isinstance(h.formatter, JSONFormatter) for h in logging.getLogger().handlers)


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Configure the root logger once per process (idempotent)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # These libraries log at ERROR what we map to our own errors and report once; their
    # records are only useful when debugging.
    quiet = logging.DEBUG if root.level <= logging.DEBUG else logging.CRITICAL
    for noisy in ("pika", "opensearch", "urllib3", "paramiko"):
        logging.getLogger(noisy).setLevel(quiet)
