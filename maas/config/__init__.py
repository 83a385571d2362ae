"""Validated configuration: settings, secrets by reference, YAML with located errors."""

from maas.config.loader import load_model, read_yaml, validate
from maas.config.secrets import MASK, SecretRef, mask_url, redactor
from maas.config.settings import Settings, load_settings

__all__ = [
    "MASK",
    "SecretRef",
    "Settings",
    "load_model",
    "load_settings",
    "mask_url",
    "read_yaml",
    "redactor",
    "validate",
]
