"""A small business for engine-framework tests: raw → doubled → tripled, two chained engines.

Importable as ``chain_catalog:CATALOG`` (tests/ is on sys.path under pytest; subprocesses get
it through PYTHONPATH), so ``maas engine pool`` can run these engines in a real process.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

from pydantic import BaseModel, ConfigDict

from maas.bus.base import Bus
from maas.catalog import Catalog
from maas.config.settings import BusSettings
from maas.engine.base import Batch, Context, Engine, Writes
from maas.engine.pool import Hooks, Pool
from maas.engine.registry import EngineRegistry
from maas.engine.routing import RoutingFile
from maas.errors import PermanentError
from maas.model import DocumentClass, Field, FieldType, ModelRegistry
from maas.store.base import Store

RAW = DocumentClass(
    "TestRaw",
    "test-raw",
    {"name": Field(FieldType.KEYWORD, required=True), "value": Field(FieldType.LONG)},
    key=("name",),
)
DOUBLED = DocumentClass(
    "TestDoubled",
    "test-doubled",
    {"name": Field(FieldType.KEYWORD, required=True), "doubled": Field(FieldType.LONG)},
    key=("name",),
)
TRIPLED = DocumentClass(
    "TestTripled",
    "test-tripled",
    {"name": Field(FieldType.KEYWORD, required=True), "tripled": Field(FieldType.LONG)},
    key=("name",),
)


class MultiplyArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    factor: int = 2
    poison_value: int | None = None  # a raw value the engine refuses (a permanent error)
    crash_value: int | None = None  # a raw value that kills the process (a segfault, an OOM kill)


def die() -> NoReturn:
    """What a segfault in a C library or an OOM kill does: the process ends now, nothing settled
    (unit tests replace it with an exception that escapes the pool)."""
    os._exit(137)


class Double(Engine[MultiplyArgs]):
    ENGINE_ID = "TEST_DOUBLE"
    Args = MultiplyArgs

    def process(self, batch: Batch, ctx: Context) -> Writes:
        crash = self.args.crash_value
        if crash is not None and any(d.data.get("value") == crash for d in batch.documents):
            die()
        if any(d.data.get("value") == self.args.poison_value for d in batch.documents):
            raise PermanentError(f"value {self.args.poison_value} is refused by TEST_DOUBLE")
        return Writes(
            [
                DOUBLED.make({"name": d.data["name"], "doubled": d.data["value"] * self.args.factor})
                for d in batch.documents
            ]
        )


class Triple(Engine[MultiplyArgs]):
    ENGINE_ID = "TEST_TRIPLE"
    Args = MultiplyArgs

    def process(self, batch: Batch, ctx: Context) -> Writes:
        return Writes(
            [
                TRIPLED.make({"name": d.data["name"], "tripled": d.data["doubled"] * self.args.factor})
                for d in batch.documents
            ]
        )


CATALOG = Catalog(
    models=ModelRegistry([RAW, DOUBLED, TRIPLED]),
    engines=EngineRegistry([Double, Triple]),
    routing_file=Path(__file__).parent / "data" / "chain_routing.yaml",
)


def catalog_pool(
    routing: RoutingFile,
    name: str,
    bus: Bus,
    store: Store,
    hooks: Hooks | None = None,
    bus_settings: BusSettings | None = None,
) -> Pool:
    """A pool of this catalog's engines, as ``maas engine pool`` builds one."""
    return Pool.from_routing(
        routing,
        name,
        bus=bus,
        store=store,
        models=CATALOG.models,
        engines=CATALOG.engines,
        bus_settings=bus_settings or BusSettings(),
        hooks=hooks,
    )
