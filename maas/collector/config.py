"""Collector files: one YAML file holds one or several collectors.

Example::

    collectors:
      - id: prip-s1a-serco
        interface_name: S1A-Serco
        source: {type: odata, version: 4, service_url: https://prip.example/odata/v1,
                 entity_set: Products, auth: {type: basic, username: maas, password: env:PRIP_PW}}
        extract: {format: json, record: "value[*]", fields: {...}}
        model: raw-prip-product
        period: 600

Everything is validated when the file is loaded (``maas config validate``): the source, the
extraction rules, and that the model family exists in the catalog.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, field_validator

from maas.collector.extract import ExtractSpec
from maas.collector.sources.config import FilesystemConfig, FtpConfig, SftpConfig, SourceConfig
from maas.config.checks import not_there
from maas.config.loader import Lines, nearest_line, read_yaml, validate
from maas.config.references import unresolved
from maas.config.secrets import BASE_DIR
from maas.errors import ConfigError, ConfigProblem
from maas.model import ModelRegistry


class CollectorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$", description="unique collector id")
    interface_name: str = Field(min_length=1, description="the interface monitored (e.g. S1A-Serco)")
    archive: bool = Field(default=True, description="keep the raw bytes before parsing (replay)")
    source: SourceConfig  # after archive: its validation looks at archive
    extract: ExtractSpec
    model: str = Field(description="document family the records become (e.g. raw-prip-product)")
    routing_key: str | None = Field(
        default=None, description="publish on this key instead of '<new|update>.<model family>'"
    )
    period: float = Field(default=600.0, gt=0, description="seconds between polls with --loop")
    enabled: bool = True
    # The configuration as written, when it came from a file (its local paths then resolved
    # against the file's directory): see config_hash.
    _written: CollectorConfig | None = PrivateAttr(default=None)

    @field_validator("source")
    @classmethod
    def _bytes_kept_somewhere(cls, source: SourceConfig, info: ValidationInfo) -> SourceConfig:
        """Deleting what was collected, without an archive, leaves the bytes of every rejected
        record (a bad date, a missing field) nowhere: refused rather than lost."""
        deleted = (
            isinstance(source, FilesystemConfig | SftpConfig | FtpConfig) and source.after_success == "delete"
        )
        if deleted and not info.data.get("archive", True):
            raise ValueError(
                "after_success: delete needs archive: true (otherwise the bytes of rejected "
                "records exist nowhere once the file is deleted); keep the archive, or use "
                "after_success: move"
            )
        return source

    def config_hash(self) -> str:
        """Identifies the configuration an archived payload was fetched with: as written, so
        that the same file checked out in another directory is the same configuration, and
        the keys it does not write are left out, so that an option a new version adds (with
        its default) does not make every archived payload's configuration "changed"."""
        as_written = self._written or self
        encoded = json.dumps(as_written.model_dump(mode="json", exclude_unset=True), sort_keys=True).encode()
        return hashlib.sha256(encoded).hexdigest()[:16]

    @property
    def extract_format(self) -> str:
        return str(self.extract.root.format)


class CollectorFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    collectors: list[CollectorConfig] = Field(min_length=1)


def load_collector_file(path: Path, models: ModelRegistry | None = None) -> list[CollectorConfig]:
    """The collectors of one file; with ``models``, their families must exist."""
    data, lines = read_yaml(path)
    context = {BASE_DIR: path.parent.resolve()}  # its local paths are relative to the file
    collectors = validate(data, CollectorFile, str(path), lines, context).collectors
    for collector, written in zip(collectors, CollectorFile.model_validate(data).collectors, strict=True):
        collector._written = written
    problems = []
    for i, collector in enumerate(collectors):
        if models is not None and collector.model not in models:
            known = ", ".join(sorted(c.family for c in models)) or "none"
            reason = f"unknown document family {collector.model!r} (known: {known})"
            problems.append(
                ConfigProblem(
                    str(path), lines.get(("collectors", i, "model")), f"collectors.{i}.model", reason
                )
            )
    if problems:
        raise ConfigError(problems)
    return collectors


