"""CONSOLIDATE_PRODUCT: every interface's publications of a product → one Product.

A product is a *merge* of summaries: each publication is a summary, and so is the stored
product. The merge takes, per interface kind, the earliest publication (ties: interface name)
and the union of interfaces, and the name fields of the overall earliest publication. It is
associative, commutative and idempotent, so the final product does not depend on the order the
publications arrive in, nor on whether a search already sees a publication written a moment
ago: the batch's own publications (read by id) and the stored product (read by id) are always
part of the merge, and the search over ``product_key`` adds every other publication it sees.
The cost of monotony: a first publication date never moves later.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cds.engines.attach import DatatakeIndex, Subject
from cds.engines.publication import seconds_between
from cds.models import INTERFACE_KINDS, PRODUCT, PUBLICATION
from maas.engine.base import Batch, Context, Engine, NoArgs, Writes
from maas.errors import PermanentError
from maas.model import Document
from maas.store.base import Terms

# The fields a product takes from its earliest publication.
HEAD_FIELDS = (
    "name_parsed", "parse_reason", "grammar", "mission", "satellite", "product_type", "level",
    "timeliness", "sensing_start", "sensing_stop", "absolute_orbit", "relative_orbit", "cycle",
    "datatake_id", "content_length",
    "datatake_key",  # for name/pseudo rules the name's key; recomputed by attaching anyway
)
First = tuple[datetime, str]  # (publication date, interface name): compared as a pair


@dataclass
class Summary:
    """What is known of one product: a value that merges in any order."""

    key: str
    head: tuple[datetime, str, str]  # (date, interface, product name) of the earliest publication
    head_fields: dict[str, Any]
    first: dict[str, First] = field(default_factory=dict)
    interfaces: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    @classmethod
    def of_publication(cls, pub: Mapping[str, Any]) -> Summary:
        when, where, kind = pub["publication_date"], pub["interface_name"], pub["interface_kind"]
        summary = cls(pub["product_key"], (when, where, pub["product_name"]), _head(pub))
        summary.first[kind] = (when, where)
        summary.interfaces[kind].add(where)
        return summary

    @classmethod
    def of_product(cls, product: Mapping[str, Any]) -> Summary:
        head = (product["first_publication_date"], product["first_interface"], product["product_name"])
        summary = cls(product["product_key"], head, _head(product))
        for kind in INTERFACE_KINDS:
            prefix = kind.lower()
            if product.get(f"{prefix}_first_publication_date") is not None:
                summary.first[kind] = (product[f"{prefix}_first_publication_date"],
                                       product[f"{prefix}_first_interface"])
                summary.interfaces[kind].update(product.get(f"{prefix}_interfaces") or ())
        return summary

    def merge(self, other: Summary) -> None:
        if other.head < self.head:
            self.head, self.head_fields = other.head, other.head_fields
        for kind, first in other.first.items():
            self.first[kind] = min(first, self.first.get(kind, first))
        for kind, names in other.interfaces.items():
            self.interfaces[kind] |= names

    def fields(self) -> dict[str, Any]:
        """The product's fields (attach fields excepted)."""
        date, interface, name = self.head
        data: dict[str, Any] = {
            "product_key": self.key,
            "product_name": name,
            **self.head_fields,
            "first_publication_date": date,
            "first_interface": interface,
            "reference_date": self.head_fields.get("sensing_start") or date,
            "interfaces": sorted(set().union(*self.interfaces.values())),
        }
        for kind in INTERFACE_KINDS:
            data |= self._kind_fields(kind)
        data["prip_to_dd_seconds"] = seconds_between(
            data["dd_first_publication_date"], data["prip_first_publication_date"]
        )
        data["prip_from_sensing_seconds"] = seconds_between(
            data["prip_first_publication_date"], data.get("sensing_stop")
        )
        return data

    def _kind_fields(self, kind: str) -> dict[str, Any]:
        prefix, first = kind.lower(), self.first.get(kind)
        names = sorted(self.interfaces.get(kind, ()))
        return {
            f"{prefix}_first_publication_date": first[0] if first else None,
            f"{prefix}_first_interface": first[1] if first else None,
            f"{prefix}_count": len(names),
            f"{prefix}_interfaces": names or None,
        }


def _head(data: Mapping[str, Any]) -> dict[str, Any]:
    return {name: data.get(name) for name in HEAD_FIELDS}


def merge_all(summaries: Iterable[Summary]) -> dict[str, Summary]:
    """One merged summary per product key."""
    merged: dict[str, Summary] = {}
    for summary in summaries:
        if summary.key in merged:
            merged[summary.key].merge(summary)
        else:
            merged[summary.key] = summary
    return merged


class ConsolidateProduct(Engine[NoArgs]):
    """Publications → products: one publication search, one product read and one datatake
    query per batch, whatever its size."""

    ENGINE_ID = "CONSOLIDATE_PRODUCT"

    def process(self, batch: Batch, ctx: Context) -> Writes:
        if batch.doc_class is not PUBLICATION:
            raise PermanentError(f"{self.ENGINE_ID} takes publications, not {batch.doc_class.family}")
        keys = sorted({doc.data["product_key"] for doc in batch.documents})
        if not keys:
            return Writes()
        merged = merge_all(_summaries(ctx, keys, batch.documents))
        drafts = [summary.fields() for summary in merged.values()]
        subjects = [Subject.of(data) for data in drafts]
        attached_now = (doc.data.get("datatake_key") for doc in batch.documents)
        index = DatatakeIndex.load(ctx.store, subjects, also=attached_now)
        return Writes([PRODUCT.make(d | index.attach(s)) for d, s in zip(drafts, subjects, strict=True)])


def _summaries(ctx: Context, keys: Sequence[str], batch_docs: Sequence[Document]) -> list[Summary]:
    """Every publication of the keys (the batch's own included, as read by id: a search may
    not see them yet), then the stored products: on equal heads the publication's fields win."""
    stored = ctx.store.get(PRODUCT, [PRODUCT.id_for(key) for key in keys], _candidate_indices(batch_docs))
    found = {doc.id: doc for doc in ctx.store.find(PUBLICATION, [Terms("product_key", keys)])}
    found |= {doc.id: doc for doc in batch_docs}
    return [
        *(Summary.of_publication(p.data) for p in found.values()),
        *(Summary.of_product(p.data) for p in stored.values()),
    ]


def _candidate_indices(publications: Sequence[Document]) -> list[str]:
    """Where the stored products can be: the partitions their publications point at. Reading
    in known indices is a realtime read by id, where a search may not see a product written a
    moment ago (an unknown name's product can sit elsewhere, if an earlier publication of it
    moved its reference date: it is then found by the publication search only)."""
    dates = {p.data.get("sensing_start") or p.data["publication_date"] for p in publications}
    return sorted({f"{PRODUCT.family}-{PRODUCT.partition.suffix({'reference_date': d})}" for d in dates})
