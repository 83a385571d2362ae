"""The CDS document models: raw documents as collected, consolidated documents as displayed.

One explicit table (``MODELS``) at the end; the catalog hands it to the framework.

Choices that shape the queries downstream:

- **Raw products: one family per interface kind** (``raw-prip-product``, ``raw-lta-product``,
  ``raw-auxip-product``, ``raw-dd-product``), all with the same fields. A collector file names
  its family, so the kind of a document is fixed by configuration instead of by a field every
  extract block would have to remember to set; routing keys (``new.raw-lta-product``) let a
  deployment route, scale or retain kinds separately; and ``CONSOLIDATE_PUBLICATION`` reads the
  kind from the batch's family (``INTERFACE_KIND``), never from the payload.
- **Raw product key: interface + name** (not the OData ``Id``), the same identity as the
  publication it becomes: raw and publication are one-to-one, so consolidation never has to
  choose between two raw documents and stays order-independent. The OData ``Id`` is kept.
- **Ids** are the framework's deterministic hashes of the typed key values (no concatenation).
- **Partitions**: month partitions (``ByDate``) on the large families — raw products and
  publications by publication date (always present, never moves), products by
  ``reference_date`` (sensing start, or the first publication for names without a sensing
  time), probes by probe time. Datatakes, completeness and status timelines are small: one index.
- **Types for Grafana**: keywords for anything grouped by (terms aggregations), floats for KPIs
  and durations (signed seconds, never folded to positive), datetimes for time axes.
- Consolidated documents carry no "computed at" clock: content that did not change must hash
  the same, so rewrites and their reports stay quiet.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from maas.model import ByDate, DocumentClass, Field, FieldType

KEYWORD, TEXT, INT, LONG = FieldType.KEYWORD, FieldType.TEXT, FieldType.INTEGER, FieldType.LONG
FLOAT, BOOL, DATETIME = FieldType.FLOAT, FieldType.BOOLEAN, FieldType.DATETIME


def _f(kind: FieldType, required: bool = False, many: bool = False) -> Field:
    return Field(kind, required=required, many=many)


def _req(kind: FieldType) -> Field:
    return Field(kind, required=True)


# --- raw documents (as the interfaces publish them) ------------------------------------------

_CHECKSUM = Field(
    FieldType.NESTED,
    many=True,
    # OData property names as published, so an extract block passes the list through unchanged.
    properties={"Algorithm": _f(KEYWORD), "Value": _f(KEYWORD), "ChecksumDate": _f(DATETIME)},
)

RAW_PRODUCT_FIELDS: Mapping[str, Field] = MappingProxyType(
    {
        "interface_name": _req(KEYWORD),
        "name": _req(KEYWORD),  # OData Name
        "product_id": _f(KEYWORD),  # OData Id
        "content_length": _f(LONG),
        "publication_date": _req(DATETIME),
        "eviction_date": _f(DATETIME),
        "origin_date": _f(DATETIME),
        "content_start": _f(DATETIME),  # OData ContentDate/Start
        "content_stop": _f(DATETIME),  # OData ContentDate/End
        "footprint": _f(FieldType.GEO_SHAPE),
        "checksum": _CHECKSUM,
        "collected_at": _f(DATETIME),
    }
)


def _raw_product(kind: str) -> DocumentClass:
    return DocumentClass(
        f"Raw{kind}Product",
        f"raw-{kind.lower()}-product",
        RAW_PRODUCT_FIELDS,
        key=("interface_name", "name"),
        partition=ByDate("publication_date"),
        description=f"One entry of a {kind} OData Products entity set, as collected.",
    )


RAW_PRIP_PRODUCT = _raw_product("PRIP")
RAW_LTA_PRODUCT = _raw_product("LTA")
RAW_AUXIP_PRODUCT = _raw_product("AUXIP")
RAW_DD_PRODUCT = _raw_product("DD")
RAW_PRODUCTS = (RAW_PRIP_PRODUCT, RAW_LTA_PRODUCT, RAW_AUXIP_PRODUCT, RAW_DD_PRODUCT)
INTERFACE_KINDS = ("PRIP", "LTA", "AUXIP", "DD")
# The kind of interface a raw family comes from: decided by the family, not by the payload.
INTERFACE_KIND: Mapping[str, str] = MappingProxyType(
    {c.family: kind for c, kind in zip(RAW_PRODUCTS, INTERFACE_KINDS, strict=True)}
)

RAW_MP_DATATAKE = DocumentClass(
    "RawMissionPlanDatatake",
    "raw-mp-datatake",
    {
        "satellite": _req(KEYWORD),  # unit: S1A, S2B...
        "datatake_id": _req(KEYWORD),  # as the plan writes it (S1: decimal)
        "observation_start": _req(DATETIME),
        "observation_stop": _req(DATETIME),
        "instrument_mode": _f(KEYWORD),
        "timeliness_category": _f(KEYWORD),
        "absolute_orbit": _f(LONG),
        "plan_application_date": _req(DATETIME),  # the plan's version
        "plan_file_name": _req(KEYWORD),
        "collected_at": _f(DATETIME),
    },
    # Every plan's row is kept (history); the datatake keeps the newest plan's version.
    key=("plan_file_name", "satellite", "datatake_id"),
    description="One planned datatake row of one mission-plan file.",
)

PROBE_STATUSES = ("up", "down", "degraded")
RAW_INTERFACE_PROBE = DocumentClass(
    "RawInterfaceProbe",
    "raw-interface-probe",
    {
        "interface_name": _req(KEYWORD),
        "probe_time": _req(DATETIME),
        "status": _req(KEYWORD),  # up | down | degraded
        "response_time": _f(FLOAT),  # seconds
        "message": _f(TEXT),
        "collected_at": _f(DATETIME),
    },
    key=("interface_name", "probe_time"),
    partition=ByDate("probe_time"),
    description="One availability probe of one interface.",
)

# --- consolidated documents -----------------------------------------------------------------

# What a parsed name contributes to a publication and a product (cds.naming's common fields).
_NAME_FIELDS: Mapping[str, Field] = {
    "name_parsed": _req(BOOL),  # false: no grammar accepted the name (kept, never dropped)
    "parse_reason": _f(KEYWORD),
    "grammar": _f(KEYWORD),
    "mission": _f(KEYWORD),
    "satellite": _f(KEYWORD),
    "product_type": _f(KEYWORD),
    "level": _f(KEYWORD),
    "timeliness": _f(KEYWORD),  # the name's timeliness code (NRTI, NR, AL...)
    "sensing_start": _f(DATETIME),
    "sensing_stop": _f(DATETIME),
    "absolute_orbit": _f(LONG),
    "relative_orbit": _f(INT),
    "cycle": _f(INT),
    "datatake_id": _f(KEYWORD),
}

# What attaching to a (pseudo-)datatake adds (written by ATTACH_DATATAKE, kept by the others).
ATTACH_FIELDS: Mapping[str, Field] = MappingProxyType(
    {
        "datatake_key": _f(KEYWORD),  # <unit>-<datatake id>; S3 <unit>-<cycle>-<relative orbit>
        "attach_method": _f(KEYWORD),  # name | window | pseudo (cds/data/attach.yaml)
        "planned": _f(BOOL),  # a planned datatake was found (its fields below are the plan's)
        "timeliness_category": _f(KEYWORD),
        "instrument_mode": _f(KEYWORD),
        "plan_absolute_orbit": _f(LONG),
    }
)

PUBLICATION = DocumentClass(
    "Publication",
    "cds-publication",
    {
        "interface_name": _req(KEYWORD),
        "interface_kind": _req(KEYWORD),  # PRIP | LTA | AUXIP | DD
        "product_name": _req(KEYWORD),  # as published, with extensions
        "product_key": _req(KEYWORD),  # name without extensions: the Product's key
        "product_id": _f(KEYWORD),
        **_NAME_FIELDS,
        "publication_date": _req(DATETIME),
        "origin_date": _f(DATETIME),
        "eviction_date": _f(DATETIME),
        "content_length": _f(LONG),
        "from_sensing_seconds": _f(FLOAT),  # publication - sensing stop, signed
        "transfer_seconds": _f(FLOAT),  # publication - origin, signed
        **ATTACH_FIELDS,
    },
    key=("interface_name", "product_name"),
    partition=ByDate("publication_date"),
    description="One product on one interface, with its timeliness.",
    lookups=("product_key",),  # CONSOLIDATE_PRODUCT reads every publication of its products
)


def _per_kind(suffix: str, kind: FieldType, many: bool = False) -> dict[str, Field]:
    return {f"{k.lower()}_{suffix}": _f(kind, many=many) for k in INTERFACE_KINDS}


PRODUCT = DocumentClass(
    "Product",
    "cds-product",
    {
        "product_key": _req(KEYWORD),
        "product_name": _f(KEYWORD),  # as first published (with extensions)
        **_NAME_FIELDS,
        "reference_date": _req(DATETIME),  # sensing start, else the first publication: the partition
        "content_length": _f(LONG),
        "first_publication_date": _f(DATETIME),
        "first_interface": _f(KEYWORD),
        **_per_kind("first_publication_date", DATETIME),
        **_per_kind("first_interface", KEYWORD),  # the interface of that first publication
        **_per_kind("count", INT),  # served by N PRIPs, N LTAs...
        "interfaces": _f(KEYWORD, many=True),
        # the interfaces per kind; prip_interfaces: the production services that served it
        **_per_kind("interfaces", KEYWORD, many=True),
        "prip_to_dd_seconds": _f(FLOAT),  # first DD - first PRIP publication, signed
        "prip_from_sensing_seconds": _f(FLOAT),  # first PRIP publication - sensing stop, signed
        **ATTACH_FIELDS,
        # the datatakes it was attached to before (a newer plan moved it): recomputed with its own
        "left_datatake_keys": _f(KEYWORD, many=True),
    },
    key=("product_key",),
    partition=ByDate("reference_date"),
    description="One product across every interface that published it.",
    lookups=("datatake_key",),  # the completeness engines read every product of a (pseudo-)datatake
)

DATATAKE = DocumentClass(
    "Datatake",
    "cds-datatake",
    {
        "datatake_key": _req(KEYWORD),  # <unit>-<datatake id>
        "satellite": _req(KEYWORD),
        "mission": _f(KEYWORD),
        "datatake_id": _req(KEYWORD),
        "observation_start": _req(DATETIME),
        "observation_stop": _req(DATETIME),
        "observation_duration_seconds": _f(FLOAT),
        "instrument_mode": _f(KEYWORD),
        "timeliness_category": _f(KEYWORD),
        "absolute_orbit": _f(LONG),
        "plan_version": _req(DATETIME),  # the plan application date: newer supersedes
        "plan_file_name": _f(KEYWORD),
    },
    key=("datatake_key",),
    description="One planned acquisition, from the newest mission plan that lists it.",
)

COMPLETENESS_STATUSES = ("Missing", "Partial", "Complete")
_PERIOD = Field(FieldType.NESTED, many=True, properties={"start": _req(DATETIME), "stop": _req(DATETIME)})

COMPLETENESS = DocumentClass(
    "Completeness",
    "cds-completeness",
    {
        "datatake_key": _req(KEYWORD),
        "product_type": _req(KEYWORD),  # a product type, or a global marker chosen by the engine
        "scope": _req(KEYWORD),  # which products count (e.g. the production service, or all)
        "satellite": _f(KEYWORD),
        "mission": _f(KEYWORD),
        "instrument_mode": _f(KEYWORD),
        "timeliness_category": _f(KEYWORD),
        "observation_start": _f(DATETIME),
        "observation_stop": _f(DATETIME),
        "plan_version": _f(DATETIME),
        "measure": _f(KEYWORD),  # seconds | count
        "value": _f(FLOAT),
        "expected": _f(FLOAT),
        "percentage": _f(FLOAT),  # value / expected, capped at 100
        "status": _f(KEYWORD),  # Missing | Partial | Complete
        "products": _f(INT),
        "missing_periods": _PERIOD,
    },
    key=("datatake_key", "product_type", "scope"),
    description="Completeness of one datatake for one product type (and scope).",
)

ORBIT_COMPLETENESS = DocumentClass(
    "OrbitCompleteness",
    "cds-orbit-completeness",
    {
        "orbit_key": _req(KEYWORD),  # the pseudo-datatake: S3A-079-339, S5P-23146
        "product_type": _req(KEYWORD),
        "satellite": _req(KEYWORD),
        "mission": _f(KEYWORD),
        "cycle": _f(INT),
        "absolute_orbit": _f(LONG),
        "relative_orbit": _f(INT),
        "timeliness": _f(KEYWORD),
        "orbit_start": _f(DATETIME),  # the orbit's span: its products' sensing, whatever their type
        "orbit_stop": _f(DATETIME),
        "dates_estimated": _f(BOOL),  # no product: dated whole periods from the nearest dated orbit
        "value_minutes": _f(FLOAT),
        "expected_minutes": _f(FLOAT),
        "percentage": _f(FLOAT),
        "status": _f(KEYWORD),
        "products": _f(INT),
    },
    key=("orbit_key", "product_type"),
    description="S3/S5P completeness of one orbit for one product type (back-filled when empty).",
)

INTERFACE_STATUS = DocumentClass(
    "InterfaceStatus",
    "cds-interface-status",
    {
        "interface_name": _req(KEYWORD),
        "status": _req(KEYWORD),  # up | down | degraded
        "start": _req(DATETIME),
        "stop": _f(DATETIME),  # null: the interval is still open
        "duration_seconds": _f(FLOAT),
        "probes": _f(INT),
        "last_probe_time": _f(DATETIME),
        "open": _f(BOOL),  # the latest interval (stop is null): found by a term query
        "message": _f(TEXT),
    },
    key=("interface_name", "start"),
    description="One interval of one interface's status timeline.",
)

MODELS: tuple[DocumentClass, ...] = (
    *RAW_PRODUCTS,
    RAW_MP_DATATAKE,
    RAW_INTERFACE_PROBE,
    PUBLICATION,
    PRODUCT,
    DATATAKE,
    COMPLETENESS,
    ORBIT_COMPLETENESS,
    INTERFACE_STATUS,
)

__all__ = [
    "ATTACH_FIELDS",
    "COMPLETENESS",
    "COMPLETENESS_STATUSES",
    "DATATAKE",
    "INTERFACE_KIND",
    "INTERFACE_KINDS",
    "INTERFACE_STATUS",
    "MODELS",
    "ORBIT_COMPLETENESS",
    "PROBE_STATUSES",
    "PRODUCT",
    "PUBLICATION",
    "RAW_AUXIP_PRODUCT",
    "RAW_DD_PRODUCT",
    "RAW_INTERFACE_PROBE",
    "RAW_LTA_PRODUCT",
    "RAW_MP_DATATAKE",
    "RAW_PRIP_PRODUCT",
    "RAW_PRODUCTS",
    "RAW_PRODUCT_FIELDS",
]