def check_collector_file(
    path: Path, models: ModelRegistry | None = None, *, resolve: bool = False
) -> list[ConfigProblem]:
    """The file's problems; with ``resolve``, also the secrets and files its enabled collectors name.

    With ``models``, also what makes every record of a collector fail its model, which the
    extraction says before any payload (``model_mismatches``). Disabled collectors are left
    out of resolving: their secrets need not exist yet.
    """
    try:
        collectors = load_collector_file(path, models)
    except ConfigError as exc:
        return exc.problems
    if models is None and not resolve:
        return []
    lines = read_yaml(path)[1]
    problems = []
    for i, collector in enumerate(collectors):
        if models is not None:
            problems += model_mismatches(collector, models, str(path), lines, ("collectors", i))
        if resolve and collector.enabled:
            problems += unresolved(collector, str(path), lines, ("collectors", i))
    return problems


def model_mismatches(
    collector: CollectorConfig, models: ModelRegistry, file: str, lines: Lines, key: tuple[str | int, ...]
) -> list[ConfigProblem]:
    """What would make the model refuse every record of the collector, known from its file alone.

    A record has exactly the fields of ``extract.fields`` (a field with nothing to read is
    None), so a model field that is required, a key or the partition and that the extraction
    does not name is missing from every record, and a field the model does not declare is in
    every record: the model refuses both. Whether a named field has a value in a given payload
    is only known at run time.
    """
    doc_class = models[collector.model]
    fields = collector.extract.root.fields
    at = (*key, "extract", "fields")
    problems = []
    needed = [n for n, f in doc_class.fields.items() if f.required or n in doc_class.key]
    if doc_class.partition.field and doc_class.partition.field not in needed:
        needed.append(doc_class.partition.field)
    missing = [name for name in needed if name not in fields]
    if missing:
        reason = (
            f"model {collector.model!r} needs field(s) {', '.join(missing)} (required, key or "
            "partition), which this extraction does not set: every record would be refused"
        )
        problems.append(ConfigProblem(file, nearest_line(at, lines), ".".join(map(str, at)), reason))
    for name in fields:
        if name not in doc_class.fields:
            reason = (
                f"not a field of model {collector.model!r} (its fields: {', '.join(doc_class.fields)}): "
                "every record would be refused"
            )
            field_key = (*at, name)
            problems.append(
                ConfigProblem(file, nearest_line(field_key, lines), ".".join(map(str, field_key)), reason)
            )
    return problems


def load_collectors(directory: Path, models: ModelRegistry | None = None) -> list[CollectorConfig]:
    """Every collector of every ``*.yaml`` file of a directory; ids must be unique."""
    reason = not_there(directory, directory=True)
    if reason:  # not "no collector defined": the directory named is not there
        raise ConfigError(f"collectors directory {directory}: {reason}")
    problems: list[ConfigProblem] = []
    collectors: list[CollectorConfig] = []
    for path in sorted(directory.glob("*.y*ml")):
        try:
            collectors += load_collector_file(path, models)
        except ConfigError as exc:
            problems += exc.problems
    problems += _duplicates(collectors, directory)
    if problems:
        raise ConfigError(problems)
    return collectors


def _duplicates(collectors: Iterable[CollectorConfig], directory: Path) -> list[ConfigProblem]:
    seen: set[str] = set()
    problems = []
    for collector in collectors:
        if collector.id in seen:
            problems.append(
                ConfigProblem(str(directory), None, "id", f"collector id {collector.id!r} is used twice")
            )
        seen.add(collector.id)
    return problems


def select(collectors: list[CollectorConfig], ids: list[str] | None) -> list[CollectorConfig]:
    """The enabled collectors, or exactly those named (an unknown name is an error)."""
    if not ids:
        return [c for c in collectors if c.enabled]
    by_id = {c.id: c for c in collectors}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise ConfigError(
            f"unknown collector id(s): {', '.join(unknown)} (known: {', '.join(by_id) or 'none'})"
        )
    return [by_id[i] for i in ids]


def schema_reference() -> dict[str, Any]:
    """The JSON schema of a collector file (for the generated reference page)."""
    return CollectorFile.model_json_schema()
