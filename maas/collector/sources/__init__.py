"""Collector sources: list then fetch, from directories, SFTP, FTP(S), OData v4/v2 and HTTP.

``create_source(config, tls)`` builds one from a validated ``source:`` block; see ``base`` for
the payload/checkpoint contract the journal and ``maas collect`` rely on.
"""

from maas.collector.sources.base import (
    Capabilities,
    Checkpoint,
    Payload,
    Rejected,
    Resume,
    SeenFile,
    Source,
    SourceState,
)
from maas.collector.sources.config import SourceConfig
from maas.collector.sources.factory import create_source

__all__ = [
    "Capabilities",
    "Checkpoint",
    "Payload",
    "Rejected",
    "Resume",
    "SeenFile",
    "Source",
    "SourceConfig",
    "SourceState",
    "create_source",
]
