"""The CDS catalog: Sentinel document models, engines and default configuration files."""

from __future__ import annotations

from pathlib import Path

from cds.engines import ENGINES
from cds.models import MODELS
from cds.report import REPORT
from cds.views import VIEWS
from maas.catalog import Catalog
from maas.engine.registry import EngineRegistry
from maas.model import ModelRegistry

_CONFIG = Path(__file__).parent / "config"


def _existing(path: Path) -> Path | None:
    return path if path.exists() else None


CATALOG = Catalog(
    models=ModelRegistry(MODELS),
    engines=EngineRegistry(ENGINES),
    routing_file=_existing(_CONFIG / "routing.yaml"),
    collectors_dir=_existing(_CONFIG / "collectors"),
    views=VIEWS,
    report=REPORT,
)
