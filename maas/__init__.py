"""MaaS framework: collect, extract, transform and display monitoring data.

``maas`` knows nothing of any business; the Sentinel knowledge lives in ``cds``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("maas")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
