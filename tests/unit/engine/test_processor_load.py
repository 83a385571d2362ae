"""What the engines of a batch are given: one batch per (action, family), ids merged in order."""

from __future__ import annotations

from pathlib import Path

import pytest
from chain_catalog import CATALOG, RAW

from maas.bus.message import Message
from maas.engine.base import Batch, Context, Engine, NoArgs, Writes
from maas.engine.processor import Incoming, Processor
from maas.engine.routing import BoundEngine
from maas.store.duckdb import DuckDBStore

pytestmark = pytest.mark.unit


class Recorder(Engine[NoArgs]):
    """Remembers every batch it was given and writes nothing."""

    ENGINE_ID = "TEST_RECORDER"

    def __init__(self, args: NoArgs) -> None:
        super().__init__(args)
        self.batches: list[Batch] = []

    def process(self, batch: Batch, ctx: Context) -> Writes:
        self.batches.append(batch)
        return Writes()


def batches(tmp_path: Path, incoming: list[Incoming], names: tuple[str, ...] = ()) -> list[Batch]:
    """What one engine is given for ``incoming``, with raw documents ``names`` already stored."""
    store = DuckDBStore(tmp_path / "load.duckdb")
    try:
        store.setup(list(CATALOG.models))
        store.write([RAW.make({"name": name, "value": 1}) for name in names])
        recorder = Recorder(NoArgs())
        Processor([BoundEngine(recorder, send_reports=False)], store, CATALOG.models).process(incoming)
        return recorder.batches
    finally:
        store.close()


def message(names: list[str], force: bool = False) -> Message:
    ids = [RAW.id_for(name) for name in names]
    return Message(
        document_class=RAW.name,
        document_ids=tuple(ids),
        document_indices=(f"{RAW.family}-all",) * len(ids),
        force=force,
    )


def test_one_batch_per_action_and_family_with_ids_merged_in_first_seen_order(tmp_path: Path) -> None:
    update, new, delete = batches(
        tmp_path,
        [
            Incoming("update.test-raw", message(["a", "b"])),
            Incoming("new.test-raw", message(["c", "d"])),
            Incoming("update.test-raw", message(["b", "e"], force=True)),
            Incoming("delete.test-raw", message(["f"])),
        ],
        names=("b", "d"),
    )

    assert (update.action, update.force, new.action, new.force) == ("update", True, "new", False)
    assert [d.data["name"] for d in update.documents] == ["b"]
    assert update.missing_ids == [RAW.id_for("a"), RAW.id_for("e")]  # "b" once, where first named
    assert [d.data["name"] for d in new.documents] == ["d"]
    assert new.missing_ids == [RAW.id_for("c")]
    assert (delete.action, delete.documents, delete.missing_ids) == ("delete", [], [RAW.id_for("f")])


def test_a_batch_of_unknown_ids_reaches_the_engines_as_missing(tmp_path: Path) -> None:
    incoming = [Incoming("new.test-raw", message(["x", "y"])), Incoming("new.test-raw", message(["z"]))]

    (batch,) = batches(tmp_path, incoming)

    assert batch.documents == []
    assert batch.missing_ids == [RAW.id_for(name) for name in ("x", "y", "z")]
