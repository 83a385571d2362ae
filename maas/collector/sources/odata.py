"""OData v4 (JSON) collections read by watermark, page by page; the v2 client shares the rules.

One poll is one or more queries: ``$filter=<watermark> gt <state.watermark - overlap>`` (plus
``le <window end>`` when backfilling by windows, plus the configured extra filter, ANDed),
``$orderby=<watermark> asc``, ``$top=<page_size>``. Pages follow ``@odata.nextLink``
verbatim (same origin only); a server that gives no next link but returns a full page is paged
with ``$skip``. Every non-empty page is a payload, archived as fetched. Its checkpoint is the
max watermark of its records plus the keys of the records inside the overlap window, so that
a page holding only records already collected is skipped on the next poll instead of being
collected again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from maas.collector.sources.base import Capabilities, Checkpoint, Closing, Payload, SourceState, utc_now
from maas.collector.sources.config import ODataConfig
from maas.collector.sources.web import Web, json_body
from maas.config.settings import TLSSettings
from maas.errors import SourceUnavailable

log = logging.getLogger(__name__)
Mark = tuple[str | None, datetime | None]  # (record key, record watermark) as read from a page


class WatermarkQueries(Closing):
    """What v4 and v2 share: the time ranges to query, the filter, checkpoints and skipping."""

    capabilities = Capabilities(listing="pages")

    def __init__(self, config: ODataConfig) -> None:
        self.config = config

    def after_success(self, payload: Payload) -> None:
        """Nothing to move or delete on an API."""

    def ranges(self, state: SourceState) -> Iterator[tuple[datetime | None, datetime | None]]:
        """``(after, up_to)`` bounds: windows up to ``window.until`` (or now) when backfilling,
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
        field = self.config.watermark_field
        parts = [f"({self.config.filter})"] if self.config.filter else []
        if low is not None:
            parts.append(f"{field} gt {self.literal(low)}")
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
        recent = {key: wm for key, wm in marks if key is not None and wm is not None and wm >= keep_after}
        return Checkpoint(watermark=top, recent=recent, keep_after=keep_after)

    def page_payload(
        self, response: requests.Response, marks: Sequence[Mark], number: int, state: SourceState
    ) -> Iterator[Payload]:
        """The page as fetched, unless it is empty or holds only records already collected."""
        if not marks or already_seen(marks, state):
            return
        fetched_at = utc_now()
        yield Payload(
            name=f"{self.config.entity_set}-{fetched_at:%Y%m%dT%H%M%S.%fZ}-p{number:04d}.json",
            data=response.content,
            source_url=response.url,
            checkpoint=self.checkpoint(marks),
            fetched_at=fetched_at,
        )


def already_seen(marks: Sequence[Mark], state: SourceState) -> bool:
    """Every record of the page was collected before with this very watermark."""
    return bool(marks) and all(key is not None and state.recent.get(key) == wm for key, wm in marks)


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
        self.collection_url = f"{config.service_url.rstrip('/')}/{config.entity_set}"

    def close(self) -> None:
        self.web.close()

    def poll(self, state: SourceState) -> Iterator[Payload]:
        numbers = iter(range(1, self.config.max_pages + 1))
        for low, high in self.ranges(state):
            yield from self._query(self.filter(low, high), state, numbers)

    def _query(self, filter_: str | None, state: SourceState, numbers: Iterator[int]) -> Iterator[Payload]:
        request: _Request | None = (self.collection_url, self._params(filter_, 0))
        counts = PageCounts()
        for number in numbers:
            if request is None:
                return
            response = self.web.request("GET", *request)
            body = _collection(response)
            marks = [self._mark(record) for record in body["value"]]
            yield from self.page_payload(response, marks, number, state)
            request = self._next(response, body, filter_, counts)
        log.warning("%s: stopped after max_pages=%d pages", self.collection_url, self.config.max_pages)

    def _next(
        self, response: requests.Response, body: Mapping[str, Any], filter_: str | None, counts: PageCounts
    ) -> _Request | None:
        """Server paging first: the next link is followed as given. ``$top`` bounds the whole
        result of one request, so when a chain of pages ends having delivered a full ``$top``
        (or a server without next links returned a full page), the rest is asked with $skip."""
        counts.add(len(body["value"]))
        link = body.get("@odata.nextLink")
        if isinstance(link, str):
            return self.web.follow(response.url, link), None
        if counts.chain < self.config.page_size:
            return None
        counts.chain = 0
        return self.collection_url, self._params(filter_, counts.total)

    def _params(self, filter_: str | None, skip: int) -> dict[str, str]:
        cfg = self.config
        params = {"$orderby": cfg.ordering, "$top": str(cfg.page_size)}
        optional = {"$filter": filter_, "$select": _csv(cfg.select), "$expand": _csv(cfg.expand)}
        params.update({k: v for k, v in optional.items() if v})
        if skip:
            params["$skip"] = str(skip)
        return params

    def _mark(self, record: Any) -> Mark:
        if not isinstance(record, Mapping):
            return None, None
        key = record.get(self.config.key_field)
        stamp = parse_time(field_value(record, self.config.watermark_field))
        return (None if key is None else str(key)), stamp


_Request = tuple[str, dict[str, str] | None]  # URL, and query parameters unless the URL has them


@dataclass
class PageCounts:
    """Records received by one query, and since its last explicit ($top/$skip) request."""

    total: int = 0
    chain: int = 0

    def add(self, count: int) -> None:
        self.total += count
        self.chain += count


def _collection(response: requests.Response) -> Mapping[str, Any]:
    body = json_body(response)
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        raise SourceUnavailable(f"{response.url}: not an OData v4 collection (no 'value' array)")
    return body


def _csv(values: list[str] | None) -> str | None:
    return ",".join(values) if values else None
