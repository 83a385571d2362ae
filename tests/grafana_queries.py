"""The provisioned Grafana dashboards as data, and the requests their panels make.

Grafana cannot run here, so the tests replay what it would do: ``search_body`` turns a panel's
OpenSearch target (Lucene query, bucket aggregations, metrics) into the ``_search`` body that
Grafana's OpenSearch datasource (``grafana-opensearch-datasource``, its Lucene handler) sends,
and ``interpolate`` formats dashboard variables the way Grafana's ``lucene`` formatter does.
Only the query types the MaaS dashboards use are translated; anything else is refused, so a new
kind of panel cannot pass untested.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import promql_parser
import yaml

ROOT = Path(__file__).resolve().parents[1]
GRAFANA = ROOT / "grafana"
DASHBOARDS = GRAFANA / "dashboards"
DATASOURCES_FILE = GRAFANA / "provisioning" / "datasources" / "maas.yaml"
PROVIDERS_FILE = GRAFANA / "provisioning" / "dashboards" / "maas.yaml"
OPENSEARCH = "grafana-opensearch-datasource"
PROMETHEUS = "prometheus"
ALL = "$__all"

BUCKET_TYPES = {"terms", "date_histogram", "filters"}
FIELD_METRICS = {"avg", "sum", "min", "max", "percentiles"}
DOCUMENT_METRICS = {"raw_data"}


@dataclass(frozen=True)
class Datasource:
    uid: str
    type: str
    index: str  # OpenSearch: the index pattern (``jsonData.database``); Prometheus: ""
    time_field: str

    def families(self, all_families: list[str]) -> list[str]:
        """The model families this datasource's index pattern reaches (aliases are family names)."""
        patterns = [p.strip() for p in self.index.split(",") if p.strip()]
        return [f for f in all_families if any(fnmatch(f, p) for p in patterns)]


@dataclass(frozen=True)
class Target:
    dashboard: str  # the dashboard's uid
    panel: str  # the panel's title
    query: dict[str, Any]
    time_from: str | None = None  # the panel's relative time override ("1y": the last year)

    @property
    def datasource_uid(self) -> str:
        return str(self.query["datasource"]["uid"])

    @property
    def label(self) -> str:
        return f"{self.dashboard} / {self.panel} / {self.query['refId']}"


def provisioned() -> dict[str, Any]:
    return dict(yaml.safe_load(DATASOURCES_FILE.read_text()))


def datasources() -> dict[str, Datasource]:
    found = {}
    for entry in provisioned()["datasources"]:
        json_data = entry.get("jsonData", {})
        found[entry["uid"]] = Datasource(
            entry["uid"], entry["type"], json_data.get("database", ""), json_data.get("timeField", "")
        )
    return found


def dashboards() -> dict[str, dict[str, Any]]:
    """Every dashboard file by file name, parsed."""
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, the ones inside collapsed rows too; rows themselves are not panels."""
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def targets(kind: str) -> list[Target]:
    """Every panel target of every dashboard whose datasource is of ``kind``."""
    found = []
    for dashboard in dashboards().values():
        for panel in panels(dashboard):
            for query in panel.get("targets", []):
                if query.get("datasource", {}).get("type") == kind:
                    if panel.get("timeShift"):
                        raise ValueError(f"{panel['title']}: a panel time shift is not translated")
                    found.append(Target(dashboard["uid"], panel["title"], query, panel.get("timeFrom")))
    return found


def variables(dashboard: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(dashboard.get("templating", {}).get("list", []))


def defaults(dashboard: Mapping[str, Any]) -> dict[str, Any]:
    """The variables' values as saved in the dashboard (what a user sees on opening it)."""
    return {v["name"]: v["current"]["value"] for v in variables(dashboard)}


# --- variables --------------------------------------------------------------------------------

_LUCENE_SPECIAL = re.compile(r'([!*+\-=<>\s&|()\[\]{}^~?:\\/"])')
_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}")


def lucene_escape(value: str) -> str:
    return _LUCENE_SPECIAL.sub(r"\\\1", value)


def lucene_value(value: Any, all_value: str) -> str:
    """Grafana's ``lucene`` format; a custom all-value goes in unformatted, as Grafana does."""
    values = value if isinstance(value, list) else [value]
    if ALL in values:
        return all_value
    if isinstance(value, list):
        return "(" + " OR ".join(f'"{lucene_escape(v)}"' for v in values) + ")"
    return lucene_escape(str(value))


