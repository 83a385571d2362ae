"""What a store URL answered by the wrong server, or by an OpenSearch refusing the login, says:
one line with the URL, the user and the settings to check; a refusal exits 2 (a setting to fix,
retrying cannot help), and a server that is not OpenSearch is named as such."""

from __future__ import annotations

import json

import pytest
from servers.fixed import answering

from maas.config import Settings
from maas.doctor import diagnose
from maas.errors import StoreError, StoreRefused
from maas.model import DocumentClass, Field, FieldType
from maas.store.opensearch import OpenSearchStore

pytestmark = pytest.mark.unit

THING = DocumentClass("Thing", "unit-thing", {"name": Field(FieldType.KEYWORD)}, ("name",))
FORBIDDEN = {
    "error": {"type": "security_exception", "reason": "no permissions for [indices:admin/template/get]"},
    "status": 403,
}


def _setup_error(url: str, monkeypatch: pytest.MonkeyPatch) -> StoreError:
    monkeypatch.setenv("UNIT_STORE_PW", "s3cret-pw")
    settings = Settings.model_validate(
        {"store": {"url": url, "username": "maas", "password": "env:UNIT_STORE_PW"}}
    )
    store = OpenSearchStore.from_settings(settings)
    with pytest.raises(StoreError) as caught:
        store.setup([THING])
    assert "s3cret-pw" not in str(caught.value)
    return caught.value


def test_a_refused_login_names_the_url_the_user_and_the_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    with answering(401, b"Unauthorized", "text/plain") as url:
        error = _setup_error(url, monkeypatch)
    assert isinstance(error, StoreRefused) and error.exit_code == 2
    assert str(error) == (
        f"{url} answered 401 to reading the index template 'unit-thing': "
        "the login of user 'maas' was refused: check store.username and store.password"
    )


def test_a_missing_right_is_a_refusal_naming_the_user(monkeypatch: pytest.MonkeyPatch) -> None:
    with answering(403, json.dumps(FORBIDDEN).encode(), "application/json") as url:
        error = _setup_error(url, monkeypatch)
    assert isinstance(error, StoreRefused) and error.exit_code == 2
    assert "user 'maas' lacks the right (security_exception: no permissions for" in str(error)


def test_a_cluster_block_is_no_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 403 that is not about the user (a read-only index) is not about credentials either."""
    block = {"error": {"type": "cluster_block_exception", "reason": "index read-only"}, "status": 403}
    with answering(403, json.dumps(block).encode(), "application/json") as url:
        error = _setup_error(url, monkeypatch)
    assert not isinstance(error, StoreRefused)
    assert str(error).endswith(
        "answered 403 to reading the index template 'unit-thing': cluster_block_exception: index read-only"
    )


def test_a_server_that_is_not_opensearch_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    with answering(405, b"") as url:
        error = _setup_error(url, monkeypatch)
    assert str(error) == (
        f"{url} answered 405 to reading the index template 'unit-thing': "
        "is this OpenSearch? (not an OpenSearch answer)"
    )


def test_doctor_exits_2_on_a_refused_login(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNIT_STORE_PW", "s3cret-pw")
    with answering(401, b"Unauthorized", "text/plain") as url:
        settings = Settings.model_validate(
            {"store": {"url": url, "username": "maas", "password": "env:UNIT_STORE_PW"}}
        )
        store = diagnose(settings)[0]
    assert not store.ok and store.exit_code == 2
    assert store.detail.startswith(f"{url} answered 401 to reading its version: the login of user 'maas'")
