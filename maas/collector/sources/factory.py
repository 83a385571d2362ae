"""One table from source kind to implementation, imported only when used.

paramiko, pyodata and requests load only for a collector that needs them, so ``maas --help``
and a filesystem-only collector stay fast; adding a source type is one line here plus its
config model.
"""

from __future__ import annotations

from importlib import import_module
from typing import cast

from maas.collector.sources.base import Source
from maas.collector.sources.config import SourceConfig, implementation_key
from maas.config.settings import TLSSettings
from maas.errors import SourceRefused

SOURCES: dict[str, str] = {
    "filesystem": "maas.collector.sources.filesystem:FilesystemSource",
    "sftp": "maas.collector.sources.sftp:SftpSource",
    "ftp": "maas.collector.sources.ftp:FtpSource",
    "odata.v4": "maas.collector.sources.odata:ODataV4Source",
    "odata.v2": "maas.collector.sources.odata2:ODataV2Source",
    "http": "maas.collector.sources.http:HttpSource",
}


def create_source(config: SourceConfig, tls: TLSSettings | None = None) -> Source:
    """The source for a validated ``source:`` block; nothing connects until the first poll.

    A source whose library cannot load (a missing or incompatible install) fails its collector
    with the reason, not the whole run: the other collectors do not need that library."""
    key = implementation_key(config)
    module, _, name = SOURCES[key].partition(":")
    try:
        cls = getattr(import_module(module), name)
    except ImportError as exc:
        raise SourceRefused(f"the {key} source cannot be loaded: {exc}") from exc
    return cast(Source, cls(config, tls or TLSSettings()))
