"""What ``maas collect`` archives, ``maas replay`` sees: an archive write cut short is said, not failed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from replay_site import Site

pytestmark = pytest.mark.unit


@pytest.fixture
def site(tmp_path: Path) -> Site:
    site = Site.create(tmp_path / "site")
    site.drop("a.csv", "name,value\na,1\n")
    site.ok("collect")
    return site


def test_a_data_file_left_without_its_sidecar_is_a_warning_and_the_replay_exits_0(site: Site) -> None:
    """What a full disk left behind before the fix (the data file fit, its sidecar did not): the
    payload was never journaled and was collected again, so the replay names it and goes on."""
    [data] = site.payloads()
    cut_short = data.with_name("Products-p0001.json.gz")
    shutil.copy(data, cut_short)
    result = site.ok("replay", str(site.archive), "--out", "replay.duckdb")
    assert f"warning: {cut_short}: data file without its sidecar" in result.stderr
    assert "FAILED" not in result.stderr and "payloads=1 records=1 created=1" in result.stderr


def test_a_corrupt_sidecar_still_fails_the_replay(site: Site) -> None:
    [data] = site.payloads()
    Path(str(data) + ".json").write_text("{not json")
    result = site.maas("replay", str(site.archive), "--out", "replay.duckdb")
    assert result.returncode == 1 and f"FAILED {data}: unreadable sidecar" in result.stderr
