"""Named views a catalog contributes to ``maas inspect`` (the business's ready-made investigations).

A view is one SELECT over the embedded store's tables (one per family, named like the family
with ``-`` turned into ``_``: ``raw-prip-product`` → ``raw_prip_product``). Every inspect
connection installs the catalog's views as temporary views, so they are there for
``maas inspect sql`` too, and ``maas inspect view NAME`` shows one, filtered. A view whose tables
are missing from the database (a replay of one interface, say) is reported unavailable, not an
error. This module imports no database driver: catalogs declare views at import time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class View:
    """``maas inspect view NAME [VALUE]``; ``key`` is the column VALUE filters on.

    ``aliases`` are other columns VALUE may match instead (a row matches when any does): a
    product is looked up by its key or by a name as one interface published it, extensions and all.
    """

    name: str
    sql: str
    description: str = ""
    key: str | None = None
    order_by: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _IDENTIFIER.match(self.name):
            raise ValueError(f"view name {self.name!r} must be lower-case letters, digits and '_'")
