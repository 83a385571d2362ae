"""What a configuration refers to outside itself: secret references and files read at use.

Validating a file checks its shape only, so that it can run where the secrets are not (CI).
Resolving reads every secret reference and opens every referenced file, so that an unset
variable or a missing CA file is found before the first connection needs it. A problem names
the reference and why it cannot be read, never the secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from maas.config.loader import Lines, nearest_line
from maas.config.secrets import SecretRef
from maas.errors import ConfigProblem

Key = tuple[str | int, ...]


@dataclass(frozen=True)
class ReadFile:
    """Marks a ``Path`` field (``Annotated[Path, ReadFile()]``) naming a file read when connecting.

    ``expand_user``: the file is opened with ``~`` expanded (as the code that uses it does).
    ``unless``: a boolean field of the same model that, when true, means the file is not read.
    """

    expand_user: bool = False
    unless: str | None = None

    def unreadable(self, model: BaseModel, path: Path) -> str | None:
        """Why the file cannot be opened now, or None (also when the model does not read it)."""
        if self.unless is not None and getattr(model, self.unless):
            return None
        target = path.expanduser() if self.expand_user else path
        try:
            with target.open("rb"):
                return None
        except OSError as exc:
            return f"cannot read {target} ({exc.strerror})"


def unresolved(value: Any, file: str | None, lines: Lines, key: Key = ()) -> list[ConfigProblem]:
    """A problem for each secret reference and referenced file in ``value`` that cannot be read."""
    if isinstance(value, SecretRef):
        return _problem(value.unreadable(), file, lines, key)
    if isinstance(value, BaseModel):
        fields = type(value).model_fields.items()
        return [p for name, info in fields for p in _field(value, name, info, file, lines, (*key, name))]
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    return [p for part, item in items for p in unresolved(item, file, lines, (*key, part))]


def _field(
    model: BaseModel, name: str, info: FieldInfo, file: str | None, lines: Lines, key: Key
) -> list[ConfigProblem]:
    value = getattr(model, name)
    marks = [mark for mark in info.metadata if isinstance(mark, ReadFile)]
    if marks and value is not None:
        return _problem(marks[0].unreadable(model, value), file, lines, key)
    return unresolved(value, file, lines, key)


def _problem(reason: str | None, file: str | None, lines: Lines, key: Key) -> list[ConfigProblem]:
    if reason is None:
        return []
    return [ConfigProblem(file, nearest_line(key, lines), ".".join(map(str, key)), reason)]
