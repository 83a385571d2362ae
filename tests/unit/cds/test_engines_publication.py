"""CONSOLIDATE_PUBLICATION through the real CDS chain on DuckDB."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cds_chain import CdsChain, raw_product, utc

from cds.models import PRODUCT, PUBLICATION, RAW_DD_PRODUCT, RAW_PRIP_PRODUCT

pytestmark = pytest.mark.unit
S1 = "S1A_EW_RAW__0NDH_20211206T121955_20211206T122150_029904_0391E7_D00D.SAFE.zip"
S2 = "S2A_MSIL1C_20211206T182741_N0301_R127_T11SQS_20211206T201831"


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[CdsChain]:
    chain = CdsChain(tmp_path / "cds.duckdb")
    yield chain
    chain.close()


def test_publication_carries_parsed_name_and_signed_timeliness(chain: CdsChain) -> None:
    chain.feed(
        RAW_PRIP_PRODUCT,
        [
            raw_product(
                S1,
                "S1A-Serco",
                "2021-12-06T12:31:50",
                origin_date=utc("2021-12-06T12:30:00"),
                content_length=1234,
                product_id="uuid-1",
            )
        ],
    )
    (pub,) = chain.docs(PUBLICATION)
    assert pub.id == PUBLICATION.id_for("S1A-Serco", S1)
    assert pub.index == "cds-publication-2021-12"
    data = pub.data
    assert data["interface_kind"] == "PRIP"
    assert data["product_key"] == S1.removesuffix(".SAFE.zip")
    assert (data["mission"], data["satellite"], data["product_type"], data["level"]) == (
        "S1",
        "S1A",
        "EW_RAW__0N",
        "L0",
    )
    assert (data["absolute_orbit"], data["datatake_id"]) == (29904, "233959")
    assert data["datatake_key"] == "S1A-233959" and data["attach_method"] == "name"
    assert data["from_sensing_seconds"] == 600.0  # 12:31:50 - 12:21:50
    assert data["transfer_seconds"] == 110.0  # 12:31:50 - 12:30:00
    assert data["name_parsed"] is True and data["product_id"] == "uuid-1"


def test_negative_timeliness_is_stored_negative(chain: CdsChain) -> None:
    """Published 50 s before its sensing stop and 5 s before its origin date: a clock error to show."""
    chain.feed(
        RAW_PRIP_PRODUCT,
        [
            raw_product(
                S1,
                "S1A-Serco",
                "2021-12-06T12:21:00",
                origin_date=utc("2021-12-06T12:21:05"),
            )
        ],
    )
    stored = chain.store.get(PUBLICATION, [PUBLICATION.id_for("S1A-Serco", S1)])
    (pub,) = stored.values()
    assert pub.data["from_sensing_seconds"] == -50.0
    assert pub.data["transfer_seconds"] == -5.0
    (product,) = chain.docs(PRODUCT)
    assert product.data["prip_from_sensing_seconds"] == -50.0


def test_unknown_name_still_makes_a_publication_and_a_product(chain: CdsChain) -> None:
    chain.feed(
        RAW_DD_PRODUCT,
        [
            raw_product(
                "ACME_something_odd.zip",
                "DD-DHUS",
                "2022-03-04T05:06:07",
                content_start=utc("2022-03-04T00:00:00"),
                content_stop=utc("2022-03-04T00:10:00"),
            )
        ],
    )
    (pub,) = chain.docs(PUBLICATION)
    assert pub.data["name_parsed"] is False and pub.data["parse_reason"]
    assert pub.data["interface_kind"] == "DD"
    assert "mission" not in pub.data and "datatake_key" not in pub.data
    # the interface's ContentDate stands in for the sensing period the name does not give
    assert pub.data["from_sensing_seconds"] == 5 * 3600 + 6 * 60 + 7 - 600
    (product,) = chain.docs(PRODUCT)
    assert product.data["product_key"] == "ACME_something_odd"
    assert product.data["dd_count"] == 1 and product.data["name_parsed"] is False


def test_content_date_fills_only_what_the_name_does_not_give(chain: CdsChain) -> None:
    """The S2 compact name gives the sensing start; the stop comes from ContentDate/End."""
    chain.feed(
        RAW_PRIP_PRODUCT,
        [
            raw_product(
                S2,
                "S2A-ATOS",
                "2021-12-06T19:00:00",
                content_start=utc("2021-12-06T18:20:00"),
                content_stop=utc("2021-12-06T18:30:00"),
            )
        ],
    )
    (pub,) = chain.docs(PUBLICATION)
    assert pub.data["sensing_start"] == utc("2021-12-06T18:27:41")
    assert pub.data["sensing_stop"] == utc("2021-12-06T18:30:00")
    assert pub.data["from_sensing_seconds"] == 1800.0


def test_same_raw_again_is_quiet(chain: CdsChain) -> None:
    raw = raw_product(S1, "S1A-Serco", "2021-12-06T12:31:50")
    chain.feed(RAW_PRIP_PRODUCT, [raw])
    stats = chain.feed(RAW_PRIP_PRODUCT, [raw], again=True)  # a replay: same raw, same publication
    assert stats.acked == 1 and stats.reports == 0
