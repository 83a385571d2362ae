"""Attaching products and publications to datatakes, in both directions, through the real chain."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from cds_chain import CdsChain, plan_row, raw_product, utc

from cds.engines.attach import DatatakeIndex, Method, Subject
from cds.engines.mission_plan import datatake_fields
from cds.models import (
    ATTACH_FIELDS,
    COMPLETENESS,
    DATATAKE,
    PRODUCT,
    PUBLICATION,
    RAW_AUXIP_PRODUCT,
    RAW_LTA_PRODUCT,
    RAW_MP_DATATAKE,
    RAW_PRIP_PRODUCT,
)

pytestmark = pytest.mark.unit
S1 = "S1A_EW_RAW__0NDH_20211206T121955_20211206T122150_029904_0391E7_D00D.SAFE.zip"
S1_PLAN = plan_row(
    "S1A",
    "233959",
    "2021-12-06T12:19:55",
    "2021-12-06T12:21:50",
    "2021-12-01T00:00:00",
    instrument_mode="EW",
    timeliness_category="NRT-3h",
    absolute_orbit=29904,
)
# Two S2A windows and a longer S2B one over both.
S2_PLAN = [
    plan_row(
        "S2A",
        "DT1",
        "2021-12-06T18:00:00",
        "2021-12-06T18:20:00",
        "2021-12-01T00:00:00",
        instrument_mode="NOBS",
        timeliness_category="NRT",
    ),
    plan_row(
        "S2A",
        "DT2",
        "2021-12-06T18:25:00",
        "2021-12-06T18:35:00",
        "2021-12-01T00:00:00",
        instrument_mode="NOBS",
        timeliness_category="NRT",
    ),
    plan_row(
        "S2B",
        "DT3",
        "2021-12-06T17:00:00",
        "2021-12-06T20:00:00",
        "2021-12-01T00:00:00",
        instrument_mode="DASC",
        timeliness_category="NTC",
    ),
]


def s2_granule(start: str, stop: str) -> dict[str, Any]:
    """An S2A L0 granule: the name gives the sensing start, ContentDate/End the stop."""
    stamp = start.replace("-", "").replace(":", "")
    name = f"S2A_OPER_MSI_L0__GR_MPS__20211206T230000_S{stamp}_D03_N02.05.tar"
    return raw_product(name, "S2A-ATOS", "2021-12-06T22:00:00", content_stop=utc(stop))


S2_GRANULES = {
    "mostly-dt2": s2_granule("2021-12-06T18:18:00", "2021-12-06T18:30:00"),  # 2 min in DT1, 5 in DT2
    "tie-nearer-dt2": s2_granule("2021-12-06T18:15:00", "2021-12-06T18:30:00"),  # 5 and 5 min
    "inside-dt1": s2_granule("2021-12-06T18:05:00", "2021-12-06T18:06:00"),
    "in-no-s2a-window": s2_granule("2021-12-06T18:50:00", "2021-12-06T18:55:00"),
}
EXPECTED_S2 = {
    "mostly-dt2": "S2A-DT2",
    "tie-nearer-dt2": "S2A-DT2",
    "inside-dt1": "S2A-DT1",
    "in-no-s2a-window": None,
}


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[CdsChain]:
    chain = CdsChain(tmp_path / "cds.duckdb")
    yield chain
    chain.close()


def attached(chain: CdsChain, raws: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """(datatake key, planned, timeliness category, mode) of each raw's product and publication."""
    products = {d.data["product_name"]: d.data for d in chain.docs(PRODUCT)}
    publications = {d.data["product_name"]: d.data for d in chain.docs(PUBLICATION)}
    out = []
    for raw in raws:
        for data in (products[raw["name"]], publications[raw["name"]]):
            out.append(
                tuple(
                    data.get(f) for f in ("datatake_key", "planned", "timeliness_category", "instrument_mode")
                )
            )
    return out


def test_s1_attaches_by_the_datatake_id_of_its_name(chain: CdsChain) -> None:
    raw = raw_product(S1, "S1A-Serco", "2021-12-06T12:40:00")
    chain.feed(RAW_MP_DATATAKE, [S1_PLAN])
    chain.feed(RAW_PRIP_PRODUCT, [raw])
    assert attached(chain, [raw]) == [("S1A-233959", True, "NRT-3h", "EW")] * 2
    (product,) = chain.docs(PRODUCT)
    assert product.data["attach_method"] == "name" and product.data["plan_absolute_orbit"] == 29904


