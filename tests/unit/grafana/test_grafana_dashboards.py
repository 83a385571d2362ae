"""The dashboards as files: they parse, keep their uids, name provisioned datasources by uid,
hard-code no host, link to dashboards that exist, query fields the CDS models have with types
that fit the aggregation, never fold timeliness to positive, and (Prometheus panels) name the
metrics the engine pools really export."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import promql_parser
import pytest
from grafana_queries import (
    GRAFANA,
    OPENSEARCH,
    PROMETHEUS,
    Target,
    aggregated_fields,
    auto_interval,
    dashboards,
    datasources,
    filter_queries,
    label_values_query,
    lucene_fields,
    lucene_value,
    panel_window,
    panels,
    promql,
    search_body,
    selectors,
    targets,
    variables,
)
from prometheus_client import CollectorRegistry

from cds.catalog import CATALOG
from maas.bus.base import QueueStats
from maas.collector.run import CollectorStats
from maas.engine.processor import BatchResult
from maas.model import Field, FieldType
from maas.observe import CollectorMetrics, PoolMetrics

pytestmark = pytest.mark.unit

# Bookmarks and links use these: a renamed uid is a broken link.
PINNED = {
    "ground-segment-overview.json": "maas-overview",
    "datatake-completeness.json": "maas-datatake-completeness",
    "orbit-completeness.json": "maas-orbit-completeness",
    "timeliness.json": "maas-timeliness",
    "interface-availability.json": "maas-interface-availability",
    "pipeline-health.json": "maas-pipeline-health",
}
MIN_SCHEMA_VERSION = 39  # Grafana 11
FIELDS = {m.family: m.fields for m in CATALOG.models}
NUMERIC = {FieldType.INTEGER, FieldType.LONG, FieldType.FLOAT}
FITS = {
    "terms": {FieldType.KEYWORD, FieldType.BOOLEAN, FieldType.INTEGER, FieldType.LONG},
    "date_histogram": {FieldType.DATETIME},
    "avg": NUMERIC,
    "sum": NUMERIC,
    "percentiles": NUMERIC,
    "min": NUMERIC | {FieldType.DATETIME},
    "max": NUMERIC | {FieldType.DATETIME},
}
QUERYABLE = {FieldType.KEYWORD, FieldType.TEXT, FieldType.BOOLEAN, FieldType.DATETIME} | NUMERIC
TIMELINESS = {"from_sensing_seconds", "transfer_seconds", "prip_to_dd_seconds", "prip_from_sensing_seconds"}
HOST = re.compile(r"[a-z][a-z0-9+.-]*://|\blocalhost\b|\b\d{1,3}(?:\.\d{1,3}){3}\b", re.IGNORECASE)


def _walk(value: Any) -> Iterator[Any]:
    """Every value of a JSON document, containers and scalars, depth first."""
    yield value
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for child in children:
        yield from _walk(child)


def _strings(value: Any) -> list[str]:
    return [item for item in _walk(value) if isinstance(item, str)]


def _nodes(value: Any) -> list[dict[str, Any]]:
    return [item for item in _walk(value) if isinstance(item, dict)]


def _field(families: list[str], name: str) -> list[tuple[str, Field]]:
    return [(family, FIELDS[family][name]) for family in families if name in FIELDS[family]]


def _families(target: Target) -> list[str]:
    return datasources()[target.datasource_uid].families(list(FIELDS))


def _by_uid() -> dict[str, dict[str, Any]]:
    return {d["uid"]: d for d in dashboards().values()}


# --- files, uids, datasources -----------------------------------------------------------------


def test_every_dashboard_parses_and_keeps_its_pinned_uid() -> None:
    assert {name: d["uid"] for name, d in dashboards().items()} == PINNED


def test_dashboard_titles_are_unique() -> None:
    titles = [d["title"] for d in dashboards().values()]
    assert len(titles) == len(set(titles)), titles


def test_dashboards_are_recent_and_read_only_and_not_exported_for_sharing() -> None:
    for name, dashboard in dashboards().items():
        assert dashboard["schemaVersion"] >= MIN_SCHEMA_VERSION, name
        assert dashboard["editable"] is False, name
        assert "__inputs" not in dashboard and "__requires" not in dashboard, f"{name}: use provisioned uids"


def test_every_panel_and_variable_names_a_provisioned_datasource_by_uid() -> None:
    provisioned, problems = datasources(), []
    for name, dashboard in dashboards().items():
        users = [(p["title"], p) for p in panels(dashboard)] + [(v["name"], v) for v in variables(dashboard)]
        users += [(p["title"], t) for p in panels(dashboard) for t in p.get("targets", [])]
        for label, user in users:
            source = user.get("datasource")
            if not isinstance(source, dict) or source.get("uid") not in provisioned:
                problems.append(f"{name}: {label}: {source!r} is not a provisioned uid")
            elif provisioned[source["uid"]].type != source.get("type"):
                problems.append(
                    f"{name}: {label}: type {source.get('type')} != {provisioned[source['uid']].type}"
                )
    assert not problems, "\n".join(problems)


def test_a_panel_queries_its_own_datasource_only() -> None:
    for dashboard in dashboards().values():
        for panel in panels(dashboard):
            assert panel["targets"], f"{dashboard['uid']}: {panel['title']} has no query"
            kinds = {t["datasource"]["type"] for t in panel["targets"]}
            assert kinds == {panel["datasource"]["type"]}, f"{dashboard['uid']}: {panel['title']}"


def test_panel_ids_are_unique_and_panels_fit_the_grid() -> None:
    for dashboard in dashboards().values():
        nested = [p for row in dashboard["panels"] for p in row.get("panels", [])]
        ids = [p["id"] for p in dashboard["panels"] + nested]
        assert len(ids) == len(set(ids)), f"{dashboard['uid']}: {sorted(ids)}"
        for panel in dashboard["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]


def test_no_dashboard_hard_codes_a_host_or_url() -> None:
    found = [(name, s) for name, d in dashboards().items() for s in _strings(d) if HOST.search(s)]
    assert not found, found


def test_data_links_open_a_provisioned_dashboard_with_variables_it_has() -> None:
    by_uid, links = _by_uid(), 0
    for name, dashboard in dashboards().items():
        for node in _nodes(dashboard["panels"]):
            url = node.get("url")
            if not isinstance(url, str) or not url:
                continue
            links += 1
            match = re.match(r"^/d/([\w-]+)/[\w-]+\?(.*)$", url)
            assert match and match[1] in by_uid, f"{name}: {url}"
            wanted = set(re.findall(r"var-(\w+)=", match[2]))
            assert wanted <= {v["name"] for v in variables(by_uid[match[1]])}, f"{name}: {url}"
    assert links, "the datatake tables drill down by a link"


# --- OpenSearch targets against the models -----------------------------------------------------


@pytest.mark.parametrize("target", targets(OPENSEARCH), ids=lambda t: t.label)
def test_aggregated_fields_exist_with_a_type_that_fits(target: Target) -> None:
    families = _families(target)
    for aggregation, name in aggregated_fields(target.query):
        found = _field(families, name)
        assert found, f"{name} ({aggregation}) is in none of {families}"
        for family, field in found:
            assert field.type in FITS[aggregation], f"{aggregation} on {family}.{name}: {field.type.value}"
            assert not field.many or aggregation == "terms", f"{aggregation} on the list {family}.{name}"


@pytest.mark.parametrize("target", targets(OPENSEARCH), ids=lambda t: t.label)
def test_lucene_queries_name_fields_that_exist_and_can_be_queried(target: Target) -> None:
    families = _families(target)
    for query in [target.query.get("query", ""), *filter_queries(target.query)]:
        for name in lucene_fields(query):
            found = _field(families, name)
            assert found, f"{query!r}: {name} is in none of {families}"
            assert all(f.type in QUERYABLE for _, f in found), f"{query!r}: {name} is not a plain field"


@pytest.mark.parametrize("target", targets(OPENSEARCH), ids=lambda t: t.label)
def test_target_time_field_is_its_datasource_time_field(target: Target) -> None:
    assert target.query["timeField"] == datasources()[target.datasource_uid].time_field


def test_variables_list_fields_of_their_datasource() -> None:
    for dashboard in dashboards().values():
        for variable in variables(dashboard):
            if variable["datasource"]["type"] != OPENSEARCH:
                continue
            target = Target(dashboard["uid"], variable["name"], variable)
            query = json.loads(variable["query"])
            found = _field(_families(target), query["field"])
            assert found and all(f.type in FITS["terms"] for _, f in found), target.label
            assert all(_field(_families(target), n) for n in lucene_fields(query.get("query", ""))), (
                target.label
            )


def test_an_all_value_that_is_an_expression_is_used_in_parentheses_on_its_own_field() -> None:
    """Grafana puts a custom all-value into the query as written: ``* OR (NOT _exists_:f)`` after
    ``f:`` reads ``f:* OR (NOT _exists_:f)``, whose OR must not bind with the rest of the query,
    so the clause is ``(f:$var)``, and the all-value's ``_exists_`` names that same field."""
    checked = 0
    for dashboard in dashboards().values():
        compound = {v["name"]: v["allValue"] for v in variables(dashboard) if " " in v.get("allValue", "")}
        queries = [
            (panel["title"], query)
            for panel in panels(dashboard)
            for target in panel["targets"]
            if target["datasource"]["type"] == OPENSEARCH
            for query in [target.get("query", ""), *filter_queries(target)]
        ]
        for name, all_value in compound.items():
            for title, query in queries:
                uses = re.findall(rf"\${name}\b|\$\{{{name}\}}", query)
                clauses = re.findall(rf"\(([A-Za-z_][\w.]*):\${name}\)", query)
                assert len(clauses) == len(uses), f"{title}: ${name} outside (field:${name}): {query}"
                for field in clauses:
                    assert set(re.findall(r"_exists_:([\w.]+)", all_value)) <= {field}, (title, all_value)
                checked += len(uses)
    assert checked, "no variable has an expression for all-value"


