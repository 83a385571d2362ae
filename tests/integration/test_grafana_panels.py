"""Every OpenSearch panel of every provisioned dashboard, run against the real OpenSearch after
``backups/sample`` is replayed into it, returns data.

Grafana cannot run here, so each panel target is sent as the request Grafana's OpenSearch
datasource would send (``tests/grafana_queries.py``: Lucene query and time filter, bucket
aggregations, metrics; ``_msearch`` with the datasource's index pattern), over the sample's time
span and with the dashboards' saved variable values. ``pytest -s`` prints the panel / query /
hit-count table; a failure carries it too.

The replay wipes the ``raw-*`` and ``cds-*`` families first (the sample has fixed ids), like
tests/integration/test_cds_chain_opensearch.py: the two must not run at the same time.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from grafana_queries import (
    DOCUMENT_METRICS,
    OPENSEARCH,
    ROOT,
    Target,
    dashboards,
    data_points,
    datasources,
    interpolate,
    metric_values,
    search_body,
    targets,
    terms_variable_body,
    variables,
)

from cds.catalog import CATALOG
from cds.engines.completeness import GLOBAL
from cds.naming import parse
from maas.config import load_settings
from maas.store.factory import opensearch_client

pytestmark = pytest.mark.integration

SAMPLE = ROOT / "backups" / "sample"
EXPECTED: dict[str, Any] = json.loads((SAMPLE / "expected.json").read_text())
ISO = re.compile(r'"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)"')
DASHBOARDS = {d["uid"]: d for d in dashboards().values()}
Window = tuple[datetime, datetime]
KINDS = {"AUXIP-1": "AUXIP", "DD-DHUS": "DD", "LTA-1": "LTA"}  # the sample's interfaces; others PRIP


def sample_window() -> Window:
    """Every date of expected.json, widened to whole UTC days."""
    moments = [datetime.fromisoformat(m) for m in ISO.findall((SAMPLE / "expected.json").read_text())]
    start = min(moments).replace(hour=0, minute=0, second=0, microsecond=0)
    end = max(moments).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return start.astimezone(UTC), end.astimezone(UTC)


@dataclass
class Replayed:
    client: Any  # opensearchpy.OpenSearch
    window: Window


@dataclass
class Ran:
    target: Target
    index: str
    query: str
    response: dict[str, Any]

    @property
    def hits(self) -> int:
        return int(self.response.get("hits", {}).get("total", {}).get("value", 0))

    @property
    def points(self) -> int:
        return 0 if "error" in self.response else data_points(self.target.query, self.response)

    def row(self) -> str:
        error = f"  ERROR {json.dumps(self.response['error'])[:300]}" if "error" in self.response else ""
        counts = f"{self.hits:>5} | {self.points:>4}"
        return f"{self.target.label:<92} | {self.index:<50} | {self.query:<70} | {counts}{error}"


@pytest.fixture(scope="session")
def replayed(opensearch_url: str, tmp_path_factory: pytest.TempPathFactory) -> Replayed:
    config = tmp_path_factory.mktemp("grafana-sample") / "maas.yaml"
    config.write_text(yaml.safe_dump({"store": {"url": opensearch_url}}))
    client = opensearch_client(load_settings(config, environ={}))
    for doc_class in CATALOG.models:
        client.indices.delete(index=f"{doc_class.family}-*", ignore_unavailable=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAAS_")} | {"MAAS_CONFIG": str(config)}
    done = subprocess.run(
        [sys.executable, "-m", "maas_cli", "replay", str(SAMPLE), "--into-configured-store", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0 and json.loads(done.stdout)["ok"], done.stderr[-3000:]
    client.indices.refresh(index="raw-*,cds-*")
    return Replayed(client, sample_window())


def run(
    replayed: Replayed,
    chosen: Mapping[str, Any] | None = None,
    dashboard: str | None = None,
    window: Window | None = None,
) -> list[Ran]:
    """Each panel's targets in one ``_msearch``, as Grafana batches a panel's queries, over the
    dashboard time range ``window`` (default: the sample's whole span)."""
    by_panel: dict[tuple[str, str], list[Target]] = {}
    for target in targets(OPENSEARCH):
        if dashboard in (None, target.dashboard):
            by_panel.setdefault((target.dashboard, target.panel), []).append(target)
    span = window or replayed.window
    return [ran for group in by_panel.values() for ran in _msearch(replayed, group, chosen, span)]


def _msearch(
    replayed: Replayed, group: list[Target], chosen: Mapping[str, Any] | None, window: Window
) -> list[Ran]:
    lines: list[dict[str, Any]] = []
    for target in group:
        source = datasources()[target.datasource_uid]
        dashboard = DASHBOARDS[target.dashboard]
        header = {"search_type": "query_then_fetch", "ignore_unavailable": True, "index": source.index}
        lines += [header, search_body(target, source, window, dashboard, chosen)]
    answer = replayed.client.msearch(body=lines, params={"max_concurrent_shard_requests": 5})
    return [
        Ran(
            t,
            datasources()[t.datasource_uid].index,
            interpolate(t.query["query"], DASHBOARDS[t.dashboard], chosen),
            r,
        )
        for t, r in zip(group, answer["responses"], strict=True)
    ]


def table(runs: list[Ran]) -> str:
    head = f"{'dashboard / panel / query':<92} | {'index':<50} | {'lucene query':<70} | {'hits':>5} | data"
    return "\n".join([head, "-" * len(head), *(r.row() for r in runs)])


def one(runs: list[Ran], panel: str, ref: str = "A") -> Ran:
    (found,) = [r for r in runs if r.target.panel == panel and r.target.query["refId"] == ref]
    return found


# --- every panel ------------------------------------------------------------------------------


def test_every_opensearch_panel_query_returns_data(replayed: Replayed) -> None:
    runs = run(replayed)
    report = table(runs)
    print(f"\nsample window {replayed.window[0]:%Y-%m-%d} .. {replayed.window[1]:%Y-%m-%d}\n{report}")
    assert len(runs) == len(targets(OPENSEARCH))
    empty = [r.target.label for r in runs if r.points == 0]
    assert not empty, f"{len(empty)} panel queries return no data: {empty}\n{report}"


def test_no_table_silently_drops_documents_of_the_sample(replayed: Replayed) -> None:
    """A raw-data panel returns at most its size: over the sample's span every one returns all the
    documents it matches (OpenSearch counts them exactly up to 10,000)."""
    runs = [r for r in run(replayed) if r.target.query["metrics"][0]["type"] in DOCUMENT_METRICS]
    assert runs
    cut = [f"{r.target.label}: {r.points} of {r.hits}" for r in runs if r.points < r.hits]
    assert not cut, cut


def test_every_variable_offers_values(replayed: Replayed) -> None:
    for uid, dashboard in DASHBOARDS.items():
        for variable in variables(dashboard):
            if variable["datasource"]["type"] != OPENSEARCH:
                continue
            source = datasources()[variable["datasource"]["uid"]]
            body = terms_variable_body(variable, source, replayed.window)
            answer = replayed.client.search(index=source.index, body=body, ignore_unavailable=True)
            assert answer["aggregations"]["1"]["buckets"], f"{uid}: ${variable['name']} offers nothing"


# --- what the panels show is the sample's truth ------------------------------------------------


def test_overview_counts_and_latest_publication_per_interface(replayed: Replayed) -> None:
    ran = one(run(replayed, dashboard="maas-overview"), "Volume and latest publication per interface")
    buckets = ran.response["aggregations"]["2"]["buckets"]
    shown = {b["key"]: (b["doc_count"], b["5"]["value_as_string"][:19]) for b in buckets}
    expected: dict[str, tuple[int, str]] = {}
    for publication in EXPECTED["publications"]:
        count, latest = expected.get(publication["interface_name"], (0, ""))
        expected[publication["interface_name"]] = (
            count + 1,
            max(latest, publication["publication_date"][:19]),
        )
    assert shown == expected


def test_overview_panels_follow_the_interface_variable(replayed: Replayed) -> None:
    """Products count on the overview when one of the chosen interfaces published them; an
    interface that does not exist leaves every panel empty, or a panel ignores $interface."""
    chosen = {"DD-DHUS", "S1A-Serco"}
    products = [p for p in EXPECTED["products"] if chosen & set(p["interfaces"])]
    assert 0 < len(products) < len(EXPECTED["products"])
    runs = run(replayed, {"interface": sorted(chosen)}, dashboard="maas-overview")
    missions = one(runs, "Products per mission").response["aggregations"]["2"]["buckets"]
    parsed = [getattr(parse(p["product_key"]), "mission", None) for p in products]
    expected = Counter(str(mission) for mission in parsed if mission)
    assert {b["key"]: b["doc_count"] for b in missions} == expected
    kinds = one(runs, "Products reaching each interface kind").response["aggregations"]["2"]["buckets"]
    labels = {
        "PRIP": "on a PRIP",
        "LTA": "archived (LTA)",
        "DD": "disseminated (DD)",
        "AUXIP": "auxiliary (AUXIP)",
    }
    reached = Counter(
        labels[kind] for p in products for kind in {KINDS.get(i, "PRIP") for i in p["interfaces"]}
    )
    assert {label: b["doc_count"] for label, b in kinds.items() if b["doc_count"]} == reached
    runs = run(replayed, {"interface": ["nosuchinterface"]}, dashboard="maas-overview")
    leaking = [r.target.label for r in runs if r.hits or r.points]
    assert not leaking, f"panels ignoring $interface: {leaking}\n{table(runs)}"


def test_current_interface_status_keeps_an_interface_no_longer_probed(replayed: Replayed) -> None:
    """Days after the last probes each interface's open interval is still its latest known
    status: shown, with the last probe that dates it, not dropped with the time range."""
    window = (datetime(2024, 3, 10, tzinfo=UTC), datetime(2024, 3, 11, tzinfo=UTC))
    ran = one(run(replayed, dashboard="maas-overview", window=window), "Current interface status")
    shown = {
        (
            h["_source"]["interface_name"],
            h["_source"]["status"],
            datetime.fromisoformat(h["_source"]["last_probe_time"]),
        )
        for h in ran.response["hits"]["hits"]
    }
    expected = {
        (e["interface_name"], e["status"], datetime.fromisoformat(e["last_probe_time"]))
        for e in EXPECTED["interface_status"]
        if e["open"]
    }
    assert len(expected) == 7 and shown == expected


def test_completeness_status_counts_are_the_samples(replayed: Replayed) -> None:
    """Per datatake x product type: the datatake's global record (product type ALL, the mean of
    its types) is no product type and is counted on its own."""
    per_type = [c for c in EXPECTED["completeness"] if c["product_type"] != GLOBAL]
    assert len(per_type) < len(EXPECTED["completeness"])
    runs = run(replayed, dashboard="maas-datatake-completeness")
    buckets = one(runs, "Datatake x product type by status").response["aggregations"]["2"]["buckets"]
    shown = {label: b["doc_count"] for label, b in buckets.items() if b["doc_count"]}
    assert shown == dict(Counter(c["status"] for c in per_type))
    averages = one(runs, "Average completeness per product type").response["aggregations"]["2"]["buckets"]
    assert {b["key"] for b in averages} == {c["product_type"] for c in per_type}
    buckets = one(runs, "Datatakes by status").response["aggregations"]["2"]["buckets"]
    shown = {label: b["doc_count"] for label, b in buckets.items() if b["doc_count"]}
    datatakes = [c for c in EXPECTED["completeness"] if c["product_type"] == GLOBAL]
    assert shown == dict(Counter(c["status"] for c in datatakes))


def test_negative_timeliness_is_shown_negative(replayed: Replayed) -> None:
    negative = {
        p["product_name"]
        for p in EXPECTED["publications"]
        if min(p["from_sensing_seconds"] or 0, p["transfer_seconds"] or 0) < 0
    }
    assert negative, "the sample has a publication before its sensing stop"
    runs = run(replayed, dashboard="maas-timeliness")
    listed = one(runs, "Publications with negative timeliness").response["hits"]["hits"]
    assert {h["_source"]["product_name"] for h in listed} == negative
    per_type = one(runs, "From sensing per interface and product type")
    lowest = min(
        p["from_sensing_seconds"] for p in EXPECTED["publications"] if p["from_sensing_seconds"] is not None
    )
    assert min(metric_values(per_type.target.query, per_type.response, "3")) == pytest.approx(lowest)


def test_drilling_down_to_a_datatake_shows_that_datatake_only(replayed: Replayed) -> None:
    with_products = {c["datatake_key"] for c in EXPECTED["completeness"] if c["products"]}
    assert with_products
    for key in sorted(with_products):
        runs = run(replayed, {"datatake": key}, dashboard="maas-datatake-completeness")
        empty = [r.target.label for r in runs if r.points == 0]
        assert not empty, f"{key}: {empty}\n{table(runs)}"
        for ran in runs:
            for hit in ran.response.get("hits", {}).get("hits", []):
                assert hit["_source"]["datatake_key"] == key, ran.target.label
    # The aggregations return no documents to check: a datatake that does not exist must leave
    # every panel empty, or one of them ignores the variable.
    runs = run(replayed, {"datatake": "nosuchdatatake"}, dashboard="maas-datatake-completeness")
    leaking = [r.target.label for r in runs if r.hits or r.points]
    assert not leaking, f"panels ignoring $datatake: {leaking}\n{table(runs)}"


def test_the_drill_down_lists_every_publication_of_the_datatake_whenever_published(
    replayed: Replayed,
) -> None:
    """The drill-down link keeps the time range in which the datatake was found (by observation
    start): a publication days after its sensing still belongs to it, and so does a product
    sensed a few seconds before the planned start (S2 granules)."""
    datatake_of = {p["product_key"]: p["datatake_key"] for p in EXPECTED["products"]}
    late = 0
    for datatake in EXPECTED["datatakes"]:
        key, start = datatake["datatake_key"], datetime.fromisoformat(datatake["observation_start"])
        published = sorted(
            (p["interface_name"], p["product_name"])
            for p in EXPECTED["publications"]
            if datatake_of.get(parse(p["product_name"]).key) == key
        )
        if not published:
            continue
        day = start.replace(hour=0, minute=0, second=0, microsecond=0)
        late += sum(
            1
            for p in EXPECTED["publications"]
            if (p["interface_name"], p["product_name"]) in published
            and p["publication_date"] >= f"{day + timedelta(days=1):%Y-%m-%d}"
        )
        for window in ((day, day + timedelta(days=1)), (start, start + timedelta(hours=1))):
            runs = run(replayed, {"datatake": key}, "maas-datatake-completeness", window)
            hits = one(runs, "Publications of the datatake").response["hits"]["hits"]
            shown = sorted((h["_source"]["interface_name"], h["_source"]["product_name"]) for h in hits)
            assert shown == published, (key, window)
    assert late, "the sample publishes some products of a datatake the day after"


def test_the_raw_datasource_counts_each_raw_document_once(replayed: Replayed) -> None:
    """Its index pattern reaches every raw family through its alias, never an index twice."""
    ran = one(run(replayed, dashboard="maas-pipeline-health"), "Documents collected per interface")
    source = datasources()[ran.target.datasource_uid]
    named = [m.family for m in CATALOG.models if "interface_name" in m.fields]
    families = source.families(named)
    in_window = {"range": {"collected_at": {"gte": replayed.window[0], "lte": replayed.window[1]}}}
    query = {"bool": {"filter": [in_window, {"exists": {"field": "interface_name"}}]}}
    each = {f: replayed.client.count(index=f, body={"query": query})["count"] for f in families}
    assert len(families) == 5 and all(each.values()), each  # four product kinds and the probes
    assert ran.hits == sum(each.values())


def test_back_filled_orbits_show_as_missing(replayed: Replayed) -> None:
    """Grafana filters every query on the datasource's time field (orbit_start): orbits with no
    product show only because the engine dates them."""
    runs = run(replayed, dashboard="maas-orbit-completeness")
    buckets = one(runs, "Orbit x product type by status").response["aggregations"]["2"]["buckets"]
    missing = sum(1 for o in EXPECTED["orbit_completeness"] if o["status"] == "Missing")
    assert buckets["Missing"]["doc_count"] == missing


# --- interface availability ---------------------------------------------------------------------


def _overlapping_statuses(window: Window) -> set[tuple[str, str]]:
    """(interface, status) of every expected status interval that overlaps ``window`` and holds a
    probe in it (an interval runs from its first probe to the first probe of the next one)."""
    found = set()
    for interval in EXPECTED["interface_status"]:
        start = datetime.fromisoformat(interval["start"])
        last_probe = datetime.fromisoformat(interval["last_probe_time"])
        if start <= window[1] and last_probe >= window[0]:
            found.add((interval["interface_name"], interval["status"]))
    return found


def test_availability_shows_every_interface_probed_in_a_window_inside_long_intervals(
    replayed: Replayed,
) -> None:
    """A 2 h window inside intervals that began hours before it and end after it: each interface
    probed in the window is there, with the statuses it had in the window, and nothing from
    outside the window (an interval's whole duration, a probe before or after it)."""
    window = (datetime(2024, 3, 4, 14, tzinfo=UTC), datetime(2024, 3, 4, 16, tzinfo=UTC))
    expected = _overlapping_statuses(window)
    assert len({interface for interface, _ in expected}) == 7, expected  # every interface, DD-DHUS twice
    runs = run(replayed, dashboard="maas-interface-availability", window=window)

    timeline = one(runs, "Status timeline").response["hits"]
    assert timeline["total"]["value"] == len(timeline["hits"]), "the timeline dropped some of its rows"
    shown = [h["_source"] for h in timeline["hits"]]
    assert {(s["interface_name"], s["status"]) for s in shown} == expected
    probe_times = [datetime.fromisoformat(s["probe_time"]) for s in shown]
    assert all(window[0] <= t <= window[1] for t in probe_times)

    (per_status,) = [r for r in runs if r.target.panel.startswith("Share of probes per status")]
    buckets = per_status.response["aggregations"]["2"]["buckets"]
    counted = {
        (b["key"], status): f["doc_count"]
        for b in buckets
        for status, f in b["3"]["buckets"].items()
        if f["doc_count"]
    }
    assert set(counted) == expected
    assert sum(counted.values()) == len(shown)  # the probes of the window, each counted once


# --- timeliness ---------------------------------------------------------------------------------


def _prip_to_dd(window: Window, interfaces: set[str] | None = None) -> Counter[str]:
    """Products with a PRIP → DD delay per product type, dated by their first DD publication (as
    `maas inspect timeliness` dates them), whose first PRIP or first DD interface is chosen."""
    firsts: dict[tuple[str, str], tuple[str, str]] = {}  # (product, kind) → (date, interface)
    for pub in EXPECTED["publications"]:
        kind = KINDS.get(pub["interface_name"], "PRIP")
        key = (parse(pub["product_name"]).key, kind)
        firsts[key] = min(firsts.get(key, ("9999", "")), (pub["publication_date"], pub["interface_name"]))
    found: Counter[str] = Counter()
    for product in EXPECTED["products"]:
        if product["prip_to_dd_seconds"] is None:
            continue
        dd_date, dd_interface = firsts[(product["product_key"], "DD")]
        _, prip_interface = firsts[(product["product_key"], "PRIP")]
        chosen = interfaces is None or {dd_interface, prip_interface} & interfaces
        if chosen and window[0] <= datetime.fromisoformat(dd_date) <= window[1]:
            found[str(parse(product["product_key"]).product_type)] += 1
    return found


def test_prip_to_dd_is_dated_by_the_dd_publication_and_follows_the_interface(replayed: Replayed) -> None:
    """The delay is known once the product reaches DD: a day's PRIP → DD figures are the products
    disseminated that day (sensed the day before, most of them), on the chosen interfaces."""
    window = (datetime(2024, 3, 5, tzinfo=UTC), datetime(2024, 3, 6, tzinfo=UTC))
    for interfaces in (None, {"DD-DHUS"}, {"S1A-Serco"}, {"LTA-1"}):
        chosen = None if interfaces is None else {"interface": sorted(interfaces)}
        ran = one(run(replayed, chosen, "maas-timeliness", window), "PRIP to DD per product type")
        shown = {b["key"]: b["doc_count"] for b in ran.response["aggregations"]["2"]["buckets"]}
        assert shown == _prip_to_dd(window, interfaces), interfaces
    assert sum(_prip_to_dd(window).values()) == 5
    assert sum(_prip_to_dd(window, {"S1A-Serco"}).values()) not in (0, 5)


def test_all_product_types_keeps_the_publications_without_one(replayed: Replayed) -> None:
    """An unparsed name has no product type; "All" must not drop it: every timeliness query
    finds as many documents with $product_type at All as without the clause at all."""
    unparsed = [
        p for p in EXPECTED["publications"] if getattr(parse(p["product_name"]), "product_type", None) is None
    ]
    assert unparsed, "the sample publishes an unparsed name"
    clause = re.compile(r"\s*AND\s*\(?product_type:\$product_type\)?")
    runs = [
        r for r in run(replayed, dashboard="maas-timeliness") if "$product_type" in r.target.query["query"]
    ]
    assert runs
    for ran in runs:
        unfiltered = replace(
            ran.target, query=ran.target.query | {"query": clause.sub("", ran.target.query["query"])}
        )
        assert "product_type" not in unfiltered.query["query"], unfiltered.query["query"]
        (baseline,) = _msearch(replayed, [unfiltered], None, replayed.window)
        assert ran.hits == baseline.hits, (ran.target.label, ran.query)
    transfer = one(runs, "Transfer (publication - origin) per interface")
    shown = {b["key"]: b["doc_count"] for b in transfer.response["aggregations"]["2"]["buckets"]}
    assert shown["DD-DHUS"] == sum(
        1
        for p in EXPECTED["publications"]
        if p["interface_name"] == "DD-DHUS" and p["transfer_seconds"] is not None
    )
