"""OData v4 and v2 sources against the fixture service (tests/servers/odata.py) on loopback."""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest
from pydantic import TypeAdapter
from servers import harness
from servers.harness import Drain
from servers.odata import ODataService, load_records
from servers.pki import Pki
from servers.web import AppServer

from maas.collector.archive import Archive, ArchiveContext
from maas.collector.sources import Payload, Source, SourceConfig, SourceState, create_source
from maas.config.settings import TLSSettings
from maas.errors import SourceRefused, SourceUnavailable

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
    assert "$orderby=PublicationDate asc,Id asc" in queries(odata)[0] and "$top=100" in queries(odata)[0]
    assert sum("$skiptoken" in q for q in queries(odata)) == 3  # next links followed as given
    # then from the highest PublicationDate read, inclusive ("gt" one microsecond before): the
    # last record comes back alone, already read, and ends the poll
    assert "PublicationDate gt 2024-03-09T11:16:59.999999Z" in queries(odata)[-1]
    assert again == []


def test_v4_top_bounds_each_request_and_the_next_asks_from_the_last_record(
    odata: ODataService, drain: Drain
) -> None:
    """$top bounds a request's whole result; the chain of next links ends after 5 records, so
    the source asks again from the highest PublicationDate read. Every record arrives, the
    only repeats being the last record of a chain, read again as the next one's first."""
    with create_source(odata_config(odata, page_size=5)) as source:
        payloads, _ = drain(source, SourceState())
    assert sorted(set(v4_ids(payloads))) == ALL_IDS and len(v4_ids(payloads)) <= len(ALL_IDS) + 3
    offsets = [q for q in queries(odata) if "$skip=" in q and "$skiptoken" not in q]
    assert offsets and all("gt 2024-03-09T10:20:59.999999Z" in q for q in offsets)  # inside one instant only


def test_v4_paging_from_the_last_record_when_the_server_gives_no_next_link(drain: Drain) -> None:
    """Each page is asked from the previous page's highest PublicationDate; the two products
    sharing one (4th and 5th) end the first page, so the next skips the first of them only."""
    service = ODataService(next_links=False)
    with AppServer(service), create_source(odata_config(service, page_size=5)) as source:
        payloads, state = drain(source, SourceState())
        again, _ = drain(source, state)
    assert [len(json.loads(p.data)["value"]) for p in payloads] == [5, 5, 5]
    assert sorted(set(v4_ids(payloads))) == ALL_IDS
    assert "PublicationDate gt 2024-03-09T10:20:59.999999Z" in queries(service)[1]
    assert "$skip=1" in queries(service)[1] and "$skip" not in queries(service)[2]
    assert again == []


def test_v4_watermark_is_inclusive_and_records_collected_there_are_skipped(
    odata: ODataService, drain: Drain
) -> None:
    """The journal's watermark W is asked again, inclusive. Of the records collected at W
    (``recent``) the request skips all but one, the anchor its offset is checked with, which
    comes back on the first page (pages are archived as fetched); the others are not fetched,
    so not published, again. A record at W not collected yet (a poll stopped between the two
    products of that instant) is collected."""
    first, second = sorted(
        r["Id"] for r in load_records() if r["PublicationDate"] == "2024-03-09T10:21:00.000Z"
    )
    later = [r["Id"] for r in by_publication() if r["PublicationDate"] > "2024-03-09T10:21:00.000Z"]
    collected_both = {first: SHARED_STAMP, second: SHARED_STAMP}
    with create_source(odata_config(odata)) as source:
        both_known, _ = drain(source, SourceState(watermark=SHARED_STAMP, recent=collected_both))
        asked = len(queries(odata))
        one_known, _ = drain(source, SourceState(watermark=SHARED_STAMP, recent={first: SHARED_STAMP}))
    from_w = "$filter=PublicationDate gt 2024-03-09T10:20:59.999999Z"
    assert from_w in queries(odata)[0] and "$skip=1" in queries(odata)[0]  # W again, less `first`
    assert v4_ids(both_known) == [second, *later]  # `second` as the anchor; `first` not at all
    assert from_w in queries(odata)[asked] and "$skip" not in queries(odata)[asked]  # `first`: anchor
    assert v4_ids(one_known) == [first, second, *later]