def test_s1_plan_arriving_after_its_product_attaches_it(chain: CdsChain) -> None:
    raw = raw_product(S1, "S1A-Serco", "2021-12-06T12:40:00")
    chain.feed(RAW_PRIP_PRODUCT, [raw])
    assert attached(chain, [raw]) == [("S1A-233959", False, None, None)] * 2  # the name's key, no plan yet
    stats = chain.feed(RAW_MP_DATATAKE, [S1_PLAN])
    assert attached(chain, [raw]) == [("S1A-233959", True, "NRT-3h", "EW")] * 2
    assert stats.reports >= 2  # the datatake, then the re-attached product (completeness listens)


def test_s2_attaches_to_the_window_it_overlaps_most(chain: CdsChain) -> None:
    chain.feed(RAW_MP_DATATAKE, S2_PLAN)
    chain.feed(RAW_PRIP_PRODUCT, list(S2_GRANULES.values()))
    keys = [row[0] for row in attached(chain, list(S2_GRANULES.values()))[::2]]
    assert dict(zip(S2_GRANULES, keys, strict=True)) == EXPECTED_S2
    product = chain.by(PRODUCT, "product_name")[S2_GRANULES["inside-dt1"]["name"]]
    assert (product["attach_method"], product["instrument_mode"]) == ("window", "NOBS")


def test_s2_plan_after_its_products_gives_the_same_attachment(chain: CdsChain, tmp_path: Path) -> None:
    chain.feed(RAW_PRIP_PRODUCT, list(S2_GRANULES.values()))
    assert {row[0] for row in attached(chain, list(S2_GRANULES.values()))} == {None}
    chain.feed(RAW_MP_DATATAKE, S2_PLAN)
    late = attached(chain, list(S2_GRANULES.values()))
    early = CdsChain(tmp_path / "early.duckdb")
    early.feed(RAW_MP_DATATAKE, S2_PLAN)
    early.feed(RAW_PRIP_PRODUCT, list(S2_GRANULES.values()))
    assert late == attached(early, list(S2_GRANULES.values()))
    assert dict(zip(S2_GRANULES, [row[0] for row in late[::2]], strict=True)) == EXPECTED_S2
    early.close()


@pytest.mark.parametrize(
    ("start", "stop", "moved"),
    [
        # a little later: the moved window now covers the granule that had none
        ("2021-12-06T18:45:00", "2021-12-06T19:00:00", {"inside-dt1": None, "in-no-s2a-window": "S2A-DT1"}),
        # a day later: found again only by the key it was attached to
        ("2021-12-07T18:45:00", "2021-12-07T19:00:00", {"inside-dt1": None}),
    ],
)
def test_a_newer_plan_moving_a_window_detaches_and_reattaches(
    chain: CdsChain, start: str, stop: str, moved: dict[str, str | None]
) -> None:
    chain.feed(RAW_MP_DATATAKE, S2_PLAN)
    chain.feed(RAW_PRIP_PRODUCT, list(S2_GRANULES.values()))
    chain.feed(RAW_MP_DATATAKE, [plan_row("S2A", "DT1", start, stop, "2021-12-02T00:00:00")])
    keys = [row[0] for row in attached(chain, list(S2_GRANULES.values()))[::2]]
    assert dict(zip(S2_GRANULES, keys, strict=True)) == EXPECTED_S2 | moved


def granules_of(chain: CdsChain, key: str) -> tuple[Any, ...]:
    """(products, status) of a datatake's MSI_L0__GR completeness record."""
    (record,) = [
        d.data
        for d in chain.docs(COMPLETENESS)
        if d.data["datatake_key"] == key and d.data["product_type"] == "MSI_L0__GR"
    ]
    return record["products"], record["status"]


# DT4 covers "inside-dt1" as much as DT1 does, with the nearer centre: the granule moves there.
DT4 = plan_row(
    "S2A", "DT4", "2021-12-06T18:05:00", "2021-12-06T18:06:00", "2021-12-02T00:00:00", instrument_mode="NOBS"
)
DT1_A_DAY_LATER = plan_row(
    "S2A", "DT1", "2021-12-07T18:00:00", "2021-12-07T18:20:00", "2021-12-02T00:00:00", instrument_mode="NOBS"
)


