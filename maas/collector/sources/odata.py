"""OData v4 (JSON) collections read by watermark, page by page; the v2 client shares the rules.

A query is ``$filter=<watermark> ge <from>`` (plus ``le <window end>`` when backfilling by
windows, plus the configured extra filter, ANDed), ``$orderby=<watermark> asc,<key> asc``,
``$top=<page_size>``. ``ge T`` is sent as ``gt <T - 1 µs>``, the literal's resolution: the
same records, with the one comparison every interface this source met already served.

How a poll pages, and why. Paging by offset (``$skip``) into one result lost records when a
product was evicted meanwhile (every later offset shifts by one), and a checkpoint at a page's
highest watermark lost the records sharing that instant on the next page. So:

1. A server's next link is followed as given (same origin only): the server keeps its place.
2. Otherwise, and when a chain of next links ends (``$top`` bounds it), the next request asks
   again from the highest watermark T read so far, inclusive. The records at T already read
   come back and are recognised by key; an eviction cannot shift what comes next.
3. Inside T the request skips the records read there but one, the anchor, which must come
   first on the page; if it does not, records at T went away meanwhile and the offset moves
   back by one. So an instant holding more records than a page is paged through (the key in
   ``$orderby`` keeps that order stable), and an offset is only ever used inside one instant,
   checked.
4. A poll ends on a page that brings nothing not already read in this poll (an empty page, or
   the anchor alone). A short page, a page without next link or one holding only records
   collected by an earlier poll does not end it: some servers cap pages without saying so.
5. Every page is a payload, archived as fetched, unless all its records were collected already
   (earlier in this poll, or within the overlap window: ``state.recent``). Its checkpoint is its
   highest watermark plus the keys of its records within the overlap window.
6. The journal's watermark W is inclusive: the next poll asks from ``W - overlap_s`` and skips
   the records at W it collected (``state.recent``, whose format is unchanged: entries written
   before these rules read the same way). A poll stopped anywhere (``max_pages``, a failed
   request, a crash) resumes without a gap; without overlap it resumes inside W (rule 3).
7. ``max_pages`` spent without a record to journal is an error, not a quiet "ok": the next poll
   would be the same one, forever. Its message says what the pages held: records collected
   before (the overlap), or nothing (every window of a backfill costs a request, even empty).
8. An interface that sorts on one property answers the default ``$orderby`` with HTTP 400. The
   first query of a poll so refused is sent once more ordered by the watermark alone, the one
   change: answered, it shows the key was what was refused, and the source goes on without it
   (ties then come in the server's order, as with ``order_by: <watermark> asc``), warning once;
   refused too, the first answer is the error. Never for an ``order_by`` set by the operator,
   nor after a first page: one poll never mixes two orders (rule 3's offsets rely on one).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from maas.collector.sources.base import Capabilities, Checkpoint, Closing, Payload, SourceState, utc_now
from maas.collector.sources.config import ODataConfig
from maas.collector.sources.web import Web, json_body
from maas.config.settings import TLSSettings
from maas.errors import SourceQueryRefused, SourceRefused, SourceUnavailable

log = logging.getLogger(__name__)
Mark = tuple[str, datetime | None]  # (record key, record watermark) as read from a page
STEP = timedelta(microseconds=1)  # a literal's resolution: "gt T - STEP" selects what "ge T" does


@dataclass(frozen=True)
class Ask:
    """The next request of a chain: a server's next link (given on the page at ``referrer``),
    or a query from ``after`` on (inclusive) skipping ``skip`` records."""

    after: datetime | None = None
    skip: int = 0
    link: str | None = None
    referrer: str = ""


@dataclass(frozen=True)
class Page:
    """One answer: its records' marks, the raw response (the payload) and the server's next link."""

    marks: list[Mark]
    response: requests.Response
    link: str | None = None


@dataclass
class Cursor:
    """Where a poll stands: the highest watermark read (``at``), the keys read there, and how
    many of those have left the server since (``gone``)."""

    at: datetime | None = None
    keys: set[str] = field(default_factory=set)
    gone: int = 0

    @classmethod
    def resuming(cls, state: SourceState) -> Cursor:
        """At the journal's watermark, whose records collected there count as read."""
        at = state.watermark
        return cls(at, {key for key, stamp in state.recent.items() if stamp == at}) if at else cls()

    def knows(self, mark: Mark) -> bool:
        """Read before in this poll (only records at ``at`` can come back)."""
        return mark[1] is not None and mark[1] == self.at and mark[0] in self.keys

    def ask(self, low: datetime | None) -> Ask:
        """From ``at``, skipping the keys read there but the anchor; from ``low`` (a range's
        start) while nothing was read at or after it."""
        if self.at is None or (low is not None and self.at < low):
            return Ask(after=low)
        return Ask(after=self.at, skip=max(0, len(self.keys) - 1 - self.gone))

    def anchored(self, ask: Ask, marks: Sequence[Mark]) -> bool:
        """A page asked with an offset starts with a record already read, else the offset
        passed records never read (some before them went away)."""
        return ask.skip == 0 or (bool(marks) and self.knows(marks[0]))

    def more_at(self, marks: Sequence[Mark]) -> bool:
        """Records at ``at`` not read before: on a page asked by offset, the instant went on
        past the page that reached it, so the offset paged through its records."""
        return self.at is not None and any(
            stamp == self.at and not self.knows((key, stamp)) for key, stamp in marks
        )

    def read(self, marks: Sequence[Mark]) -> bool:
        """Take a page in; True when it brought a record not read before in this poll."""
        progress = False
        for key, stamp in marks:
            if stamp is None or self.knows((key, stamp)) or (self.at is not None and stamp < self.at):
                continue  # no watermark: it cannot place the poll (it is collected all the same)
            if self.at is None or stamp > self.at:
                self.at, self.keys, self.gone = stamp, set(), 0
            self.keys.add(key)
            progress = True
        return progress


