"""The HTTP JSON source against a paged JSON API on loopback (tests/servers/json_api.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import TypeAdapter
from servers.harness import Drain
from servers.json_api import JsonApi
from servers.web import AppServer

from maas.collector.sources import Payload, SourceConfig, SourceState, create_source
from maas.config import redactor
from maas.errors import SourceRefused, SourceUnavailable

pytestmark = pytest.mark.integration


def http_config(api: JsonApi, path: str, **overrides: Any) -> SourceConfig:
    data = {"type": "http", "url": f"{api.base_url}{path}", **overrides}
    return TypeAdapter(SourceConfig).validate_python(data)


def ids(payloads: list[Payload]) -> list[int]:
    return [item["id"] for p in payloads for item in json.loads(p.data)["items"]]


CURSOR = {"mode": "cursor", "cursor_path": "next", "param": "cursor", "items_path": "items"}


def test_cursor_paging_resumes_where_it_stopped(json_api: JsonApi, drain: Drain) -> None:
    with create_source(http_config(json_api, "/events", paging=CURSOR)) as source:
        first, state = drain(source, SourceState())
        nothing, state = drain(source, state)
        json_api.items += [{"id": 7, "event": "probe-7"}, {"id": 8, "event": "probe-8"}]
        grown, state = drain(source, state)

    assert ids(first) == [0, 1, 2, 3, 4, 5, 6]
    assert state.resume.cursor == "c6"
    assert nothing == []
    assert ids(grown) == [6, 7, 8]  # the last page is read again: it grew
    assert json_api.requests[-1] == "GET /events?cursor=c6"


def test_page_number_paging_until_an_empty_page(json_api: JsonApi, drain: Drain) -> None:
    paging = {"mode": "page_number", "param": "page", "start": 1, "items_path": "items"}
    with create_source(http_config(json_api, "/pages", paging=paging)) as source:
        first, state = drain(source, SourceState())
        nothing, state = drain(source, state)
        json_api.items.append({"id": 7, "event": "probe-7"})
        grown, _ = drain(source, state)

    assert [len(json.loads(p.data)["items"]) for p in first] == [3, 3, 1]
    assert nothing == []
    assert ids(grown) == [6, 7]
    assert "GET /pages?page=4" in json_api.requests


def test_single_document_is_collected_when_it_changes(json_api: JsonApi, drain: Drain) -> None:
    with create_source(http_config(json_api, "/status", name="prip-status")) as source:
        [first], state = drain(source, SourceState())
        unchanged, state = drain(source, state)
        json_api.status = {"interface": "PRIP S1A", "status": "down"}
        [changed], _ = drain(source, state)

    assert json.loads(first.data)["status"] == "up" and first.name.startswith("prip-status-")
    assert unchanged == []
    assert json.loads(changed.data)["status"] == "down"


def test_post_with_body_and_secret_header(
    json_api: JsonApi, drain: Drain, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAAS_TEST_API_KEY", "key-42")
    cfg = http_config(
        json_api,
        "/search",
        method="POST",
        json_body={"mission": "S1"},
        headers={"X-Client": "maas"},
        secret_headers={"X-Api-Key": "env:MAAS_TEST_API_KEY"},
        paging=CURSOR,
    )
    with create_source(cfg) as source:
        payloads, _ = drain(source, SourceState())
    assert ids(payloads) == [0, 1, 2, 3, 4, 5, 6]
    assert json_api.bodies == [{"mission": "S1"}] * 3
    assert json_api.headers[0]["X-Api-Key"] == "key-42" and json_api.headers[0]["X-Client"] == "maas"
    assert all("key-42" not in p.source_url for p in payloads)


def test_server_error_is_transient(json_api: JsonApi) -> None:
    with create_source(http_config(json_api, "/broken")) as source, pytest.raises(SourceUnavailable) as err:
        list(source.poll(SourceState()))
    assert "HTTP 503" in str(err.value) and err.value.transient


@pytest.fixture
def elsewhere() -> Iterator[JsonApi]:
    """A second server: another port is another origin, as another host would be."""
    api = JsonApi([{"id": 0, "event": "probe-0"}])
    with AppServer(api):
        yield api


KEYED = {"secret_headers": {"X-Api-Key": "env:MAAS_TEST_API_KEY"}}


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_credentials_do_not_follow_a_redirect_to_another_origin(
    json_api: JsonApi, elsewhere: JsonApi, drain: Drain, monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    """requests drops only Authorization on a redirect to another host; an API key must stay too."""
    monkeypatch.setenv("MAAS_TEST_API_KEY", "key-42")
    monkeypatch.setenv("MAAS_TEST_TOKEN", "tok-42")
    json_api.redirects["/moved"] = (status, f"{elsewhere.base_url}/status")
    bearer = {"type": "bearer", "token": "env:MAAS_TEST_TOKEN"}
    with create_source(http_config(json_api, "/moved", auth=bearer, **KEYED)) as source:
        [payload], _ = drain(source, SourceState())
    assert json.loads(payload.data) == elsewhere.status
    assert json_api.headers[0]["X-Api-Key"] == "key-42"
    assert elsewhere.requests == ["GET /status"]
    assert not {"X-Api-Key", "Authorization"} & set(elsewhere.headers[0])


def test_credentials_follow_a_redirect_on_the_same_origin(
    json_api: JsonApi, drain: Drain, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAAS_TEST_API_KEY", "key-42")
    json_api.redirects["/moved"] = (302, f"{json_api.base_url}/status")
    with create_source(http_config(json_api, "/moved", **KEYED)) as source:
        drain(source, SourceState())
    assert json_api.requests == ["GET /moved", "GET /status"]
    assert [h["X-Api-Key"] for h in json_api.headers] == ["key-42", "key-42"]


def test_an_oauth2_token_is_not_sent_again_to_another_origin_answering_401(
    json_api: JsonApi, elsewhere: JsonApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one retry after a 401 (token revoked) is for our API: not for a redirect's target."""
    auth = client_credentials(json_api, monkeypatch)
    json_api.redirects["/moved"] = (302, f"{elsewhere.base_url}/status")
    elsewhere.bearer = "theirs"  # refuses whatever it is sent: 401
    with create_source(http_config(json_api, "/moved", auth=auth)) as source, pytest.raises(SourceRefused):
        list(source.poll(SourceState()))
    assert elsewhere.requests == ["GET /status"] and "Authorization" not in elsewhere.headers[0]


