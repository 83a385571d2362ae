"""Attaching products and publications to their (pseudo-)datatake, in both directions.

The attach fields (``cds.models.ATTACH_FIELDS``) are a pure function of a document's name
fields and of the planned datatakes in the store, computed by ``DatatakeIndex.attach``:

- forward: ``CONSOLIDATE_PUBLICATION`` and ``CONSOLIDATE_PRODUCT`` attach the documents they
  build with this same code (one datatake query per batch), so a product is born attached and
  completeness never sees an unattached first version of it. A separate engine on the same
  queue would write the same product ids as ``CONSOLIDATE_PRODUCT`` in the same batch;
- backward: ``ATTACH_DATATAKE`` on the datatake queue finds the products and publications a
  changed plan concerns (bulk queries per batch), recomputes their attach fields against every
  datatake that could compete for them, and rewrites only those that changed. Their
  ``update.cds-product`` reports trigger completeness. Bound to product or publication
  messages, it re-attaches the batch's documents (replay, repair).

A product that leaves a datatake (re-attached elsewhere, or detached) keeps that datatake's
key in ``left_datatake_keys``: its report names only its id, and the store would hold only its
new key, so completeness could not know the datatake it left still counts it.

Which rule applies to which mission is data (``cds/data/attach.yaml``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import cache
from importlib.resources import as_file, files
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cds.models import ATTACH_FIELDS, DATATAKE, PRODUCT, PUBLICATION
from maas.config import load_model
from maas.engine.base import Batch, Context, Engine, NoArgs, Writes, read_outputs
from maas.errors import PermanentError
from maas.model import Document, DocumentClass
from maas.store.base import Filter, Range, Store, Terms

Method = Literal["name", "window", "pseudo"]
DATA_FILE = "attach.yaml"
LEFT = "left_datatake_keys"  # a product's field: the datatakes it was attached to before
_EMPTY: dict[str, Any] = dict.fromkeys(ATTACH_FIELDS)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MissionRule(_Strict):
    method: Method
    max_sensing_s: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _window_bound(self) -> MissionRule:
        if (self.method == "window") != (self.max_sensing_s is not None):
            raise ValueError("max_sensing_s is required with method: window, and only then")
        return self


class AttachRules(_Strict):
    missions: dict[str, MissionRule]
    skip_levels: frozenset[str] = frozenset()

    def method(self, mission: str | None) -> Method | None:
        rule = self.missions.get(mission or "")
        return rule.method if rule else None


@cache
def rules() -> AttachRules:
    """The packaged rules, validated once per process (a broken file names file:line: key)."""
    with as_file(files("cds").joinpath("data", DATA_FILE)) as path:
        return load_model(path, AttachRules)


class Subject(NamedTuple):
    """What attaching needs to know about a product or publication (a named tuple: one is
    built for every document an engine attaches)."""

    mission: str | None
    satellite: str | None
    method: Method | None
    start: datetime | None
    stop: datetime | None
    name_key: str | None  # the datatake key the name designates (methods name and pseudo)
    current_key: str | None = None  # the datatake it is attached to now

    @property
    def read_by_id(self) -> str | None:
        """The planned datatake worth a realtime read: the name's, or the current window's."""
        return self.name_key if self.method == "name" else self.current_key if self.windowed else None

    @classmethod
    def of(cls, data: Mapping[str, Any], name_key: str | None = None) -> Subject:
        """From document data; ``name_key`` defaults to the stored key for name/pseudo missions."""
        method = _method(data.get("mission"), data.get("level"))
        start = data.get("sensing_start")
        current = data.get("datatake_key")
        if name_key is None and (method == "name" or method == "pseudo"):
            name_key = current
        return cls(data.get("mission"), data.get("satellite"), method, start,
                   data.get("sensing_stop") or start, name_key, current)  # fmt: skip

    @property
    def windowed(self) -> bool:
        return self.method == "window" and bool(self.satellite) and self.start is not None


@cache
def _method(mission: str | None, level: str | None) -> Method | None:
    """The attach method of a mission's products of a level (the rules are read once)."""
    return None if level in rules().skip_levels else rules().method(mission)