def test_timeliness_is_never_folded_to_positive() -> None:
    """A negative timeliness is a data or clock error: no axis or cell clamps it to zero, no
    transformation takes its absolute value, and the timeliness tables show the minimum."""
    shown_min = []
    for dashboard in dashboards().values():
        for panel in panels(dashboard):
            fields = {f for t in panel["targets"] for _, f in _metrics(t)}
            if not fields & TIMELINESS:
                continue
            for node in _nodes(panel["fieldConfig"]):
                for key in ("min", "axisSoftMin"):
                    assert not (isinstance(node.get(key), int | float) and node[key] >= 0), (
                        panel["title"],
                        node,
                    )
            assert "abs" not in str(panel.get("transformations", [])).lower(), panel["title"]
            shown_min += [f for t in panel["targets"] for kind, f in _metrics(t) if kind == "min"]
    assert {"from_sensing_seconds", "transfer_seconds", "prip_to_dd_seconds"} <= set(shown_min)


def test_percentile_panels_say_they_are_estimates() -> None:
    """OpenSearch's percentiles are TDigest estimates; `maas inspect timeliness` computes exact
    ones (DuckDB quantile_cont): the two differ where few values make the tail (by hours on the
    sample's p90 of 5 values), so each says which it is."""
    estimated = [
        panel
        for dashboard in dashboards().values()
        for panel in panels(dashboard)
        if any(kind == "percentiles" for t in panel["targets"] for kind, _ in _metrics(t))
    ]
    assert estimated
    for panel in estimated:
        assert "TDigest" in panel["description"] and "quantile_cont" in panel["description"], panel["title"]
    readme = (GRAFANA / "README.md").read_text()
    assert "TDigest" in readme and "quantile_cont" in readme


