"""The CDS models, catalog and default configuration files, checked against each other."""

from __future__ import annotations

from pathlib import Path

import pytest

from cds.catalog import CATALOG
from cds.models import (
    COMPLETENESS,
    DATATAKE,
    INTERFACE_KIND,
    INTERFACE_STATUS,
    MODELS,
    ORBIT_COMPLETENESS,
    PRODUCT,
    PUBLICATION,
    RAW_MP_DATATAKE,
    RAW_PRIP_PRODUCT,
    RAW_PRODUCTS,
)
from maas.collector.config import check_collector_file, load_collectors
from maas.config.settings import BusSettings
from maas.engine.routing import check_routing, load_routing
from maas.model import ByDate, FieldType, NoPartition
from maas.store.duckdb import DuckDBStore

pytestmark = pytest.mark.unit


def test_catalog_holds_every_model_and_the_default_files() -> None:
    assert [c.family for c in CATALOG.models] == [c.family for c in MODELS]
    assert {
        "CONSOLIDATE_PUBLICATION",
        "CONSOLIDATE_PRODUCT",
        "CONSOLIDATE_MISSION_PLAN",
        "ATTACH_DATATAKE",
    } <= set(CATALOG.engines)
    assert CATALOG.routing_file is not None and CATALOG.collectors_dir is not None


def test_default_collectors_and_routing_validate_against_the_catalog() -> None:
    assert CATALOG.collectors_dir is not None and CATALOG.routing_file is not None
    for path in sorted(CATALOG.collectors_dir.glob("*.yaml")):
        assert check_collector_file(path, CATALOG.models) == [], path
    assert check_routing(CATALOG.routing_file, CATALOG.engines) == []


def test_routing_binds_known_families_and_runs_every_engine() -> None:
    """A typo in a binding key routes nothing, silently: every key must name a model."""
    assert CATALOG.routing_file is not None
    routing = load_routing(CATALOG.routing_file, CATALOG.engines)
    queues = [q for pool in routing.pools.values() for q in pool.queues]
    for queue in queues:
        for binding in queue.bindings:
            for key in binding.keys:
                action, _, family = key.partition(".")
                assert action in ("new", "update", "delete", "*") and family in CATALOG.models, key
    used = {engine.id for queue in queues for engine in queue.engines}
    assert used == set(CATALOG.engines)


def test_only_the_unconditional_status_fold_has_a_single_active_consumer() -> None:
    """CONSOLIDATE_INTERFACE_STATUS extends intervals it finds by a search, not on condition:
    two replicas folding at once could overwrite each other's, so its queue serves one consumer
    at a time. The aggregate engines write on condition and scale out."""
    assert CATALOG.routing_file is not None
    routing = load_routing(CATALOG.routing_file, CATALOG.engines)
    folds = {
        queue.name
        for pool in routing.pools.values()
        for queue in pool.queues
        if "CONSOLIDATE_INTERFACE_STATUS" in {engine.id for engine in queue.engines}
    }
    single = {spec.name for spec in routing.topology(BusSettings()).queues if spec.single_active_consumer}
    assert single == folds == {"cds.interface-status"}


def test_every_raw_family_has_an_example_collector() -> None:
    assert CATALOG.collectors_dir is not None
    collectors = load_collectors(CATALOG.collectors_dir, CATALOG.models)
    raw_families = {c.family for c in CATALOG.models if c.family.startswith("raw-")}
    assert {c.model for c in collectors} == raw_families
    assert not [c.id for c in collectors if c.enabled]  # examples: they need real endpoints


def test_interface_kind_is_decided_by_the_raw_family() -> None:
    assert dict(INTERFACE_KIND) == {
        "raw-prip-product": "PRIP",
        "raw-lta-product": "LTA",
        "raw-auxip-product": "AUXIP",
        "raw-dd-product": "DD",
    }
    assert all(c.fields == RAW_PRIP_PRODUCT.fields for c in RAW_PRODUCTS)


def test_ids_come_from_the_domain_keys() -> None:
    name = "S1A_EW_RAW__0NDH_20211206T121955_20211206T122150_029904_0391E7_D00D"
    pub = {
        "interface_kind": "PRIP",
        "product_name": f"{name}.SAFE.zip",
        "product_key": name,
        "name_parsed": True,
        "publication_date": "2021-12-06T12:40:00Z",
    }
    one = PUBLICATION.make(pub | {"interface_name": "S1A-Serco"})
    other = PUBLICATION.make(pub | {"interface_name": "S1A-Backup"})
    assert one.id == PUBLICATION.id_for("S1A-Serco", f"{name}.SAFE.zip") != other.id
    assert DATATAKE.key == ("datatake_key",) and PRODUCT.key == ("product_key",)
    assert COMPLETENESS.key == ("datatake_key", "product_type", "scope")
    assert ORBIT_COMPLETENESS.key == ("orbit_key", "product_type")
    assert INTERFACE_STATUS.key == ("interface_name", "start")
    assert RAW_MP_DATATAKE.key == ("plan_file_name", "satellite", "datatake_id")


def test_large_families_are_partitioned_by_month_small_ones_not() -> None:
    monthly = {c.family for c in MODELS if isinstance(c.partition, ByDate)}
    assert {"cds-publication", "cds-product", *INTERFACE_KIND} <= monthly
    for small in (DATATAKE, COMPLETENESS, ORBIT_COMPLETENESS, INTERFACE_STATUS):
        assert isinstance(small.partition, NoPartition)
    assert all(c.partition.pattern == "%Y-%m" for c in MODELS if isinstance(c.partition, ByDate))


def test_field_types_suit_grafana() -> None:
    floats = {
        PUBLICATION: ("from_sensing_seconds", "transfer_seconds"),
        PRODUCT: ("prip_to_dd_seconds", "prip_from_sensing_seconds"),
        COMPLETENESS: ("value", "expected", "percentage"),
        ORBIT_COMPLETENESS: ("value_minutes", "expected_minutes", "percentage"),
    }
    for doc_class, names in floats.items():
        assert {doc_class.fields[n].type for n in names} == {FieldType.FLOAT}, doc_class.name
    for doc_class in (PUBLICATION, PRODUCT, COMPLETENESS):
        for name in ("satellite", "product_type", "datatake_key", "status", "interface_name"):
            if name in doc_class.fields:
                assert doc_class.fields[name].type is FieldType.KEYWORD, (doc_class.name, name)


def test_full_documents_round_trip_through_duckdb(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "models.duckdb")
    store.setup(MODELS)
    raw = RAW_PRIP_PRODUCT.make(
        {
            "interface_name": "S1A-Serco",
            "name": "x.zip",
            "publication_date": "2021-12-06T12:40:00Z",
            "footprint": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
            "checksum": [{"Algorithm": "MD5", "Value": "ab12", "ChecksumDate": "2021-12-06T12:40:00Z"}],
        }
    )
    completeness = COMPLETENESS.make(
        {
            "datatake_key": "S1A-1",
            "product_type": "EW_RAW__0N",
            "scope": "all",
            "value": 60.0,
            "expected": 115.0,
            "percentage": 52.17,
            "status": "Partial",
            "missing_periods": [{"start": "2021-12-06T12:20:00Z", "stop": "2021-12-06T12:20:55Z"}],
        }
    )
    assert store.write([raw, completeness]).counts()["created"] == 2
    assert store.get(RAW_PRIP_PRODUCT, [raw.id])[raw.id].data == raw.data
    assert store.get(COMPLETENESS, [completeness.id])[completeness.id].data == completeness.data
    store.close()