class DatatakeIndex:
    """The planned datatakes a batch can attach to, loaded with at most two reads: one range
    search for the window rule and one realtime read by id of the datatakes named or already
    attached. A store's searches may lag its writes by a refresh interval; the read by id keeps
    a plan written a moment ago (and seen by ATTACH_DATATAKE) from being lost again when a
    product is recomputed right after."""

    def __init__(self, datatakes: Iterable[Document]) -> None:
        self.by_key: dict[str, Document] = {}
        self.by_satellite: dict[str, list[Document]] = defaultdict(list)
        for doc in datatakes:
            self.by_key[doc.data["datatake_key"]] = doc
            self.by_satellite[doc.data["satellite"]].append(doc)

    @classmethod
    def load(
        cls,
        store: Store,
        subjects: Iterable[Subject],
        known: Iterable[Document] = (),
        also: Iterable[str | None] = (),
    ) -> DatatakeIndex:
        """The datatakes the subjects may attach to. ``also``: more datatake keys to read by
        id; ``known``: datatakes in hand (fresher than any read)."""
        subjects = list(subjects)
        windowed = [s for s in subjects if s.windowed]
        found = store.find(DATATAKE, _overlapping(windowed)) if windowed else []
        keys = sorted({k for k in (*(s.read_by_id for s in subjects), *also) if k})
        if keys:
            found += store.get(DATATAKE, [DATATAKE.id_for(key) for key in keys]).values()
        return cls({doc.id: doc for doc in (*found, *known)}.values())

    def attach(self, subject: Subject) -> dict[str, Any]:
        """The attach fields of one subject: every field present, None where unknown."""
        if subject.method in ("name", "pseudo") and subject.name_key:
            planned = self.by_key.get(subject.name_key) if subject.method == "name" else None
            return _fields(subject.name_key, subject.method, planned)
        if subject.windowed:
            best = _best_window(subject, self.by_satellite.get(subject.satellite or "", []))
            if best is not None:
                return _fields(best.data["datatake_key"], "window", best)
        return dict(_EMPTY)


def _overlapping(subjects: Sequence[Subject]) -> list[Filter]:
    """Datatakes of these satellites whose window meets the batch's overall sensing span."""
    starts = [s.start for s in subjects if s.start is not None]
    stops = [s.stop for s in subjects if s.stop is not None]
    return [
        Terms("satellite", sorted({s.satellite for s in subjects if s.satellite})),
        Range("observation_start", lte=max(stops)),
        Range("observation_stop", gte=min(starts)),
    ]


def _fields(key: str, method: str, planned: Document | None) -> dict[str, Any]:
    plan = planned.data if planned is not None else {}
    return {
        "datatake_key": key,
        "attach_method": method,
        "planned": planned is not None,
        "timeliness_category": plan.get("timeliness_category"),
        "instrument_mode": plan.get("instrument_mode"),
        "plan_absolute_orbit": plan.get("absolute_orbit"),
    }  # every field of ATTACH_FIELDS


def _best_window(subject: Subject, candidates: Sequence[Document]) -> Document | None:
    """The overlapping window with the largest overlap; ties: nearest centre, then smallest key."""
    assert subject.start is not None and subject.stop is not None
    scored = []
    for doc in candidates:
        start, stop = doc.data["observation_start"], doc.data["observation_stop"]
        if subject.start <= stop and subject.stop >= start:
            overlap = min(subject.stop, stop) - max(subject.start, start)
            distance = abs(((subject.start - start) + (subject.stop - stop)).total_seconds())
            scored.append((-overlap, distance, doc.data["datatake_key"], doc))
    return min(scored, key=lambda item: item[:3])[3] if scored else None


def left_datatakes(before: Mapping[str, Any] | None, key: str | None) -> list[str] | None:
    """A product's ``left_datatake_keys`` once attached to ``key``, ``before`` being its stored
    data: the datatakes it left earlier and the one it leaves now. Kept, not cleared: a later
    rewrite of the product must not drop a datatake before completeness has recomputed it
    (its report may still be queued), and a product seldom moves, so recomputing a datatake
    it left long ago costs a few search hits, never a wrong figure."""
    if before is None:
        return None
    left = {*(before.get(LEFT) or ()), before.get("datatake_key")} - {key, None}
    return sorted(left) or None


