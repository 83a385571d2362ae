"""XPath compilation with the namespace map, checked once when the configuration is read.

lxml compiles syntax eagerly but resolves prefixes and functions only when evaluating, so a
dry run against an empty element turns an undefined prefix into a configuration error
instead of a failure on the first payload.
"""

from __future__ import annotations

from collections.abc import Mapping

from lxml import etree

_PROBE = etree.Element("probe")


def compile_xpath(path: str, namespaces: Mapping[str, str] | None = None) -> etree.XPath:
    """The compiled expression; raises ValueError with lxml's reason when it is unusable."""
    try:
        xpath = etree.XPath(path, namespaces=dict(namespaces or {}), smart_strings=False)
        xpath(_PROBE)
    except etree.XPathError as exc:
        raise ValueError(f"invalid XPath {path!r}: {exc}") from None
    return xpath
