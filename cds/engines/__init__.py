"""The CDS engines, as one explicit table (no registration by import side effect).

Chain (``cds/config/routing.yaml``)::

    raw-*-product ─► CONSOLIDATE_PUBLICATION ─► cds-publication ─► CONSOLIDATE_PRODUCT ─► cds-product
    raw-mp-datatake ─► CONSOLIDATE_MISSION_PLAN ─► cds-datatake ─► ATTACH_DATATAKE ─► cds-product,
                                                                                         cds-publication
    cds-product, cds-datatake ─► COMPUTE_COMPLETENESS ─► cds-completeness
    cds-product ─► COMPUTE_ORBIT_COMPLETENESS ─► cds-orbit-completeness
    raw-interface-probe ─► CONSOLIDATE_INTERFACE_STATUS ─► cds-interface-status
"""

from __future__ import annotations

from typing import Any

from cds.engines.attach import AttachDatatake
from cds.engines.completeness import ComputeCompleteness
from cds.engines.mission_plan import ConsolidateMissionPlan
from cds.engines.orbits import ComputeOrbitCompleteness
from cds.engines.product import ConsolidateProduct
from cds.engines.publication import ConsolidatePublication
from cds.engines.status import ConsolidateInterfaceStatus
from maas.engine.base import Engine

ENGINES: tuple[type[Engine[Any]], ...] = (
    ConsolidatePublication,
    ConsolidateProduct,
    ConsolidateMissionPlan,
    AttachDatatake,
    ComputeCompleteness,
    ComputeOrbitCompleteness,
    ConsolidateInterfaceStatus,
)

__all__ = [
    "ENGINES",
    "AttachDatatake",
    "ComputeCompleteness",
    "ComputeOrbitCompleteness",
    "ConsolidateInterfaceStatus",
    "ConsolidateMissionPlan",
    "ConsolidateProduct",
    "ConsolidatePublication",
]
