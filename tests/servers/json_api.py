"""A paged JSON API: cursor paging, page-number paging and a single snapshot document.

``/events?cursor=C`` returns ``{"items": [...], "next": "<cursor>" | null}``,
``/pages?page=N`` returns ``{"items": [...]}`` (empty past the end), ``/status`` returns the
current ``status`` document; a POST to ``/search`` answers like ``/events`` and records the JSON
body it received. Tests append to ``items`` to make the API grow between polls.
"""

from __future__ import annotations

import json
from typing import Any

from servers.web import App


class JsonApi(App):
    def __init__(self, items: list[dict[str, Any]], page_size: int = 3) -> None:
        super().__init__()
        self.items = items
        self.page_size = page_size
        self.status: dict[str, Any] = {"interface": "PRIP S1A", "status": "up"}
        self.bodies: list[Any] = []

    def handle(self, method: str, path: str, query: dict[str, str], body: bytes) -> tuple[int, Any, str]:
        if path == "/events" and method == "GET":
            return 200, self._cursor_page(query.get("cursor")), "application/json"
        if path == "/search" and method == "POST":
            self.bodies.append(json.loads(body or b"null"))
            return 200, self._cursor_page(query.get("cursor")), "application/json"
        if path == "/pages":
            return 200, {"items": self._slice(int(query.get("page", 1)) - 1)}, "application/json"
        if path == "/status":
            return 200, self.status, "application/json"
        if path == "/broken":
            return 503, {"error": "maintenance"}, "application/json"
        return 404, {"error": path}, "application/json"

    def _slice(self, page: int) -> list[dict[str, Any]]:
        return self.items[page * self.page_size : (page + 1) * self.page_size]

    def _cursor_page(self, cursor: str | None) -> dict[str, Any]:
        """Cursors are opaque to clients: here 'c<offset>'; ``next`` is null at the end."""
        start = int(cursor[1:]) if cursor else 0
        page = self.items[start : start + self.page_size]
        end = start + len(page)
        return {"items": page, "next": f"c{end}" if end < len(self.items) else None}