def reattach(docs: Iterable[Document], index: DatatakeIndex) -> list[Document]:
    """The documents whose attach fields change against ``index`` (others are left alone)."""
    changed = []
    for doc in docs:
        fields = index.attach(Subject.of(doc.data))
        if any(doc.data.get(name) != value for name, value in fields.items()):
            if doc.doc_class is PRODUCT:
                fields[LEFT] = left_datatakes(doc.data, fields["datatake_key"])
            changed.append(doc.replace(**fields))
    return changed


class AttachDatatake(Engine[NoArgs]):
    """Re-attaches stored products and publications when datatakes (plans) change."""

    ENGINE_ID = "ATTACH_DATATAKE"

    def process(self, batch: Batch, ctx: Context) -> Writes:
        known: Sequence[Document] = ()
        if batch.doc_class is DATATAKE:
            known = batch.documents
            candidates = [*_concerned(ctx.store, PRODUCT, known), *_concerned(ctx.store, PUBLICATION, known)]
        elif batch.doc_class in (PRODUCT, PUBLICATION):
            candidates = list(batch.documents)
        else:
            raise PermanentError(f"{self.ENGINE_ID} does not take {batch.doc_class.family} documents")
        expected, fresh = _fresh(ctx.store, candidates)
        index = DatatakeIndex.load(ctx.store, (Subject.of(d.data) for d in fresh), known)
        return Writes(reattach(fresh, index), expected=expected)


def _fresh(store: Store, candidates: Sequence[Document]) -> tuple[dict[str, str | None], list[Document]]:
    """The candidates' current copies and their stored hashes, read by id (realtime): a
    product is rewritten whole, so a merge of CONSOLIDATE_PRODUCT since the search (or since
    the batch was loaded) must be in it, or make this write retry rather than be undone."""
    expected: dict[str, str | None] = {}
    fresh: list[Document] = []
    for doc_class, docs in _by_class(candidates).items():
        ids, indices = [d.id for d in docs], sorted({d.index for d in docs})
        found, hashes = read_outputs(store, doc_class, ids, indices)
        expected |= hashes
        fresh += found.values()
    return expected, fresh


def _by_class(docs: Iterable[Document]) -> dict[DocumentClass, list[Document]]:
    grouped: dict[DocumentClass, list[Document]] = defaultdict(list)
    for doc in docs:
        grouped[doc.doc_class].append(doc)
    return grouped


def _concerned(store: Store, doc_class: DocumentClass, datatakes: Sequence[Document]) -> list[Document]:
    """The stored documents these datatakes may attach or detach: those attached to them now
    (by key: the name rule, and windows that moved) and those in their windows (window rule)."""
    keys = sorted({d.data["datatake_key"] for d in datatakes})
    found = {d.id: d for d in store.find(doc_class, [Terms("datatake_key", keys)])} if keys else {}
    windowed = [d for d in datatakes if rules().method(d.data.get("mission")) == "window"]
    for mission, docs in _by_mission(windowed).items():
        found |= {d.id: d for d in store.find(doc_class, _sensing_window(mission, docs))}
    return list(found.values())


def _by_mission(datatakes: Iterable[Document]) -> dict[str, list[Document]]:
    grouped: dict[str, list[Document]] = defaultdict(list)
    for doc in datatakes:
        grouped[doc.data["mission"]].append(doc)
    return grouped


def _sensing_window(mission: str, datatakes: Sequence[Document]) -> list[Filter]:
    """Products of these satellites that can overlap the windows (starting at most
    ``max_sensing_s`` before the earliest window)."""
    lookback = timedelta(seconds=rules().missions[mission].max_sensing_s or 0.0)
    return [
        Terms("satellite", sorted({d.data["satellite"] for d in datatakes})),
        Range(
            "sensing_start",
            gte=min(d.data["observation_start"] for d in datatakes) - lookback,
            lte=max(d.data["observation_stop"] for d in datatakes),
        ),
    ]
