"""CONSOLIDATE_PRODUCT: every interface's publications of a product → one Product.

A product is a *merge* of summaries: each publication is a summary, and so is the stored
product. The merge takes, per interface kind, the earliest publication (ties: interface name)
and the union of interfaces, and the name fields of the overall earliest publication. It is
associative, commutative and idempotent, so the final product does not depend on the order the
publications arrive in, nor on whether a search already sees a publication written a moment
ago: the batch's own publications (read by id) and the stored product (read by id) are always
part of the merge, and the search over ``product_key`` adds every other publication it sees.
The cost of monotony: a first publication date never moves later.

Two replicas of the pool may merge publications of one product at once: each reads the stored
products' hashes first and writes on condition that they did not change (``Writes.expected``),
so the later merge cannot drop what the other added; it is retried and merges it in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cds.engines.attach import LEFT, DatatakeIndex, Subject, left_datatakes
from cds.engines.publication import seconds_between
from cds.models import INTERFACE_KINDS, PRODUCT, PUBLICATION
from maas.engine.base import Batch, Context, Engine, NoArgs, Writes, read_outputs
from maas.errors import PermanentError
from maas.model import Document
from maas.store.base import Terms

# The fields a product takes from its earliest publication.
HEAD_FIELDS = (
    "name_parsed", "parse_reason", "grammar", "mission", "satellite", "product_type", "level",
    "timeliness", "sensing_start", "sensing_stop", "absolute_orbit", "relative_orbit", "cycle",
    "datatake_id", "content_length",
    "datatake_key",  # for name/pseudo rules the name's key; recomputed by attaching anyway
)  # fmt: skip
First = tuple[datetime, str]  # (publication date, interface name): compared as a pair


def _kind_fields(kind: str) -> tuple[str, str, str, str]:
    prefix = kind.lower()
    return (f"{prefix}_first_publication_date", f"{prefix}_first_interface", f"{prefix}_count",
            f"{prefix}_interfaces")  # fmt: skip


# Per interface kind: its first publication date, first interface, count and interfaces fields.
KIND_FIELDS = {kind: _kind_fields(kind) for kind in INTERFACE_KINDS}
# The fields of a kind no interface of which published the product.
_NO_KIND: dict[str, Any] = {
    name: 0 if name.endswith("_count") else None for names in KIND_FIELDS.values() for name in names
}


@dataclass(slots=True)
class Summary:
    """What is known of one product: a value that merges in any order.

    ``source`` is the data of the earliest publication (or of the stored product): its head
    fields are read from it once, when the merged summary makes the product's fields, rather
    than copied out of every summary that a merge then drops.
    """

    key: str
    head: tuple[datetime, str, str]  # (date, interface, product name) of the earliest publication
    source: Mapping[str, Any]
    first: dict[str, First]
    interfaces: dict[str, set[str]]

    @classmethod
    def of_publication(cls, pub: Mapping[str, Any]) -> Summary:
        when, where, kind = pub["publication_date"], pub["interface_name"], pub["interface_kind"]
        return cls(pub["product_key"], (when, where, pub["product_name"]), pub,
                   {kind: (when, where)}, {kind: {where}})  # fmt: skip

    @classmethod
    def of_product(cls, product: Mapping[str, Any]) -> Summary:
        head = (product["first_publication_date"], product["first_interface"], product["product_name"])
        summary = cls(product["product_key"], head, product, {}, {})
        for kind, (date, interface, _, names) in KIND_FIELDS.items():
            if product.get(date) is not None:
                summary.first[kind] = (product[date], product[interface])
                summary.interfaces[kind] = set(product.get(names) or ())
        return summary

    def merge(self, other: Summary) -> None:
        if other.head < self.head:
            self.head, self.source = other.head, other.source
        for kind, first in other.first.items():
            self.first[kind] = min(first, self.first.get(kind, first))
        for kind, names in other.interfaces.items():
            mine = self.interfaces.get(kind)
            if mine is None:
                self.interfaces[kind] = set(names)
            else:
                mine |= names

    def fields(self) -> dict[str, Any]:
        """The product's fields (attach fields excepted)."""
        date, interface, name = self.head
        data = dict(_NO_KIND)
        data.update(zip(HEAD_FIELDS, map(self.source.get, HEAD_FIELDS), strict=True))
        data["product_key"] = self.key
        data["product_name"] = name
        data["first_publication_date"] = date
        data["first_interface"] = interface
        data["reference_date"] = data["sensing_start"] or date
        for kind, (when, where) in self.first.items():
            if kind in KIND_FIELDS:
                date_field, interface_field, _, _ = KIND_FIELDS[kind]
                data[date_field], data[interface_field] = when, where
        for kind, names in self.interfaces.items():
            if kind in KIND_FIELDS:
                _, _, count_field, names_field = KIND_FIELDS[kind]
                data[count_field], data[names_field] = len(names), sorted(names) or None
        data["interfaces"] = sorted(set().union(*self.interfaces.values()))
        data["prip_to_dd_seconds"] = seconds_between(
            data["dd_first_publication_date"], data["prip_first_publication_date"]
        )
        data["prip_from_sensing_seconds"] = seconds_between(
            data["prip_first_publication_date"], data["sensing_stop"]
        )
        return data


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
        ids, indices = [PRODUCT.id_for(key) for key in keys], _candidate_indices(batch.documents)
        stored, expected = read_outputs(ctx.store, PRODUCT, ids, indices)
        merged = merge_all(_summaries(ctx, keys, stored, batch.documents))
        drafts = [summary.fields() for summary in merged.values()]
        subjects = [Subject.of(data) for data in drafts]
        attached_now = (doc.data.get("datatake_key") for doc in batch.documents)
        index = DatatakeIndex.load(ctx.store, subjects, also=attached_now)
        before = {doc.data["product_key"]: doc.data for doc in stored.values()}
        for data, subject in zip(drafts, subjects, strict=True):
            data.update(index.attach(subject))
            data[LEFT] = left_datatakes(before.get(data["product_key"]), data["datatake_key"])
        return Writes([PRODUCT.make(data) for data in drafts], expected=expected)


def _summaries(
    ctx: Context, keys: Sequence[str], stored: Mapping[str, Document], batch_docs: Sequence[Document]
) -> list[Summary]:
    """Every publication of the keys (the batch's own included, as read by id: a search may
    not see them yet), then the stored products: on equal heads the publication's fields win."""
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
