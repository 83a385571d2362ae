"""A secret setting read where it is used, its failure located where the setting is written."""

from __future__ import annotations

from maas.config.secrets import SecretRef
from maas.config.settings import Settings
from maas.errors import ConfigError


def resolve_secret(settings: Settings, key: tuple[str, str]) -> str:
    """The secret at ``key`` (``("bus", "password")``), "" when not set.

    Secrets are read late, far from the file that names them: "environment variable X is not
    set" alone does not say which setting wanted it, so the error names the key and its
    ``file:line``, as ``maas config validate --resolve`` does (and exits 2, a setting to fix).
    """
    ref = getattr(getattr(settings, key[0]), key[1])
    if not isinstance(ref, SecretRef):
        return ""
    try:
        return ref.resolve()
    except ConfigError as exc:
        raise ConfigError([settings.problem(key, p.reason) for p in exc.problems]) from None
