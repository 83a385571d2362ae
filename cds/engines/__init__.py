"""The CDS engines, as one explicit table (no registration by import side effect).

Chain (``cds/config/routing.yaml``)::

    raw-*-product ─► CONSOLIDATE_PUBLICATION ─► cds-publication ─► CONSOLIDATE_PRODUCT ─► cds-product
    raw-mp-datatake ─► CONSOLIDATE_MISSION_PLAN ─► cds-datatake ─► ATTACH_DATATAKE ─► cds-product,
                                                                                         cds-publication
"""

from __future__ import annotations

from typing import Any

from cds.engines.attach import AttachDatatake
from cds.engines.mission_plan import ConsolidateMissionPlan
from cds.engines.product import ConsolidateProduct
from cds.engines.publication import ConsolidatePublication
from maas.engine.base import Engine

ENGINES: tuple[type[Engine[Any]], ...] = (
    ConsolidatePublication,
    ConsolidateProduct,
    ConsolidateMissionPlan,
    AttachDatatake,
)

__all__ = [
    "ENGINES",
    "AttachDatatake",
    "ConsolidateMissionPlan",
    "ConsolidateProduct",
    "ConsolidatePublication",
]
