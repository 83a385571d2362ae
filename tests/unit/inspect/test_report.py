"""``maas inspect report`` building blocks: sections drawn or reported unavailable, empty
figures, the signed axis and durations, same input same bytes."""

from __future__ import annotations

import re
from contextlib import closing
from pathlib import Path

import duckdb
import pytest

from maas.inspect.database import Database
from maas.inspect.figures import Distribution, TableSection, Timeline, TimeSeries
from maas.inspect.report import build
from maas.inspect.svg import duration, signed_ticks, symlog

pytestmark = pytest.mark.unit

SECTIONS = (
    TimeSeries(
        "kpi",
        "KPI",
        "SELECT t AS time, v AS value, s AS state, g AS series, 'x' AS label FROM points ORDER BY t, g",
        y_max=100,
        colors={"ok": "#0a0"},
    ),
    Distribution("delays", "Delays", "SELECT c AS category, d AS value FROM delays ORDER BY c, d"),
    Timeline(
        "states",
        "States",
        'SELECT lane, "start", "stop", state FROM intervals ORDER BY lane, "start"',
    ),
    Distribution("nothing", "Nothing", "SELECT c AS category, d AS value FROM delays WHERE d > 1e9"),
    TableSection("gone", "Gone", "SELECT * FROM no_such_table"),
    TableSection("listing", "Listing", "SELECT c, d FROM delays ORDER BY c, d"),
)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    path = tmp_path / "data.duckdb"
    conn = duckdb.connect(str(path))
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute(
        "CREATE TABLE points AS SELECT * FROM (VALUES "
        "(TIMESTAMPTZ '2024-03-04 01:00:00+00', 100.0, 'ok', 'A'), "
        "(TIMESTAMPTZ '2024-03-04 05:00:00+00', 40.0, 'bad', 'A'), "
        "(TIMESTAMPTZ '2024-03-04 03:00:00+00', 70.0, 'bad', NULL)) t(t, v, s, g)"
    )
    conn.execute(
        "CREATE TABLE delays AS SELECT * FROM (VALUES ('T1', -90.0), ('T1', 3600.0), ('T2', 5.0)) t(c, d)"
    )
    conn.execute(
        "CREATE TABLE intervals AS SELECT * FROM (VALUES "
        "('I', TIMESTAMPTZ '2024-03-04 00:00:00+00', TIMESTAMPTZ '2024-03-04 06:00:00+00', 'up'), "
        "('I', TIMESTAMPTZ '2024-03-04 06:00:00+00', NULL, 'down')) t(lane, start, stop, state)"
    )
    conn.close()
    return path


def marks(html: str, plot: str, mark: str) -> int:
    figure = re.search(rf'<svg [^>]*data-plot="{plot}".*?</svg>', html, re.S)
    assert figure, plot
    return figure.group(0).count(f'data-mark="{mark}"')


def test_sections_are_drawn_or_reported_unavailable(path: Path) -> None:
    with closing(Database(path)) as db:
        outcome = build(db, SECTIONS, "data.duckdb")
    html = outcome.html
    assert outcome.drawn == ("kpi", "delays", "states", "nothing", "listing")
    assert "no_such_table does not exist" in outcome.unavailable["gone"]
    assert 'class="unavailable">not available: ' in html
    assert (marks(html, "kpi", "point"), marks(html, "kpi", "line")) == (
        3,
        1,
    )  # the NULL series: a point only
    assert (marks(html, "delays", "value"), marks(html, "delays", "median")) == (3, 2)
    assert marks(html, "states", "interval") == 2
    assert marks(html, "nothing", "value") == 0 and ">no data</text>" in html
    assert '<div class="scroll" data-table="3">' in html
    assert 'fill="#0a0"' in html and 'stroke="#d62728"' in html  # the catalog's colour; the negative in red


def test_the_page_is_self_contained_and_the_same_for_the_same_file(path: Path) -> None:
    with closing(Database(path)) as db:
        first = build(db, SECTIONS, "data.duckdb").html
    with closing(Database(path)) as db:
        assert build(db, SECTIONS, "data.duckdb").html == first
    assert (
        "<script" not in first
        and 'http-equiv="Content-Security-Policy" content="default-src \'none\'' in first
    )
    assert not re.search(r'(src|href)="(https?:)?//', first)


def test_signed_axis_keeps_negatives_apart() -> None:
    assert symlog(-90) == -symlog(90) < symlog(0) == 0 < symlog(1)
    ticks = [label for _, label in signed_ticks(symlog(-100), symlog(100_000), "s")]
    assert ticks == ["-1 min", "-10 s", "-1 s", "0 s", "1 s", "10 s", "1 min", "10 min", "1 h", "6 h", "1 d"]
    assert [duration(v) for v in (-89.791, 0.5, 5400, 172800)] == ["-1.5 min", "0.5 s", "1.5 h", "2 d"]
