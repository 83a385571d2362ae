"""Secrets stay masked in whatever form they are printed: raw, JSON-encoded, escaped by a library."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from maas.config import SecretRef, mask_url, redactor
from maas.config.secrets import has_url_password
from maas.errors import ConfigError
from maas.logs import JSONFormatter

pytestmark = pytest.mark.unit
Holding = Callable[[str], SecretRef]


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


@pytest.fixture(params=["env", "file"])
def holding(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Holding:
    """A reference of each kind to a secret holding the given text."""

    def reference(value: str) -> SecretRef:
        if request.param == "env":
            monkeypatch.setenv("MAAS_T_HELD", value)
            return SecretRef("env:MAAS_T_HELD")
        (tmp_path / "pw").write_text(value)
        return SecretRef(f"file:{tmp_path / 'pw'}")

    return reference


def test_surrounding_whitespace_is_not_part_of_a_secret(holding: Holding) -> None:
    """`echo s3cret > file` and editors end files and variables with a newline."""
    assert holding(" api-s3cret\n").resolve() == "api-s3cret"


@pytest.mark.parametrize("value", ["api-s3cret\nsecond-line", "api-s3cret\x1b[0m"])
def test_a_secret_holding_a_control_character_is_refused_without_showing_it(
    holding: Holding, value: str
) -> None:
    ref = holding(value)
    with pytest.raises(ConfigError) as caught:
        ref.resolve()
    assert str(caught.value).startswith(f"secret {ref.reference}: holds a control character")
    assert "s3cret" not in str(caught.value) and ref.unreadable() == str(caught.value)


def test_the_escaped_forms_of_a_secret_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Libraries quote a bad value with repr() (requests: 'Invalid ... header value'), servers
    echo it JSON-encoded in an error body that our errors quote."""
    secret = resolved(monkeypatch, "MAAS_T_ESCAPED", 'it\'s-"é"-s3cret\\x')
    for shown in (repr(secret), json.dumps(secret), json.dumps(secret, ensure_ascii=False)):
        quote = shown[0]  # the quotes around the escaped value stay
        assert redactor.mask(f"value {shown} refused") == f"value {quote}***{quote} refused"


@pytest.mark.parametrize("password", ["hunter2", "pa/ss", "/leading"])
def test_url_passwords_are_masked_whatever_they_hold(password: str) -> None:
    url = f"https://maas:{password}@api.example/v1"
    assert redactor.mask(f"GET {url}: refused") == "GET https://maas:***@api.example/v1: refused"
    assert mask_url(url) == "https://maas:***@api.example/v1"


@pytest.mark.parametrize(
    "url",
    [
        "https://probe.example:8443/status?contact=ops@example.org",
        "http://localhost:8080/a@b",
        "https://h:443#frag@x",
    ],
)
def test_a_port_followed_by_an_at_sign_in_the_path_is_not_a_password(url: str) -> None:
    assert not has_url_password(url)
    assert redactor.mask(f"GET {url}: refused") == f"GET {url}: refused"


def test_a_replaced_credential_is_no_longer_masked_and_the_new_one_is() -> None:
    redactor.add("old-T0KEN-1")
    redactor.replace("old-T0KEN-1", "new-T0KEN-2")
    assert redactor.mask("old-T0KEN-1 new-T0KEN-2") == "old-T0KEN-1 ***"
