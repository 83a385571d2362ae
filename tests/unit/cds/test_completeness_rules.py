"""The completeness rules file: the packaged one loads; broken ones name file:line: key: reason."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from cds.rules import load_rules, rules
from maas.errors import ConfigError

pytestmark = pytest.mark.unit


def test_packaged_rules_load_and_answer() -> None:
    table = rules()
    iw = {t.type: t for t in table.expected_types("S1", "IW")}
    assert iw["IW_SLC__1S"].expectation(120).amount == 117  # signed tolerance
    assert iw["IW_RAW__0N"].expectation(120).measure == "count"
    assert table.expected_types("S1", "SM") == [] and table.expected_types("unknown", "IW") == []
    assert table.orbit_rule("S3") is not None and table.orbit_rule("S1") is None
    s3 = table.orbit_rule("S3")
    assert s3 is not None and s3.orbits_per_cycle == 385
    minutes = {t.type: t.minutes for t in s3.types}
    assert minutes["OL_1_EFR___"] == 44 and minutes["SL_1_RBT___"] == 101
    assert s3.orbit_period == timedelta(minutes=100, seconds=59.4)  # exact: estimates add it up


def test_only_the_designated_production_service_counts() -> None:
    table = rules()
    assert table.counts({"satellite": "S1A", "prip_interfaces": ["S1A-Backup", "S1A-Serco"]})
    assert not table.counts({"satellite": "S1A", "prip_interfaces": ["S1A-Backup"]})
    assert not table.counts({"satellite": "S1A"})  # never served by a PRIP
    assert table.counts({"satellite": "S9Z", "prip_interfaces": ["anything"]})  # no designation: any


def test_cycle_numbering_round_trips() -> None:
    s3 = rules().orbit_rule("S3")
    assert s3 is not None
    index = s3.index({"cycle": 79, "relative_orbit": 385})
    assert index is not None
    assert s3.orbit("S3B", index + 1) == {"orbit_key": "S3B-080-001", "cycle": 80, "relative_orbit": 1}


BROKEN = """\
version: 1
datatakes:
  S1:
    modes:
      IW:
        - {type: IW_RAW__0S, tolerance_s: 0}
        - {type: IW_SLC__1S, tolerance_s: -3, count: 2}
      EW:
        - {type: EW_RAW__0S, tolerance_s: 0}
        - {type: EW_RAW__0S, count: 1}
  S7:
    modes: {X: [{type: A, count: 1}]}
orbits:
  S3:
    numbering: cycle
    orbit_period_minutes: 100.99
    types: [{type: OL_1_EFR___, minutes: 44, timeliness: [NR]}]
  S5P:
    numbering: absolute
    orbit_period_minutes: 0
    types: [{type: OFFL_L2__NO2___, minutes: 50, timeliness: [], colour: red}]
"""


def test_broken_rules_name_file_line_key_and_reason(tmp_path: Path) -> None:
    path = tmp_path / "completeness.yaml"
    path.write_text(BROKEN)
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    rendered = [p.render() for p in caught.value.problems]
    expected = [
        (7, "datatakes.S1.modes.IW.1", "either tolerance_s"),
        (8, "datatakes.S1.modes.EW", "EW_RAW__0S is listed twice"),
        (11, "datatakes.S7", "S7"),
        (14, "orbits.S3", "orbits_per_cycle is required"),
        (20, "orbits.S5P.orbit_period_minutes", "greater than 0"),
        (21, "orbits.S5P.types.0.timeliness", "at least 1"),
        (21, "orbits.S5P.types.0.colour", "unknown key"),
    ]
    for line, key, reason in expected:
        assert any(r.startswith(f"{path}:{line}: {key}") and reason in r for r in rendered), (
            f"no {line}: {key}: {reason} in {rendered}"
        )


def test_the_gap_bound_is_at_least_the_window_and_defaults_to_it(tmp_path: Path) -> None:
    path = tmp_path / "completeness.yaml"
    orbit = "numbering: absolute, orbit_period_minutes: 101, types: [{type: X, minutes: 5, timeliness: [T]}]"
    path.write_text(f"orbits:\n  S5P: {{{orbit}, backfill_orbits: 43}}\n")
    s5p = load_rules(path).orbit_rule("S5P")
    assert s5p is not None and s5p.max_gap == 43  # no bound written: no gap beyond the window
    path.write_text(f"orbits:\n  S5P: {{{orbit}, backfill_orbits: 43, max_backfill_orbits: 42}}\n")
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    assert "max_backfill_orbits is at least backfill_orbits" in str(caught.value)
