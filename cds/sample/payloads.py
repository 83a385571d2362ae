"""The ground segment as the interfaces would have served it, archived as collection would.

Every payload goes through :meth:`maas.collector.archive.Archive.put` with the archive context
of the packaged collector (``cds/config/collectors``) that reads that interface: its id, its
configuration hash and its extract format. ``maas replay`` then finds the collector by id and
re-extracts each payload exactly as a real collection's archive would be.

- product interfaces: OData v4 ``Products`` pages, one poll an hour (pages of ``page_size``
  with ``@odata.nextLink``), the entity fields of the ESA interface specifications;
- mission plans: the SFTP collector's ``;``-separated CSV files, named with their application
  date;
- probes: the status service's JSON pages.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

from cds.models import MODELS
from cds.sample.builder import SampleError
from cds.sample.truth import (
    HOUR,
    MINUTE,
    GroundSegment,
    MissionPlan,
    Probe,
    ProbePage,
    Publication,
    instant,
    iso,
    plain,
)  # fmt: skip
from maas.collector.archive import Archive, ArchiveContext
from maas.collector.config import CollectorConfig, load_collectors
from maas.collector.sources.base import Checkpoint, Payload
from maas.collector.sources.config import HttpConfig, ODataConfig, SftpConfig
from maas.model import ModelRegistry

# Which packaged collector reads which interface of the sample.
PRODUCT_COLLECTORS = {
    "S1A-Serco": "prip-s1a-serco",
    "S2A-ATOS": "prip-s2a-atos",
    "S3A-ACRI": "prip-s3a-acri",
    "S5P-DLR": "prip-s5p-dlr",
    "LTA-1": "lta-1",
    "AUXIP-1": "auxip-1",
    "DD-DHUS": "dd-dhus",
}
S = TypeVar("S", SftpConfig, ODataConfig, HttpConfig)
PLAN_COLLECTOR = "mission-plans"
PROBE_COLLECTOR = "interface-probes"
POLL = HOUR  # product interfaces: one poll an hour
FETCH_DELAY_MS = 7_000  # a poll's first page arrives this long after the poll's hour
PAGE_GAP_MS = 350  # and each next page this much later
PLAN_COLUMNS = (
    "SATELLITE", "DATATAKE_ID", "OBSERVATION_START", "OBSERVATION_STOP", "INSTRUMENT_MODE", "TIMELINESS",
    "ABSOLUTE_ORBIT",
)  # fmt: skip


@dataclass(frozen=True)
class Written:
    """One archived payload, for the summary."""

    collector_id: str
    interface: str
    records: int
    size: int


@cache
def packaged_collectors() -> dict[str, CollectorConfig]:
    """The collectors of ``cds/config/collectors`` by id (validated against the CDS models)."""
    with as_file(files("cds").joinpath("config", "collectors")) as directory:
        return {c.id: c for c in load_collectors(directory, ModelRegistry(MODELS))}


def collector(collector_id: str, interface: str | None = None) -> CollectorConfig:
    config = packaged_collectors().get(collector_id)
    if config is None:
        raise SampleError(f"no packaged collector {collector_id!r} in cds/config/collectors")
    if interface is not None and config.interface_name != interface:
        raise SampleError(f"collector {collector_id} reads {config.interface_name}, not {interface}")
    return config


def source_of(config: CollectorConfig, kind: type[S]) -> S:
    """The collector's source, of the kind whose payloads the sample renders."""
    if not isinstance(config.source, kind):
        raise SampleError(
            f"collector {config.id} reads a {config.source.type} source; "
            f"the sample renders {kind.__name__} payloads"
        )
    return config.source


def write(world: GroundSegment, root: Path) -> list[Written]:
    """Archive every payload of the ground segment under ``root``."""
    archive = Archive(root)
    return [_put(archive, config, payload, records) for config, payload, records in _payloads(world)]


def _put(archive: Archive, config: CollectorConfig, payload: Payload, records: int) -> Written:
    context = ArchiveContext(config.id, config.config_hash(), config.interface_name, config.extract_format)
    archive.put(payload, context)
    return Written(config.id, config.interface_name, records, payload.size)


Rendered = tuple[CollectorConfig, Payload, int]


def _payloads(world: GroundSegment) -> Iterator[Rendered]:
    yield from (_plan(plan) for plan in world.plans)
    by_interface: dict[str, list[Publication]] = defaultdict(list)
    for publication in world.publications:
        by_interface[publication.interface].append(publication)
    for interface in sorted(by_interface):
        yield from _product_pages(
            collector(PRODUCT_COLLECTORS[interface], interface), by_interface[interface]
        )
    yield from (_probes(page) for page in world.probe_pages)