def by_publication() -> list[dict[str, Any]]:
    """The recorded products in the default order: PublicationDate, then Id."""
    return sorted(load_records(), key=lambda r: (r["PublicationDate"], r["Id"]))


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
    assert "PublicationDate gt 2024-03-09T11:06:59.999999Z" in queries(odata)[-2]
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
    assert sorted(set(v4_ids(payloads))) == iw
    bounded = [q for q in queries(odata) if " le " in q]
    assert len({q.partition(" le ")[2] for q in bounded}) == 4  # 09:00-09:30 ... 10:30-11:00, then open
    assert "(startswith(Name,'S1A_IW')) and PublicationDate gt 2024-03-09T08:59:59.999999Z" in bounded[0]
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
    assert "PublicationDate gt datetime'2024-03-09T11:16:59.999999'" in queries(odata)[-1]
    assert "$orderby=PublicationDate asc,Id asc" in queries(odata)[0]
    assert again == []


def test_v2_watermark_and_paging_without_next_links(drain: Drain) -> None:
    service = ODataService(next_links=False)
    with AppServer(service), create_source(odata_config(service, version=2, page_size=3)) as source:
        payloads, _ = drain(source, SourceState(watermark=SHARED_STAMP))
    later = sorted(r["Id"] for r in load_records() if r["PublicationDate"] >= "2024-03-09T10:21")
    assert sorted(set(v2_ids(payloads))) == later and len(v2_ids(payloads)) == 14  # 10 + 4 repeats
    assert "gt datetime'2024-03-09T10:28:00.245999'" in queries(service)[1]  # from the first page's last


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
    assert set(v4_ids(second)) - set(ALL_IDS) == {"late-2"} and odata.tokens_issued == 2
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


# --- paging: ties at page boundaries, servers that cap pages, evictions during a poll --------------

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
TIE = [0, 10, 10, 10, 20, 30]  # P1, then P2-P4 published at the same instant, then P5, P6


def products(seconds: list[int], evicted_after_days: list[int] | None = None) -> list[dict[str, Any]]:
    """Products P1, P2... published ``seconds`` after EPOCH (keys in publication order), each
    evicted from the interface 30 days after publication unless ``evicted_after_days`` says."""
    days = evicted_after_days or [30] * len(seconds)
    return [
        {**load_records()[0], "Id": f"P{n}", "Name": f"S1A_PRODUCT_{n}"}
        | {
            "PublicationDate": _iso(EPOCH + timedelta(seconds=s)),
            "EvictionDate": _iso(EPOCH + timedelta(days=d)),
        }
        for n, (s, d) in enumerate(zip(seconds, days, strict=True), start=1)
    ]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def names(count: int) -> list[str]:
    return [f"P{n}" for n in range(1, count + 1)]


def polls(
    source: Source, state: SourceState, ids: Callable[[list[Payload]], list[str]], most: int = 10
) -> tuple[list[list[str]], SourceState]:
    """Poll until a poll brings nothing (at most ``most`` polls): the ids each poll collected."""
    collected: list[list[str]] = []
    for _ in range(most):
        payloads, state = harness.drain(source, state)
        if not payloads:
            return collected, state
        collected.append(ids(payloads))
    raise AssertionError(f"still collecting after {most} polls: {collected}")


def until_failure(source: Source, state: SourceState) -> tuple[list[Payload], SourceState, Exception]:
    """One poll that fails part-way, as the orchestrator runs it: what came before is journaled."""
    payloads: list[Payload] = []
    try:
        for payload in source.poll(state):
            assert isinstance(payload, Payload)
            payloads.append(payload)
            state = state.advance(payload.checkpoint)
    except SourceUnavailable as exc:
        return payloads, state, exc
    raise AssertionError("the poll did not fail")


def everything(collected: list[list[str]]) -> list[str]:
    return sorted({i for ids in collected for i in ids})


def start_at(**overrides: object) -> dict[str, object]:
    return {"start": "2023-12-31T00:00:00Z", **overrides}


def test_v4_ties_at_a_page_boundary_survive_the_max_pages_stop() -> None:
    """The safety stop ends a poll after P1, P2 while P3, P4 share P2's PublicationDate: the next
    polls start inside that instant instead of after it, and each one moves on."""
    service = ODataService(products(TIE))
    with (
        AppServer(service),
        create_source(odata_config(service, **start_at(page_size=2, max_pages=1))) as source,
    ):
        collected, _ = polls(source, SourceState(), v4_ids)
    assert everything(collected) == names(6)