@dataclass
class Walk:
    """One poll's progress: the cursor, the pages fetched against ``max_pages`` (``empty``: those
    holding no record), the payloads."""

    cursor: Cursor
    max_pages: int
    pages: int = 0
    empty: int = 0
    payloads: int = 0
    stopped: bool = False
    warned: bool = False

    def take_page(self) -> bool:
        """One more page allowed; False (and ``stopped``) once ``max_pages`` are spent."""
        self.stopped = self.pages >= self.max_pages
        if not self.stopped:
            self.pages += 1
        return not self.stopped

    def next(self, ask: Ask, page: Page, low: datetime | None) -> Ask | None:
        """What to ask after ``page`` (rules 1-4 of the module), None at the end of the range."""
        if not page.marks:
            self.empty += 1
        if not self.cursor.anchored(ask, page.marks):
            self.cursor.gone += 1
            log.info("records at %s left during the poll: offset moved back", self.cursor.at)
            return self.cursor.ask(low)
        progress = self.cursor.read(page.marks)
        if page.link is not None:
            return Ask(link=page.link, referrer=page.response.url)
        return self.cursor.ask(low) if progress else None


class WatermarkQueries(Closing, ABC):
    """What v4 and v2 share: the time ranges, the filter, the paging walk, checkpoints, skipping.
    An implementation supplies ``fetch`` (one request) and ``literal`` (a watermark value)."""

    capabilities = Capabilities(listing="pages")

    def __init__(self, config: ODataConfig) -> None:
        self.config = config
        self.collection_url = f"{config.service_url.rstrip('/')}/{config.entity_set}"
        self.ordering = config.ordering  # the $orderby sent: the watermark alone after rule 8

    def after_success(self, payload: Payload) -> None:
        """Nothing to move or delete on an API."""

    @abstractmethod
    def fetch(self, ask: Ask, high: datetime | None) -> Page:
        """One request: the page ``ask`` designates, bounded by ``high`` (a window's end)."""

    def poll(self, state: SourceState) -> Iterator[Payload]:
        """Every range in turn; without overlap the walk resumes inside the journal's watermark."""
        cursor = Cursor.resuming(state) if self.config.overlap_s == 0 else Cursor()
        walk = Walk(cursor, self.config.max_pages)
        for low, high in self.ranges(state):
            yield from self._range(state, walk, low, high)
            if walk.stopped:
                self._stopped(walk, low)
                return

    def _range(
        self, state: SourceState, walk: Walk, low: datetime | None, high: datetime | None
    ) -> Iterator[Payload]:
        ask: Ask | None = walk.cursor.ask(low)
        while ask is not None and walk.take_page():
            page = self._fetch(ask, high, walk)
            if walk.cursor.anchored(ask, page.marks):
                self._offset_warning(ask, page, walk)
                for payload in self.page_payload(page, walk, state):
                    walk.payloads += 1
                    yield payload
            ask = walk.next(ask, page, low)

    def _fetch(self, ask: Ask, high: datetime | None, walk: Walk) -> Page:
        """``fetch``, the first query of a poll asked again without the key if refused (rule 8)."""
        try:
            return self.fetch(ask, high)
        except SourceQueryRefused as refused:
            if walk.pages > 1 or not self._own_key_order:
                raise
            return self._by_watermark_alone(ask, high, refused)

    @property
    def _own_key_order(self) -> bool:
        """The default order, which the source chose (not the operator) and still sends."""
        return self.config.order_by is None and self.ordering == self.config.ordering

    def _by_watermark_alone(self, ask: Ask, high: datetime | None, refused: SourceQueryRefused) -> Page:
        """The refused query, its ``$orderby`` without the key: answered, later queries go
        without it; refused as well, the key was not the cause and ``refused`` stands."""
        self.ordering = f"{self.config.watermark_field} asc"
        try:
            page = self.fetch(ask, high)
        except Exception as again:
            self.ordering = self.config.ordering
            if isinstance(again, SourceQueryRefused):
                raise refused from None
            raise
        log.warning(
            "%s: HTTP 400 to $orderby=%s, answered to $orderby=%s: going on without the key (records "
            "sharing a %s come in the server's order); set order_by: '%s' on this source to make it "
            "permanent and skip the refused query",
            self.collection_url,
            self.config.ordering,
            self.ordering,
            self.config.watermark_field,
            self.ordering,
        )
        return page

    def _offset_warning(self, ask: Ask, page: Page, walk: Walk) -> None:
        """Paging inside one instant by offset needs a stable order among its records, which
        only the key in ``$orderby`` guarantees (the anchor check catches records that left,
        not a server reshuffling them). Said once a poll, and only when an offset page brought
        more of the instant: an offset that finds the anchor alone paged through nothing, and
        a warning on every poll ending on a tie would be noise."""
        keyed = self.config.orders_by_key and self.ordering == self.config.ordering
        if ask.skip and not walk.warned and not keyed and walk.cursor.more_at(page.marks):
            walk.warned = True
            log.warning(
                "%s: the records at %s went on past a page, paged by offset while order_by (%s) "
                "does not end with %s: records there may be missed if the server reorders them; add it",
                self.collection_url,
                walk.cursor.at,
                self.ordering,
                self.config.key_field,
            )

    def _stopped(self, walk: Walk, low: datetime | None) -> None:
        """``max_pages`` reached: the next poll goes on from the journal, unless nothing was
        journaled, in which case it would stop at the very same place (rule 7)."""
        if walk.payloads:
            log.warning("%s: stopped after max_pages=%d pages", self.collection_url, self.config.max_pages)
            return
        spent = [part for part in (self._empty_pages(walk, low), self._known_pages(walk)) if part]
        remedies = ["raise max_pages", *(remedy for _, remedy in spent if remedy)]
        raise SourceRefused(
            f"{self.collection_url}: max_pages={self.config.max_pages} pages brought nothing new: "
            f"{', '.join(text for text, _ in spent)}; every poll would stop there: {' or '.join(remedies)}"
        )

    def _empty_pages(self, walk: Walk, low: datetime | None) -> tuple[str, str | None] | None:
        """Pages holding no record: the windows of a backfill (each costs a request, even an
        empty one), or, without windows, a page asked again after records left."""
        window = self.config.window
        if not walk.empty:
            return None
        where = f"windows of {window.size_s:g} s; " if window else ""
        text = f"{walk.empty} held no record ({where}stopped in the range from {_iso(low)})"
        return (
            text,
            "widen window.size_s (every window costs a request, even an empty one)" if window else None,
        )

    def _known_pages(self, walk: Walk) -> tuple[str, str | None] | None:
        """Pages of records collected before: the overlap reads them again."""
        known = walk.pages - walk.empty
        if not known:
            return None
        text = f"{known} held only records already collected (up to {_iso(walk.cursor.at)})"
        return text, "lower overlap_s" if self.config.overlap_s else None

    def ranges(self, state: SourceState) -> Iterator[tuple[datetime | None, datetime | None]]:
        """``(from, up_to)`` bounds: windows up to ``window.until`` (or now) when backfilling,
        then always one open range, so nothing published after the last window is missed."""
        low = state.watermark or self.config.start
        if low is not None:
            low -= timedelta(seconds=self.config.overlap_s)
        window = self.config.window
        if window is not None and low is not None:
            size, end = timedelta(seconds=window.size_s), window.until or utc_now()
            while low < end:
                yield low, low + size
                low += size
        yield low, None

    def filter(self, low: datetime | None, high: datetime | None) -> str | None:
        """``low`` inclusive (sent as ``gt`` one step before), ``high`` inclusive."""
        field = self.config.watermark_field
        parts = [f"({self.config.filter})"] if self.config.filter else []
        if low is not None:
            parts.append(f"{field} gt {self.literal(low - STEP)}")
        if high is not None:
            parts.append(f"{field} le {self.literal(high)}")
        return " and ".join(parts) or None

    def literal(self, moment: datetime) -> str:
        """A v4 ``DateTimeOffset`` literal (unquoted, UTC)."""
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def checkpoint(self, marks: Sequence[Mark]) -> Checkpoint:
        stamps = [wm for _, wm in marks if wm is not None]
        if not stamps:
            return Checkpoint()
        top = max(stamps)
        keep_after = top - timedelta(seconds=self.config.overlap_s)
        recent = {key: wm for key, wm in marks if wm is not None and wm >= keep_after}
        return Checkpoint(watermark=top, recent=recent, keep_after=keep_after)

    def page_payload(self, page: Page, walk: Walk, state: SourceState) -> Iterator[Payload]:
        """The page as fetched, unless it is empty or holds only records already collected."""
        if all(walk.cursor.knows(mark) or collected(mark, state) for mark in page.marks):
            return
        fetched_at = utc_now()
        yield Payload(
            name=f"{self.config.entity_set}-{fetched_at:%Y%m%dT%H%M%S.%fZ}-p{walk.pages:04d}.json",
            data=page.response.content,
            source_url=page.response.url,
            checkpoint=self.checkpoint(page.marks),
            fetched_at=fetched_at,
        )

    def refuse_keyless(self) -> SourceRefused:
        """Records are told apart by key; without one, ties cannot be paged safely."""
        return SourceRefused(
            f"{self.collection_url}: a record without {self.config.key_field!r} (key_field: the entity key)"
        )


