"""Table-driven checks of Sentinel name parsing against the public naming conventions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cds.naming import (
    LongName,
    Mission,
    ProductName,
    S1Product,
    S2Product,
    S3Product,
    S5PProduct,
    Unknown,
    parse,
    rules,
    strip_extensions,
)
from cds.naming.rules import NamingRules
from maas.config import load_model
from maas.errors import ConfigError

pytestmark = pytest.mark.unit

S1_DOMAIN = "S1A_EW_RAW__0NDH_20211206T121955_20211206T122150_029904_0391E7_D00D.SAFE.zip"
S2_COMPACT_DOMAIN = "S2A_MSIL1C_20211206T182741_N0301_R127_T11SQS_20211206T201831"
S2_LONG_DOMAIN = "S2B_OPER_MSI_L0__GR_MPS__20170728T232806_S20170728T183039_D03_N02.05.tar"
S3_DOMAIN = (
    "S3A_TM_0_NAT____20211214T151253_20211214T165228_20211214T165453_5974_079_339______LN3_O_AL_002.SEN3.zip"
)
S5P_DOMAIN = "S5P_NRTI_L2__AER_LH_20220401T203521_20220401T204021_23146_02_020301_20220401T213615"

# Every field of every example of domain.md: the whole record must be exactly this.
DOMAIN_RECORDS = {
    S1_DOMAIN: {
        "name": S1_DOMAIN,
        "key": "S1A_EW_RAW__0NDH_20211206T121955_20211206T122150_029904_0391E7_D00D",
        "unknown": False, "grammar": "s1_product", "mission": "S1", "unit": "S1A",
        "product_type": "EW_RAW__0N", "level": "L0",
        "sensing_start": "2021-12-06T12:19:55Z", "sensing_stop": "2021-12-06T12:21:50Z",
        "timeliness": None, "mode": "EW", "resolution": None, "product_class": "N",
        "polarisation": "DH", "absolute_orbit": 29904, "relative_orbit": 82,
        "datatake_hex": "0391E7", "datatake_id": 233959, "unique_id": "D00D",
        "datatake_key": "S1A-233959",
    },
    S2_COMPACT_DOMAIN: {
        "name": S2_COMPACT_DOMAIN, "key": S2_COMPACT_DOMAIN, "unknown": False,
        "grammar": "s2_compact", "mission": "S2", "unit": "S2A", "product_type": "MSI_L1C___",
        "level": "L1C", "sensing_start": "2021-12-06T18:27:41Z", "sensing_stop": None,
        "timeliness": None, "baseline": "0301", "relative_orbit": 127, "tile": "11SQS",
        "discriminator": "2021-12-06T20:18:31Z", "datatake_key": None,
    },
    S2_LONG_DOMAIN: {
        "name": S2_LONG_DOMAIN,
        "key": "S2B_OPER_MSI_L0__GR_MPS__20170728T232806_S20170728T183039_D03_N02.05",
        "unknown": False, "grammar": "long", "mission": "S2", "unit": "S2B",
        "product_type": "MSI_L0__GR", "level": "L0", "sensing_start": "2017-07-28T18:30:39Z",
        "sensing_stop": None, "timeliness": None, "file_class": "OPER", "site": "MPS_",
        "creation": "2017-07-28T23:28:06Z", "applicability_start": "2017-07-28T18:30:39Z",
        "validity_start": None, "validity_stop": None, "detector": 3, "absolute_orbit": None,
        "relative_orbit": None, "tile": None, "baseline": "02.05", "band": None,
        "completeness": None, "degradation": None, "version": None, "datatake_key": None,
    },
    S3_DOMAIN: {
        "name": S3_DOMAIN,
        "key": S3_DOMAIN.removesuffix(".SEN3.zip"),
        "unknown": False, "grammar": "s3_product", "mission": "S3", "unit": "S3A",
        "product_type": "TM_0_NAT___", "level": "L0",
        "sensing_start": "2021-12-14T15:12:53Z", "sensing_stop": "2021-12-14T16:52:28Z",
        "timeliness": "AL", "creation": "2021-12-14T16:54:53Z", "instance": "5974_079_339_____",
        "duration": 5974, "cycle": 79, "relative_orbit": 339, "frame": None, "centre": "LN3",
        "platform": "O", "baseline_collection": "002", "datatake_key": "S3A-079-339",
    },
    S5P_DOMAIN: {
        "name": S5P_DOMAIN, "key": S5P_DOMAIN, "unknown": False, "grammar": "s5p_product",
        "mission": "S5P", "unit": "S5P", "product_type": "NRTI_L2__AER_LH", "level": "L2",
        "sensing_start": "2022-04-01T20:35:21Z", "sensing_stop": "2022-04-01T20:40:21Z",
        "timeliness": "NRTI", "data_type": "L2__AER_LH", "absolute_orbit": 23146,
        "collection": "02", "processor": "020301", "production_time": "2022-04-01T21:36:15Z",
        "datatake_key": "S5P-23146",
    },
}  # fmt: skip


@pytest.mark.parametrize("name", list(DOMAIN_RECORDS))
def test_domain_examples_every_field(name: str) -> None:
    assert parse(name).as_record() == DOMAIN_RECORDS[name]


# (name, expected subset of the record). Real product names or names in their exact format.
KNOWN: list[tuple[str, dict[str, object]]] = [
    # --- S1 L0/L1/L2: relative orbits checked against the S1 MPC formulas (forum examples)
    ("S1A_IW_GRDH_1SDV_20170909T175748_20170909T175813_018302_01EC88_98A1",
     {"product_type": "IW_GRDH_1S", "level": "L1", "resolution": "H", "relative_orbit": 30,
      "datatake_id": 0x01EC88, "datatake_key": "S1A-126088"}),
    ("S1B_IW_GRDH_1SDV_20170903T175659_20170903T175724_007231_00CBEF_874B",
     {"unit": "S1B", "relative_orbit": 30, "absolute_orbit": 7231, "datatake_key": "S1B-52207"}),
    ("S1A_IW_GRDH_1SDV_20191103T003105_20191103T003130_029739_03639C_FB5C.zip",
     {"relative_orbit": 92, "sensing_stop": "2019-11-03T00:31:30Z"}),
    ("S1A_IW_GRDH_1SDV_20200805T002754_20200805T002819_033764_03E9E5_716C.SAFE.zip",
     {"relative_orbit": 92, "datatake_hex": "03E9E5", "unique_id": "716C"}),
    ("S1A_IW_SLC__1SDV_20211206T054407_20211206T054434_040886_04DAF8_5D2E.SAFE.zip",
     {"product_type": "IW_SLC__1S", "level": "L1", "resolution": None, "product_class": "S",
      "polarisation": "DV", "relative_orbit": 39}),
    ("S1B_IW_GRDH_1SDV_20211206T054407_20211206T054434_029850_03904A_1F2B.SAFE",
     {"unit": "S1B", "product_type": "IW_GRDH_1S", "relative_orbit": 74}),
    ("S1A_IW_OCN__2SDV_20211206T054407_20211206T054434_040886_04DAF8_8A1C.SAFE",
     {"product_type": "IW_OCN__2S", "level": "L2", "mode": "IW"}),
    ("S1A_S3_RAW__0SDH_20211206T101010_20211206T101040_040890_04DB10_AB12.SAFE.zip",
     {"product_type": "S3_RAW__0S", "level": "L0", "mode": "S3", "polarisation": "DH"}),
    ("S1A_IW_RAW__0ADV_20211206T054404_20211206T054436_040886_04DAF8_0E6C.SAFE.zip",
     {"product_type": "IW_RAW__0A", "product_class": "A", "level": "L0"}),
    ("S1A_IW_RAW__0CDV_20211206T054404_20211206T054436_040886_04DAF8_A9B5",
     {"product_type": "IW_RAW__0C", "product_class": "C"}),
    ("S1A_WV_OCN__2SSV_20211206T070101_20211206T073030_040887_04DB01_4C2D.SAFE",
     {"product_type": "WV_OCN__2S", "polarisation": "SV", "level": "L2"}),
    ("S1B_EW_GRDM_1SDH_20211206T121955_20211206T122150_029854_039062_C0DE.SAFE.zip",
     {"product_type": "EW_GRDM_1S", "resolution": "M", "polarisation": "DH"}),
    ("S1C_IW_GRDH_1SDV_20250415T054407_20250415T054434_001844_0037A2_5A5A.SAFE.zip",
     {"unit": "S1C", "relative_orbit": None, "datatake_key": "S1C-14242", "level": "L1"}),
    ("S1A_IW_ETA__AXDV_20200103T170700_20200103T170727_030639_0382D5_256B.SAFE",
     {"product_type": "IW_ETA__AX", "level": "L1", "product_class": "X", "resolution": None,
      "datatake_key": "S1A-230101", "relative_orbit": 117}),
    ("S1B_IW_ETA__AXDV_20200815T173048_20200815T173116_022937_02B897_E56D.SAFE.zip",
     {"unit": "S1B", "product_type": "IW_ETA__AX", "datatake_id": 0x02B897}),
    ("S1A_IW_GRDH_1SDV_20231010T054407_20231010T054434_050736_061CF2_A1B2_COG.SAFE.zip",
     {"key": "S1A_IW_GRDH_1SDV_20231010T054407_20231010T054434_050736_061CF2_A1B2_COG",
      "product_type": "IW_GRDH_1S-COG", "level": "L1", "product_class": "S", "resolution": "H",
      "unique_id": "A1B2", "datatake_key": "S1A-400626"}),
    # --- S1 auxiliary / planning files
    ("S1A_OPER_AMV_ERRMAT_MPC__20200120T040010_V20000101T000000_20200119T201427.EOF",
     {"grammar": "long", "product_type": "AMV_ERRMAT", "level": "AUX", "site": "MPC_"}),
    ("S1A_OPER_AUX_POEORB_OPOD_20210101T121212_V20201211T225942_20201213T005942.EOF",
     {"grammar": "long", "mission": "S1", "product_type": "AUX_POEORB", "level": "AUX",
      "site": "OPOD", "creation": "2021-01-01T12:12:12Z",
      "validity_start": "2020-12-11T22:59:42Z", "validity_stop": "2020-12-13T00:59:42Z",
      "sensing_start": None, "datatake_key": None}),
    ("S1B_OPER_AUX_RESORB_OPOD_20210302T104153_V20210302T063008_20210302T094738.EOF",
     {"unit": "S1B", "product_type": "AUX_RESORB", "level": "AUX"}),
    ("S1A_AUX_CAL_V20140915T100000_G20151125T103928.SAFE",
     {"grammar": "s1_aux_safe", "product_type": "AUX_CAL", "level": "AUX",
      "validity_start": "2014-09-15T10:00:00Z", "creation": "2015-11-25T10:39:28Z"}),
    ("S1__AUX_WND_V20170921T060000_G20170920T063129.SAFE.zip",
     {"unit": "S1", "product_type": "AUX_WND"}),
    ("S1A_OPER_MPL_ORBSCT_20140507T150704_99999999T999999_0025.EOF",
     {"grammar": "long_versioned", "product_type": "MPL_ORBSCT", "level": "AUX",
      "validity_start": "2014-05-07T15:07:04Z", "validity_stop": None, "version": "0025"}),
    ("S1A_OPER_MPL_ORBPRE_20210203T200503_20210210T200503_0001.EOF",
     {"product_type": "MPL_ORBPRE", "validity_stop": "2021-02-10T20:05:03Z"}),
    # --- S2 compact user products
    ("S2B_MSIL2A_20220101T103339_N0301_R108_T32TLR_20220101T123456.SAFE.zip",
     {"unit": "S2B", "product_type": "MSI_L2A___", "level": "L2A", "tile": "32TLR",
      "relative_orbit": 108, "baseline": "0301"}),
    ("S2A_MSIL1C_20160929T102022_N0204_R065_T32TPP_20160929T102136.SAFE",
     {"relative_orbit": 65, "discriminator": "2016-09-29T10:21:36Z"}),
    ("S2C_MSIL1C_20250301T101021_N0511_R022_T33UUP_20250301T120254.SAFE.zip",
     {"unit": "S2C", "baseline": "0511"}),
    # --- S2 long: tiles, datastrips, granules, ancillary
    ("S2A_OPER_MSI_L1C_TL_SGS__20160929T154211_A006716_T32TPP_N02.04",
     {"product_type": "MSI_L1C_TL", "level": "L1C", "site": "SGS_", "absolute_orbit": 6716,
      "tile": "32TPP", "baseline": "02.04", "sensing_start": None}),
    ("S2A_OPER_MSI_L1C_DS_SGS__20160929T154211_S20160929T102022_N02.04.tar",
     {"product_type": "MSI_L1C_DS", "sensing_start": "2016-09-29T10:20:22Z"}),
    ("S2A_OPER_MSI_L1B_GR_SGS__20160929T154211_S20160929T102022_D05_N02.04",
     {"product_type": "MSI_L1B_GR", "level": "L1B", "detector": 5}),
    ("S2B_OPER_MSI_L2A_TL_MPS__20220101T123456_A025000_T32TLR_N03.01",
     {"product_type": "MSI_L2A_TL", "level": "L2A", "absolute_orbit": 25000}),
    ("S2A_OPER_MSI_L0__DS_SGS__20211206T190101_S20211206T182741_N03.01",
     {"product_type": "MSI_L0__DS", "level": "L0", "baseline": "03.01"}),
    ("S2A_OPER_AUX_UT1UTC_PDMC_20190101T000000_V20190102T000000_20200101T000000",
     {"product_type": "AUX_UT1UTC", "level": "AUX", "site": "PDMC",
      "validity_stop": "2020-01-01T00:00:00Z"}),
    ("S2A_OPER_GIP_PROBAS_MPC__20180206T000203_V20180207T000000_21000101T000000_B00",
     {"product_type": "GIP_PROBAS", "level": "AUX", "band": "00"}),
    ("S2__OPER_AUX_ECMWFD_ADG__20211206T000000_V20211206T060000_20211207T180000.TGZ",
     {"unit": "S2", "product_type": "AUX_ECMWFD", "site": "ADG_"}),
    ("S2A_OPER_AUX_SADATA_EPAE_20190222T003515_V20190221T190438_20190221T204519_A019158_WP_LN",
     {"absolute_orbit": 19158, "completeness": "P", "degradation": "N"}),
    ("S2A_OPER_PRD_HKTM___20191203T051837_20191203T051842_0001",
     {"grammar": "long_versioned", "product_type": "PRD_HKTM__", "level": "L0"}),
    # --- S3 OLCI / SLSTR / SRAL / MWR / SYN, stripes, frames, tiles, auxiliary
    ("S3A_OL_1_ERR____20190815T045631_20190815T054045_20190816T083001"
     "_2654_048_119______LN1_O_NT_002",
     {"product_type": "OL_1_ERR___", "level": "L1", "cycle": 48, "relative_orbit": 119,
      "datatake_key": "S3A-048-119", "timeliness": "NT", "centre": "LN1"}),
    ("S3A_OL_1_EFR____20211214T091836_20211214T092136_20211215T135124"
     "_0179_079_335_2160_LN1_O_NT_002.SEN3",
     {"frame": 2160, "duration": 179, "datatake_key": "S3A-079-335"}),
    ("S3B_OL_2_LFR____20211214T091836_20211214T092136_20211215T135124"
     "_0179_060_335_2160_LN1_O_NT_002.SEN3.zip",
     {"unit": "S3B", "product_type": "OL_2_LFR___", "level": "L2"}),
    ("S3B_SL_1_RBT____20211214T101512_20211214T101812_20211214T123031"
     "_0179_060_336_2340_LN2_O_NR_004.SEN3.zip",
     {"product_type": "SL_1_RBT___", "timeliness": "NR", "baseline_collection": "004"}),
    ("S3A_SL_2_LST____20211214T101512_20211214T101812_20211216T005020"
     "_0179_079_336_2340_LN2_O_NT_004.SEN3",
     {"product_type": "SL_2_LST___", "level": "L2"}),
    ("S3A_SR_1_SRA_A__20211214T151253_20211214T160322_20211214T170011"
     "_3029_079_339______MAR_O_NR_004.SEN3",
     {"product_type": "SR_1_SRA_A_", "centre": "MAR", "datatake_key": "S3A-079-339"}),
    ("S3A_SR_2_WAT____20211214T151253_20211214T160322_20211216T094511"
     "_3029_079_339______MAR_O_ST_004.SEN3",
     {"product_type": "SR_2_WAT___", "timeliness": "ST"}),
    ("S3B_MW_1_MWR____20211214T140033_20211214T154103_20211215T101522"
     "_6030_060_338______MAR_O_NT_001.SEN3",
     {"product_type": "MW_1_MWR___", "level": "L1", "duration": 6030}),
    ("S3A_SY_2_SYN____20211214T091836_20211214T092136_20211216T001417"
     "_0179_079_335_2160_LN2_O_NT_002.SEN3",
     {"product_type": "SY_2_SYN___", "level": "L2"}),
    ("S3A_SY_2_VG1____20211214T000000_20211214T235959_20211215T101010"
     "_EUROPE____________LN2_O_NT_002.SEN3",
     {"instance": "EUROPE___________", "cycle": None, "datatake_key": None}),
    ("S3A_AX___OSF_AX_20160216T192404_99999999T999999_20180129T115400"
     "___________________EUM_O_AL_001.SEN3",
     {"product_type": "AX___OSF_AX", "level": "AUX", "sensing_stop": None}),
    # --- S5P L1B / L2 in NRTI, OFFL, RPRO
    ("S5P_OFFL_L2__NO2____20220401T170110_20220401T184240_23145_02_020301_20220403T092341.nc",
     {"product_type": "OFFL_L2__NO2___", "timeliness": "OFFL", "datatake_key": "S5P-23145"}),
    ("S5P_RPRO_L2__CH4____20180430T001851_20180430T020219_02818_01_010202_20190102T123456.nc",
     {"timeliness": "RPRO", "absolute_orbit": 2818, "datatake_key": "S5P-02818"}),
    ("S5P_OFFL_L1B_RA_BD1_20180601T002532_20180601T020702_03265_01_010000_20180601T030120.nc",
     {"product_type": "OFFL_L1B_RA_BD1", "level": "L1B", "data_type": "L1B_RA_BD1"}),
    ("S5P_NRTI_L2__O3_____20220401T203521_20220401T204021_23146_02_020301_20220401T213002",
     {"product_type": "NRTI_L2__O3____", "level": "L2", "collection": "02"}),
    ("S5P_NRTI_L2__CLOUD__20220401T203521_20220401T204021_23146_02_020301_20220401T213014.nc",
     {"data_type": "L2__CLOUD_"}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "expected"), KNOWN, ids=[n[:40] for n, _ in KNOWN])
def test_known_names(name: str, expected: dict[str, object]) -> None:
    record = parse(name).as_record()
    assert record["unknown"] is False, record
    assert {k: record[k] for k in expected} == expected


ALL_VALID = [n for n, _ in KNOWN] + list(DOMAIN_RECORDS)


def test_table_is_large_and_spans_every_mission() -> None:
    missions = {parse(n).as_record()["mission"] for n in ALL_VALID}
    assert len(ALL_VALID) >= 40
    assert missions == {"S1", "S2", "S3", "S5P"}


@pytest.mark.parametrize("name", ALL_VALID, ids=[n[:40] for n in ALL_VALID])
def test_valid_names_have_a_level_and_aware_utc_dates(name: str) -> None:
    parsed = parse(name)
    assert isinstance(parsed, ProductName)
    assert parsed.level is not None, "every product type needs a row in cds/data/naming.yaml"
    for value in (parsed.sensing_start, parsed.sensing_stop):
        assert value is None or value.utcoffset() == timedelta(0)


def test_results_are_typed_per_family() -> None:
    s1 = parse(S1_DOMAIN)
    assert isinstance(s1, S1Product) and s1.mission is Mission.S1
    assert s1.sensing_start == datetime(2021, 12, 6, 12, 19, 55, tzinfo=UTC)
    assert isinstance(parse(S2_COMPACT_DOMAIN), S2Product)
    assert isinstance(parse(S2_LONG_DOMAIN), LongName)
    assert isinstance(parse(S3_DOMAIN), S3Product)
    assert isinstance(parse(S5P_DOMAIN), S5PProduct)


def test_results_are_frozen() -> None:
    parsed = parse(S1_DOMAIN)
    assert isinstance(parsed, S1Product)
    with pytest.raises(AttributeError):
        parsed.unit = "S1B"  # type: ignore[misc]


S1_KEY = S1_DOMAIN.removesuffix(".SAFE.zip")


@pytest.mark.parametrize(
    "suffix", ["", ".SAFE", ".SAFE.zip", ".SAFE.ZIP", ".zip", ".SAFE.tar", ".tgz", ".SAFE.tar.gz"]
)
def test_extensions_do_not_change_identity(suffix: str) -> None:
    parsed = parse(f"{S1_KEY}{suffix}")
    assert isinstance(parsed, S1Product)
    assert parsed.key == S1_KEY and parsed.name == f"{S1_KEY}{suffix}"


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("X.SAFE.zip", "X"),
        ("X.SEN3", "X"),
        ("X.nc", "X"),
        ("X.EOF", "X"),
        ("X.zip.zip", "X"),
        ("X_N02.05.tar", "X_N02.05"),  # an S2 baseline is not an extension
        ("X_N02.05", "X_N02.05"),
        ("X.SAFE.SAFE", "X.SAFE"),  # one container suffix only
        ("X.pdf", "X.pdf"),
        (".zip", ".zip"),
        ("", ""),
    ],
)
def test_strip_extensions(name: str, key: str) -> None:
    assert strip_extensions(name) == key


UNKNOWN: list[tuple[str, str]] = [
    ("", "empty name"),
    ("   ", "empty name"),
    ("hello.zip", "no Sentinel mission prefix"),
    ("S6A_P4_1B_LR______20211206T000000_20211206T010000_20211206T020000", "no Sentinel mission"),
    (S1_KEY.lower() + ".safe.zip", "upper case"),
    (S1_KEY[:-5], "matches no S1 grammar"),  # truncated: unique id cut off
    (S1_KEY + "_CO", "matches no S1 grammar"),
    (S1_KEY + "_COG", "only GRD products are published as COG"),
    (S1_KEY.replace("_0NDH_", "_AXDH_"), "matches no S1 grammar"),  # only ETA is of class AX
    (S1_KEY + "\n", "leading or trailing whitespace"),
    (" " + S1_DOMAIN, "leading or trailing whitespace"),
    (S1_DOMAIN + " ", "leading or trailing whitespace"),
    (S1_KEY.replace("0391E7", "0391G7"), "matches no S1 grammar"),  # not hexadecimal
    (S1_KEY.replace("_0NDH_", "_0NXX_"), "matches no S1 grammar"),  # no such polarisation
    (S1_KEY.replace("20211206T121955", "20211306T121955"), "month must be in 1..12"),
    (S1_KEY.replace("20211206T122150", "20211232T122150"), "day is out of range"),
    (S1_KEY.replace("20211206T122150", "20211206T246000"), "hour must be in 0..23"),
    (S2_COMPACT_DOMAIN[:30], "matches no S2 grammar"),
    (S2_COMPACT_DOMAIN.replace("T11SQS", "T11SQ"), "matches no S2 grammar"),
    (S2_COMPACT_DOMAIN.replace("20211206T201831", "20210229T201831"), "invalid discriminator"),
    (S2_LONG_DOMAIN.replace("_S20170728T", "_S20171328T"), "invalid applicability_start"),
    (S3_DOMAIN.replace("_O_AL_", "_X_AL_"), "matches no S3 grammar"),  # no such platform
    (S3_DOMAIN.replace("20211214T165453", "20211214T1654"), "matches no S3 grammar"),
    (S5P_DOMAIN.replace("_23146_", "_2314_"), "matches no S5 grammar"),
    (S5P_DOMAIN.replace("20220401T213615", "20221301T213615"), "invalid production_time"),
]


@pytest.mark.parametrize(("name", "reason"), UNKNOWN, ids=[r for _, r in UNKNOWN])
def test_unknown_names_say_why(name: str, reason: str) -> None:
    parsed = parse(name)
    assert isinstance(parsed, Unknown)
    assert reason in parsed.reason
    assert parsed.as_record() == {
        "name": name,
        "key": strip_extensions(name),
        "unknown": True,
        "reason": parsed.reason,
    }
    assert parsed.datatake_key is None


def test_bad_date_reason_names_grammar_field_and_value() -> None:
    parsed = parse(S1_KEY.replace("20211206T121955", "20211306T121955"))
    assert isinstance(parsed, Unknown)
    assert parsed.reason == ("s1_product: invalid sensing_start '20211306T121955': month must be in 1..12")


def test_relative_orbit_is_data_driven() -> None:
    known = rules()
    assert known.relative_orbit("S1A", 18302) == 30
    assert known.relative_orbit("S1B", 7231) == 30
    assert known.relative_orbit("S1A", 73) == 1 and known.relative_orbit("S1A", 72) == 175
    assert known.relative_orbit("S1C", 1000) is None


def test_level_rules_first_match_wins_and_unknown_types_have_no_level() -> None:
    known = rules()
    assert known.level_of(Mission.S3, "OL_1_INS_AX") == "AUX"  # *AX before ??_1_*
    assert known.level_of(Mission.S1, "IW_SLC__1S") == "L1"
    assert known.level_of(Mission.S2, "REP_ARCHIV") is None


def test_broken_rules_file_is_reported_with_file_line_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "naming.yaml"
    bad.write_text(
        "extensions: {archive: [zip], container: [SAFE]}\n"
        "relative_orbits: {}\n"
        "levels:\n"
        "  - {mission: S9, types: '*', level: L0}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_model(bad, NamingRules)
    assert f"{bad}:4: levels.0.mission" in str(caught.value)
