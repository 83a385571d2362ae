"""OData v4 and v2 sources against the fixture service (tests/servers/odata.py) on loopback."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest
from pydantic import TypeAdapter
from servers.harness import Drain
from servers.odata import ODataService, load_records
from servers.pki import Pki
from servers.web import AppServer

from maas.collector.archive import Archive, ArchiveContext
from maas.collector.sources import Payload, SourceConfig, SourceState, create_source
from maas.config.settings import TLSSettings
from maas.errors import SourceRefused

pytestmark = pytest.mark.integration
ALL_IDS = sorted(r["Id"] for r in load_records())
SHARED_STAMP = datetime(2024, 3, 9, 10, 21, tzinfo=UTC)  # two products are published at this instant


def odata_config(service: ODataService, version: int = 4, **overrides: object) -> SourceConfig:
    url = service.v4_url if version == 4 else service.v2_url
    data = {"type": "odata", "version": version, "service_url": url, "entity_set": "Products", **overrides}
    return TypeAdapter(SourceConfig).validate_python(data)


def v4_ids(payloads: list[Payload]) -> list[str]:
    return [r["Id"] for p in payloads for r in json.loads(p.data)["value"]]


def v2_ids(payloads: list[Payload]) -> list[str]:
    return [r["Id"] for p in payloads for r in json.loads(p.data)["d"]["results"]]


def queries(service: ODataService) -> list[str]:
    return [unquote_plus(r) for r in service.requests if "/Products" in r]


def test_v4_follows_next_links_then_collects_nothing_new(odata: ODataService, drain: Drain) -> None:
    with create_source(odata_config(odata)) as source:
        first, state = drain(source, SourceState())
        again, _ = drain(source, state)

    assert [len(json.loads(p.data)["value"]) for p in first] == [4, 4, 4, 1]
    assert sorted(v4_ids(first)) == ALL_IDS
    assert all(json.loads(p.data)["@odata.context"].endswith("$metadata#Products") for p in first)
    assert state.watermark == datetime(2024, 3, 9, 11, 17, tzinfo=UTC)
    assert "$orderby=PublicationDate asc" in queries(odata)[0] and "$top=100" in queries(odata)[0]
    assert sum("$skiptoken" in q for q in queries(odata)) == 3  # next links followed as given
    assert "PublicationDate gt 2024-03-09T11:17:00.000000Z" in queries(odata)[-1]
    assert again == []


def test_v4_top_bounds_each_request_and_skip_continues(odata: ODataService, drain: Drain) -> None:
    """$top bounds a request's whole result; the chain of next links ends after 5 records,
    so the source asks for the rest with $skip. Every record arrives exactly once."""
    with create_source(odata_config(odata, page_size=5)) as source:
        payloads, _ = drain(source, SourceState())
    assert sorted(v4_ids(payloads)) == ALL_IDS
    assert [q for q in queries(odata) if "$skip=" in q and "$skiptoken" not in q] != []


def test_v4_skip_paging_when_the_server_gives_no_next_link(drain: Drain) -> None:
    service = ODataService(next_links=False)
    with AppServer(service), create_source(odata_config(service, page_size=5)) as source:
        payloads, state = drain(source, SourceState())
        again, _ = drain(source, state)
    assert [len(json.loads(p.data)["value"]) for p in payloads] == [5, 5, 3]
    assert sorted(v4_ids(payloads)) == ALL_IDS
    assert any("$skip=10" in q for q in queries(service))
    assert again == []


def test_v4_watermark_is_exclusive_without_overlap(odata: ODataService, drain: Drain) -> None:
    with create_source(odata_config(odata)) as source:
        payloads, _ = drain(source, SourceState(watermark=SHARED_STAMP))
    assert len(v4_ids(payloads)) == 8


def test_v4_overlap_rereads_but_skips_pages_already_collected(odata: ODataService, drain: Drain) -> None:
    """With an overlap the last minutes are read again; a page of records already collected
    is not a payload, but a late publication inside the overlap is collected."""
    cfg = odata_config(odata, overlap_s=600)
    with create_source(cfg) as source:
        _, state = drain(source, SourceState())
        nothing, state = drain(source, state)
        late = {**load_records()[0], "Id": "late-1", "PublicationDate": "2024-03-09T11:12:00.000Z"}
        odata.records.append(late)
        again, state = drain(source, state)

    assert nothing == []
    assert "late-1" in v4_ids(again)
    assert "PublicationDate gt 2024-03-09T11:07:00.000000Z" in queries(odata)[-1]
    assert set(state.recent) >= {"late-1"}


def test_v4_window_backfill_and_extra_filter(odata: ODataService, drain: Drain) -> None:
    cfg = odata_config(
        odata,
        start="2024-03-09T09:00:00Z",
        window={"size_s": 1800, "until": "2024-03-09T11:00:00Z"},
        filter="startswith(Name,'S1A_IW')",
        select=["Id", "Name", "PublicationDate"],
    )
    with create_source(cfg) as source:
        payloads, state = drain(source, SourceState())
    iw = sorted(r["Id"] for r in load_records() if r["Name"].startswith("S1A_IW"))
    assert sorted(v4_ids(payloads)) == iw
    bounded = [q for q in queries(odata) if " le " in q]
    assert len(bounded) == 4  # 09:00-09:30 ... 10:30-11:00, then one open query
    assert "(startswith(Name,'S1A_IW')) and PublicationDate gt 2024-03-09T09:00:00.000000Z" in bounded[0]
    assert "PublicationDate le 2024-03-09T09:30:00.000000Z" in bounded[0]
    assert "$select=Id,Name,PublicationDate" in queries(odata)[0]
    assert state.watermark is not None and state.watermark > datetime(2024, 3, 9, 11, tzinfo=UTC)


def test_v4_page_is_archived_exactly_as_fetched(odata: ODataService, tmp_path: Path, drain: Drain) -> None:
    with create_source(odata_config(odata)) as source:
        payloads, _ = drain(source, SourceState())
    archive = Archive(tmp_path)
    for payload in payloads:
        archive.put(payload, ArchiveContext("prip-s1a", "h", "S1A-Serco", "json"))
    entries = list(archive.entries("S1A-Serco"))
    assert sorted(e.data for e in entries if e.data) == sorted(p.data for p in payloads)
    assert all(e.sidecar and e.sidecar.source_url.startswith(odata.v4_url) for e in entries)


def test_v4_basic_auth(odata: ODataService, drain: Drain, monkeypatch: pytest.MonkeyPatch) -> None:
    odata.basic = ("prip-user", "prip-pass")
    monkeypatch.setenv("MAAS_TEST_PRIP_PASSWORD", "prip-pass")
    auth = {"type": "basic", "username": "prip-user", "password": "env:MAAS_TEST_PRIP_PASSWORD"}
    with create_source(odata_config(odata, auth=auth)) as source:
        payloads, _ = drain(source, SourceState())
    assert sorted(v4_ids(payloads)) == ALL_IDS
    assert all("prip-pass" not in p.source_url for p in payloads)

    monkeypatch.setenv("MAAS_TEST_PRIP_PASSWORD", "wrong-pass")
    with create_source(odata_config(odata, auth=auth)) as source, pytest.raises(SourceRefused) as err:
        list(source.poll(SourceState()))
    assert "HTTP 401" in str(err.value) and "wrong-pass" not in str(err.value)


def test_v4_bearer_token(odata: ODataService, drain: Drain, monkeypatch: pytest.MonkeyPatch) -> None:
    odata.bearer = "tok-123"
    monkeypatch.setenv("MAAS_TEST_TOKEN", "tok-123")
    cfg = odata_config(odata, auth={"type": "bearer", "token": "env:MAAS_TEST_TOKEN"})
    with create_source(cfg) as source:
        assert sorted(v4_ids(drain(source, SourceState())[0])) == ALL_IDS


class _Redirecting(ODataService):
    """A hostile or misconfigured server whose next link points at another host."""

    def _v4(self, query: dict[str, str]) -> dict[str, Any]:
        body = super()._v4(query)
        body["@odata.nextLink"] = "http://elsewhere.example/odata/v1/Products?$skiptoken=4"
        return body


def test_v4_next_link_to_another_origin_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    service = _Redirecting(page_limit=4)
    service.bearer = "tok-123"
    monkeypatch.setenv("MAAS_TEST_TOKEN", "tok-123")
    with AppServer(service):
        cfg = odata_config(service, auth={"type": "bearer", "token": "env:MAAS_TEST_TOKEN"})
        source = create_source(cfg)
        pages = source.poll(SourceState())
        next(pages)
        with pytest.raises(SourceRefused, match="another origin"):
            next(pages)
        source.close()


@pytest.fixture
def https_odata(pki: Pki) -> Iterator[ODataService]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.cert_file, pki.key_file)
    service = ODataService(page_limit=4)
    with AppServer(service, context):
        yield service


def test_v4_over_https_verifies_the_certificate(https_odata: ODataService, pki: Pki, drain: Drain) -> None:
    with create_source(odata_config(https_odata), TLSSettings(ca_file=pki.ca_file)) as source:
        assert sorted(v4_ids(drain(source, SourceState())[0])) == ALL_IDS

    with create_source(odata_config(https_odata)) as source, pytest.raises(SourceRefused) as err:
        list(source.poll(SourceState()))
    assert "TLS verification failed" in str(err.value)


def test_v2_metadata_driven_collection_then_nothing_new(odata: ODataService, drain: Drain) -> None:
    with create_source(odata_config(odata, version=2)) as source:
        first, state = drain(source, SourceState())
        again, _ = drain(source, state)
    assert sorted(v2_ids(first)) == ALL_IDS
    assert [len(json.loads(p.data)["d"]["results"]) for p in first] == [4, 4, 4, 1]
    assert state.watermark == datetime(2024, 3, 9, 11, 17, tzinfo=UTC)
    assert any(r.startswith("GET /odata2/$metadata") for r in odata.requests)
    assert "PublicationDate gt datetime'2024-03-09T11:17:00'" in queries(odata)[-1]
    assert again == []


def test_v2_watermark_and_skip_paging(drain: Drain) -> None:
    service = ODataService(next_links=False)
    with AppServer(service), create_source(odata_config(service, version=2, page_size=3)) as source:
        payloads, _ = drain(source, SourceState(watermark=SHARED_STAMP))
    assert len(v2_ids(payloads)) == 8 and len(set(v2_ids(payloads))) == 8
    assert any("$skip=6" in q for q in queries(service))


def test_v2_unknown_watermark_property_is_a_clear_error(odata: ODataService) -> None:
    cfg = odata_config(odata, version=2, watermark_field="Published")
    with create_source(cfg) as source, pytest.raises(SourceRefused, match="Published"):
        list(source.poll(SourceState(watermark=SHARED_STAMP)))


def oauth2(odata: ODataService, **overrides: Any) -> dict[str, Any]:
    return {
        "type": "oauth2",
        "token_url": f"{odata.base_url}/token",
        "client_id": "maas",
        "client_secret": "env:MAAS_TEST_CLIENT_SECRET",
        **overrides,
    }


def test_oauth2_client_credentials_token_is_cached_and_renewed_after_a_401(
    odata: ODataService, drain: Drain, monkeypatch: pytest.MonkeyPatch
) -> None:
    odata.oauth_clients["maas"] = "client-s3cret"
    odata.bearer = "nobody-has-this"
    monkeypatch.setenv("MAAS_TEST_CLIENT_SECRET", "client-s3cret")
    with create_source(odata_config(odata, auth=oauth2(odata))) as source:
        first, state = drain(source, SourceState())
        assert odata.tokens_issued == 1  # one token for the four pages
        odata.bearer = "revoked"  # the server forgets the token: 401, then one renewal
        late = {**load_records()[0], "Id": "late-2", "PublicationDate": "2024-03-09T12:00:00.000Z"}
        odata.records.append(late)
        second, _ = drain(source, state)
    assert sorted(v4_ids(first)) == ALL_IDS
    assert v4_ids(second) == ["late-2"] and odata.tokens_issued == 2
    assert all("client-s3cret" not in r for r in odata.requests)


def test_oauth2_password_grant_for_v2(
    odata: ODataService, drain: Drain, monkeypatch: pytest.MonkeyPatch
) -> None:
    odata.oauth_users["operator"] = "op-pass"
    odata.bearer = "nobody-has-this"
    monkeypatch.setenv("MAAS_TEST_OP_PASSWORD", "op-pass")
    auth = oauth2(
        odata, grant="password", client_secret=None, username="operator", password="env:MAAS_TEST_OP_PASSWORD"
    )
    with create_source(odata_config(odata, version=2, auth=auth)) as source:
        payloads, _ = drain(source, SourceState())
    assert sorted(v2_ids(payloads)) == ALL_IDS and odata.tokens_issued == 1


def test_oauth2_bad_client_secret_is_refused(odata: ODataService, monkeypatch: pytest.MonkeyPatch) -> None:
    odata.oauth_clients["maas"] = "client-s3cret"
    monkeypatch.setenv("MAAS_TEST_CLIENT_SECRET", "guessed")
    with (
        create_source(odata_config(odata, auth=oauth2(odata))) as source,
        pytest.raises(SourceRefused) as err,
    ):
        list(source.poll(SourceState()))
    assert "token endpoint" in str(err.value) and "invalid_client" in str(err.value)
    assert "guessed" not in str(err.value)