def test_v4_ties_at_a_page_boundary_survive_a_failed_request() -> None:
    """The request after the first page answers 503: the poll fails having journaled P1, P2, and
    the next poll collects P3, P4 (same instant as P2) as well as P5, P6."""
    service = ODataService(products(TIE))
    service.fail(2)
    with AppServer(service), create_source(odata_config(service, **start_at(page_size=2))) as source:
        first, state, error = until_failure(source, SourceState())
        collected, _ = polls(source, state, v4_ids)
    assert v4_ids(first) == ["P1", "P2"] and "HTTP 503" in str(error)
    assert everything([v4_ids(first), *collected]) == names(6)


@pytest.mark.parametrize("overlap_s", [0, 60])
def test_v4_server_capping_pages_without_next_links(overlap_s: int) -> None:
    """A server that answers 2 records to $top=100 and gives no next link: a short page is not
    the end of the result, one poll collects everything, and later polls keep collecting (with
    an overlap, a page of records already collected does not end the poll either)."""
    service = ODataService(products(TIE), page_limit=2, next_links=False)
    with AppServer(service), create_source(odata_config(service, **start_at(overlap_s=overlap_s))) as source:
        first, state = harness.drain(source, SourceState())
        service.records += products([*TIE, 40])[-1:]
        later, state = polls(source, state, v4_ids)
    assert sorted(set(v4_ids(first))) == names(6)
    assert len(later) == 1 and "P7" in later[0]


def test_v4_more_records_at_one_instant_than_a_page_holds() -> None:
    """Five products at one instant and pages of two: paging inside the instant goes on by
    offset ($orderby ends with the key, so that order is stable), and ends."""
    service = ODataService(products([0, 10, 10, 10, 10, 10, 20]), page_limit=2, next_links=False)
    with AppServer(service), create_source(odata_config(service, **start_at())) as source:
        first, state = harness.drain(source, SourceState())
        again, _ = harness.drain(source, state)
    assert sorted(set(v4_ids(first))) == names(7) and again == []
    assert "$orderby=PublicationDate asc,Id asc" in queries(service)[0]
    assert any("$skip=" in q for q in queries(service)) and len(queries(service)) < 15


def test_v4_eviction_during_a_poll_does_not_shift_the_next_page() -> None:
    """P1 leaves the PRIP (its EvictionDate passes) right after the first page is served: the
    next page is not an offset into a result that moved, so P3 is not jumped over."""
    hourly = [3600 * n for n in range(6)]
    service = ODataService(products(hourly, [1, 2, 3, 4, 5, 6]), page_limit=2, next_links=False)
    service.after(1, lambda: service.evict_until(EPOCH + timedelta(days=1)))
    with (
        AppServer(service),
        create_source(odata_config(service, **start_at(page_size=2, overlap_s=60))) as source,
    ):
        first, state = harness.drain(source, SourceState())
        again, _ = harness.drain(source, state)
    assert sorted(set(v4_ids(first))) == names(6) and again == []


def test_v4_eviction_inside_an_instant_longer_than_a_page() -> None:
    """P1 and P2 are evicted while the poll pages by offset through P2-P5 (one instant): the
    offset is checked against the records already read, and moved back when they went."""
    service = ODataService(
        products([0, 10, 10, 10, 10, 20], [1, 1, 2, 2, 2, 2]), page_limit=2, next_links=False
    )
    service.after(2, lambda: service.evict_until(EPOCH + timedelta(days=1)))
    with AppServer(service), create_source(odata_config(service, **start_at())) as source:
        first, state = harness.drain(source, SourceState())
        again, _ = harness.drain(source, state)
    assert sorted(set(v4_ids(first))) == names(6) and again == []


def test_v4_max_pages_spent_on_records_already_collected_is_an_error() -> None:
    """A poll that can only re-read records already collected before its safety stop would say
    'ok' forever while collecting nothing: it fails instead, naming what to change."""
    service = ODataService(products(TIE))
    with AppServer(service):
        with create_source(odata_config(service, **start_at(overlap_s=3600))) as source:
            _, state = harness.drain(source, SourceState())
        stuck = odata_config(service, **start_at(overlap_s=3600, page_size=2, max_pages=2))
        with create_source(stuck) as source, pytest.raises(SourceRefused) as err:
            harness.drain(source, state)
    assert str(err.value).endswith(
        "max_pages=2 pages brought nothing new: 2 held only records already collected (up to "
        "2024-01-01T00:00:10+00:00); every poll would stop there: raise max_pages or lower overlap_s"
    )


