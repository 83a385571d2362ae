"""Sentinel product-name parsing: grammars per mission, rules as data, never an exception.

>>> name = "S1A_EW_RAW__0NDH_20211206T121955_20211206T122150_029904_0391E7_D00D.SAFE.zip"
>>> parse(name).datatake_key
'S1A-233959'
"""

from cds.naming.model import (
    LongName,
    Mission,
    ParsedName,
    ProductName,
    S1Product,
    S2Product,
    S3Product,
    S5PProduct,
    Unknown,
    iso_utc,
)
from cds.naming.parser import parse, strip_extensions
from cds.naming.rules import rules

__all__ = [
    "LongName",
    "Mission",
    "ParsedName",
    "ProductName",
    "S1Product",
    "S2Product",
    "S3Product",
    "S5PProduct",
    "Unknown",
    "iso_utc",
    "parse",
    "rules",
    "strip_extensions",
]
