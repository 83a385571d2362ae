"""The names tried for a file whose name is taken: one rule for the archive and for ``move_to``.

A file already there is never replaced (it may be the only copy of a fetch, or the operator's):
the new one takes ``name``, else ``name`` marked (with the fetch time, or the start of the
sha256 of its bytes), else that with ``-2``, ``-3``... ``NAME_TRIES`` names in all, after which
the write or move is refused rather than searching on.
"""

from __future__ import annotations

from collections.abc import Iterator

NAME_TRIES = 100  # names tried before a write or a move is refused


def names_to_try(stem: str, mark: str, suffix: str = "") -> Iterator[str]:
    """``<stem><suffix>``, ``<stem>.<mark><suffix>``, then ``<stem>.<mark>-<n><suffix>`` from
    n = 2: ``NAME_TRIES`` names. ``suffix`` stays last, so a moved ``a.csv`` still ends in ``.csv``."""
    yield stem + suffix
    yield f"{stem}.{mark}{suffix}"
    for n in range(2, NAME_TRIES):
        yield f"{stem}.{mark}-{n}{suffix}"


__all__ = ["NAME_TRIES", "names_to_try"]
