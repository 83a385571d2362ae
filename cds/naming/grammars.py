"""The Sentinel naming grammars: one compiled regex with named groups per name family.

Each grammar pairs a pattern (what a well-formed name looks like, field by field) with a builder
that turns the named groups into a typed record. Patterns are anchored by ``fullmatch``; every
field has its documented width, so truncated or padded names fail instead of being half-read.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cds.naming.model import (
    LongName,
    Mission,
    ProductName,
    S1Product,
    S2Product,
    S3Product,
    S5PProduct,
)
from cds.naming.rules import Rules

OPEN_END = "99999999T999999"  # Earth Explorer convention for "valid until further notice"
# The builders run once per name: they read the missions from here, because reading an enum
# member through its class (Mission.S1) costs ~0.2 us in Python 3.11, and Mission("S1") ~1 us.
_S1, _S2, _S3, _S5P = Mission.S1, Mission.S2, Mission.S3, Mission.S5P
_MISSION_OF = {mission.value: mission for mission in Mission}


class FieldError(ValueError):
    """A field has the right shape but an impossible value (month 13, second 60)."""

    def __init__(self, field: str, value: str, why: str) -> None:
        super().__init__(f"invalid {field} {value!r}: {why}")


def _date(group: str) -> str:
    return rf"(?P<{group}>\d{{8}}T\d{{6}})"


def when(m: re.Match[str], group: str) -> datetime:
    """A compact UTC timestamp field (``20211206T121955``) as an aware datetime."""
    text = m[group]
    try:
        return datetime.fromisoformat(text + "Z")
    except ValueError as exc:
        raise FieldError(group, text, str(exc)) from None


def maybe_when(m: re.Match[str], group: str) -> datetime | None:
    """An optional timestamp; absent or open-ended (``99999999T999999``) is None."""
    text = m[group]
    return None if text is None or text == OPEN_END else when(m, group)


def maybe_int(m: re.Match[str], group: str) -> int | None:
    text = m[group]
    return None if text is None else int(text)


Builder = Callable[[re.Match[str], str, str, Rules], ProductName]


@dataclass(frozen=True, slots=True)
class Grammar:
    """A named pattern and the builder of its record."""

    name: str
    pattern: re.Pattern[str]
    build: Builder


S1_PRODUCT = re.compile(
    rf"""(?P<unit>S1[A-D])_
    (?P<product_type>
        (?P<mode>S[1-6]|IW|EW|WV|EN|AN|RF|N[1-6]|Z[1-6IEW])
        _(?:[A-Z]{{3}}(?P<resolution>[FHM_])_[0-2][SANC]|ETA__AX))  # ETAD: an SLC's timing annotation
    (?P<polarisation>SH|SV|DH|DV|HH|HV|VV|VH)
    _{_date("sensing_start")}_{_date("sensing_stop")}
    _(?P<absolute_orbit>\d{{6}})_(?P<datatake>[0-9A-F]{{6}})_(?P<unique_id>[0-9A-F]{{4}})
    (?P<cog>_COG)?  # a GRD re-published as Cloud Optimised GeoTIFF: a product of its own""",
    re.VERBOSE,
)


def build_s1_product(m: re.Match[str], name: str, key: str, rules: Rules) -> S1Product:
    unit, orbit = m["unit"], int(m["absolute_orbit"])
    if m["cog"] and "_GRD" not in m["product_type"]:
        raise FieldError("product_type", m["product_type"], "only GRD products are published as COG")
    ptype = m["product_type"] + ("-COG" if m["cog"] else "")  # as the catalogues name the type
    return S1Product(
        name=name, key=key, grammar="s1_product", mission=_S1, unit=unit,
        product_type=ptype, level=rules.level_of(_S1, ptype),
        sensing_start=when(m, "sensing_start"), sensing_stop=when(m, "sensing_stop"),
        mode=m["mode"], resolution=None if m["resolution"] == "_" else m["resolution"],
        product_class=m["product_type"][-1], polarisation=m["polarisation"],
        absolute_orbit=orbit, relative_orbit=rules.relative_orbit(unit, orbit),
        datatake_hex=m["datatake"], datatake_id=int(m["datatake"], 16), unique_id=m["unique_id"],
    )  # fmt: skip


