"""``maas replay``: archived raw payloads through the same chain, offline.

A replay reads only the archive (payload bytes and their sidecars, never the remote interface)
and the collector configurations, and writes through the code ``maas collect`` uses, so what it
produces is what production would have produced from the same bytes::

    report = Replayer(store, catalog, routing, Collectors(configs, "collectors/")).replay(
        plan([Path("backups/sample")], Selection(interfaces=frozenset({"S1A-Serco"})))
    )

- :func:`plan` reads the selection once, sets aside unusable entries (unreadable sidecar,
  checksum or size mismatch, corrupt gzip) with their reason, and data files without their
  sidecar (archive writes cut short, reported as warnings), and orders the rest by fetch time.
- :class:`Replayer` re-extracts each payload with the collector configuration named in its
  sidecar (warning when that configuration changed since), writes, publishes, and runs the
  engine chain to quiescence. Deterministic ids make a replay into a store that already holds
  the data a no-op, and two replays of one archive identical.
"""

from maas.replay.report import Failure, ReplayReport
from maas.replay.runner import DRAIN_EVERY, Collectors, Hooks, Replayer
from maas.replay.selection import Plan, Planned, Selection, plan

__all__ = [
    "DRAIN_EVERY",
    "Collectors",
    "Failure",
    "Hooks",
    "Plan",
    "Planned",
    "ReplayReport",
    "Replayer",
    "Selection",
    "plan",
]