# --- mission plans -----------------------------------------------------------------------------


def _plan(plan: MissionPlan) -> Rendered:
    config = collector(PLAN_COLLECTOR)
    source = source_of(config, SftpConfig)
    lines = [";".join(PLAN_COLUMNS)]
    for row in plan.rows:
        fields = (row.satellite, row.datatake_id, plain(row.start), plain(row.stop), row.mode, row.timeliness)
        lines.append(";".join((*fields, str(row.orbit))))
    url = f"sftp://{source.username}@{source.host}:{source.port}{source.root.rstrip('/')}/{plan.name}"
    data = ("\n".join(lines) + "\n").encode()
    return config, Payload(plan.name, data, url, Checkpoint(), instant(plan.fetched)), len(plan.rows)


# --- OData product pages -----------------------------------------------------------------------


def _product_pages(config: CollectorConfig, publications: Sequence[Publication]) -> Iterator[Rendered]:
    """One poll an hour: what was published during the hour, in pages of ``page_size``."""
    source = source_of(config, ODataConfig)
    polls: dict[int, list[Publication]] = defaultdict(list)
    for publication in sorted(publications, key=lambda p: (p.published, p.product.name)):
        polls[publication.published // POLL].append(publication)
    for hour in sorted(polls):
        pages = [polls[hour][i : i + source.page_size] for i in range(0, len(polls[hour]), source.page_size)]
        for number, page in enumerate(pages, start=1):
            fetched = (hour + 1) * POLL + FETCH_DELAY_MS + (number - 1) * PAGE_GAP_MS
            yield config, _odata_page(source, page, hour * POLL, fetched, number, len(pages)), len(page)


def _odata_page(
    source: ODataConfig, page: Sequence[Publication], since: int, fetched: int, number: int, count: int
) -> Payload:
    base = f"{str(source.service_url).rstrip('/')}/{source.entity_set}"
    query = {
        "$filter": f"{source.watermark_field} gt {iso(since - round(source.overlap_s * 1000))}",
        "$orderby": source.ordering,
        "$top": str(source.page_size),
    }
    if number > 1:
        query["$skip"] = str((number - 1) * source.page_size)
    body: dict[str, Any] = {
        "@odata.context": f"$metadata#{source.entity_set}",
        "value": [_entity(p) for p in page],
    }
    if number < count:
        body["@odata.nextLink"] = f"{base}?{urlencode(query | {'$skip': str(number * source.page_size)})}"
    name = f"{source.entity_set}-{instant(fetched):%Y%m%dT%H%M%S.%fZ}-p{number:04d}.json"
    data = json.dumps(body, separators=(",", ":")).encode()
    return Payload(name, data, f"{base}?{urlencode(query)}", Checkpoint(), instant(fetched))


def _entity(publication: Publication) -> dict[str, Any]:
    product = publication.product
    checked = publication.origin if publication.origin is not None else publication.published - MINUTE
    return {
        "@odata.mediaContentType": "application/octet-stream",
        "Id": publication.uid,
        "Name": product.name,
        "ContentType": "application/octet-stream",
        "ContentLength": product.size,
        "OriginDate": iso(publication.origin) if publication.origin is not None else None,
        "PublicationDate": iso(publication.published),
        "EvictionDate": iso(publication.eviction) if publication.eviction is not None else None,
        "Checksum": [
            {
                "Algorithm": "MD5",
                "Value": hashlib.md5(product.name.encode()).hexdigest(),
                "ChecksumDate": iso(checked),
            }
        ],
        "ContentDate": {"Start": iso(product.start), "End": iso(product.stop)},
        "Footprint": _polygon(product.footprint) if product.footprint else None,
    }


def _polygon(box: tuple[float, float, float, float]) -> dict[str, Any]:
    """A GeoJSON polygon, counter-clockwise and closed (what geo_shape accepts)."""
    west, south, east, north = box
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


# --- probes ------------------------------------------------------------------------------------


def _probes(page: ProbePage) -> Rendered:
    config = collector(PROBE_COLLECTOR)
    source = source_of(config, HttpConfig)
    body = {"probes": [_probe_record(p) for p in page.probes]}
    name = f"{source.name}-{instant(page.fetched):%Y%m%dT%H%M%S.%fZ}-p0001.json"
    data = json.dumps(body, separators=(",", ":")).encode()
    return config, Payload(name, data, str(source.url), Checkpoint(), instant(page.fetched)), len(page.probes)


def _probe_record(probe: Probe) -> dict[str, Any]:
    return {
        "interface": probe.interface,
        "time": iso(probe.time),
        "status": probe.status.upper(),
        "response_time_s": probe.response_ms / 1000 if probe.response_ms is not None else None,
        "message": probe.message,
    }