def interpolate(query: str, dashboard: Mapping[str, Any], chosen: Mapping[str, Any] | None = None) -> str:
    specs = {v["name"]: v for v in variables(dashboard)}
    values = defaults(dashboard) | dict(chosen or {})

    def replace(match: re.Match[str]) -> str:
        name = match[1] or match[2]
        if name not in specs:
            raise KeyError(f"query uses ${name}, which the dashboard does not define")
        return lucene_value(values[name], specs[name].get("allValue") or "*")

    return _VARIABLE.sub(replace, query)


# --- the search request -----------------------------------------------------------------------

# roundInterval of the datasource's backend (pkg/tsdb/interval.go): (upper bound, interval) in ms.
_ROUNDING = [
    (15, 10),
    (35, 20),
    (75, 50),
    (150, 100),
    (350, 200),
    (750, 500),
    (1500, 1000),
    (3500, 2000),
    (7500, 5000),
    (12500, 10000),
    (17500, 15000),
    (25000, 20000),
    (45000, 30000),
    (90000, 60000),
    (210000, 120000),
    (450000, 300000),
    (750000, 600000),
    (1050000, 900000),
    (1500000, 1200000),
    (2700000, 1800000),
    (5400000, 3600000),
    (9000000, 7200000),
    (16200000, 10800000),
    (32400000, 21600000),
    (86400000, 43200000),
    (604800000, 86400000),
    (1814400000, 604800000),
    (3628799999, 2592000000),
]
_UNITS = [("y", 31536000000), ("d", 86400000), ("h", 3600000), ("m", 60000), ("s", 1000), ("ms", 1)]
MIN_INTERVAL_MS = 5000  # the datasource's default minimum interval


def auto_interval(start: datetime, end: datetime) -> str:
    """``$__interval`` as the datasource computes it: span / 1500, rounded, at least 5 s."""
    raw = (end - start) // timedelta(milliseconds=1) // 1500
    rounded = next((value for bound, value in _ROUNDING if raw <= bound), 31536000000)
    interval = max(rounded if raw >= MIN_INTERVAL_MS else MIN_INTERVAL_MS, MIN_INTERVAL_MS)
    unit, size = next((u, s) for u, s in _UNITS if interval >= s)
    return f"{interval // size}{unit}"


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


_RELATIVE = re.compile(r"^(?:now-)?(\d+)([smhdwy])$")
_SPANS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def panel_window(target: Target, window: tuple[datetime, datetime]) -> tuple[datetime, datetime]:
    """The time range a panel queries: the dashboard's, unless the panel overrides it with a
    relative time (``timeFrom``), which Grafana counts back from now. Here "now" is the end of
    the dashboard's range: the tests look at the sample as if it were the present."""
    if not target.time_from:
        return window
    match = _RELATIVE.match(target.time_from)
    if match is None:
        raise ValueError(f"{target.label}: relative time {target.time_from!r} is not translated")
    return window[1] - timedelta(seconds=int(match[1]) * _SPANS[match[2]]), window[1]


