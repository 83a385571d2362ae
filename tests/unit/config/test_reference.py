"""The committed reference pages are exactly what the schemas render (they cannot drift)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
DOCS = Path(__file__).resolve().parents[3] / "docs" / "reference"


@pytest.mark.parametrize("page", ["settings", "collectors", "routing"])
def test_reference_page_is_up_to_date(page: str) -> None:
    rendered = subprocess.run(
        [sys.executable, "-m", "maas_cli", "config", "reference", page],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    committed = (DOCS / f"{page}.md").read_text()
    assert rendered == committed, f"run: maas config reference {page} > docs/reference/{page}.md"


def test_every_source_type_and_secret_is_documented() -> None:
    page = (DOCS / "collectors.md").read_text()
    for section in ("FilesystemConfig", "SftpConfig", "FtpConfig", "ODataConfig", "HttpConfig", "CsvExtract"):
        assert f"## {section}" in page
    assert "env:NAME or file:/path" in page


def test_unknown_page_is_a_usage_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "maas_cli", "config", "reference", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and "unknown reference page" in result.stderr
