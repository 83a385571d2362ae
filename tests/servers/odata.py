"""An OData fixture service: v4 JSON at ``/odata/v1/`` and v2 (with ``$metadata``) at ``/odata2/``.

It serves the records of a recorded PRIP-style response (``tests/data/odata/products.json``)
and honours what collectors rely on: ``$filter`` (comparisons ``gt ge lt le eq ne`` on dates,
numbers and strings, ``startswith``/``contains``, ``and``, parentheses), ``$orderby``,
``$top`` (a bound on the whole result, as the protocol says), ``$skip``, and server-driven
paging: when ``page_limit`` is set, results are cut into pages chained by
``@odata.nextLink`` (v4) / ``__next`` (v2), which carry an opaque ``$skiptoken`` and must be
followed verbatim. With ``next_links=False`` it behaves like servers that only page by $skip,
and a ``page_limit`` then caps every answer silently (fewer records than ``$top``, no next
link), as some product interfaces do. Unsupported syntax (``or``, functions it does not know)
is a 400, never a silent match-all; with ``orderby_keys=1`` so is a ``$orderby`` on two
properties, as interfaces that sort on one property only answer.

What happens to a real interface during a poll can be scheduled by collection request number
(1 = the first request for the entity set): ``fail(n)`` answers request n with an error status
instead (a busy server), ``after(n, action)`` runs ``action`` once request n was answered, e.g.
``lambda: service.evict_until(moment)``: products whose ``EvictionDate`` has passed are no
longer served, as a PRIP does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from servers.web import App

DATA = Path(__file__).resolve().parent.parent / "data" / "odata"
V4_ROOT, V2_ROOT = "/odata/v1", "/odata2"
_CLAUSE = re.compile(r"^([A-Za-z_][\w/]*)\s+(gt|ge|lt|le|eq|ne)\s+(.+)$")
_FUNCTION = re.compile(r"^(startswith|endswith|contains)\(([A-Za-z_]\w*),\s*'((?:[^']|'')*)'\)$")
_OPS = {
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
}

V2_METADATA = b"""<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx"
    xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata">
  <edmx:DataServices m:DataServiceVersion="2.0">
    <Schema Namespace="Maas" xmlns="http://schemas.microsoft.com/ado/2008/09/edm">
      <EntityType Name="Product">
        <Key><PropertyRef Name="Id"/></Key>
        <Property Name="Id" Type="Edm.String" Nullable="false"/>
        <Property Name="Name" Type="Edm.String"/>
        <Property Name="ContentLength" Type="Edm.Int64"/>
        <Property Name="PublicationDate" Type="Edm.DateTime"/>
      </EntityType>
      <EntityContainer Name="Container" m:IsDefaultEntityContainer="true">
        <EntitySet Name="Products" EntityType="Maas.Product"/>
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>
"""


class BadQuery(ValueError):
    pass


def load_records(name: str = "products.json") -> list[dict[str, Any]]:
    return list(json.loads((DATA / name).read_text())["value"])


class ODataService(App):
    def __init__(
        self,
        records: list[dict[str, Any]] | None = None,
        entity_set: str = "Products",
        page_limit: int | None = None,
        next_links: bool = True,
        orderby_keys: int | None = None,
    ) -> None:
        super().__init__()
        self.records = load_records() if records is None else records
        self.entity_set = entity_set
        self.page_limit = page_limit
        self.next_links = next_links
        self.orderby_keys = orderby_keys  # most properties a $orderby may name (None: any)
        self.served = 0  # requests for the entity set, answered or failed
        self.faults: dict[int, int] = {}  # request number -> HTTP status answered instead
        self.actions: dict[int, Callable[[], None]] = {}  # request number -> run once answered
        self.evicted_until: datetime | None = None

    def fail(self, request: int, status: int = 503) -> None:
        """Request number ``request`` for the entity set gets ``status`` instead of its page."""
        self.faults[request] = status

    def after(self, request: int, action: Callable[[], None]) -> None:
        """Run ``action`` right after request number ``request`` was answered."""
        self.actions[request] = action

    def evict_until(self, moment: datetime) -> None:
        """Products whose EvictionDate is at or before ``moment`` leave the interface."""
        self.evicted_until = moment

    @property
    def v4_url(self) -> str:
        return self.base_url + V4_ROOT

    @property
    def v2_url(self) -> str:
        return self.base_url + V2_ROOT + "/"

    def handle(self, method: str, path: str, query: dict[str, str], body: bytes) -> tuple[int, Any, str]:
        try:
            if path == f"{V2_ROOT}/$metadata":
                return 200, V2_METADATA, "application/xml"
            if path == f"{V4_ROOT}/{self.entity_set}":
                return self._collection(self._v4, query, "application/json;odata.metadata=minimal")
            if path == f"{V2_ROOT}/{self.entity_set}":
                return self._collection(self._v2, query, "application/json")
        except BadQuery as exc:
            return 400, {"error": {"code": "BadRequest", "message": str(exc)}}, "application/json"
        return 404, {"error": {"code": "NotFound", "message": path}}, "application/json"

    def _collection(
        self, render: Callable[[dict[str, str]], dict[str, Any]], query: dict[str, str], content_type: str
    ) -> tuple[int, Any, str]:
        """One request for the entity set, with the faults and actions scheduled for it."""
        self.served += 1
        status = self.faults.pop(self.served, None)
        if status is not None:
            return status, {"error": {"code": "Busy", "message": "try again later"}}, "application/json"
        body = render(query)
        action = self.actions.pop(self.served, None)
        if action is not None:
            action()
        return 200, body, content_type

    # query evaluation ------------------------------------------------------------------
    def _result(self, query: dict[str, str]) -> list[dict[str, Any]]:
        rows = [r for r in self.records if self._present(r) and _matches(r, query.get("$filter"))]
        ordering = _ordering(query.get("$orderby"))
        if self.orderby_keys is not None and len(ordering) > self.orderby_keys:
            raise BadQuery(f"$orderby supports at most {self.orderby_keys} property")
        for field, descending in reversed(ordering):
            rows.sort(key=_sorter(field), reverse=descending)
        skip = int(query.get("$skip", 0))
        top = int(query.get("$top", len(rows)))
        return rows[skip : skip + top]

    def _page(self, query: dict[str, str]) -> tuple[list[dict[str, Any]], str | None]:
        """One server page of the result, and the next link to the following one (or None)."""
        rows = self._result(query)
        start = int(query.get("$skiptoken", 0))
        limit = self.page_limit or len(rows)
        page = rows[start : start + limit]
        if start + limit >= len(rows) or not self.next_links:
            return page, None
        rest = {k: v for k, v in query.items() if k != "$skiptoken"}
        return page, urlencode({**rest, "$skiptoken": str(start + limit)}, quote_via=quote, safe="$,'()")

    def _present(self, record: dict[str, Any]) -> bool:
        """Not evicted yet (a record without an EvictionDate stays)."""
        eviction = record.get("EvictionDate")
        return self.evicted_until is None or eviction is None or _parse_time(eviction) > self.evicted_until

    def _v4(self, query: dict[str, str]) -> dict[str, Any]:
        page, link = self._page(query)
        body: dict[str, Any] = {"@odata.context": f"{self.v4_url}/$metadata#{self.entity_set}", "value": page}
        if link:
            body["@odata.nextLink"] = f"{self.v4_url}/{self.entity_set}?{link}"
        return body

    def _v2(self, query: dict[str, str]) -> dict[str, Any]:
        page, link = self._page(query)
        results = [self._v2_record(r) for r in page]
        body: dict[str, Any] = {"results": results}
        if link:
            body["__next"] = f"{self.base_url}{V2_ROOT}/{self.entity_set}?{link}"
        return {"d": body}

    def _v2_record(self, record: dict[str, Any]) -> dict[str, Any]:
        published = _parse_time(record["PublicationDate"])
        millis = int(published.timestamp() * 1000)
        uri = f"{self.base_url}{V2_ROOT}/{self.entity_set}('{record['Id']}')"
        return {
            "__metadata": {"uri": uri, "type": "Maas.Product"},
            "Id": record["Id"],
            "Name": record["Name"],
            "ContentLength": str(record["ContentLength"]),
            "PublicationDate": f"/Date({millis})/",
        }


def _ordering(text: str | None) -> list[tuple[str, bool]]:
    if not text:
        return []
    out = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise BadQuery(f"unsupported $orderby {text!r}")
        out.append((words[0], len(words) == 2 and words[1] == "desc"))
    return out


def _matches(record: dict[str, Any], text: str | None) -> bool:
    return text is None or all(_clause(record, c) for c in _conjuncts(text))


def _conjuncts(text: str) -> list[str]:
    """Split on top-level ``and``; a wrapping pair of parentheses is removed first."""
    text = text.strip()
    while text.startswith("(") and _closing(text, 0) == len(text) - 1:
        text = text[1:-1].strip()
    parts, depth, start, quoted = [], 0, 0, False
    for i, char in enumerate(text):
        quoted = not quoted if char == "'" else quoted
        depth += 0 if quoted else {"(": 1, ")": -1}.get(char, 0)
        if not quoted and depth == 0 and text[i : i + 5] == " and ":
            parts.append(text[start:i])
            start = i + 5
    parts.append(text[start:])
    if len(parts) == 1:
        if " or " in text:
            raise BadQuery("'or' is not supported by this fixture")
        return parts
    return [c for p in parts for c in _conjuncts(p)]


def _closing(text: str, opening: int) -> int:
    depth = 0
    for i in range(opening, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i
    raise BadQuery(f"unbalanced parentheses in {text!r}")


def _clause(record: dict[str, Any], clause: str) -> bool:
    clause = clause.strip()
    function = _FUNCTION.match(clause)
    if function:
        name, field, literal = function.groups()
        value, needle = str(_get(record, field) or ""), literal.replace("''", "'")
        return {"startswith": value.startswith, "endswith": value.endswith}.get(name, value.__contains__)(
            needle
        )
    match = _CLAUSE.match(clause)
    if not match:
        raise BadQuery(f"unsupported $filter clause {clause!r}")
    field, op, literal = match.groups()
    expected = _literal(literal.strip())
    actual = _get(record, field)
    if isinstance(expected, datetime):
        actual = _parse_time(actual) if actual is not None else None
    return actual is not None and bool(_OPS[op](actual, expected))


def _literal(text: str) -> Any:
    prefixed = re.match(r"^(datetime|datetimeoffset)'([^']*)'$", text)
    if prefixed:
        return _parse_time(prefixed.group(2))
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1].replace("''", "'")
    if re.match(r"^\d{4}-\d\d-\d\dT", text):
        return _parse_time(text)
    try:
        return int(text)
    except ValueError:
        raise BadQuery(f"unsupported literal {text!r}") from None


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _get(record: dict[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("/"):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _sorter(field: str) -> Callable[[dict[str, Any]], Any]:
    def key(record: dict[str, Any]) -> Any:
        value = _get(record, field)
        return (value is None, value)

    return key
