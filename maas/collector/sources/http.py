"""JSON endpoints over HTTP(S), GET or POST, paged by cursor, by page number, or not at all.

Resuming: each payload's checkpoint says "start here next time" — the cursor (or page number)
of that very page and its sha256. The next poll fetches that page again and skips it when it
is byte-identical (nothing was appended), then carries on. Re-reading the last page is what
makes a growing last page (page-number APIs) or a cursor that ends with ``null`` safe: nothing
appended there is missed, and nothing unchanged is collected twice.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from maas.collector.extract.jsonpath import compile_path
from maas.collector.sources.base import (
    Capabilities,
    Checkpoint,
    Closing,
    Payload,
    Resume,
    SourceState,
    utc_now,
)
from maas.collector.sources.config import CursorPaging, HttpConfig, NoPaging, PageNumberPaging
from maas.collector.sources.web import Web, json_body
from maas.config.settings import TLSSettings

log = logging.getLogger(__name__)


class HttpSource(Closing):
    capabilities = Capabilities(listing="pages")

    def __init__(self, config: HttpConfig, tls: TLSSettings | None = None) -> None:
        self.config = config
        self.web = Web(config, tls)
        self.paging = _pager(config.paging)
        self.stem = config.name or (urlsplit(config.url).path.rstrip("/").rsplit("/", 1)[-1] or "page")

    def close(self) -> None:
        self.web.close()

    def after_success(self, payload: Payload) -> None:
        """Nothing to move or delete on an API."""

    def poll(self, state: SourceState) -> Iterator[Payload]:
        cursor = state.resume.cursor or self.paging.first()
        for number in range(1, self.config.max_pages + 1):
            response = self._fetch(cursor)
            body = json_body(response) if self.paging.parses else None
            if self.paging.empty(body):
                return
            digest = hashlib.sha256(response.content).hexdigest()
            if Resume(cursor, digest) != state.resume:
                yield self._payload(response, number, Resume(cursor, digest))
            following = self.paging.following(cursor, body)
            if following is None or following == cursor:
                return
            cursor = following
        log.warning("%s: stopped after max_pages=%d pages", self.config.url, self.config.max_pages)

    def _fetch(self, cursor: str | None) -> requests.Response:
        params = dict(self.config.params)
        if cursor is not None and self.paging.param:
            params[self.paging.param] = cursor
        body = self.config.json_body if self.config.method == "POST" else None
        return self.web.request(self.config.method, self.config.url, params, json=body)

    def _payload(self, response: requests.Response, number: int, resume: Resume) -> Payload:
        fetched_at = utc_now()
        return Payload(
            name=_page_name(self.stem, fetched_at, number),
            data=response.content,
            source_url=response.url,
            checkpoint=Checkpoint(resume=resume),
            fetched_at=fetched_at,
            sha256=resume.digest or "",
        )


def _page_name(stem: str, fetched_at: datetime, number: int) -> str:
    return f"{stem}-{fetched_at:%Y%m%dT%H%M%S.%fZ}-p{number:04d}.json"


class _Pager:
    """How one paging mode starts, recognises the end, and finds the next page."""

    parses = False
    param: str | None = None

    def first(self) -> str | None:
        return None

    def empty(self, body: Any) -> bool:
        return False

    def following(self, cursor: str | None, body: Any) -> str | None:
        return None


class _CursorPager(_Pager):
    parses = True

    def __init__(self, paging: CursorPaging) -> None:
        self.param = paging.param
        self.next_cursor = compile_path(paging.cursor_path)
        self.items = compile_path(paging.items_path) if paging.items_path else None

    def empty(self, body: Any) -> bool:
        return self.items is not None and not self.items(body)

    def following(self, cursor: str | None, body: Any) -> str | None:
        found = self.next_cursor(body)
        return None if found in (None, "") else str(found)


class _PageNumberPager(_Pager):
    parses = True

    def __init__(self, paging: PageNumberPaging) -> None:
        self.param = paging.param
        self.start = paging.start
        self.items = compile_path(paging.items_path)

    def first(self) -> str | None:
        return str(self.start)

    def empty(self, body: Any) -> bool:
        return not self.items(body)

    def following(self, cursor: str | None, body: Any) -> str | None:
        return str(int(cursor or self.start) + 1)


def _pager(paging: CursorPaging | PageNumberPaging | NoPaging) -> _Pager:
    if isinstance(paging, CursorPaging):
        return _CursorPager(paging)
    if isinstance(paging, PageNumberPaging):
        return _PageNumberPager(paging)
    return _Pager()