@pytest.mark.parametrize(("newer_plan", "now"), [(DT4, "S2A-DT4"), (DT1_A_DAY_LATER, None)])
def test_the_datatake_a_product_leaves_no_longer_counts_it(
    chain: CdsChain, newer_plan: dict[str, Any], now: str | None
) -> None:
    """Re-attached elsewhere or detached by a newer plan, the granule leaves DT1: DT1's
    completeness is recomputed without it (the product's report names only its new key)."""
    granule = S2_GRANULES["inside-dt1"]
    chain.feed(RAW_MP_DATATAKE, S2_PLAN)
    chain.feed(RAW_PRIP_PRODUCT, [granule])
    assert granules_of(chain, "S2A-DT1") == (1, "Partial")
    chain.feed(RAW_MP_DATATAKE, [newer_plan])
    product = chain.by(PRODUCT, "product_name")[granule["name"]]
    assert product.get("datatake_key") == now
    assert granules_of(chain, "S2A-DT1") == (0, "Missing")
    if now is not None:
        assert granules_of(chain, now) == (1, "Complete")
    assert product["left_datatake_keys"] == ["S2A-DT1"]


def test_a_product_consolidated_again_under_a_newer_plan_leaves_its_datatake(chain: CdsChain) -> None:
    """A publication consolidated after a plan change that ATTACH_DATATAKE has not handled yet
    (another replica, or its message still queued) moves the product: the datatake it left is
    recomputed all the same."""
    granule = S2_GRANULES["inside-dt1"]
    chain.feed(RAW_MP_DATATAKE, S2_PLAN)
    chain.feed(RAW_PRIP_PRODUCT, [granule])
    chain.store.write([DATATAKE.make(datatake_fields(DT1_A_DAY_LATER))])  # not reported (yet)
    chain.feed(RAW_LTA_PRODUCT, [granule | {"interface_name": "LTA-1"}])
    assert chain.by(PRODUCT, "product_name")[granule["name"]].get("datatake_key") is None
    assert granules_of(chain, "S2A-DT1") == (0, "Missing")


def test_s3_and_s5p_take_their_pseudo_datatake_and_aux_files_none(chain: CdsChain) -> None:
    s3 = raw_product(
        "S3A_TM_0_NAT____20211214T151253_20211214T165228_20211214T165453_5974_079_339"
        "______LN3_O_AL_002.SEN3.zip",
        "S3A-ACRI",
        "2021-12-14T17:00:00",
    )
    s5p = raw_product(
        "S5P_NRTI_L2__AER_LH_20220401T203521_20220401T204021_23146_02_020301_20220401T213615",
        "S5P-DLR",
        "2022-04-01T21:40:00",
    )
    aux = raw_product(
        "S1A_OPER_AUX_RESORB_OPOD_20211206T121955_V20211206T100000_20211206T130000.EOF",
        "AUXIP-1",
        "2021-12-06T13:00:00",
    )
    chain.feed(RAW_PRIP_PRODUCT, [s3, s5p])
    chain.feed(RAW_AUXIP_PRODUCT, [aux])
    chain.feed(RAW_MP_DATATAKE, [S1_PLAN])  # an S1 plan over the AUX file's validity changes nothing
    by_name = chain.by(PRODUCT, "product_name")
    s3_product = by_name[s3["name"]]
    assert (s3_product["datatake_key"], s3_product["attach_method"]) == ("S3A-079-339", "pseudo")
    assert by_name[s5p["name"]]["datatake_key"] == "S5P-23146"
    assert "datatake_key" not in by_name[aux["name"]]


PATHS = [("name", "S1A-233959"), ("pseudo", "S3A-101-023"), ("window", None), (None, None)]


@pytest.mark.parametrize(("method", "name_key"), PATHS)
def test_attach_gives_every_attach_field_on_every_path(method: Method | None, name_key: str | None) -> None:
    """Documents are rewritten with these fields: a field left out would keep a stale value."""
    subject = Subject("S1", "S1A", method, utc("2021-12-06T12:19:55"), utc("2021-12-06T12:21:50"), name_key)
    assert DatatakeIndex([]).attach(subject).keys() == ATTACH_FIELDS.keys()
