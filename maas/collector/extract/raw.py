"""Raw values as format readers hand them to the field pipeline."""

from __future__ import annotations

from typing import Any


class Many(list[Any]):
    """Several matches of one path (XPath node-set, JSON wildcard), as opposed to one value
    that happens to be a list: a scalar field refuses it, a ``many`` field keeps it."""
