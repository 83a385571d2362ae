"""The CDS ready-made investigations: ``maas inspect product|datatake|timeliness|completeness|interfaces``.

Each is one SELECT over the embedded store's tables (one per family, ``-`` → ``_``), so it works
on a replay output, on the embedded store and on an export of OpenSearch alike, and it is there
in ``maas inspect sql`` too (``SELECT * FROM timeliness WHERE grouping = 'type' AND kind = 'PRIP'``).

Choices:

- durations are signed seconds rounded to the millisecond (``*_s`` columns): a negative
  timeliness is a data or clock error and must stay visible; percentages are rounded to 0.01;
- percentiles are DuckDB's ``quantile_cont`` (linear interpolation between the closest ranks),
  exact; the Grafana timeliness panels show OpenSearch's TDigest estimates, which differ where
  few values make the tail (grafana/README.md);
- a product's archive payload: raw documents do not carry the archive path. What links them
  is the interface and the fetch time: ``collected_at`` of the raw document is the
  ``fetched_at`` of the payload's sidecar, archived under ``<interface>/<YYYY>/<MM>/<DD>/`` (the
  UTC day of the fetch). ``archive_day`` and ``fetched_at`` name that payload; ``maas replay
  <archive>/<archive_day> --from <fetched_at>`` replays it. A product re-listed by a later page
  keeps the latest fetch (the raw document is updated, not duplicated).
"""

from __future__ import annotations

from cds.models import (
    COMPLETENESS,
    INTERFACE_STATUS,
    ORBIT_COMPLETENESS,
    PRODUCT,
    PUBLICATION,
    RAW_PRODUCTS,
)
from maas.inspect.views import View
from maas.model import DocumentClass
from maas.store.duckdb_sql import table_name


def _t(doc_class: DocumentClass) -> str:
    return table_name(doc_class)


def _seconds(later: str, earlier: str) -> str:
    """Signed seconds from ``earlier`` to ``later``, exact to the millisecond."""
    return f"date_diff('millisecond', {earlier}, {later}) / 1000.0"


_RAW = "\n  UNION ALL ".join(f"SELECT interface_name, name, collected_at FROM {_t(c)}" for c in RAW_PRODUCTS)

# The archive's directory of an interface (maas.collector.archive.safe_name, one component).
_ARCHIVE_DIR = r"ltrim(regexp_replace(pub.interface_name, '[^\w.+=@,-]', '_', 'g'), '.')"

PRODUCT_SQL = f"""
WITH raw AS (
  {_RAW}
)
SELECT
  pub.interface_kind AS kind,
  pub.interface_name AS interface,
  pub.publication_date,
  round(pub.from_sensing_seconds, 3) AS from_sensing_s,
  round(pub.transfer_seconds, 3) AS transfer_s,
  {_seconds("pub.publication_date", "prod.first_publication_date")} AS after_first_s,
  {_ARCHIVE_DIR} || strftime(raw.collected_at, '/%Y/%m/%d') AS archive_day,
  raw.collected_at AS fetched_at,
  prod.datatake_key,
  prod.product_type,
  pub.product_key,
  pub.product_name
FROM {_t(PUBLICATION)} pub
LEFT JOIN {_t(PRODUCT)} prod USING (product_key)
LEFT JOIN raw ON raw.interface_name = pub.interface_name AND raw.name = pub.product_name
"""

# Missing periods as "HH:MM:SS.mmm–HH:MM:SS.mmm, ..." (UTC; the row's window gives the day). To
# the millisecond, as stored: whole seconds would show a 13.392 s gap as 09:58:42–09:58:56.
_MISSING = (
    "array_to_string(list_transform(from_json(missing_periods, "
    """'[{"start": "TIMESTAMPTZ", "stop": "TIMESTAMPTZ"}]'), """
    "lambda p: strftime(p.start, '%H:%M:%S.%g') || '–' || strftime(p.stop, '%H:%M:%S.%g')), ', ')"
)

COMPLETENESS_SQL = f"""
SELECT
  datatake_key,
  product_type,
  status,
  round(percentage, 2) AS percentage,
  round(value, 3) AS value,
  round(expected, 3) AS expected,
  measure,
  products,
  {_MISSING} AS missing_periods,
  observation_start,
  scope
FROM {_t(COMPLETENESS)}
"""

DATATAKE_SQL = f"""
SELECT
  datatake_key,
  'completeness (' || scope || ')' AS "row",
  product_type,
  status,
  round(percentage, 2) AS percentage,
  round(value, 3) AS value,
  round(expected, 3) AS expected,
  products,
  {_MISSING} AS missing_periods,
  NULL::VARCHAR AS product_key,
  observation_start AS "start",
  observation_stop AS "stop"
FROM {_t(COMPLETENESS)}
UNION ALL
SELECT
  orbit_key, 'completeness (orbit)', product_type, status, round(percentage, 2),
  round(value_minutes * 60, 3), round(expected_minutes * 60, 3), products, NULL, NULL,
  orbit_start, orbit_stop
FROM {_t(ORBIT_COMPLETENESS)}
UNION ALL
SELECT
  datatake_key, 'product', product_type, NULL, NULL, NULL, NULL, NULL, NULL,
  product_key, sensing_start, sensing_stop
FROM {_t(PRODUCT)}
WHERE datatake_key IS NOT NULL
"""

