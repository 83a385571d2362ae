"""Real-format Sentinel product names (the grammars of ``cds.naming``), built from the truth.

Each builder returns the product key (the name without extensions) and its extension. The
generator checks every name it builds with :func:`cds.naming.parse`, so a name the parser
would not read the way the truth says fails the generation instead of the acceptance test.
"""

from __future__ import annotations

from cds.sample.truth import SECOND, compact

Name = tuple[str, str]  # (key, extension)


def s1(
    unit: str,
    product_type: str,
    polarisation: str,
    start: int,
    stop: int,
    orbit: int,
    datatake: int,
    unique: int,
) -> Name:
    """``S1A_IW_GRDH_1SDV_<start>_<stop>_<orbit>_<datatake hex>_<unique>.SAFE.zip``."""
    key = (
        f"{unit}_{product_type}{polarisation}_{compact(start)}_{compact(stop)}"
        f"_{orbit:06d}_{datatake:06X}_{unique:04X}"
    )
    return key, ".SAFE.zip"


def s1_orbit_file(unit: str, created: int, start: int, stop: int) -> Name:
    """Restituted orbit: ``S1A_OPER_AUX_RESORB_OPOD_<created>_V<start>_<stop>.EOF``."""
    return f"{unit}_OPER_AUX_RESORB_OPOD_{compact(created)}_V{compact(start)}_{compact(stop)}", ".EOF"


def s2_granule(unit: str, created: int, start: int, detector: int, baseline: str) -> Name:
    """``S2A_OPER_MSI_L0__GR_2APS_<created>_S<start>_D<detector>_N<baseline>.tar``."""
    return (
        f"{unit}_OPER_MSI_L0__GR_2APS_{compact(created)}_S{compact(start)}_D{detector:02d}_N{baseline}",
        ".tar",
    )


def s2_datastrip(unit: str, product_type: str, created: int, start: int, baseline: str) -> Name:
    """``S2A_OPER_MSI_L1C_DS_2APS_<created>_S<start>_N<baseline>.tar`` (type ``MSI_L1C_DS``)."""
    return f"{unit}_OPER_{product_type}_2APS_{compact(created)}_S{compact(start)}_N{baseline}", ".tar"


def s2_user_product(
    unit: str, level: str, start: int, baseline: str, orbit: int, tile: str, created: int
) -> Name:
    """Compact name: ``S2A_MSIL1C_<start>_N0510_R022_T32TQM_<created>.SAFE.zip``."""
    return (
        f"{unit}_MSI{level}_{compact(start)}_N{baseline.replace('.', '')}"
        f"_R{orbit:03d}_T{tile}_{compact(created)}",
        ".SAFE.zip",
    )


def s3(
    unit: str,
    product_type: str,
    start: int,
    stop: int,
    created: int,
    cycle: int,
    orbit: int,
    frame: int | None,
    timeliness: str,
) -> Name:
    """``S3A_OL_1_EFR____<start>_<stop>_<created>_<duration>_<cycle>_<orbit>_<frame>_LN3_O_NR_002.SEN3.zip``."""
    duration = (stop - start) // SECOND
    frame_text = f"{frame:04d}" if frame is not None else "____"
    instance = f"{duration:04d}_{cycle:03d}_{orbit:03d}_{frame_text}"
    return (
        f"{unit}_{product_type}_{compact(start)}_{compact(stop)}_{compact(created)}_{instance}_LN3_O_{timeliness}_002",
        ".SEN3.zip",
    )


def s5p(product_type: str, start: int, stop: int, orbit: int, produced: int) -> Name:
    """``S5P_NRTI_L2__NO2____<start>_<stop>_<orbit>_03_020600_<production time>.nc``."""
    return (
        f"S5P_{product_type}_{compact(start)}_{compact(stop)}_{orbit:05d}_03_020600_{compact(produced)}",
        ".nc",
    )
