"""What a replay reads: the archive entries below the given paths, filtered, in fetch order.

Planning reads the whole selection once (sidecars, bytes, checksums) and keeps only what it
needs to order and report: the path, the sidecar and the problem. Payloads are replayed in
global fetch-time order — across interfaces, whatever order the paths were given in — which
is the order production collected them in, and makes two replays of one archive identical.
Each payload is then read again (and verified again) when its turn comes, so memory holds one
payload at a time, not the archive.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from maas.collector.archive import ArchivedEntry, Sidecar, read_archive, safe_name


@dataclass(frozen=True)
class Selection:
    """The ``--interface``, ``--collector`` and ``--from``/``--to`` filters (empty: everything).

    ``since`` is inclusive and ``until`` exclusive, on the sidecar's fetch time. An entry whose
    sidecar cannot be read is still judged by where it lies (``<interface>/<YYYY>/<MM>/<DD>/``),
    so a broken file of another interface does not fail a replay that filters it out.
    """

    interfaces: frozenset[str] = frozenset()
    collectors: frozenset[str] = frozenset()
    since: datetime | None = None
    until: datetime | None = None

    def keeps(self, sidecar: Sidecar, fetched_at: datetime) -> bool:
        if self.interfaces and sidecar.interface not in self.interfaces:
            return False
        if self.collectors and sidecar.collector_id not in self.collectors:
            return False
        return self._in_window(fetched_at)

    def keeps_unreadable(self, path: Path) -> bool:
        """The same decision from the archive layout alone (no sidecar to read it from)."""
        layout = _layout(path)
        if layout is None:
            return True
        interface, day = layout
        if self.interfaces and interface not in {safe_name(i) for i in self.interfaces}:
            return False
        if self.since is not None and day < self.since.astimezone(UTC).date():
            return False
        return not (self.until is not None and day > self.until.astimezone(UTC).date())

    def _in_window(self, fetched_at: datetime) -> bool:
        if self.since is not None and fetched_at < self.since:
            return False
        return self.until is None or fetched_at < self.until


def _layout(path: Path) -> tuple[str, date] | None:
    """``(interface directory, day)`` when ``path`` sits where the archive puts payloads."""
    parts = path.parts[-5:-1]
    if len(parts) != 4 or not all(p.isdigit() for p in parts[1:]):
        return None
    try:
        return parts[0], date(int(parts[1]), int(parts[2]), int(parts[3]))
    except ValueError:
        return None


@dataclass(frozen=True)
class Planned:
    """One entry to replay (``sidecar`` and ``fetched_at`` set), to report as failed (``problem``
    set), or to warn of (``warning`` set: a data file without its sidecar, nothing lost)."""

    path: Path
    sidecar: Sidecar | None = None
    fetched_at: datetime | None = None
    problem: str | None = None
    warning: str | None = None

    @property
    def order(self) -> tuple[datetime, str, str]:
        assert self.sidecar is not None and self.fetched_at is not None
        return (self.fetched_at, self.sidecar.interface, str(self.path))


@dataclass
class Plan:
    payloads: list[Planned] = field(default_factory=list)  # usable, in fetch order
    bad: list[Planned] = field(default_factory=list)  # unusable, with the reason, in path order
    incomplete: list[Planned] = field(default_factory=list)  # writes cut short, in path order
    skipped: int = 0  # left out by the selection


def plan(paths: Sequence[Path], selection: Selection = Selection()) -> Plan:
    """Every entry at or below ``paths``, each once, sorted for replay or set aside as bad."""
    result = Plan()
    for planned in _unique(_planned(entry) for path in paths for entry in read_archive(path)):
        if not _kept(planned, selection):
            result.skipped += 1
        elif planned.warning is not None:
            result.incomplete.append(planned)
        elif planned.problem is None:
            result.payloads.append(planned)
        else:
            result.bad.append(planned)
    result.payloads.sort(key=lambda p: p.order)
    result.bad.sort(key=lambda p: str(p.path))
    result.incomplete.sort(key=lambda p: str(p.path))
    return result


def _planned(entry: ArchivedEntry) -> Planned:
    if entry.warning is not None:
        return Planned(entry.path, warning=entry.warning)
    if entry.sidecar is None or not entry.ok:
        return Planned(entry.path, entry.sidecar, problem=entry.problem)
    try:
        fetched_at = datetime.fromisoformat(entry.sidecar.fetched_at)
    except ValueError:
        return Planned(
            entry.path,
            entry.sidecar,
            problem=f"sidecar fetched_at {entry.sidecar.fetched_at!r} is not an ISO 8601 time",
        )
    if fetched_at.tzinfo is None:
        return Planned(entry.path, entry.sidecar, problem="sidecar fetched_at has no UTC offset")
    return Planned(entry.path, entry.sidecar, fetched_at)


def _kept(planned: Planned, selection: Selection) -> bool:
    if planned.sidecar is not None and planned.fetched_at is not None:
        return selection.keeps(planned.sidecar, planned.fetched_at)
    return selection.keeps_unreadable(planned.path)


def _unique(entries: Iterable[Planned]) -> Iterable[Planned]:
    """Overlapping paths (an archive and one of its days) name some entries twice."""
    seen: set[Path] = set()
    directories: dict[Path, Path] = {}  # resolving costs a system call per path component
    for planned in entries:
        key = _resolved(planned.path, directories)
        if key not in seen:
            seen.add(key)
            yield planned


def _resolved(path: Path, directories: dict[Path, Path]) -> Path:
    """``path.resolve()``, its directory resolved once for all the entries it holds."""
    if path.is_symlink():
        return path.resolve()
    if path.parent not in directories:
        directories[path.parent] = path.parent.resolve()
    return directories[path.parent] / path.name


def reload(planned: Planned) -> ArchivedEntry:
    """The entry's bytes, read and verified again now that its turn has come."""
    return next(iter(read_archive(planned.path)))
