"""CONSOLIDATE_INTERFACE_STATUS: raw probes → each interface's status timeline (intervals).

The timeline is a function of the set of probes (``cds.kpi.timeline``): a batch only folds its
probes into the *tail* of each timeline it touches — the interval holding its earliest probe and
every later one — so the cost follows the batch, not the history. Loads per batch: the closed
tail intervals (stop after the earliest probe) and the open ones, and, only when a late probe
splits an interval, the stored probes of the split intervals. Intervals that a fold makes
disappear (two merged into one) are deleted; the rest are upserts, quiet when unchanged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from cds.kpi.timeline import Probe, Span, merge, split_spans
from cds.models import INTERFACE_STATUS, RAW_INTERFACE_PROBE
from maas.engine.base import Batch, Context, Engine, NoArgs, Writes
from maas.errors import PermanentError
from maas.model import Document
from maas.store.base import Range, Store, Term, Terms


class ConsolidateInterfaceStatus(Engine[NoArgs]):
    """Folds a batch of probes into the timelines of the interfaces it concerns."""

    ENGINE_ID = "CONSOLIDATE_INTERFACE_STATUS"

    def process(self, batch: Batch, ctx: Context) -> Writes:
        if batch.doc_class is not RAW_INTERFACE_PROBE:
            raise PermanentError(f"{self.ENGINE_ID} does not take {batch.doc_class.family} documents")
        probes = probes_by_interface(batch.documents)
        if not probes:
            return Writes()
        # The tails are found by a search, and this engine searches what its own previous batch
        # wrote: that batch may have come from a replica that died between its write and the
        # processor's refresh (the single-active standby takes over within milliseconds).
        ctx.store.refresh(INTERFACE_STATUS)
        stored = load_tails(ctx.store, probes)
        known = load_split_probes(ctx.store, stored, probes)
        writes = Writes()
        for interface, new in probes.items():
            writes.extend(fold(interface, stored.get(interface, []), new, known.get(interface, [])))
        return writes


def probes_by_interface(docs: Iterable[Document]) -> dict[str, list[Probe]]:
    out: dict[str, list[Probe]] = defaultdict(list)
    for doc in docs:
        out[doc.data["interface_name"]].append(Probe(doc.data["probe_time"], doc.data["status"]))
    return out


def load_tails(store: Store, probes: Mapping[str, Sequence[Probe]]) -> dict[str, list[Document]]:
    """Each interface's intervals from the one holding its earliest new probe on (two queries)."""
    interfaces = Terms("interface_name", sorted(probes))
    earliest = min(p.time for batch in probes.values() for p in batch)
    found = {
        d.id: d
        for d in (
            *store.find(INTERFACE_STATUS, [interfaces, Range("stop", gte=earliest)]),
            *store.find(INTERFACE_STATUS, [interfaces, Term("open", True)]),
        )
    }
    out: dict[str, list[Document]] = defaultdict(list)
    for doc in sorted(found.values(), key=lambda d: d.data["start"]):
        out[doc.data["interface_name"]].append(doc)
    return out


def load_split_probes(
    store: Store, stored: Mapping[str, Sequence[Document]], probes: Mapping[str, Sequence[Probe]]
) -> dict[str, list[Probe]]:
    """The stored probes inside the intervals a late probe splits (one query, often none)."""
    split = {
        interface: split_spans([span_of(d) for d in stored.get(interface, ())], new)
        for interface, new in probes.items()
    }
    spans = [(interface, span) for interface, hit in split.items() for span in hit]
    if not spans:
        return {}
    window = Range("probe_time", gte=min(s.start for _, s in spans), lte=max(s.last_probe for _, s in spans))
    interfaces = Terms("interface_name", sorted({i for i, _ in spans}))
    found = store.find(RAW_INTERFACE_PROBE, [interfaces, window])
    out: dict[str, list[Probe]] = defaultdict(list)
    for doc in found:
        interface, time = doc.data["interface_name"], doc.data["probe_time"]
        if any(s.start <= time <= s.last_probe for s in split[interface]):
            out[interface].append(Probe(time, doc.data["status"]))
    return out


def fold(interface: str, stored: Sequence[Document], new: Sequence[Probe], known: Sequence[Probe]) -> Writes:
    """The interface's new tail as upserts, and deletes for stored intervals that vanished."""
    spans = merge([span_of(d) for d in stored], new, known)
    upserts = [interval(interface, span) for span in spans]
    kept = {doc.id for doc in upserts}
    return Writes(upserts, [doc for doc in stored if doc.id not in kept])


def span_of(doc: Document) -> Span:
    data = doc.data
    return Span(data["start"], data.get("stop"), data["status"], data.get("last_probe_time") or data["start"])


def interval(interface: str, span: Span) -> Document:
    end: datetime = span.stop or span.last_probe
    fields: dict[str, Any] = {
        "interface_name": interface,
        "status": span.status,
        "start": span.start,
        "stop": span.stop,
        "duration_seconds": (end - span.start).total_seconds(),
        "last_probe_time": span.last_probe,
        "open": span.stop is None,
    }
    return INTERFACE_STATUS.make(fields)
