"""``parse(name)``: from a published file name to a typed record, or an explicit Unknown.

Parsing never raises and never returns None: an interface may publish anything, and a name we
cannot read is still a document to keep and to show (with the reason), not a crash of the chain.
"""

from __future__ import annotations

from cds.naming.grammars import BY_PREFIX, FieldError, Grammar
from cds.naming.model import ParsedName, Unknown
from cds.naming.rules import Rules, rules


def strip_extensions(name: str, rules_: Rules | None = None) -> str:
    """The product key: archive layers removed (repeatedly), then one container suffix.

    ``X.SAFE.zip`` and ``X.SAFE`` and ``X`` are one product; matching is case-insensitive
    because interfaces disagree on ``.zip``/``.ZIP`` but never on the identity before it.
    """
    known = rules_ or rules()
    stem = name
    head, dot, ext = stem.rpartition(".")
    while dot and head and ext.lower() in known.archive:
        stem = head
        head, dot, ext = stem.rpartition(".")
    return head if dot and head and ext.lower() in known.container else stem


def parse(name: str) -> ParsedName:
    """Parse one name; unknown or malformed names give :class:`Unknown` with the reason."""
    known = rules()
    key = strip_extensions(name, known)
    grammars = BY_PREFIX.get(key[:2], ())
    for grammar in grammars:
        m = grammar.pattern.fullmatch(key)
        if m is not None:
            try:
                return grammar.build(m, name, key, known)
            except FieldError as exc:
                return Unknown(name=name, key=key, reason=f"{grammar.name}: {exc}")
    return Unknown(name=name, key=key, reason=_why_unknown(key, grammars))


def _why_unknown(key: str, grammars: tuple[Grammar, ...]) -> str:
    """Say which rule failed, so an operator can tell a new product type from garbage."""
    if not key.strip():
        return "empty name"
    if key != key.strip():
        return "leading or trailing whitespace (a name never has any)"
    if key != key.upper() and key[:2].upper() in BY_PREFIX:
        return "Sentinel names are upper case; this one is not"
    if not grammars:
        return "no Sentinel mission prefix (S1, S2, S3, S5P)"
    tried = ", ".join(g.name for g in grammars)
    return f"matches no {key[:2]} grammar ({tried})"
