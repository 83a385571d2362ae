"""Collector files: every problem located by file, line and the key as written in the file."""

from __future__ import annotations

from pathlib import Path

import pytest
from chain_catalog import CATALOG

from maas.collector.config import check_collector_file, load_collectors, select
from maas.errors import ConfigError

pytestmark = pytest.mark.unit

BAD = """collectors:
  - id: x
    interface_name: I
    source: {type: filesystem, root: /tmp, bogus: 1}
    extract:
      format: json
      record: "value[*]"
      fields:
        size: {path: ContentLength, type: integr}
    model: no-such-family
"""

GOOD = """collectors:
  - id: {id}
    interface_name: I
    source: {{type: filesystem, root: /tmp}}
    extract: {{format: csv, fields: {{name: {{path: name}}}}}}
    model: test-raw
"""


def test_problems_name_the_key_as_written_without_union_tags(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(BAD)
    rendered = [p.render() for p in check_collector_file(path)]
    assert f"{path}:4: collectors.0.source.bogus: unknown key" in rendered
    assert any(r.startswith(f"{path}:9: collectors.0.extract.fields.size.type: ") for r in rendered)


def test_unknown_model_family_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(BAD.replace("bogus: 1", "patterns: ['*']").replace("integr", "int"))
    (problem,) = check_collector_file(path, CATALOG.models)
    assert problem.line == 10 and "unknown document family 'no-such-family'" in problem.reason


def test_duplicate_ids_across_files_and_selection(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD.format(id="same"))
    (tmp_path / "b.yaml").write_text(GOOD.format(id="same"))
    with pytest.raises(ConfigError, match="collector id 'same' is used twice"):
        load_collectors(tmp_path, CATALOG.models)
    (tmp_path / "b.yaml").write_text(GOOD.format(id="other"))
    collectors = load_collectors(tmp_path, CATALOG.models)
    assert [c.id for c in select(collectors, ["other"])] == ["other"]
    with pytest.raises(ConfigError, match="unknown collector id"):
        select(collectors, ["nope"])