def client_credentials(api: JsonApi, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("MAAS_TEST_CLIENT_SECRET", "client-s3cret")
    api.oauth_clients["maas"] = "client-s3cret"
    secret = {"client_secret": "env:MAAS_TEST_CLIENT_SECRET"}
    return {"type": "oauth2", "token_url": f"{api.base_url}/token", "client_id": "maas", **secret}


def test_the_client_secret_does_not_follow_a_redirect_of_the_token_endpoint(
    json_api: JsonApi, elsewhere: JsonApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 307 repeats the POST, form and client secret included, wherever it points."""
    auth = client_credentials(json_api, monkeypatch)
    elsewhere.oauth_clients["maas"] = "client-s3cret"  # would answer with a token
    json_api.redirects["/token"] = (307, f"{elsewhere.base_url}/token")
    source = create_source(http_config(json_api, "/status", auth=auth))
    with source, pytest.raises(SourceRefused) as caught:
        list(source.poll(SourceState()))
    assert elsewhere.requests == []
    assert str(caught.value) == (
        f"OAuth2 token endpoint {json_api.base_url}/token: answered HTTP 307, a redirect to "
        f"{elsewhere.base_url}/token: not followed, the client secret goes to token_url only "
        "(check token_url)"
    )


def test_an_oauth2_access_token_is_masked_like_a_secret(
    json_api: JsonApi, drain: Drain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token is a credential for its lifetime: an error or a log line quoting it must not show it."""
    json_api.tokens_issued = 990_000  # a token no other test of the process got: the redactor is global
    with create_source(
        http_config(json_api, "/status", auth=client_credentials(json_api, monkeypatch))
    ) as source:
        drain(source, SourceState())
    assert json_api.bearer == "tok-990001"
    assert redactor.mask("Bearer tok-990001 refused") == "Bearer *** refused"


def test_a_renewed_token_replaces_the_expired_one_in_the_redactor(
    json_api: JsonApi, drain: Drain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A collector looping for months renews its token thousands of times: the redactor keeps
    the one in use (masking every expired one made each log line slower, without end)."""
    json_api.tokens_issued, json_api.token_lifetime = 980_000, 0.05  # renewed at every request
    with create_source(
        http_config(json_api, "/status", auth=client_credentials(json_api, monkeypatch))
    ) as source:
        for _ in range(3):
            drain(source, SourceState())
            time.sleep(0.05)
    assert json_api.tokens_issued >= 980_003
    newest = json_api.bearer
    assert redactor.mask(f"Bearer {newest}") == "Bearer ***"
    assert redactor.mask("Bearer tok-980001 expired") == "Bearer tok-980001 expired"


@pytest.mark.parametrize("lifetime", ["soon", None, -5, float("nan")])
def test_a_token_lifetime_that_is_not_a_number_is_taken_as_five_minutes(
    json_api: JsonApi, drain: Drain, monkeypatch: pytest.MonkeyPatch, lifetime: object
) -> None:
    json_api.token_lifetime = lifetime
    with create_source(
        http_config(json_api, "/status", auth=client_credentials(json_api, monkeypatch))
    ) as source:
        issued = json_api.tokens_issued
        drain(source, SourceState())
        drain(source, SourceState())
    assert json_api.tokens_issued == issued + 1  # one token, reused: it did not expire at once
