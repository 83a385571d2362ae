"""The CDS catalog: Sentinel document models, engines and default configuration files.

The models and engines tables are filled as the CDS core is built (issue #6).
"""

from __future__ import annotations

from pathlib import Path

from maas.catalog import Catalog
from maas.engine.registry import EngineRegistry
from maas.model import ModelRegistry

_CONFIG = Path(__file__).parent / "config"


def _existing(path: Path) -> Path | None:
    return path if path.exists() else None


CATALOG = Catalog(
    models=ModelRegistry([]),
    engines=EngineRegistry([]),
    routing_file=_existing(_CONFIG / "routing.yaml"),
    collectors_dir=_existing(_CONFIG / "collectors"),
)