S1_AUX_SAFE = re.compile(
    rf"""(?P<unit>S1[A-D_])_(?P<product_type>AUX_[A-Z0-9]{{3}})
    _V{_date("validity_start")}_G{_date("creation")}""",
    re.VERBOSE,
)


def build_s1_aux_safe(m: re.Match[str], name: str, key: str, rules: Rules) -> LongName:
    ptype = m["product_type"]
    return LongName(
        name=name, key=key, grammar="s1_aux_safe", mission=_S1, unit=m["unit"].rstrip("_"),
        product_type=ptype, level=rules.level_of(_S1, ptype), file_class=None,
        validity_start=when(m, "validity_start"), creation=when(m, "creation"),
    )  # fmt: skip


_EE_HEAD = r"""(?P<unit>(?P<mission>S[12])[A-D_])_(?P<file_class>[A-Z0-9_]{4})
    _(?P<product_type>[A-Z0-9]{3}_[A-Z0-9_]{6})"""

LONG = re.compile(
    rf"""{_EE_HEAD}_(?P<site>[A-Z0-9_]{{4}})_{_date("creation")}
    (?:_S{_date("applicability_start")}
      |_V{_date("validity_start")}_{_date("validity_stop")})?
    (?:_D(?P<detector>\d{{2}}))?
    (?:_A(?P<absolute_orbit>\d{{6}}))?
    (?:_R(?P<relative_orbit>\d{{3}}))?
    (?:_T(?P<tile>\d{{2}}[A-Z]{{3}}))?
    (?:_N(?P<baseline>\d{{2}}\.\d{{2}}))?
    (?:_B(?P<band>[0-9A-Z]{{2}}))?
    (?:_W(?P<completeness>[FP]))?
    (?:_L(?P<degradation>[ND]))?""",
    re.VERBOSE,
)


def build_long(m: re.Match[str], name: str, key: str, rules: Rules) -> LongName:
    mission, ptype = _MISSION_OF[m["mission"]], m["product_type"]
    start = maybe_when(m, "applicability_start")
    return LongName(
        name=name, key=key, grammar="long", mission=mission, unit=m["unit"].rstrip("_"),
        product_type=ptype, level=rules.level_of(mission, ptype), sensing_start=start,
        file_class=m["file_class"], site=m["site"], creation=when(m, "creation"),
        applicability_start=start, validity_start=maybe_when(m, "validity_start"),
        validity_stop=maybe_when(m, "validity_stop"), detector=maybe_int(m, "detector"),
        absolute_orbit=maybe_int(m, "absolute_orbit"),
        relative_orbit=maybe_int(m, "relative_orbit"),
        tile=m["tile"], baseline=m["baseline"], band=m["band"],
        completeness=m["completeness"], degradation=m["degradation"],
    )  # fmt: skip


LONG_VERSIONED = re.compile(
    rf"""{_EE_HEAD}_{_date("validity_start")}_{_date("validity_stop")}
    _(?P<version>\d{{4}})""",
    re.VERBOSE,
)


def build_long_versioned(m: re.Match[str], name: str, key: str, rules: Rules) -> LongName:
    mission, ptype = _MISSION_OF[m["mission"]], m["product_type"]
    return LongName(
        name=name, key=key, grammar="long_versioned", mission=mission, unit=m["unit"].rstrip("_"),
        product_type=ptype, level=rules.level_of(mission, ptype), file_class=m["file_class"],
        validity_start=when(m, "validity_start"), validity_stop=maybe_when(m, "validity_stop"),
        version=m["version"],
    )  # fmt: skip


S2_COMPACT = re.compile(
    rf"""(?P<unit>S2[A-D])_MSI(?P<level_code>L[0-9][A-Z])_{_date("sensing_start")}
    _N(?P<baseline>\d{{4}})_R(?P<relative_orbit>\d{{3}})_T(?P<tile>\d{{2}}[A-Z]{{3}})
    _{_date("discriminator")}""",
    re.VERBOSE,
)