def search_body(
    target: Target,
    datasource: Datasource,
    window: tuple[datetime, datetime],
    dashboard: Mapping[str, Any],
    chosen: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The body of the search Grafana's OpenSearch datasource sends for one Lucene target."""
    query = target.query
    if query.get("queryType", "lucene") != "lucene":
        raise ValueError(f"{target.label}: only Lucene targets are translated")
    window = panel_window(target, window)
    time_field = datasource.time_field
    filters: list[dict[str, Any]] = [
        {
            "range": {
                time_field: {"gte": epoch_ms(window[0]), "lte": epoch_ms(window[1]), "format": "epoch_millis"}
            }
        }
    ]
    lucene = interpolate(query.get("query", ""), dashboard, chosen)
    if lucene.strip():
        filters.append({"query_string": {"query": lucene, "analyze_wildcard": True}})
    body: dict[str, Any] = {
        "size": 0,
        "query": {"bool": {"filter": filters[0] if len(filters) == 1 else filters}},
    }
    metrics, buckets = query["metrics"], query.get("bucketAggs", [])
    if metrics[0]["type"] in DOCUMENT_METRICS:
        return body | _document_query(metrics[0], time_field)
    if not buckets:
        raise ValueError(f"{target.label}: a metric query needs a bucket aggregation")
    interval = auto_interval(*window)
    body["aggs"] = _aggregations(buckets, metrics, window, time_field, interval)
    return body


def _document_query(metric: Mapping[str, Any], time_field: str) -> dict[str, Any]:
    settings = metric.get("settings", {})
    order = settings.get("order") if settings.get("order") in ("asc", "desc") else "desc"
    return {
        "size": int(settings.get("size") or 500),
        "sort": [{time_field: {"order": order, "unmapped_type": "boolean"}}, {"_doc": {"order": order}}],
        "fields": [{"field": time_field, "format": "strict_date_optional_time_nanos"}],
    }


def _aggregations(
    buckets: list[dict[str, Any]],
    metrics: list[dict[str, Any]],
    window: tuple[datetime, datetime],
    time_field: str,
    interval: str,
) -> dict[str, Any]:
    """Bucket aggregations nested in order; the metrics go into the innermost one."""
    if not buckets:
        return {m["id"]: _metric(m) for m in metrics if m["type"] != "count"}
    first, rest = buckets[0], buckets[1:]
    inner = _aggregations(rest, metrics, window, time_field, interval)
    aggregation = _bucket(first, window, time_field, interval)
    if inner:
        aggregation["aggs"] = inner
    return {first["id"]: aggregation}


def _bucket(
    bucket: Mapping[str, Any], window: tuple[datetime, datetime], time_field: str, interval: str
) -> dict[str, Any]:
    settings, kind = bucket.get("settings", {}), bucket["type"]
    if kind == "date_histogram":
        chosen = settings.get("interval", "auto")
        return {
            "date_histogram": {
                "field": bucket.get("field") or time_field,
                "interval": interval if chosen == "auto" else chosen,
                "min_doc_count": int(settings.get("min_doc_count", 0)),
                "extended_bounds": {"min": epoch_ms(window[0]), "max": epoch_ms(window[1])},
                "format": "epoch_millis",
            }
        }
    if kind == "terms":
        return {"terms": _terms(bucket["field"], settings)}
    if kind == "filters":
        return {
            "filters": {
                "filters": {
                    f.get("label") or f["query"]: {
                        "query_string": {"query": f["query"], "analyze_wildcard": True}
                    }
                    for f in settings["filters"]
                }
            }
        }
    raise ValueError(f"bucket aggregation {kind!r} is not translated")


def _terms(field: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    terms: dict[str, Any] = {"field": field, "size": int(settings.get("size") or 500) or 500, "order": {}}
    if "min_doc_count" in settings:
        terms["min_doc_count"] = int(settings["min_doc_count"])
    order_by = settings.get("orderBy")
    if order_by:
        if not order_by.startswith("_"):
            raise ValueError("ordering terms by a metric is not translated")
        terms["order"] = {"_key" if order_by == "_term" else order_by: settings.get("order", "desc")}
    return terms


def _metric(metric: Mapping[str, Any]) -> dict[str, Any]:
    if metric["type"] not in FIELD_METRICS:
        raise ValueError(f"metric {metric['type']!r} is not translated")
    settings = {k: v for k, v in metric.get("settings", {}).items() if k and v is not None}
    return {metric["type"]: {"field": metric["field"], **settings}}


def terms_variable_body(
    variable: Mapping[str, Any], datasource: Datasource, window: tuple[datetime, datetime]
) -> dict[str, Any]:
    """The search behind a ``{"find": "terms", ...}`` variable (the datasource's metricFindQuery)."""
    find = json.loads(variable["query"])
    if find.get("find") != "terms":
        raise ValueError(f"variable {variable['name']}: only terms variables are translated")
    filters: list[dict[str, Any]] = [
        {
            "range": {
                datasource.time_field: {
                    "gte": epoch_ms(window[0]),
                    "lte": epoch_ms(window[1]),
                    "format": "epoch_millis",
                }
            }
        }
    ]
    if find.get("query"):
        filters.append({"query_string": {"query": find["query"], "analyze_wildcard": True}})
    terms = {
        "field": find["field"],
        "size": int(find.get("size", 500)),
        "order": {"_key": find.get("order", "asc")},
    }
    return {"size": 0, "query": {"bool": {"filter": filters}}, "aggs": {"1": {"terms": terms}}}


# --- what came back ---------------------------------------------------------------------------


def data_points(query: Mapping[str, Any], response: Mapping[str, Any]) -> int:
    """Documents for a raw-data target; otherwise the innermost buckets holding documents whose
    metrics all have a value (an empty bucket of a date histogram is not data)."""
    if query["metrics"][0]["type"] in DOCUMENT_METRICS:
        return len(response["hits"]["hits"])
    return sum(
        1
        for leaf in _leaves(response["aggregations"], query["bucketAggs"])
        if _has_values(leaf, query["metrics"])
    )


def _leaves(level: Mapping[str, Any], buckets: list[dict[str, Any]]) -> Iterator[Mapping[str, Any]]:
    if not buckets:
        yield level
        return
    found = level[buckets[0]["id"]]["buckets"]
    for bucket in found.values() if isinstance(found, dict) else found:
        yield from _leaves(bucket, buckets[1:])


def _has_values(leaf: Mapping[str, Any], metrics: list[dict[str, Any]]) -> bool:
    if not leaf.get("doc_count"):
        return False
    for metric in metrics:
        if metric["type"] == "count":
            continue
        result = leaf[metric["id"]]
        values = list(result["values"].values()) if "values" in result else [result.get("value")]
        if any(v is None for v in values):
            return False
    return True


def metric_values(query: Mapping[str, Any], response: Mapping[str, Any], metric_id: str) -> list[float]:
    """Every value of one metric over the innermost buckets (percentiles: every percent)."""
    found: list[float] = []
    for leaf in _leaves(response["aggregations"], query["bucketAggs"]):
        result = leaf.get(metric_id) or {}
        values = result["values"].values() if "values" in result else [result.get("value")]
        found.extend(float(v) for v in values if v is not None)
    return found


# --- fields a target reads --------------------------------------------------------------------

_QUOTED = re.compile(r'"(?:\\.|[^"\\])*"')
_FIELD = re.compile(r"(?<![\w.\\])([A-Za-z_][\w.]*):")


def lucene_fields(query: str) -> set[str]:
    """Field names a Lucene query string names (``field:value``, ``_exists_:field``)."""
    text = _QUOTED.sub('""', query)
    fields = {name for name in _FIELD.findall(text) if name != "_exists_"}
    fields |= set(re.findall(r"_exists_:([A-Za-z_][\w.]*)", text))
    return fields


def aggregated_fields(query: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(aggregation type, field) for every bucket aggregation and metric that names a field."""
    used = [(b["type"], b["field"]) for b in query.get("bucketAggs", []) if b.get("field")]
    used += [(m["type"], m["field"]) for m in query["metrics"] if m.get("field")]
    return used


def filter_queries(query: Mapping[str, Any]) -> list[str]:
    """The Lucene queries of the filters aggregations of a target."""
    return [
        f["query"]
        for b in query.get("bucketAggs", [])
        if b["type"] == "filters"
        for f in b.get("settings", {}).get("filters", [])
    ]


# --- PromQL -----------------------------------------------------------------------------------

# Grafana's own variables, replaced before parsing as Grafana replaces them before sending.
_PROMQL_BUILTINS = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h"}


def promql(expr: str, dashboard: Mapping[str, Any]) -> Any:
    """The parsed expression, with the dashboard's variables at their all-value."""
    for name, value in _PROMQL_BUILTINS.items():
        expr = expr.replace(name, value)
    all_values = {v["name"]: v.get("allValue") or ".*" for v in variables(dashboard)}
    expr = _VARIABLE.sub(lambda m: all_values[m[1] or m[2]], expr)
    return promql_parser.parse(expr)


def selectors(expr: Any) -> list[tuple[str, set[str]]]:
    """(metric name, labels it matches or groups on) for every vector selector of an expression."""
    found: list[tuple[str, set[str]]] = []
    grouping: list[set[str]] = []

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
            grouping.append(set(node.modifier.labels))
        if isinstance(node, promql_parser.VectorSelector):
            labels = {m.name for m in node.matchers.matchers}
            found.append((node.name, labels))

    promql_parser.walk(expr, pre_visit=visit)
    # A grouping label must exist on the series below it: every selector of the expression here.
    return [(name, labels | set().union(*grouping)) if grouping else (name, labels) for name, labels in found]


def label_values_query(query: str) -> tuple[str, str]:
    """(metric, label) of a ``label_values(metric, label)`` variable query."""
    match = re.fullmatch(r"\s*label_values\(\s*(\w+)\s*,\s*(\w+)\s*\)\s*", query)
    if match is None:
        raise ValueError(f"not a label_values(metric, label) query: {query!r}")
    return match[1], match[2]
