"""XML payloads: a hardened lxml parser and XPaths compiled once per spec.

The parser never resolves entities, never loads a DTD and never touches the network, so an
XXE payload cannot read local files and a billion-laughs payload cannot expand while
parsing. Huge-tree mode stays off so libxml2's own size, depth and amplification limits
apply. A document that declares entities is then refused outright: unexpanded entity
references would still be expanded by XPath ``string()``, and no interface we collect from
has a reason to declare any (defusedxml's ``forbid_entities`` policy).

Most field paths are a plain child (``ns:Name``, ``ns:Name/text()``) or an attribute
(``@id``). Evaluating a full XPath per field per record costs more than parsing, so those
paths read from a per-record index of children; anything the index cannot answer exactly
(repeated or mixed-content children) falls back to the compiled XPath.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lxml import etree

from maas.collector.extract.raw import Many
from maas.collector.extract.records import Batch, Fetch, Getter
from maas.collector.extract.result import ExtractError, RecordError
from maas.collector.extract.spec import XmlExtract
from maas.collector.extract.xpaths import compile_xpath

_NAME = r"(?:([A-Za-z_][\w.-]*):)?([A-Za-z_][\w.-]*)"
_CHILD = re.compile(rf"^{_NAME}(/text\(\))?$")
_ATTRIBUTE = re.compile(rf"^@{_NAME}$")
_SEVERAL: Any = object()
_STRING_VALUE = etree.XPath("string()", smart_strings=False)


def hardened_parser() -> etree.XMLParser:
    """A new parser per payload: lxml parsers must not be shared between threads."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
    )


def parse(payload: bytes, source: str) -> etree._Element:
    try:
        root = etree.fromstring(payload, hardened_parser())
    except etree.XMLSyntaxError as exc:
        raise ExtractError(source, f"malformed XML: {exc}") from None
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise ExtractError(source, "refused: the document declares entities (XXE/expansion guard)")
    return root


class XmlReader:
    def __init__(self, spec: XmlExtract, paths: list[str]) -> None:
        self._record = compile_xpath(spec.record, spec.namespaces)
        self._fetch = _fetch([_getter(path, spec.namespaces) for path in paths])

    def open(self, payload: bytes, source: str, errors: list[RecordError]) -> Batch:
        found = self._record(parse(payload, source).getroottree())
        if not isinstance(found, list) or not all(isinstance(n, etree._Element) for n in found):
            raise ExtractError(source, f"record XPath must select elements, got {found!r:.80}")
        return Batch(enumerate(found, 1), self._fetch, _source_line)


def _fetch(getters: list[Getter]) -> Fetch:
    """Getters read a record as ``(element, index of its children)``, built once per record."""

    def fetch(element: etree._Element) -> list[Any]:
        record = (element, _children(element))
        return [get(record) for get in getters]

    return fetch


def _children(element: etree._Element) -> dict[Any, Any]:
    index: dict[Any, Any] = {}
    for child in element:
        tag = child.tag
        index[tag] = _SEVERAL if tag in index else child
    return index


def _source_line(_number: int, element: Any) -> int | None:
    line: int | None = element.sourceline
    return line


def _clark(prefix: str | None, local: str, namespaces: Mapping[str, str]) -> str:
    return f"{{{namespaces[prefix]}}}{local}" if prefix else local


def _getter(path: str, namespaces: Mapping[str, str]) -> Getter:
    """The fastest exact way to read ``path`` from a record ``(element, children index)``."""
    xpath = compile_xpath(path, namespaces)
    child, attribute = _CHILD.match(path), _ATTRIBUTE.match(path)
    if attribute:
        name = _clark(attribute[1], attribute[2], namespaces)
        return lambda record: record[0].get(name)
    if child:
        return _child_getter(_clark(child[1], child[2], namespaces), bool(child[3]), xpath)
    return lambda record: normalize(xpath(record[0]))


def _child_getter(tag: str, text_nodes: bool, xpath: etree.XPath) -> Getter:
    """A leaf child answers from its ``.text``: no text node for ``/text()``, '' as a string value."""
    empty = None if text_nodes else ""

    def get(record: Any) -> Any:
        child = record[1].get(tag)
        if child is None:
            return None
        if child is _SEVERAL or len(child):
            return normalize(xpath(record[0]))
        text = child.text
        return empty if text is None else text

    return get


def normalize(result: Any) -> Any:
    """An XPath result as raw values: node sets become text (one value, Many, or None)."""
    if not isinstance(result, list):
        return result
    values = [_text(node) for node in result]
    if len(values) == 1:
        return values[0]
    return Many(values) if values else None


def _text(node: Any) -> Any:
    """XPath string value: descendant text only (no comments, no unexpanded entity names)."""
    if isinstance(node, etree._Element):
        return _STRING_VALUE(node)
    return node if isinstance(node, str) else str(node)
