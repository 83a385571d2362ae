"""CONSOLIDATE_MISSION_PLAN: mission-plan rows → datatakes, versioned by plan application date.

A datatake is upserted in place (same deterministic id), never deleted and re-inserted: the
records hanging off it (completeness, attached products) stay, and are recomputed from the
``update.cds-datatake`` report. The version is ``(plan application date, plan file name)``:
a newer plan supersedes; an older plan arriving later changes nothing; the same plan again
rewrites identical content, which the store recognises as unchanged.

Replicas of the pool consolidating two plans that list one datatake at once: each writes on
condition that the datatake did not change since it read it (``Writes.expected``), so the older
plan cannot overwrite the newer one written in between; its batch is retried and then skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from cds.models import DATATAKE, RAW_MP_DATATAKE
from maas.engine.base import Batch, Context, Engine, NoArgs, Writes, read_outputs
from maas.errors import PermanentError
from maas.model import Document

Version = tuple[datetime, str]


def mission_of(satellite: str) -> str:
    """S1A → S1, S2B → S2, S5P → S5P: the unit letter is the last character of a unit."""
    return satellite if satellite.startswith("S5") else satellite[:2]


def datatake_id(raw_id: str) -> str:
    """Plans write decimal ids with or without leading zeros; names give them without."""
    text = raw_id.strip()
    return str(int(text)) if text.isdigit() else text


def datatake_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    satellite, ident = row["satellite"].strip(), datatake_id(row["datatake_id"])
    start, stop = row["observation_start"], row["observation_stop"]
    return {
        "datatake_key": f"{satellite}-{ident}",
        "satellite": satellite,
        "mission": mission_of(satellite),
        "datatake_id": ident,
        "observation_start": start,
        "observation_stop": stop,
        "observation_duration_seconds": (stop - start).total_seconds(),
        "instrument_mode": row.get("instrument_mode"),
        "timeliness_category": row.get("timeliness_category"),
        "absolute_orbit": row.get("absolute_orbit"),
        "plan_version": row["plan_application_date"],
        "plan_file_name": row["plan_file_name"],
    }


def version(data: Mapping[str, Any]) -> Version:
    return data["plan_version"], data.get("plan_file_name") or ""


def newest(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per datatake key, the fields of the newest plan among these rows."""
    best: dict[str, dict[str, Any]] = {}
    for row in rows:
        fields = datatake_fields(row)
        current = best.get(fields["datatake_key"])
        if current is None or version(fields) > version(current):
            best[fields["datatake_key"]] = fields
    return best


def supersedes(candidate: Mapping[str, Any], stored: Document | None) -> bool:
    """Same version rewrites (identical content stays unchanged); older never overwrites."""
    return stored is None or version(candidate) >= version(stored.data)


class ConsolidateMissionPlan(Engine[NoArgs]):
    """Mission-plan rows → datatakes: one read of the stored datatakes per batch."""

    ENGINE_ID = "CONSOLIDATE_MISSION_PLAN"

    def process(self, batch: Batch, ctx: Context) -> Writes:
        if batch.doc_class is not RAW_MP_DATATAKE:
            raise PermanentError(f"{self.ENGINE_ID} takes mission-plan rows, not {batch.doc_class.family}")
        candidates = newest(doc.data for doc in batch.documents)
        ids = {key: DATATAKE.id_for(key) for key in candidates}
        stored, expected = read_outputs(ctx.store, DATATAKE, list(ids.values()))
        upserts = [
            _upsert(fields, stored.get(ids[key]))
            for key, fields in candidates.items()
            if supersedes(fields, stored.get(ids[key]))
        ]
        return Writes(upserts, expected=expected)


def _upsert(fields: Mapping[str, Any], stored: Document | None) -> Document:
    """The plan's fields over the stored datatake: fields other engines keep there survive."""
    return DATATAKE.make({**(stored.data if stored else {}), **fields})
