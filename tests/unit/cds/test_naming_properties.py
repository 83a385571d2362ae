"""Property tests: parsing never raises, and generated well-formed names give their fields back."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cds.naming import ProductName, Unknown, parse, strip_extensions

pytestmark = pytest.mark.unit

Case = tuple[str, dict[str, Any]]

instants = st.datetimes(min_value=datetime(2014, 1, 1), max_value=datetime(2099, 12, 31, 23, 59, 59)).map(
    lambda d: d.replace(microsecond=0, tzinfo=UTC)
)
extensions = st.sampled_from(["", ".zip", ".SAFE", ".SAFE.zip", ".SEN3.zip", ".tar", ".EOF", ".nc"])


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S")


@st.composite
def s1_products(draw: st.DrawFn) -> Case:
    unit = draw(st.sampled_from(["S1A", "S1B", "S1C", "S1D"]))
    mode = draw(st.sampled_from(["IW", "EW", "WV", "S1", "S3", "S6", "EN", "AN", "RF", "N2"]))
    kind, resolution, level = draw(
        st.sampled_from(
            [("RAW", "_", "0"), ("SLC", "_", "1"), ("GRD", "H", "1"), ("GRD", "M", "1"),
             ("GRD", "F", "1"), ("OCN", "_", "2")]
        )
    )  # fmt: skip
    klass = draw(st.sampled_from("SANC"))
    pol = draw(st.sampled_from(["SH", "SV", "DH", "DV", "HH", "HV", "VV", "VH"]))
    start, stop = draw(instants), draw(instants)
    orbit, take, uid = (
        draw(st.integers(1, 999_999)),
        draw(st.integers(0, 0xFFFFFF)),
        draw(st.integers(0, 0xFFFF)),
    )
    ptype = f"{mode}_{kind}{resolution}_{level}{klass}"
    name = f"{unit}_{ptype}{pol}_{stamp(start)}_{stamp(stop)}_{orbit:06d}_{take:06X}_{uid:04X}"
    return name, {
        "unit": unit, "mission": "S1", "mode": mode, "product_type": ptype, "level": f"L{level}",
        "resolution": None if resolution == "_" else resolution, "product_class": klass,
        "polarisation": pol, "sensing_start": start, "sensing_stop": stop,
        "absolute_orbit": orbit, "datatake_id": take, "datatake_hex": f"{take:06X}",
        "unique_id": f"{uid:04X}", "datatake_key": f"{unit}-{take}",
    }  # fmt: skip


@st.composite
def s2_compact(draw: st.DrawFn) -> Case:
    unit, level = draw(st.sampled_from(["S2A", "S2B", "S2C"])), draw(st.sampled_from(["1C", "2A"]))
    start, disc = draw(instants), draw(instants)
    baseline, rel = draw(st.integers(0, 9999)), draw(st.integers(1, 143))
    tile = draw(st.from_regex(r"\d{2}[A-Z]{3}", fullmatch=True))
    name = f"{unit}_MSIL{level}_{stamp(start)}_N{baseline:04d}_R{rel:03d}_T{tile}_{stamp(disc)}"
    return name, {
        "unit": unit, "product_type": f"MSI_L{level}___", "level": f"L{level}",
        "sensing_start": start, "baseline": f"{baseline:04d}", "relative_orbit": rel,
        "tile": tile, "discriminator": disc, "datatake_key": None,
    }  # fmt: skip


@st.composite
def s2_long(draw: st.DrawFn) -> Case:
    unit = draw(st.sampled_from(["S2A", "S2B", "S2C"]))
    ptype, level = draw(
        st.sampled_from(
            [("MSI_L0__GR", "L0"), ("MSI_L0__DS", "L0"), ("MSI_L1B_GR", "L1B"),
             ("MSI_L1C_TL", "L1C"), ("MSI_L1C_DS", "L1C"), ("MSI_L2A_TL", "L2A")]
        )
    )  # fmt: skip
    site, created = draw(st.sampled_from(["MPS_", "SGS_", "MTI_", "EPAE", "2BPS"])), draw(instants)
    expected: dict[str, Any] = {"unit": unit, "product_type": ptype, "level": level,
                                "site": site, "creation": created}  # fmt: skip
    name = f"{unit}_OPER_{ptype}_{site}_{stamp(created)}"
    optional: list[tuple[str, st.SearchStrategy[Any], Callable[[Any], str]]] = [
        ("applicability_start", instants, lambda v: f"_S{stamp(v)}"),
        ("detector", st.integers(1, 12), lambda v: f"_D{v:02d}"),
        ("absolute_orbit", st.integers(1, 999_999), lambda v: f"_A{v:06d}"),
        ("tile", st.from_regex(r"\d{2}[A-Z]{3}", fullmatch=True), lambda v: f"_T{v}"),
        ("baseline", st.from_regex(r"\d{2}\.\d{2}", fullmatch=True), lambda v: f"_N{v}"),
    ]
    for field, values, render in optional:
        value = draw(st.none() | values)
        expected[field] = value
        name += "" if value is None else render(value)
    expected["sensing_start"] = expected["applicability_start"]
    return name, expected


@st.composite
def s3_products(draw: st.DrawFn) -> Case:
    unit = draw(st.sampled_from(["S3A", "S3B"]))
    ptype, level = draw(
        st.sampled_from(
            [("OL_1_EFR___", "L1"), ("OL_2_WFR___", "L2"), ("SL_1_RBT___", "L1"),
             ("SR_2_LAN___", "L2"), ("MW_1_MWR___", "L1"), ("SY_2_SYN___", "L2"),
             ("TM_0_NAT___", "L0")]
        )
    )  # fmt: skip
    start, stop, created = draw(instants), draw(instants), draw(instants)
    duration, cycle, rel = draw(st.integers(0, 9999)), draw(st.integers(0, 999)), draw(st.integers(1, 385))
    frame = draw(st.none() | st.integers(0, 9999))
    frame_text = "____" if frame is None else f"{frame:04d}"
    centre, timeliness = (
        draw(st.sampled_from(["LN1", "LN2", "LN3", "MAR", "SVL"])),
        draw(st.sampled_from(["NR", "ST", "NT", "AL"])),
    )
    name = (
        f"{unit}_{ptype}_{stamp(start)}_{stamp(stop)}_{stamp(created)}"
        f"_{duration:04d}_{cycle:03d}_{rel:03d}_{frame_text}_{centre}_O_{timeliness}_002"
    )
    return name, {
        "unit": unit, "product_type": ptype, "level": level, "sensing_start": start,
        "sensing_stop": stop, "creation": created, "duration": duration, "cycle": cycle,
        "relative_orbit": rel, "frame": frame, "centre": centre, "timeliness": timeliness,
        "datatake_key": f"{unit}-{cycle:03d}-{rel:03d}",
    }  # fmt: skip


@st.composite
def s5p_products(draw: st.DrawFn) -> Case:
    timeliness = draw(st.sampled_from(["NRTI", "OFFL", "RPRO"]))
    data_type, level = draw(
        st.sampled_from(
            [("L1B_RA_BD1", "L1B"), ("L1B_IR_UVN", "L1B"), ("L2__NO2___", "L2"),
             ("L2__AER_LH", "L2"), ("L2__CH4___", "L2")]
        )
    )  # fmt: skip
    start, stop, made = draw(instants), draw(instants), draw(instants)
    orbit, coll, proc = draw(st.integers(0, 99_999)), draw(st.integers(0, 99)), draw(st.integers(0, 999_999))
    name = (
        f"S5P_{timeliness}_{data_type}_{stamp(start)}_{stamp(stop)}"
        f"_{orbit:05d}_{coll:02d}_{proc:06d}_{stamp(made)}"
    )
    return name, {
        "product_type": f"{timeliness}_{data_type}", "level": level, "timeliness": timeliness,
        "sensing_start": start, "sensing_stop": stop, "absolute_orbit": orbit,
        "collection": f"{coll:02d}", "processor": f"{proc:06d}", "production_time": made,
        "datatake_key": f"S5P-{orbit:05d}",
    }  # fmt: skip


valid_names = st.one_of(s1_products(), s2_compact(), s2_long(), s3_products(), s5p_products())


@given(valid_names, extensions)
def test_generated_names_round_trip_their_fields(case: Case, extension: str) -> None:
    name, expected = case
    parsed = parse(name + extension)
    assert isinstance(parsed, ProductName), parsed
    assert parsed.key == name and parsed.name == name + extension
    assert {field: getattr(parsed, field) for field in expected} == expected


@given(st.text())
def test_parsing_arbitrary_text_never_raises(text: str) -> None:
    parsed = parse(text)
    assert parsed.name == text
    assert isinstance(parsed, ProductName | Unknown)
    json.dumps(parsed.as_record())


@st.composite
def damaged_names(draw: st.DrawFn) -> str:
    """Valid names with one edit: near misses are where a parser crashes or half-reads."""
    name: str = draw(valid_names)[0]
    at = draw(st.integers(0, len(name)))
    noise = draw(st.text(alphabet="0123456789ABCDEFTXZ_.-s \n", max_size=4))
    cut = draw(st.integers(0, 4))
    return name[:at] + noise + name[at + cut :]


@given(damaged_names())
def test_damaged_names_never_raise_and_known_results_stay_consistent(name: str) -> None:
    parsed = parse(name)
    assert parsed.key == strip_extensions(name)
    if isinstance(parsed, Unknown):
        assert parsed.reason
    else:  # still a well-formed name: its identity parses the same without the extension
        assert parse(parsed.key).as_record() | {"name": name} == parsed.as_record()
    json.dumps(parsed.as_record())
