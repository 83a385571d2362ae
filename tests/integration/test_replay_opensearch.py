"""``maas replay --into-configured-store`` on the real OpenSearch, and ``maas inspect export`` back.

The documents of this test are told apart from other tests' documents in the shared ``test-*``
families by their values: a random base far above what other tests write, and a range filter.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from chain_catalog import DOUBLED, RAW, TRIPLED
from replay_site import Site

from maas.config import load_settings
from maas.model import DocumentClass
from maas.store.base import Range
from maas.store.opensearch import OpenSearchStore

pytestmark = pytest.mark.integration

ROWS = 10_500  # more than OpenSearch's 10,000-hit result window: the export must page
FACTORS = {RAW: ("value", 1), DOUBLED: ("doubled", 2), TRIPLED: ("tripled", 6)}


class Run:
    """A collected archive whose values start at a random ``base``, and a settings file for OpenSearch."""

    def __init__(self, site: Site, opensearch_url: str) -> None:
        self.site = site
        self.base = 10**12 + secrets.randbelow(10**12)
        self.opensearch = site.write_settings(opensearch_url, name="opensearch.yaml")

    def collect(self) -> None:
        rows = "".join(f"r{self.base}-{i},{self.base + i}\n" for i in range(ROWS - 2))
        self.site.drop("big.csv", "name,value\n" + rows)
        self.site.drop(
            "small.csv",
            f"name,value\nr{self.base}-x,{self.base + ROWS}\nr{self.base}-y,{self.base + ROWS + 1}\n",
        )
        self.site.ok("collect")

    def bounds(self, doc_class: DocumentClass) -> tuple[str, int, int]:
        field, factor = FACTORS[doc_class]
        return field, factor * self.base, factor * (self.base + ROWS + 2)

    def queries(self, doc_class: DocumentClass) -> list[str]:
        field, low, high = self.bounds(doc_class)
        return ["--query", f"{field} >= {low}", "--query", f"{field} < {high}"]

    def counts(self) -> dict[str, int]:
        store = OpenSearchStore.from_settings(load_settings(self.opensearch))
        try:
            return {
                c.family: store.count(
                    c, [Range(self.bounds(c)[0], gte=self.bounds(c)[1], lt=self.bounds(c)[2])]
                )
                for c in FACTORS
            }
        finally:
            store.close()

    def replay_into_opensearch(self) -> dict[str, Any]:
        result = self.site.maas(
            "-c", str(self.opensearch), "replay", str(self.site.archive), "--into-configured-store", "--json"
        )
        assert result.returncode == 0, result.stderr
        report: dict[str, Any] = json.loads(result.stdout)
        return report

    def cleanup(self) -> None:
        store = OpenSearchStore.from_settings(load_settings(self.opensearch))
        try:
            for doc_class in FACTORS:
                field, low, high = self.bounds(doc_class)
                ids = [d.id for d in store.scan(doc_class, [Range(field, gte=low, lt=high)])]
                store.delete(doc_class, ids)
        finally:
            store.close()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, opensearch_url: str) -> Iterator[Run]:
    run = Run(Site.create(tmp_path_factory.mktemp("replay-os") / "site"), opensearch_url)
    run.collect()
    yield run
    run.cleanup()


def test_replaying_twice_into_opensearch_creates_no_new_documents(run: Run) -> None:
    first = run.replay_into_opensearch()
    assert first["ok"] and first["totals"]["records"] == ROWS and first["totals"]["created"] == ROWS
    assert run.counts() == {"test-raw": ROWS, "test-doubled": ROWS, "test-tripled": ROWS}
    second = run.replay_into_opensearch()
    assert second["totals"] == {
        "payloads": 2,
        "records": ROWS,
        "created": 0,
        "updated": 0,
        "unchanged": ROWS,
        "rejected": 0,
    }
    assert second["engine"]["reports"] == 0
    assert run.counts() == {"test-raw": ROWS, "test-doubled": ROWS, "test-tripled": ROWS}


def test_an_export_from_opensearch_has_the_rows_of_the_embedded_replay(run: Run) -> None:
    run.replay_into_opensearch()  # idempotent: whether or not the other test ran first
    site = run.site
    site.ok("replay", str(site.archive), "--out", "embedded.duckdb")
    for i, doc_class in enumerate(FACTORS):
        mode = ["--force"] if i == 0 else ["--append"]
        site.ok(
            "-c",
            str(run.opensearch),
            "inspect",
            "export",
            "--from-opensearch",
            doc_class.family,
            *run.queries(doc_class),
            "--out",
            "export.duckdb",
            *mode,
        )
    for doc_class in FACTORS:
        sql = f"SELECT * FROM {doc_class.family.replace('-', '_')} ORDER BY id"
        exported = site.sql(sql, "export.duckdb")
        assert exported.count("\n") == ROWS + 1
        assert exported == site.sql(sql, "embedded.duckdb"), doc_class.family
