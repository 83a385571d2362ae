"""The CDS page of ``maas inspect report``: completeness over time, timeliness distributions,
interface availability, and the tables an operator reads beside them.

The queries read the store's tables and the CDS views (:mod:`cds.views`, installed on every
inspect connection). Each orders its rows completely, so the page is the same for the same file.
"""

from __future__ import annotations

from types import MappingProxyType

from cds.engines.completeness import GLOBAL
from cds.models import COMPLETENESS, INTERFACE_STATUS, PUBLICATION
from maas.inspect.figures import Distribution, Section, TableSection, Timeline, TimeSeries
from maas.store.duckdb_sql import table_name

_STATUS_COLORS = MappingProxyType({"Complete": "#59a14f", "Partial": "#f28e2b", "Missing": "#d62728"})
_PROBE_COLORS = MappingProxyType({"up": "#59a14f", "degraded": "#f28e2b", "down": "#d62728"})
_PERIOD = "strftime({0}, '%Y-%m-%d %H:%M:%S')"

COMPLETENESS_OVER_TIME = TimeSeries(
    "completeness",
    "Datatake completeness over time",
    f"""
SELECT observation_start AS "time", percentage AS value, status AS state,
       CASE WHEN product_type = '{GLOBAL}' THEN satellite END AS series,
       datatake_key || ' ' || product_type || ' (' || scope || ') ' || status AS label
FROM {table_name(COMPLETENESS)}
WHERE observation_start IS NOT NULL AND percentage IS NOT NULL
ORDER BY observation_start, datatake_key, product_type, scope
""",
    f"Each point: one datatake and product type at its observation start, coloured by status; "
    f"the line of a satellite joins its datatakes' global record ({GLOBAL}: the mean of the types).",
    y_label="%",
    y_max=100,
    colors=_STATUS_COLORS,
)

INCOMPLETE = TableSection(
    "incomplete",
    "Datatakes not complete",
    "SELECT * FROM completeness WHERE status <> 'Complete' "
    "ORDER BY observation_start, datatake_key, product_type, scope",
    "Partial and Missing records with their missing periods (UTC).",
)

ORBITS = TableSection(
    "orbits",
    "S3/S5P orbit completeness per product type",
    """
SELECT satellite, product_type, count(*) AS orbits,
       count(*) FILTER (WHERE status = 'Complete') AS complete,
       count(*) FILTER (WHERE status = 'Partial') AS partial,
       count(*) FILTER (WHERE status = 'Missing') AS missing,
       round(avg(percentage), 2) AS mean_pct
FROM orbit_completeness GROUP BY satellite, product_type ORDER BY satellite, product_type
""",
    "Orbits with no product at all are back-filled as Missing (0 %).",
)

TIMELINESS_PER_TYPE = Distribution(
    "timeliness-type",
    "Timeliness from sensing per product type (PRIP)",
    f"""
SELECT coalesce(product_type, '(unparsed)') AS category, from_sensing_seconds AS value,
       product_name AS label
FROM {table_name(PUBLICATION)}
WHERE interface_kind = 'PRIP' AND from_sensing_seconds IS NOT NULL
ORDER BY category, value, product_name, interface_name
""",
    "Publication on the production service minus sensing stop, one tick per product, signed "
    "log axis: negative values (red) are data or clock errors.",
)

DELAYS_PER_INTERFACE = Distribution(
    "timeliness-interface",
    "Delay from sensing per interface",
    f"""
SELECT interface_kind || ' ' || interface_name AS category, from_sensing_seconds AS value,
       product_name AS label
FROM {table_name(PUBLICATION)}
WHERE from_sensing_seconds IS NOT NULL
ORDER BY interface_kind, interface_name, value, product_name
""",
    "Publication on each interface minus sensing stop.",
)

TIMELINESS_TABLE = TableSection(
    "timeliness-table",
    "Timeliness percentiles per product type",
    "SELECT * EXCLUDE (grouping) FROM timeliness WHERE grouping = 'type' ORDER BY bucket, kind, measure",
    "Signed seconds: from_sensing (publication - sensing stop), transfer (publication - origin), "
    "prip_to_dd (first DD - first PRIP publication).",
)

AVAILABILITY = Timeline(
    "availability",
    "Interface availability",
    f"""
SELECT interface_name AS lane, "start", coalesce("stop", last_probe_time) AS "stop", status AS state,
       {_PERIOD.format('"start"')} || ' → '
         || coalesce({_PERIOD.format('"stop"')}, 'open, last probe ' || {_PERIOD.format("last_probe_time")})
         AS label
FROM {table_name(INTERFACE_STATUS)}
ORDER BY interface_name, "start"
""",
    "Status intervals merged from the probes; an open interval is drawn to its last probe.",
    colors=_PROBE_COLORS,
)

AVAILABILITY_TABLE = TableSection(
    "availability-table",
    "Availability per interface",
    "SELECT * FROM availability ORDER BY interface_name",
)

REPORT: tuple[Section, ...] = (
    COMPLETENESS_OVER_TIME,
    INCOMPLETE,
    ORBITS,
    TIMELINESS_PER_TYPE,
    DELAYS_PER_INTERFACE,
    TIMELINESS_TABLE,
    AVAILABILITY,
    AVAILABILITY_TABLE,
)

__all__ = ["REPORT"]
