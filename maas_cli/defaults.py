"""Where the packaged CDS defaults live (the CLI wires business defaults; maas stays generic)."""

from __future__ import annotations

from pathlib import Path

import cds

_CDS_CONFIG = Path(cds.__file__).parent / "config"


def _existing(path: Path) -> Path | None:
    return path if path.exists() else None


DEFAULT_COLLECTORS_DIR = _existing(_CDS_CONFIG / "collectors")
DEFAULT_ROUTING_FILE = _existing(_CDS_CONFIG / "routing.yaml")
