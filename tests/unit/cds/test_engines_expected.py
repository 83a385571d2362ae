"""Every aggregate the CDS chain recomputes is written on condition (``Writes.expected``).

The sample replayed through the real chain, into a store that notes each write's documents and
expectations: an aggregate written without the hash its engine read first could be overwritten
by an older computation of another replica (tests/integration/test_aggregate_race.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest
from test_sample_acceptance import replay

from cds.catalog import CATALOG
from cds.models import COMPLETENESS, DATATAKE, ORBIT_COMPLETENESS, PRODUCT
from maas.model import Document
from maas.store.base import NOTHING_EXPECTED, Expected, WriteReport
from maas.store.duckdb import DuckDBStore

pytestmark = pytest.mark.unit
# Written only by engines that recompute them from what is stored (products: merged by
# CONSOLIDATE_PRODUCT, re-attached whole by ATTACH_DATATAKE).
AGGREGATES = (COMPLETENESS, ORBIT_COMPLETENESS, DATATAKE, PRODUCT)


class NotingStore(DuckDBStore):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.writes: list[tuple[list[Document], Expected]] = []

    def write(self, docs: Iterable[Document], *, expected: Expected = NOTHING_EXPECTED) -> WriteReport:
        docs = list(docs)
        self.writes.append((docs, dict(expected)))
        return super().write(docs, expected=expected)


def test_every_recomputed_aggregate_is_written_on_condition(tmp_path: Path) -> None:
    store = NotingStore(tmp_path / "store.duckdb")
    try:
        store.setup(list(CATALOG.models))
        replay(store)
    finally:
        store.close()
    unexpected = [
        (doc.doc_class.family, doc.id)
        for docs, expected in store.writes
        for doc in docs
        if doc.doc_class in AGGREGATES and doc.id not in expected
    ]
    assert not unexpected
    written = {doc.doc_class for docs, _ in store.writes for doc in docs}
    assert set(AGGREGATES) <= written
