"""CONSOLIDATE_MISSION_PLAN through the real CDS chain on DuckDB: versioned upserts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from cds_chain import CdsChain, plan_row, raw_product, utc

from cds.models import COMPLETENESS, DATATAKE, PRODUCT, PUBLICATION, RAW_MP_DATATAKE, RAW_PRIP_PRODUCT
from maas.model import DocumentClass

pytestmark = pytest.mark.unit
KEY = "S1A-233959"
PRODUCT_NAME = "S1A_EW_RAW__0NDH_20211206T121955_20211206T122150_029904_0391E7_D00D.SAFE.zip"


def s1_plan(plan: str, mode: str, timeliness: str, stop: str = "2021-12-06T12:21:50") -> dict[str, object]:
    return plan_row(
        "S1A",
        "233959",
        "2021-12-06T12:19:55",
        stop,
        plan,
        instrument_mode=mode,
        timeliness_category=timeliness,
        absolute_orbit=29904,
    )


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[CdsChain]:
    chain = CdsChain(tmp_path / "cds.duckdb")
    yield chain
    chain.close()


def test_plan_row_becomes_a_datatake(chain: CdsChain) -> None:
    chain.feed(RAW_MP_DATATAKE, [s1_plan("2021-12-01T00:00:00", "EW", "NRT-3h")])
    (datatake,) = chain.docs(DATATAKE)
    assert datatake.id == DATATAKE.id_for(KEY)
    assert datatake.data["mission"] == "S1" and datatake.data["satellite"] == "S1A"
    assert datatake.data["observation_duration_seconds"] == 115.0
    assert datatake.data["plan_version"] == utc("2021-12-01T00:00:00")


def test_newer_plan_supersedes_and_older_plan_changes_nothing(chain: CdsChain) -> None:
    chain.feed(RAW_MP_DATATAKE, [s1_plan("2021-12-01T00:00:00", "EW", "NRT-3h")])
    chain.feed(RAW_MP_DATATAKE, [s1_plan("2021-12-03T00:00:00", "IW", "NTC", stop="2021-12-06T12:22:00")])
    newer = chain.by(DATATAKE, "datatake_key")[KEY]
    assert (newer["instrument_mode"], newer["timeliness_category"]) == ("IW", "NTC")
    assert newer["observation_stop"] == utc("2021-12-06T12:22:00")
    assert newer["plan_version"] == utc("2021-12-03T00:00:00")

    stats = chain.feed(RAW_MP_DATATAKE, [s1_plan("2021-12-02T00:00:00", "SM", "FAST-24h")])
    assert stats.acked == 1 and stats.reports == 0  # the older row is kept as raw history only
    assert chain.by(DATATAKE, "datatake_key")[KEY] == newer
    assert chain.store.count(RAW_MP_DATATAKE) == 3


def test_newest_row_of_one_batch_wins_whatever_its_position(chain: CdsChain) -> None:
    chain.feed(
        RAW_MP_DATATAKE,
        [
            s1_plan("2021-12-03T00:00:00", "IW", "NTC"),
            s1_plan("2021-12-01T00:00:00", "EW", "NRT-3h"),
            s1_plan("2021-12-02T00:00:00", "SM", "FAST-24h"),
        ],
    )
    assert chain.by(DATATAKE, "datatake_key")[KEY]["instrument_mode"] == "IW"


def test_superseding_keeps_the_datatake_and_what_hangs_off_it(
    chain: CdsChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No delete-and-reinsert: the same document is updated, completeness records stay, and the
    attached products take the new plan's fields."""
    chain.feed(RAW_MP_DATATAKE, [s1_plan("2021-12-01T00:00:00", "EW", "NRT-3h")])
    chain.feed(RAW_PRIP_PRODUCT, [raw_product(PRODUCT_NAME, "S1A-Serco", "2021-12-06T12:40:00")])
    completeness = COMPLETENESS.make(
        {
            "datatake_key": KEY,
            "product_type": "EW_RAW__0N",
            "scope": "all",
            "value": 115.0,
            "expected": 115.0,
            "percentage": 100.0,
            "status": "Complete",
        }
    )
    chain.store.write([completeness])
    deleted: list[str] = []
    real_delete = chain.store.delete

    def delete(doc_class: DocumentClass, ids: Sequence[str]) -> int:
        deleted.extend(ids)
        return real_delete(doc_class, ids)

    monkeypatch.setattr(chain.store, "delete", delete)

    chain.feed(RAW_MP_DATATAKE, [s1_plan("2021-12-03T00:00:00", "EW", "NTC")])

    assert deleted == []
    assert [d.id for d in chain.docs(DATATAKE)] == [DATATAKE.id_for(KEY)]
    assert chain.store.get(COMPLETENESS, [completeness.id])  # still there, to be recomputed
    product = chain.by(PRODUCT, "product_key")[PRODUCT_NAME.removesuffix(".SAFE.zip")]
    assert product["timeliness_category"] == "NTC" and product["planned"] is True
    (publication,) = chain.docs(PUBLICATION)
    assert publication.data["timeliness_category"] == "NTC"


def test_plan_ids_with_leading_zeros_name_the_same_datatake(chain: CdsChain) -> None:
    row = s1_plan("2021-12-01T00:00:00", "EW", "NRT-3h") | {"datatake_id": "0233959"}
    chain.feed(RAW_MP_DATATAKE, [row])
    assert list(chain.by(DATATAKE, "datatake_key")) == [KEY]


def test_completeness_follows_the_newest_plan_through_the_chain(chain: CdsChain) -> None:
    """The wiring of the default routing: product and plan reports reach COMPUTE_COMPLETENESS,
    a newer plan recomputes the same record, an older one leaves it alone."""
    name = PRODUCT_NAME.replace("EW_RAW__0NDH", "EW_RAW__0SDH")  # sensing 12:19:55-12:21:50
    chain.feed(RAW_PRIP_PRODUCT, [raw_product(name, "S1A-Serco", "2021-12-06T12:40:00")])
    chain.feed(RAW_MP_DATATAKE, [s1_plan("2021-12-01T00:00:00", "EW", "NRT-3h")])  # plan after product

    def raw_0s() -> dict[str, object]:
        (record,) = [d for d in chain.docs(COMPLETENESS) if d.data["product_type"] == "EW_RAW__0S"]
        assert record.data["datatake_key"] == KEY
        return record.data

    assert (raw_0s()["percentage"], raw_0s()["status"]) == (100.0, "Complete")
    ids = {d.id for d in chain.docs(COMPLETENESS)}

    chain.feed(RAW_MP_DATATAKE, [s1_plan("2021-12-03T00:00:00", "EW", "NRT-3h", stop="2021-12-06T12:23:45")])
    assert (raw_0s()["percentage"], raw_0s()["status"]) == (50.0, "Partial")  # 115 s of 230 s
    assert {d.id for d in chain.docs(COMPLETENESS)} == ids  # recomputed in place

    chain.feed(RAW_MP_DATATAKE, [s1_plan("2021-12-02T00:00:00", "EW", "NRT-3h")])
    assert raw_0s()["percentage"] == 50.0
