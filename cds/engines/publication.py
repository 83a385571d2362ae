"""CONSOLIDATE_PUBLICATION: raw interface products → publications with signed timeliness.

A publication is a pure function of its raw document and of the planned datatakes: the name is
parsed (an unknown name still makes a publication, with ``name_parsed: false``), the interface
kind comes from the raw family, and timeliness keeps its sign — a product published before its
sensing stop is a data or clock error that must stay visible.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cds.engines.attach import DatatakeIndex, Subject
from cds.models import INTERFACE_KIND, PUBLICATION
from cds.naming import ParsedName, S1Product, Unknown, parse
from maas.engine.base import Batch, Context, Engine, NoArgs, Writes
from maas.errors import PermanentError


def name_fields(parsed: ParsedName) -> dict[str, Any]:
    """The parsed name as publication/product fields (``cds.models._NAME_FIELDS``); orbits and
    cycle are read with a default (some grammars have them, others not: never guessed)."""
    if isinstance(parsed, Unknown):
        return {"name_parsed": False, "parse_reason": parsed.reason}
    fields: dict[str, Any] = {
        "name_parsed": True,
        "grammar": parsed.grammar,
        "mission": str(parsed.mission),
        "satellite": parsed.unit,
        "product_type": parsed.product_type,
        "level": parsed.level,
        "timeliness": parsed.timeliness,
        "sensing_start": parsed.sensing_start,
        "sensing_stop": parsed.sensing_stop,
        "absolute_orbit": getattr(parsed, "absolute_orbit", None),
        "relative_orbit": getattr(parsed, "relative_orbit", None),
        "cycle": getattr(parsed, "cycle", None),
    }
    if isinstance(parsed, S1Product):
        fields["datatake_id"] = str(parsed.datatake_id)
    return fields


def seconds_between(later: datetime | None, earlier: datetime | None) -> float | None:
    """Signed ``later - earlier`` in seconds; negative stays negative."""
    if later is None or earlier is None:
        return None
    return (later - earlier).total_seconds()


def draft(raw: Mapping[str, Any], kind: str) -> tuple[dict[str, Any], Subject]:
    """The publication's fields (without attach fields) and what attaching it needs."""
    name = raw["name"]
    parsed = parse(name)
    data = name_fields(parsed)
    data["interface_name"] = raw["interface_name"]
    data["interface_kind"] = kind
    data["product_name"] = name
    data["product_key"] = parsed.key
    data["product_id"] = raw.get("product_id")
    data["publication_date"] = published = raw["publication_date"]
    data["origin_date"] = origin = raw.get("origin_date")
    data["eviction_date"] = raw.get("eviction_date")
    data["content_length"] = raw.get("content_length")
    # ContentDate is the sensing period on the OData interfaces: it stands in where the name is silent.
    data["sensing_start"] = data.get("sensing_start") or raw.get("content_start")
    data["sensing_stop"] = stop = data.get("sensing_stop") or raw.get("content_stop")
    data["from_sensing_seconds"] = seconds_between(published, stop)
    data["transfer_seconds"] = seconds_between(published, origin)
    return data, Subject.of(data, parsed.datatake_key)


class ConsolidatePublication(Engine[NoArgs]):
    """Raw PRIP/LTA/AUXIP/DD products → publications (one datatake query per batch)."""

    ENGINE_ID = "CONSOLIDATE_PUBLICATION"

    def process(self, batch: Batch, ctx: Context) -> Writes:
        kind = INTERFACE_KIND.get(batch.doc_class.family)
        if kind is None:
            raise PermanentError(f"{self.ENGINE_ID} takes raw products, not {batch.doc_class.family}")
        drafts = [draft(doc.data, kind) for doc in batch.documents]
        index = DatatakeIndex.load(ctx.store, (subject for _, subject in drafts))
        for data, subject in drafts:
            data.update(index.attach(subject))
        return Writes([PUBLICATION.make(data) for data, _ in drafts])
