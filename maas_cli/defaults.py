"""Where the packaged CDS defaults live (the CLI wires business defaults; maas stays generic)."""

from __future__ import annotations

from pathlib import Path

import cds

_CDS_ROOT = Path(cds.__file__).parent
DEFAULT_COLLECTORS_DIR: Path | None = _CDS_ROOT / "config" / "collectors"
DEFAULT_ROUTING_FILE: Path | None = _CDS_ROOT / "config" / "routing.yaml"
if not DEFAULT_COLLECTORS_DIR.is_dir():
    DEFAULT_COLLECTORS_DIR = None
if not DEFAULT_ROUTING_FILE.is_file():
    DEFAULT_ROUTING_FILE = None
