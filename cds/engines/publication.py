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

# Name fields some grammars have and others not (read with a default, never guessed).
_OPTIONAL_NAME_FIELDS = ("absolute_orbit", "relative_orbit", "cycle")


def name_fields(parsed: ParsedName) -> dict[str, Any]:
    """The parsed name as publication/product fields (``cds.models._NAME_FIELDS``)."""
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
    }
    fields |= {name: getattr(parsed, name, None) for name in _OPTIONAL_NAME_FIELDS}
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
    parsed = parse(raw["name"])
    data = {
        "interface_name": raw["interface_name"],
        "interface_kind": kind,
        "product_name": raw["name"],
        "product_key": parsed.key,
        "product_id": raw.get("product_id"),
        **name_fields(parsed),
        "publication_date": raw["publication_date"],
        "origin_date": raw.get("origin_date"),
        "eviction_date": raw.get("eviction_date"),
        "content_length": raw.get("content_length"),
    }
    # ContentDate is the sensing period on the OData interfaces: it stands in where the name is silent.
    data["sensing_start"] = data.get("sensing_start") or raw.get("content_start")
    data["sensing_stop"] = data.get("sensing_stop") or raw.get("content_stop")
    data["from_sensing_seconds"] = seconds_between(data["publication_date"], data["sensing_stop"])
    data["transfer_seconds"] = seconds_between(data["publication_date"], data["origin_date"])
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
        return Writes([PUBLICATION.make(data | index.attach(subject)) for data, subject in drafts])