@pytest.mark.parametrize("target", targets(OPENSEARCH), ids=lambda t: t.label)
def test_a_count_beside_the_statistics_of_one_field_counts_the_documents_that_have_it(target: Target) -> None:
    """In a table of count, minimum, percentiles and maximum of one field, the count is read as the
    number of values the statistics are made of: a document without the field (a name with a
    product type and no sensing stop has no from_sensing_seconds) must not be counted."""
    kinds = {m["type"] for m in target.query["metrics"]}
    fields = {field for _, field in _metrics(target.query)}
    if "count" in kinds and len(fields) == 1:
        (field,) = fields
        assert f"_exists_:{field}" in target.query["query"], target.query["query"]


def _metrics(query: dict[str, Any]) -> list[tuple[str, str]]:
    if query["datasource"]["type"] != OPENSEARCH:
        return []
    return [
        (kind, field)
        for kind, field in aggregated_fields(query)
        if kind in FITS and kind not in ("terms", "date_histogram")
    ]


# --- Prometheus targets against maas/observe.py -----------------------------------------------


def _exported() -> dict[str, set[str]]:
    """Series names and their labels as a live pool and collector expose them after one of each event."""
    registry = CollectorRegistry()
    metrics = PoolMetrics(registry, "publication")
    metrics.batch_done("cds.publication", BatchResult(), 1, 0.2)
    metrics.retried("cds.publication", 1, "test")
    metrics.dead_lettered("cds.publication", 1, "test")
    metrics.queue_depths([QueueStats("cds.publication", 3), QueueStats("cds.publication.dlq", 0)])
    collector = CollectorMetrics(registry)
    collector.collector_done(CollectorStats("prip-s1a-serco", "S1A-Serco", payloads=1))
    collector.collector_done(CollectorStats("prip-s1a-serco", "S1A-Serco", error="unreachable"))
    series: dict[str, set[str]] = {}
    for family in registry.collect():
        for sample in family.samples:
            series.setdefault(sample.name, set()).update(sample.labels)
    return series


@pytest.mark.parametrize("target", targets(PROMETHEUS), ids=lambda t: t.label)
def test_promql_names_metrics_the_pools_export_with_their_labels(target: Target) -> None:
    exported, dashboard = _exported(), _by_uid()[target.dashboard]
    found = selectors(promql(target.query["expr"], dashboard))
    assert found, target.query["expr"]
    for name, labels in found:
        assert name in exported, f"{name} is not exported by maas/observe.py: {sorted(exported)}"
        assert labels <= exported[name], f"{name} has no label {labels - exported[name]}"


