"""Secrets stay masked in whatever form they are printed: raw, JSON-encoded, escaped by a library."""

from __future__ import annotations

import json
import logging

import pytest

from maas.config import SecretRef
from maas.logs import JSONFormatter

pytestmark = pytest.mark.unit


def resolved(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> str:
    monkeypatch.setenv(name, value)
    return SecretRef(f"env:{name}").resolve()


def test_json_logs_mask_a_secret_holding_quotes_and_backslashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """JSON escapes '"' and '\\': masking the encoded line would look for a text no longer there."""
    secret = resolved(monkeypatch, "MAAS_T_QUOTED", 'api"key\\s3cret')
    try:
        raise RuntimeError(f"refused {secret}")
    except RuntimeError as exc:
        record = logging.LogRecord(
            "t", logging.ERROR, __file__, 1, "sent %s", (secret,), (type(exc), exc, None)
        )
    entry = json.loads(JSONFormatter().format(record))
    assert entry["message"] == "sent ***"
    assert secret not in entry["exception"] and "refused ***" in entry["exception"]