def test_v4_max_pages_spent_on_empty_windows_is_an_error_saying_so() -> None:
    """A backfill starting a day before the first product, by windows of an hour: each window
    costs a request even when it holds nothing, and max_pages runs out first. Nothing is
    journaled, so every poll would begin at the same start: it fails, naming the windows."""
    service = ODataService(products(TIE))
    hourly = {"size_s": 3600, "until": "2024-01-01T01:00:00Z"}
    with AppServer(service):
        backfill = odata_config(service, **start_at(window=hourly, max_pages=5))
        with create_source(backfill) as source, pytest.raises(SourceRefused) as err:
            harness.drain(source, SourceState())
    assert str(err.value).endswith(
        "max_pages=5 pages brought nothing new: 5 held no record (windows of 3600 s; stopped in "
        "the range from 2023-12-31T05:00:00+00:00); every poll would stop there: raise max_pages "
        "or widen window.size_s (every window costs a request, even an empty one)"
    )


def test_v2_server_capping_pages_and_ties() -> None:
    service = ODataService(products(TIE), page_limit=2, next_links=False)
    with (
        AppServer(service),
        create_source(odata_config(service, version=2, **start_at(overlap_s=60))) as source,
    ):
        collected, _ = polls(source, SourceState(), v2_ids)
    assert len(collected) == 1 and everything(collected) == names(6)


def test_v2_ties_at_a_page_boundary_survive_the_max_pages_stop() -> None:
    service = ODataService(products(TIE))
    with (
        AppServer(service),
        create_source(odata_config(service, version=2, **start_at(page_size=2, max_pages=1))) as source,
    ):
        collected, _ = polls(source, SourceState(), v2_ids)
    assert everything(collected) == names(6)


def test_v2_eviction_during_a_poll_does_not_shift_the_next_page() -> None:
    hourly = [3600 * n for n in range(6)]
    service = ODataService(products(hourly, [1, 2, 3, 4, 5, 6]), next_links=False)
    service.after(1, lambda: service.evict_until(EPOCH + timedelta(days=1)))
    with (
        AppServer(service),
        create_source(odata_config(service, version=2, **start_at(page_size=2, overlap_s=60))) as source,
    ):
        first, state = harness.drain(source, SourceState())
        again, _ = harness.drain(source, state)
    assert sorted(set(v2_ids(first))) == names(6) and again == []


def test_a_journal_entry_written_before_the_inclusive_watermark_resumes_the_tie() -> None:
    """The journal's format did not change: an entry the previous version wrote after stopping
    between P2 and P3 (same instant) is read as it is, P3 and P4 are collected, P1 is not."""
    before = {
        "seen": {},
        "watermark": "2024-01-01T00:00:10+00:00",
        "recent": {"P2": "2024-01-01T00:00:10+00:00"},
        "cursor": None,
        "digest": None,
    }
    service = ODataService(products(TIE))
    with AppServer(service), create_source(odata_config(service, **start_at())) as source:
        collected, _ = polls(source, SourceState.from_json(before), v4_ids)
    assert collected == [["P2", "P3", "P4", "P5", "P6"]]  # P2: the anchor, known, on the same page


def test_paging_inside_an_instant_without_the_key_in_order_by_warns(caplog: pytest.LogCaptureFixture) -> None:
    service = ODataService(products([0, 10, 10, 10, 10, 10, 20]), page_limit=2, next_links=False)
    with AppServer(service):
        with create_source(odata_config(service, **start_at(order_by="PublicationDate asc"))) as source:
            unkeyed, _ = harness.drain(source, SourceState())
        warned = [r.getMessage() for r in caplog.records if "paged by offset" in r.getMessage()]
        caplog.clear()
        with create_source(odata_config(service, **start_at())) as source:
            harness.drain(source, SourceState())
    assert sorted(set(v4_ids(unkeyed))) == names(7)  # this server keeps ties in one order anyway
    assert len(warned) == 1 and "does not end with Id" in warned[0]
    assert not [r for r in caplog.records if "paged by offset" in r.getMessage()]