PER_SECOND = {"ops", "reqps", "rps", "wps", "iops", "cps", "Bps", "bps"}  # Grafana's rate units


def _outer_function(expr: Any) -> str | None:
    """The function under the aggregations of an expression: ``sum by (x) (rate(...))`` → rate."""
    while isinstance(expr, promql_parser.AggregateExpr):
        expr = expr.expr
    return str(expr.func.name) if isinstance(expr, promql_parser.Call) else None


def test_rates_show_a_per_second_unit_and_increases_a_count() -> None:
    """rate() is per second: plotted with a plain number unit, 0.05 reads as a twentieth of a
    record where it means 3 records a minute."""
    checked = 0
    for dashboard in dashboards().values():
        for panel in panels(dashboard):
            if panel["datasource"]["type"] != PROMETHEUS:
                continue
            functions = {_outer_function(promql(t["expr"], dashboard)) for t in panel["targets"]}
            unit = panel["fieldConfig"]["defaults"].get("unit")
            if functions == {"rate"}:
                assert unit in PER_SECOND, f"{panel['title']}: rate() shown in {unit!r}"
                checked += 1
            elif functions == {"increase"}:
                assert unit not in PER_SECOND, f"{panel['title']}: increase() shown in {unit!r}"
                checked += 1
    assert checked


def test_prometheus_variables_list_an_exported_label() -> None:
    exported, checked = _exported(), 0
    for dashboard in dashboards().values():
        for variable in variables(dashboard):
            if variable["datasource"]["type"] == PROMETHEUS:
                metric, label = label_values_query(variable["definition"])
                assert label in exported.get(metric, set()), variable["definition"]
                checked += 1
    assert checked


# --- the translation the integration test relies on -------------------------------------------


def test_lucene_format_of_variables_is_grafanas() -> None:
    assert lucene_value("$__all", "*") == "*"
    assert lucene_value(["$__all"], "*") == "*"
    assert lucene_value("S1A-434176", "*") == r"S1A\-434176"
    assert lucene_value(["S1A-Serco", "DD DHUS"], "*") == r'("S1A\-Serco" OR "DD\ DHUS")'


def test_a_panel_relative_time_counts_back_from_the_end_of_the_range() -> None:
    start, end = datetime(2024, 3, 4, tzinfo=UTC), datetime(2024, 3, 7, tzinfo=UTC)
    target = Target("d", "p", {"refId": "A"})
    assert panel_window(target, (start, end)) == (start, end)
    assert panel_window(replace(target, time_from="1y"), (start, end)) == (end - timedelta(days=365), end)
    assert panel_window(replace(target, time_from="now-6h"), (start, end)) == (end - timedelta(hours=6), end)
    with pytest.raises(ValueError, match="not translated"):
        panel_window(replace(target, time_from="now/d"), (start, end))


def test_auto_interval_is_the_datasources() -> None:
    day = datetime(2024, 3, 4, tzinfo=UTC)
    assert auto_interval(day, day.replace(day=7)) == "2m"  # 3 days / 1500 = 172.8 s
    assert auto_interval(day, day.replace(hour=1)) == "5s"  # never under 5 s
    assert auto_interval(day, day.replace(month=4)) == "30m"


def test_search_body_is_the_one_grafanas_opensearch_datasource_sends() -> None:
    dashboard = _by_uid()["maas-overview"]
    (target,) = [t for t in targets(OPENSEARCH) if t.panel == "Publications per interface"]
    start, end = datetime(2024, 3, 4, tzinfo=UTC), datetime(2024, 3, 7, tzinfo=UTC)
    body = search_body(
        target, datasources()["maas-cds-publication"], (start, end), dashboard, {"interface": ["S1A-Serco"]}
    )
    assert body == {
        "size": 0,
        "query": {
            "bool": {
                "filter": [
                    {
                        "range": {
                            "publication_date": {
                                "gte": 1709510400000,
                                "lte": 1709769600000,
                                "format": "epoch_millis",
                            }
                        }
                    },
                    {"query_string": {"query": 'interface_name:("S1A\\-Serco")', "analyze_wildcard": True}},
                ]
            }
        },
        "aggs": {
            "2": {
                "terms": {
                    "field": "interface_name",
                    "size": 50,
                    "order": {"_key": "asc"},
                    "min_doc_count": 1,
                },
                "aggs": {
                    "3": {
                        "date_histogram": {
                            "field": "publication_date",
                            "interval": "2m",
                            "min_doc_count": 0,
                            "extended_bounds": {"min": 1709510400000, "max": 1709769600000},
                            "format": "epoch_millis",
                        }
                    }
                },
            }
        },
    }
