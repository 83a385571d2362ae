"""CONSOLIDATE_PRODUCT through the real CDS chain on DuckDB: the cross-interface merge."""

from __future__ import annotations

from itertools import permutations
from pathlib import Path
from typing import Any

import pytest
from cds_chain import CdsChain, raw_product, utc

from cds.models import PRODUCT, RAW_DD_PRODUCT, RAW_LTA_PRODUCT, RAW_PRIP_PRODUCT
from maas.model import DocumentClass

pytestmark = pytest.mark.unit
NAME = "S1A_IW_SLC__1SDV_20211206T121955_20211206T122022_029904_0391E7_A1B2"
KEY = NAME
# (raw family, interface, publication date, file name as that interface serves it)
ARRIVALS: list[tuple[DocumentClass, str, str, str]] = [
    (RAW_PRIP_PRODUCT, "S1A-Serco", "2021-12-06T12:40:00", f"{NAME}.SAFE.zip"),
    (RAW_PRIP_PRODUCT, "S1A-Backup", "2021-12-06T12:45:00", f"{NAME}.SAFE.zip"),
    (RAW_LTA_PRODUCT, "LTA-1", "2021-12-06T13:00:00", f"{NAME}.zip"),
    (RAW_DD_PRODUCT, "DD-DHUS", "2021-12-06T12:55:30", f"{NAME}.SAFE.zip"),
]


def run_arrivals(path: Path, order: tuple[int, ...], one_batch: bool = False) -> dict[str, Any]:
    chain = CdsChain(path)
    try:
        batches = [order] if one_batch else [(i,) for i in order]
        for batch in batches:
            for i in batch:
                family, interface, published, name = ARRIVALS[i]
                chain.collect(family, [raw_product(name, interface, published)])
            chain.run()
        (product,) = chain.docs(PRODUCT)
        return product.data
    finally:
        chain.close()


def test_merge_of_every_interface(tmp_path: Path) -> None:
    data = run_arrivals(tmp_path / "a.duckdb", (0, 1, 2, 3))
    assert data["product_key"] == KEY
    assert (data["prip_count"], data["lta_count"], data["dd_count"], data["auxip_count"]) == (2, 1, 1, 0)
    assert data["prip_interfaces"] == ["S1A-Backup", "S1A-Serco"]
    assert data["interfaces"] == ["DD-DHUS", "LTA-1", "S1A-Backup", "S1A-Serco"]
    assert data["prip_first_publication_date"] == utc("2021-12-06T12:40:00")
    assert data["prip_first_interface"] == "S1A-Serco"
    assert data["lta_first_publication_date"] == utc("2021-12-06T13:00:00")
    assert data["first_publication_date"] == utc("2021-12-06T12:40:00")
    assert data["prip_to_dd_seconds"] == 15 * 60 + 30
    assert data["prip_from_sensing_seconds"] == 19 * 60 + 38  # 12:40:00 - sensing stop 12:20:22
    assert data["reference_date"] == utc("2021-12-06T12:19:55")  # sensing start: the partition


def test_merge_does_not_depend_on_arrival_order(tmp_path: Path) -> None:
    """Every order of the four arrivals, each on its own product, in one store: arrival k of
    every order is collected and chained before arrival k + 1."""
    orders = list(permutations(range(4)))
    names = {order: NAME.replace("_A1B2", f"_{n:04X}") for n, order in enumerate(orders)}
    chain = CdsChain(tmp_path / "orders.duckdb")
    for step in range(4):
        for order, name in names.items():
            family, interface, published, file_name = ARRIVALS[order[step]]
            chain.collect(family, [raw_product(file_name.replace(NAME, name), interface, published)])
        chain.run()
    products = chain.by(PRODUCT, "product_key")
    chain.close()
    reference = run_arrivals(tmp_path / "ref.duckdb", (0, 1, 2, 3))
    for order, name in names.items():
        assert without_name(products[name]) == without_name(reference), order
    assert run_arrivals(tmp_path / "batch.duckdb", (3, 2, 1, 0), one_batch=True) == reference


def without_name(product: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in product.items() if k not in ("product_key", "product_name")}


def test_dd_before_prip_gives_a_negative_delay(tmp_path: Path) -> None:
    chain = CdsChain(tmp_path / "neg.duckdb")
    chain.feed(RAW_DD_PRODUCT, [raw_product(f"{NAME}.SAFE.zip", "DD-DHUS", "2021-12-06T12:30:00")])
    only_dd = chain.by(PRODUCT, "product_key")[KEY]
    assert only_dd["dd_count"] == 1 and only_dd["prip_count"] == 0 and "prip_to_dd_seconds" not in only_dd
    chain.feed(RAW_PRIP_PRODUCT, [raw_product(f"{NAME}.SAFE.zip", "S1A-Serco", "2021-12-06T12:31:00")])
    assert chain.by(PRODUCT, "product_key")[KEY]["prip_to_dd_seconds"] == -60.0
    chain.close()


def test_later_publication_on_the_same_kind_keeps_the_first(tmp_path: Path) -> None:
    chain = CdsChain(tmp_path / "first.duckdb")
    first = raw_product(f"{NAME}.SAFE.zip", "S1A-Serco", "2021-12-06T12:40:00")
    chain.feed(RAW_PRIP_PRODUCT, [first])
    stats = chain.feed(RAW_PRIP_PRODUCT, [first], again=True)
    assert stats.acked == 1 and stats.reports == 0  # nothing new: no report, completeness stays quiet
    chain.feed(RAW_PRIP_PRODUCT, [raw_product(f"{NAME}.SAFE.zip", "S1A-Backup", "2021-12-06T14:00:00")])
    product = chain.by(PRODUCT, "product_key")[KEY]
    assert product["prip_first_interface"] == "S1A-Serco" and product["prip_count"] == 2
    chain.close()
