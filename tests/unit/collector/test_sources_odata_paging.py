"""The OData paging rules with no server: where the next request starts, the anchor check, the
end of a poll (maas/collector/sources/odata.py, rules 2-4). The servers' side is in
tests/integration/collector/test_sources_odata.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from maas.collector.sources import SourceState
from maas.collector.sources.config import ODataConfig
from maas.collector.sources.odata import Ask, Cursor, Mark, Page, Walk, WatermarkQueries
from maas.errors import SourceRefused

pytestmark = pytest.mark.unit
T0 = datetime(2024, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(seconds=10)


def page(*marks: Mark, link: str | None = None) -> Page:
    response: Any = requests.Response()
    response.url = "https://h/odata/v1/Products"
    return Page(list(marks), response, link)


def test_the_next_request_starts_at_the_highest_watermark_read_keeping_one_anchor() -> None:
    cursor = Cursor()
    assert cursor.ask(T0) == Ask(after=T0)  # nothing read yet: the range's start
    assert cursor.read([("P1", T0), ("P2", T1)]) is True
    assert cursor.ask(T0) == Ask(after=T1, skip=0)  # P2 comes again, first: the anchor
    assert cursor.read([("P2", T1), ("P3", T1)]) is True
    assert cursor.ask(T0) == Ask(after=T1, skip=1)  # inside T1: skip P2, P3 is the anchor


def test_an_offset_page_must_start_with_a_record_already_read() -> None:
    cursor = Cursor(T1, {"P2", "P3"})
    assert cursor.anchored(Ask(after=T1, skip=1), [("P3", T1), ("P4", T1)])
    assert not cursor.anchored(Ask(after=T1, skip=1), [("P4", T1)])  # P2 went: P3 was at offset 0
    assert not cursor.anchored(Ask(after=T1, skip=1), [])
    assert cursor.anchored(Ask(after=T1), [("P9", T1)])  # no offset, nothing can have been passed


def test_an_instant_goes_on_past_a_page_only_with_a_record_there_not_read() -> None:
    """What decides the warning about offsets inside an instant: finding the anchor alone there
    is no paging through it."""
    cursor = Cursor(T1, {"P2", "P3"})
    assert not cursor.more_at([("P3", T1), ("P4", T1 + timedelta(seconds=1))])
    assert cursor.more_at([("P3", T1), ("P4", T1)])
    assert not Cursor().more_at([("X", None)])


def test_records_that_left_move_the_offset_back_and_never_below_zero() -> None:
    walk = Walk(Cursor(T1, {"P2", "P3"}), max_pages=10)
    asked = Ask(after=T1, skip=1)
    assert walk.next(asked, page(("P4", T1), ("P5", T1)), T0) == Ask(after=T1, skip=0)
    assert walk.cursor.keys == {"P2", "P3"}  # the unanchored page taught nothing
    walk.cursor.gone = 5
    assert walk.cursor.ask(T0).skip == 0


def test_a_poll_ends_on_a_page_that_brings_nothing_new_not_on_a_short_one() -> None:
    walk = Walk(Cursor(), max_pages=10)
    short = page(("P1", T0), ("P2", T1))  # 2 records where 100 were asked, no next link
    assert walk.next(Ask(after=T0), short, T0) == Ask(after=T1, skip=0)
    assert walk.next(Ask(after=T1), page(("P2", T1)), T0) is None  # the anchor alone: the end
    assert walk.next(Ask(after=T1), page(("P2", T1), link="?$skiptoken=2"), T0) == Ask(
        link="?$skiptoken=2", referrer="https://h/odata/v1/Products"
    )


def test_records_without_a_watermark_never_count_as_progress() -> None:
    """Else a page of them, asked again and again from the same place, would never end."""
    cursor = Cursor(T1, {"P2"})
    assert cursor.read([("P2", T1), ("X", None)]) is False
    assert cursor.read([("P1", T0)]) is False  # older than the place already reached


def test_resuming_without_overlap_knows_the_records_collected_at_the_watermark() -> None:
    state = SourceState(watermark=T1, recent={"P1": T0, "P2": T1, "P3": T1})
    cursor = Cursor.resuming(state)
    assert (cursor.at, cursor.keys) == (T1, {"P2", "P3"})
    assert cursor.ask(T1) == Ask(after=T1, skip=1)
    assert Cursor.resuming(SourceState()) == Cursor()


def test_max_pages_is_counted_per_poll() -> None:
    walk = Walk(Cursor(), max_pages=2)
    assert walk.take_page() and walk.take_page() and not walk.take_page()
    assert walk.stopped and walk.pages == 2


def test_a_watermark_source_without_fetch_fails_when_built_not_when_polled() -> None:
    """``fetch`` is the one request an implementation must supply: forgetting it is found at
    once, not in the middle of a poll."""

    class NoFetch(WatermarkQueries):
        pass

    config = ODataConfig(type="odata", service_url="https://h/odata/v1", entity_set="Products")
    with pytest.raises(TypeError, match="fetch"):
        NoFetch(config)  # type: ignore[abstract]


class NoRequest(WatermarkQueries):
    def fetch(self, ask: Ask, high: datetime | None) -> Page:
        raise AssertionError("this test sends no request")


def test_max_pages_spent_on_empty_windows_and_on_records_collected_names_both() -> None:
    """Each cause of a poll that journaled nothing gets its own remedy."""
    config = ODataConfig.model_validate(
        {
            "type": "odata",
            "service_url": "https://h/odata/v1",
            "entity_set": "Products",
            "start": T0,
            "window": {"size_s": 600},
            "overlap_s": 60,
            "max_pages": 3,
        }
    )
    walk = Walk(Cursor(T1, {"P2"}), max_pages=3, pages=3, empty=2)
    with pytest.raises(SourceRefused) as err:
        NoRequest(config)._stopped(walk, T0)
    assert str(err.value) == (
        "https://h/odata/v1/Products: max_pages=3 pages brought nothing new: 2 held no record "
        "(windows of 600 s; stopped in the range from 2024-01-01T00:00:00+00:00), 1 held only records "
        "already collected (up to 2024-01-01T00:00:10+00:00); every poll would stop there: raise "
        "max_pages or widen window.size_s (every window costs a request, even an empty one) or lower "
        "overlap_s"
    )