def test_an_instant_read_whole_on_one_page_is_not_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    """P2, P3 share the last instant of a short page: the next request asks from it with an offset
    that passes P2, and finds P3 alone. Nothing was paged by offset there: no warning, poll after poll."""
    service = ODataService(products([0, 10, 10]), next_links=False)
    unkeyed = start_at(order_by="PublicationDate asc")
    with AppServer(service), create_source(odata_config(service, **unkeyed)) as source:
        payloads, state = harness.drain(source, SourceState())
        service.records += products([0, 10, 10, 20, 20])[-2:]
        later, _ = harness.drain(source, state)
    assert v4_ids(payloads) == names(3) and v4_ids(later) == ["P3", "P4", "P5"]
    assert sum("$skip=1" in q for q in queries(service)) == 3  # after P3, P3 again, P5
    assert not [r for r in caplog.records if "paged by offset" in r.getMessage()]


# --- interfaces that sort on one property only ---------------------------------------------------


def orderings(service: ODataService) -> list[str]:
    return [q.split("$orderby=")[1].split("&")[0] for q in queries(service)]


@pytest.mark.parametrize(("version", "ids"), [(4, v4_ids), (2, v2_ids)])
def test_a_refused_key_order_is_dropped_once_with_a_warning(
    version: int, ids: Callable[[list[Payload]], list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    """The default $orderby adds the key; an interface sorting on one property answers HTTP 400.
    The same query ordered by PublicationDate alone is answered, which shows the key was what it
    refused: the collector goes on without it, says so once and how to make it permanent."""
    service = ODataService(products(TIE), page_limit=2, next_links=False, orderby_keys=1)
    with AppServer(service), create_source(odata_config(service, version, **start_at())) as source:
        first, state = harness.drain(source, SourceState())
        service.records += products([*TIE, 40])[-1:]
        later, _ = harness.drain(source, state)
    assert sorted(set(ids(first))) == names(6) and ids(later) == ["P6", "P7"]
    assert orderings(service)[:2] == ["PublicationDate asc,Id asc", "PublicationDate asc"]
    assert set(orderings(service)[1:]) == {"PublicationDate asc"}  # no second try, no loop
    warned = [r.getMessage() for r in caplog.records if "HTTP 400" in r.getMessage()]
    assert len(warned) == 1 and "set order_by: 'PublicationDate asc'" in warned[0]
    assert [r for r in caplog.records if "paged by offset" in r.getMessage()]  # P2-P4: no key now


def test_a_key_order_the_operator_set_is_never_dropped() -> None:
    service = ODataService(products(TIE), orderby_keys=1)
    with AppServer(service):
        cfg = odata_config(service, **start_at(order_by="PublicationDate asc,Id asc"))
        with create_source(cfg) as source, pytest.raises(SourceRefused, match="HTTP 400"):
            harness.drain(source, SourceState())
    assert orderings(service) == ["PublicationDate asc,Id asc"]


def test_a_400_the_watermark_order_gets_too_is_not_blamed_on_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The filter is what the interface refuses: asked again without the key, it refuses again;
    the first answer is the error, and the next poll asks with the key again."""
    service = ODataService(products(TIE), orderby_keys=1)
    with AppServer(service):
        cfg = odata_config(service, **start_at(filter="Name eq 'a' or Name eq 'b'"))
        with create_source(cfg) as source:
            for _ in range(2):
                with pytest.raises(SourceRefused, match="'or' is not supported") as err:
                    harness.drain(source, SourceState())
    assert "$orderby=PublicationDate%20asc,Id%20asc" in str(err.value)
    assert orderings(service) == ["PublicationDate asc,Id asc", "PublicationDate asc"] * 2
    assert not [r for r in caplog.records if "HTTP 400" in r.getMessage()]


def test_a_400_after_the_first_page_is_an_error_whatever_the_order() -> None:
    """The key order was answered once in this poll: a later 400 is about something else, and
    changing the order in the middle of a poll would move the offsets inside an instant."""
    service = ODataService(products(TIE), next_links=False)
    service.fail(2, 400)
    with AppServer(service):
        cfg = odata_config(service, **start_at(page_size=2))
        with create_source(cfg) as source, pytest.raises(SourceRefused, match="HTTP 400"):
            harness.drain(source, SourceState())
    assert orderings(service) == ["PublicationDate asc,Id asc"] * 2