def collected(mark: Mark, state: SourceState) -> bool:
    """Collected by an earlier poll with this very watermark (inside the overlap window)."""
    return mark[1] is not None and state.recent.get(mark[0]) == mark[1]


def _iso(moment: datetime | None) -> str:
    """A moment in a message; None is where a collection without ``start`` begins."""
    return moment.isoformat() if moment else "the beginning"


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 watermark value; naive times are UTC; anything else is None."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def field_value(record: Mapping[str, Any], path: str) -> Any:
    """``ContentDate/Start``-style property paths (OData's own separator)."""
    value: Any = record
    for part in path.split("/"):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


class ODataV4Source(WatermarkQueries):
    def __init__(self, config: ODataConfig, tls: TLSSettings | None = None) -> None:
        super().__init__(config)
        self.web = Web(config, tls)

    def close(self) -> None:
        self.web.close()

    def fetch(self, ask: Ask, high: datetime | None) -> Page:
        if ask.link is not None:
            response = self.web.request("GET", self.web.follow(ask.referrer, ask.link))
        else:
            params = self._params(self.filter(ask.after, high), ask.skip)
            response = self.web.request("GET", self.collection_url, params)
        body = _collection(response)
        link = body.get("@odata.nextLink")
        marks = [self._mark(record) for record in body["value"]]
        return Page(marks, response, link if isinstance(link, str) else None)

    def _params(self, filter_: str | None, skip: int) -> dict[str, str]:
        cfg = self.config
        params = {"$orderby": self.ordering, "$top": str(cfg.page_size)}
        optional = {"$filter": filter_, "$select": _csv(cfg.select), "$expand": _csv(cfg.expand)}
        params.update({k: v for k, v in optional.items() if v})
        if skip:
            params["$skip"] = str(skip)
        return params

    def _mark(self, record: Any) -> Mark:
        key = record.get(self.config.key_field) if isinstance(record, Mapping) else None
        if key is None:
            raise self.refuse_keyless()
        return str(key), parse_time(field_value(record, self.config.watermark_field))


def _collection(response: requests.Response) -> Mapping[str, Any]:
    body = json_body(response)
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        raise SourceUnavailable(f"{response.url}: not an OData v4 collection (no 'value' array)")
    return body


def _csv(values: list[str] | None) -> str | None:
    return ",".join(values) if values else None