def build_s2_compact(m: re.Match[str], name: str, key: str, rules: Rules) -> S2Product:
    ptype = f"MSI_{m['level_code']}".ljust(10, "_")  # the long form's padded type: MSI_L1C___
    return S2Product(
        name=name, key=key, grammar="s2_compact", mission=_S2, unit=m["unit"],
        product_type=ptype, level=rules.level_of(_S2, ptype),
        sensing_start=when(m, "sensing_start"), baseline=m["baseline"],
        relative_orbit=int(m["relative_orbit"]), tile=m["tile"],
        discriminator=when(m, "discriminator"),
    )  # fmt: skip


S3_PRODUCT = re.compile(
    rf"""(?P<unit>S3[A-D_])_(?P<product_type>[A-Z]{{2}}_[0-2_]_[A-Z0-9_]{{6}})
    _{_date("sensing_start")}_{_date("sensing_stop")}_{_date("creation")}
    _(?P<instance>
        (?P<duration>\d{{4}})_(?P<cycle>\d{{3}})_(?P<relative_orbit>\d{{3}})
        _(?:(?P<frame>\d{{4}})|____)
        |[A-Z0-9_]{{17}})
    _(?P<centre>[A-Z0-9_]{{3}})_(?P<platform>[OFDR])_(?P<timeliness>[A-Z_]{{2}})
    _(?P<baseline_collection>[A-Z0-9_]{{3}})""",
    re.VERBOSE,
)


def build_s3(m: re.Match[str], name: str, key: str, rules: Rules) -> S3Product:
    ptype, timeliness = m["product_type"], m["timeliness"]
    return S3Product(
        name=name, key=key, grammar="s3_product", mission=_S3, unit=m["unit"].rstrip("_"),
        product_type=ptype, level=rules.level_of(_S3, ptype),
        sensing_start=when(m, "sensing_start"), sensing_stop=maybe_when(m, "sensing_stop"),
        timeliness=None if timeliness == "__" else timeliness, creation=when(m, "creation"),
        instance=m["instance"], duration=maybe_int(m, "duration"), cycle=maybe_int(m, "cycle"),
        relative_orbit=maybe_int(m, "relative_orbit"), frame=maybe_int(m, "frame"),
        centre=m["centre"], platform=m["platform"],
        baseline_collection=m["baseline_collection"],
    )  # fmt: skip


S5P_PRODUCT = re.compile(
    rf"""(?P<unit>S5P)_
    (?P<product_type>(?P<timeliness>[A-Z]{{4}})_(?P<data_type>[A-Z][A-Z0-9_]{{2}}_[A-Z0-9_]{{6}}))
    _{_date("sensing_start")}_{_date("sensing_stop")}
    _(?P<absolute_orbit>\d{{5}})_(?P<collection>\d{{2}})_(?P<processor>\d{{6}})
    _{_date("production_time")}""",
    re.VERBOSE,
)


def build_s5p(m: re.Match[str], name: str, key: str, rules: Rules) -> S5PProduct:
    ptype = m["product_type"]
    return S5PProduct(
        name=name, key=key, grammar="s5p_product", mission=_S5P, unit=m["unit"],
        product_type=ptype, level=rules.level_of(_S5P, ptype),
        sensing_start=when(m, "sensing_start"), sensing_stop=when(m, "sensing_stop"),
        timeliness=m["timeliness"], data_type=m["data_type"],
        absolute_orbit=int(m["absolute_orbit"]), collection=m["collection"],
        processor=m["processor"], production_time=when(m, "production_time"),
    )  # fmt: skip


_LONG = Grammar("long", LONG, build_long)
_LONG_VERSIONED = Grammar("long_versioned", LONG_VERSIONED, build_long_versioned)

BY_PREFIX: dict[str, tuple[Grammar, ...]] = {
    "S1": (
        Grammar("s1_product", S1_PRODUCT, build_s1_product),
        Grammar("s1_aux_safe", S1_AUX_SAFE, build_s1_aux_safe),
        _LONG,
        _LONG_VERSIONED,
    ),
    "S2": (Grammar("s2_compact", S2_COMPACT, build_s2_compact), _LONG, _LONG_VERSIONED),
    "S3": (Grammar("s3_product", S3_PRODUCT, build_s3),),
    "S5": (Grammar("s5p_product", S5P_PRODUCT, build_s5p),),
}
"""Grammars by the first two characters of the key, tried in order (most frequent first)."""
