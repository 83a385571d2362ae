"""Markdown reference pages rendered from the configuration schemas.

The schemas are the truth (they validate every file); the pages are rendered from them so the
documentation cannot drift: a test compares the committed pages with a fresh rendering.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

Schema = dict[str, Any]


def render(title: str, model: type[BaseModel], intro: str = "") -> str:
    """A page: one table per object type, in the order they are reached from the root."""
    schema = model.model_json_schema()
    defs: dict[str, Schema] = schema.get("$defs", {})
    sections = [f"# {title}\n", *([intro.strip() + "\n"] if intro else [])]
    for name, obj in _objects(model.__name__, schema, defs):
        sections.append(_table(name, obj, defs))
    return "\n".join(sections)


def _objects(name: str, root: Schema, defs: dict[str, Schema]) -> Iterator[tuple[str, Schema]]:
    seen: set[str] = set()
    queue = [(name, root)]
    while queue:
        current, obj = queue.pop(0)
        if current in seen:
            continue
        seen.add(current)
        if "properties" in obj:
            yield current, obj
        targets = list(obj.get("properties", {}).values()) or [obj]  # a union type: follow its members
        queue += [(ref, defs[ref]) for prop in targets for ref in _refs(prop) if ref in defs]


def _refs(prop: Schema) -> list[str]:
    """Names of the object types a property points at, through lists, unions and maps."""
    found = []
    for key, value in prop.items():
        if key == "$ref" and isinstance(value, str):
            found.append(value.rsplit("/", 1)[-1])
        elif isinstance(value, dict):
            found += _refs(value)
        elif isinstance(value, list):
            found += [ref for item in value if isinstance(item, dict) for ref in _refs(item)]
    return found


def _table(name: str, obj: Schema, defs: dict[str, Schema]) -> str:
    required = set(obj.get("required", []))
    rows = ["| key | type | default | description |", "|---|---|---|---|"]
    for key, prop in obj.get("properties", {}).items():
        default = "required" if key in required else _default(prop)
        rows.append(f"| `{key}` | {_type(prop)} | {default} | {_cell(prop.get('description', ''))} |")
    doc = obj.get("description", "")
    return f"## {obj.get('title', name)}\n\n" + (f"{_cell(doc)}\n\n" if doc else "") + "\n".join(rows) + "\n"


def _type(prop: Schema | bool) -> str:
    if not isinstance(prop, dict) or not prop:
        return "any"
    if "$ref" in prop:
        return f"[{prop['$ref'].rsplit('/', 1)[-1]}](#{prop['$ref'].rsplit('/', 1)[-1].lower()})"
    if "const" in prop:
        return f"`{json.dumps(prop['const'])}`"
    if "enum" in prop:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in prop["enum"])
    for union in ("anyOf", "oneOf"):
        if union in prop:
            return " or ".join(_type(p) for p in prop[union])
    kind = prop.get("type", "any")
    if kind == "array":
        return f"list of {_type(prop.get('items', {}))}"
    if kind == "object" and "additionalProperties" in prop:
        return f"map of {_type(prop['additionalProperties'])}"
    return str(kind)


def _default(prop: Schema) -> str:
    return f"`{json.dumps(prop['default'])}`" if "default" in prop else ""


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")
