"""Acceptance, embedded: ``backups/sample`` replayed through the real CDS chain gives exactly the
KPIs its ``expected.json`` holds — computed from the generator's truth, not by the engines.

The replay is ``maas replay``'s own library path: each archived payload re-extracted with the
packaged collector its sidecar names (``CollectorRun.ingest``), then every pool of
``cds/config/routing.yaml`` on an in-process bus, into DuckDB. A failure lists every datatake,
type, orbit, publication or interval that differs. The CLI itself is exercised in
``tests/e2e/test_sample_replay.py``, OpenSearch and RabbitMQ in
``tests/integration/test_cds_chain_opensearch.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cds.catalog import CATALOG
from cds.models import COMPLETENESS, DATATAKE
from cds.sample import EXPECTED_FILE
from cds.sample.check import differences, observed
from cds.sample.scenario import build
from cds.sample.truth import instant
from maas.collector.config import load_collectors
from maas.engine.routing import load_routing
from maas.replay import DRAIN_EVERY, Collectors, Replayer, ReplayReport, Selection, plan
from maas.store.duckdb import DuckDBStore

pytestmark = pytest.mark.unit

SAMPLE = Path(__file__).resolve().parents[3] / "backups" / "sample"
EXPECTED: dict[str, Any] = json.loads((SAMPLE / EXPECTED_FILE).read_text())
EVERYTHING = Selection()
EXPECTED_FAMILIES = (
    "datatakes",
    "completeness",
    "orbit_completeness",
    "publications",
    "products",
    "interface_status",
)


def replay(
    store: DuckDBStore, selection: Selection = EVERYTHING, drain_every: int = DRAIN_EVERY
) -> ReplayReport:
    assert CATALOG.routing_file is not None and CATALOG.collectors_dir is not None
    routing = load_routing(CATALOG.routing_file, CATALOG.engines)
    collectors = Collectors(load_collectors(CATALOG.collectors_dir, CATALOG.models), "cds/config/collectors")
    report = Replayer(store, CATALOG, routing, collectors, drain_every=drain_every).replay(
        plan([SAMPLE], selection)
    )
    assert report.ok, (report.failures, report.engine)
    assert not report.warnings, report.warnings  # sidecars match the packaged collector configs
    assert all(not s.problems for s in report.collectors.values()), [
        s.problems for s in report.collectors.values()
    ]
    return report


def fresh(path: Path) -> DuckDBStore:
    store = DuckDBStore(path)
    store.setup(list(CATALOG.models))
    return store


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBStore]:
    store = fresh(tmp_path_factory.mktemp("sample") / "replay.duckdb")
    replay(store)
    yield store
    store.close()


def assert_as_expected(store: DuckDBStore, families: tuple[str, ...] | None = None) -> None:
    problems = differences(EXPECTED, observed(store, families or EXPECTED_FAMILIES))
    assert not problems, f"{len(problems)} differences from expected.json:\n" + "\n".join(problems)


def test_every_kpi_equals_the_independent_expectation(replayed: DuckDBStore) -> None:
    assert_as_expected(replayed)


@pytest.mark.parametrize("family", EXPECTED_FAMILIES)
def test_nothing_is_compared_vacuously(replayed: DuckDBStore, family: str) -> None:
    assert len(EXPECTED[family]) > 0 and len(observed(replayed, (family,))[family]) == len(EXPECTED[family])


def test_the_same_kpis_when_each_payload_is_chained_as_it_arrives(tmp_path: Path) -> None:
    """Fetch order, the chain drained after every payload: plans after their products,
    late products after their datatake's completeness, late probes after their interval."""
    store = fresh(tmp_path / "one-by-one.duckdb")
    try:
        replay(store, drain_every=1)
        assert_as_expected(store)
    finally:
        store.close()


def test_probe_pages_that_overlap_give_one_timeline_per_interface(tmp_path: Path) -> None:
    """Pages repeat their predecessor's last probe, so one delivery holds new and updated raw
    probes together; the timeline must still be the one the probes define."""
    store = fresh(tmp_path / "probes.duckdb")
    try:
        replay(store, Selection(interfaces=frozenset({"status-service"})))
        assert_as_expected(store, ("interface_status",))
    finally:
        store.close()


def _snapshot(store: DuckDBStore) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(datatakes by key, completeness records by id)."""
    datatakes = {d.data["datatake_key"]: d.data for d in store.scan(DATATAKE)}
    return datatakes, {d.id: d.data for d in store.scan(COMPLETENESS)}


def test_a_newer_plan_recomputes_completeness_in_place_and_an_older_one_changes_nothing(
    tmp_path: Path,
) -> None:
    plans = build(1, 1).plans
    update = min(p.fetched for p in plans if p.label == "UPDATE")
    stale = min(p.fetched for p in plans if p.label == "PRELIMINARY")
    superseded = {row.key for p in plans if p.label == "UPDATE" for row in p.rows}
    store = fresh(tmp_path / "steps.duckdb")
    try:
        replay(store, Selection(until=instant(update)))
        before, records_before = _snapshot(store)
        assert superseded <= before.keys()
        assert not any(before[k]["plan_file_name"].endswith("_UPDATE.csv") for k in superseded)
        replay(store, Selection(since=instant(update), until=instant(stale)))
        after, records_after = _snapshot(store)
        assert records_before.keys() <= records_after.keys(), "completeness records were lost"
        for key in superseded:
            assert after[key]["plan_file_name"].endswith("_UPDATE.csv")
            assert after[key]["observation_start"] != before[key]["observation_start"] or (
                after[key]["observation_stop"] != before[key]["observation_stop"]
            )
            mine = [r for r in records_after.values() if r["datatake_key"] == key]
            assert mine and all(
                (r["observation_start"], r["observation_stop"], r["plan_version"])
                == (
                    after[key]["observation_start"],
                    after[key]["observation_stop"],
                    after[key]["plan_version"],
                )
                for r in mine
            ), f"{key}: completeness not recomputed for the newer plan"
        replay(store, Selection(since=instant(stale)))
        final, _ = _snapshot(store)
        assert final == after, "an older plan arriving later changed datatakes"
        assert_as_expected(store)
    finally:
        store.close()
