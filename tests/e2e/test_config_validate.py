"""``maas config validate`` as a new user meets it: one line per problem, never a traceback,
the exit code of a configuration error, paths relative to the settings file."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit


def maas(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MAAS_")} | {"COLUMNS": "300"}
    return subprocess.run(
        ["maas", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=clean | (env or {}),
        timeout=60,
        check=False,
    )


def test_a_yaml_tag_is_a_one_line_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text("foo: !!python/object:os.system x\n")
    result = maas("-c", "t.yaml", "config", "validate", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "t.yaml:1: foo: YAML tags are not allowed (!!python/object:os.system)",
        "1 problem(s) in 1 file(s)",
    ]


def test_a_bad_store_url_in_the_environment_is_refused_and_counted_there(tmp_path: Path) -> None:
    result = maas("config", "validate", cwd=tmp_path, env={"MAAS_STORE_URL": "duckdb://x.duckdb"})
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("environment MAAS_STORE_URL: store.url: not a DuckDB file URL")
    assert "duckdb:///relative/path.duckdb" in lines[0]
    assert lines[1] == "1 problem(s) in the environment"


def test_paths_of_a_settings_file_are_found_from_any_directory(tmp_path: Path) -> None:
    dist, misc = tmp_path / "dist", tmp_path / "misc"
    (dist / "collectors").mkdir(parents=True)
    misc.mkdir()
    (dist / "maas.yaml").write_text("collectors_dir: collectors\nrouting_file: routing.yaml\n")
    result = maas("-c", "../dist/maas.yaml", "config", "validate", cwd=misc)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"../dist/maas.yaml:2: routing_file: {dist / 'routing.yaml'}: no such file",
        "1 problem(s) in 1 file(s)",
    ]


def test_a_misspelled_setting_variable_is_warned_about(tmp_path: Path) -> None:
    result = maas("config", "validate", cwd=tmp_path, env={"MAAS_ARCHIVE_DIRR": "a", "MAAS_NOPE": "1"})
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "is not a setting" in line]
    assert len(warnings) == 1
    assert "MAAS_ARCHIVE_DIRR is not a setting and is ignored: did you mean MAAS_ARCHIVE_DIR?" in warnings[0]
