"""OData v2 through pyodata: ``$metadata`` first, then the entity set by watermark and pages.

The metadata gives the watermark property's type, so the filter literal is the right one
(``datetime'...'`` for Edm.DateTime, ``datetimeoffset'...'`` for Edm.DateTimeOffset), and
pyodata converts ``/Date(ms)/`` values back to datetimes for the checkpoint. The payload is
the response body exactly as the server sent it (captured by pyodata's response hook), not a
re-serialisation of pyodata's objects. Paging follows ``__next`` links, else asks again from the
highest watermark read, as v4 does (the rules are in :mod:`maas.collector.sources.odata`):
``$orderby=<watermark> asc,<key> asc`` is plain v2 too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pyodata
import requests
from pyodata.exceptions import PyODataException

from maas.collector.sources.config import ODataConfig
from maas.collector.sources.odata import Ask, Mark, Page, WatermarkQueries, parse_time
from maas.collector.sources.web import Web, check_status, transport_error
from maas.config.settings import TLSSettings
from maas.errors import SourceError, SourceRefused

ENTITY_PAGE = tuple[Sequence[Any], requests.Response]


class ODataV2Source(WatermarkQueries):
    def __init__(self, config: ODataConfig, tls: TLSSettings | None = None) -> None:
        super().__init__(config)
        self.web = Web(config, tls)
        self._client: Any = None
        self._responses: list[requests.Response] = []

    def close(self) -> None:
        self.web.close()
        self._client = None

    @property
    def client(self) -> Any:
        """The pyodata client; building it reads ``$metadata`` (once per connection)."""
        if self._client is None:
            with self._errors("read $metadata"):
                self._client = pyodata.Client(
                    self.config.service_url, self.web.session, response_hook=self._capture
                )
        return self._client

    def _capture(self, response: requests.Response) -> None:
        """Called by pyodata with every raw response, before it parses it."""
        check_status(response)
        self._responses.append(response)

    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except SourceError:
            raise
        except requests.RequestException as exc:
            raise transport_error(self.config.service_url, exc) from None
        except (PyODataException, KeyError, AttributeError) as exc:
            raise SourceRefused(f"{self.config.service_url}: cannot {action} ({exc})") from None

    def literal(self, moment: datetime) -> str:
        with self._errors(f"build a filter on {self.config.watermark_field}"):
            entity_set = self.client.schema.entity_set(self.config.entity_set)
            prop = entity_set.entity_type.proprty(self.config.watermark_field)
            return str(prop.to_literal(moment.astimezone(UTC)))

    def fetch(self, ask: Ask, high: datetime | None) -> Page:
        entities, response = self._page(ask, high)
        with self._errors(f"read {self.config.key_field}/{self.config.watermark_field}"):
            marks = [self._mark(entity) for entity in entities]
        return Page(marks, response, getattr(entities, "next_url", None))

    def _page(self, ask: Ask, high: datetime | None) -> ENTITY_PAGE:
        with self._errors(f"query {self.config.entity_set}"):
            request = getattr(self.client.entity_sets, self.config.entity_set).get_entities()
            if ask.link is not None:
                request = request.next_url(ask.link)
            else:
                request = self._shape(request, self.filter(ask.after, high), ask.skip)
            self._responses.clear()
            entities = request.execute()
        return entities, self._responses[-1]

    def _shape(self, request: Any, filter_: str | None, skip: int) -> Any:
        cfg = self.config
        request = request.order_by(self.ordering).top(cfg.page_size)
        if filter_:
            request = request.filter(filter_)
        if skip:
            request = request.skip(skip)
        if cfg.select:
            request = request.select(",".join(cfg.select))
        if cfg.expand:
            request = request.expand(",".join(cfg.expand))
        return request

    def _mark(self, entity: Any) -> Mark:
        key = getattr(entity, self.config.key_field)
        if key is None:
            raise self.refuse_keyless()
        return str(key), parse_time(getattr(entity, self.config.watermark_field))