ORBIT_COMPLETENESS_SQL = f"""
SELECT
  orbit_key, satellite, product_type, timeliness, orbit_start, dates_estimated,
  round(value_minutes, 3) AS value_minutes,
  round(expected_minutes, 3) AS expected_minutes,
  round(percentage, 2) AS percentage,
  status, products
FROM {_t(ORBIT_COMPLETENESS)}
"""

# --- timeliness: one row per (grouping, bucket, interface kind, measure) ---------------------

_MEASURES = f"""
SELECT product_type, interface_name, interface_kind AS kind, publication_date AS "time",
       'from_sensing' AS measure, from_sensing_seconds AS seconds
FROM {_t(PUBLICATION)} WHERE from_sensing_seconds IS NOT NULL
UNION ALL
SELECT product_type, interface_name, interface_kind, publication_date,
       'transfer', transfer_seconds
FROM {_t(PUBLICATION)} WHERE transfer_seconds IS NOT NULL
UNION ALL
SELECT product_type, dd_first_interface, 'DD', dd_first_publication_date,
       'prip_to_dd', prip_to_dd_seconds
FROM {_t(PRODUCT)} WHERE prip_to_dd_seconds IS NOT NULL
"""

_BUCKETS = {
    "type": "coalesce(product_type, '(unparsed)')",
    "interface": "interface_name",
    "day": "strftime(\"time\", '%Y-%m-%d')",
}


def _timeliness_by(by: str, bucket: str) -> str:
    return f"""
SELECT '{by}' AS grouping, {bucket} AS bucket, kind, measure,
  count(*) AS count,
  count(*) FILTER (WHERE seconds < 0) AS negatives,
  round(min(seconds), 3) AS min_s,
  round(quantile_cont(seconds, 0.5), 3) AS p50_s,
  round(quantile_cont(seconds, 0.9), 3) AS p90_s,
  round(quantile_cont(seconds, 0.99), 3) AS p99_s,
  round(max(seconds), 3) AS max_s
FROM measures GROUP BY ALL"""


TIMELINESS_SQL = f"WITH measures AS ({_MEASURES})" + "\nUNION ALL".join(
    _timeliness_by(by, bucket) for by, bucket in _BUCKETS.items()
)

INTERFACES_SQL = f"""
SELECT
  interface_name,
  status,
  "start",
  "stop",
  duration_seconds AS duration_s,
  round(100 * duration_seconds / sum(duration_seconds) OVER (PARTITION BY interface_name), 2)
    AS share_pct,
  "open",
  last_probe_time,
  message
FROM {_t(INTERFACE_STATUS)}
"""

_SHARE = "round(100 * sum(duration_seconds) FILTER (WHERE status = '{}') / sum(duration_seconds), 2)"

AVAILABILITY_SQL = f"""
SELECT
  interface_name,
  min("start") AS observed_from,
  max(coalesce("stop", last_probe_time)) AS observed_to,
  coalesce({_SHARE.format("up")}, 0) AS up_pct,
  coalesce({_SHARE.format("degraded")}, 0) AS degraded_pct,
  coalesce({_SHARE.format("down")}, 0) AS down_pct,
  count(*) FILTER (WHERE status = 'down') AS outages,
  coalesce(max(duration_seconds) FILTER (WHERE status = 'down'), 0) AS longest_outage_s
FROM {_t(INTERFACE_STATUS)}
GROUP BY interface_name
"""

VIEWS: tuple[View, ...] = (
    View(
        "product",
        PRODUCT_SQL,
        "The journey of one product: each interface that published it, when, its delays "
        "(signed seconds) and the archived payload it came from (interface day and fetch time).",
        key="product_key",
        aliases=("product_name",),
        order_by=("product_key", "publication_date", "interface"),
    ),
    View(
        "datatake",
        DATATAKE_SQL,
        "One datatake (or S3/S5P orbit): completeness per product type and scope, values in "
        "seconds, with the missing periods; then each product attached to it, sensing window.",
        key="datatake_key",
        order_by=("datatake_key", "product_type", "row", "start", "product_key"),
    ),
    View(
        "timeliness",
        TIMELINESS_SQL,
        "Timeliness percentiles (signed seconds; negatives counted) by product type, interface "
        "or day, per interface kind and measure (from_sensing, transfer, prip_to_dd); exact "
        "percentiles (quantile_cont), where Grafana shows OpenSearch's TDigest estimates.",
        key="bucket",
        order_by=("grouping", "bucket", "kind", "measure"),
    ),
    View(
        "completeness",
        COMPLETENESS_SQL,
        "Completeness of every datatake per product type (ALL: the mean of the types); "
        "S3/S5P orbits: the orbit_completeness view.",
        key="datatake_key",
        order_by=("observation_start", "datatake_key", "product_type", "scope"),
    ),
    View(
        "orbit_completeness",
        ORBIT_COMPLETENESS_SQL,
        "S3/S5P completeness per orbit and product type, back-filled orbits included "
        "(dated from the nearest dated orbit: dates_estimated).",
        key="orbit_key",
        order_by=("satellite", "orbit_key", "product_type"),
    ),
    View(
        "interfaces",
        INTERFACES_SQL,
        "The status timeline of every interface: intervals of one status and their share of "
        "the observed time (an open interval ends at its last probe).",
        key="interface_name",
        order_by=("interface_name", "start"),
    ),
    View(
        "availability",
        AVAILABILITY_SQL,
        "Per interface: share of the observed time up, degraded and down, and its outages.",
        key="interface_name",
        order_by=("interface_name",),
    ),
)

__all__ = ["VIEWS"]
