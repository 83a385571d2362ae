"""The MaaS exception tree.

Library errors (duckdb, opensearch-py, pika, paramiko, ...) are mapped to these where they
enter our code, so callers decide on *our* types. Whether an error is transient or permanent
decides retry versus dead letter, so every error says which it is.
"""

from __future__ import annotations


class MaasError(Exception):
    """Base of every error MaaS raises on purpose."""

    transient: bool = False
    exit_code: int = 1


class ConfigError(MaasError):
    """A configuration file or value is wrong; the user must fix it (exit 2)."""

    exit_code = 2

    def __init__(self, problems: list[ConfigProblem] | str) -> None:
        if isinstance(problems, str):
            problems = [ConfigProblem(file=None, line=None, key="", reason=problems)]
        self.problems = problems
        super().__init__("\n".join(p.render() for p in problems))


class ConfigProblem:
    """One problem in one file: rendered as ``file:line: key: reason``."""

    def __init__(self, file: str | None, line: int | None, key: str, reason: str) -> None:
        self.file, self.line, self.key, self.reason = file, line, key, reason

    def render(self) -> str:
        """A problem without a file (a command-line option, a missing secret) names none."""
        where = [f"{self.file}:{self.line}" if self.file and self.line else self.file, self.key]
        return ": ".join([*(part for part in where if part), self.reason])

    def __repr__(self) -> str:
        return f"ConfigProblem({self.render()!r})"


class LockHeldError(MaasError):
    """Another process holds the lock (embedded store writer, collector run): exit 3 for cron."""

    exit_code = 3


class TransientError(MaasError):
    """Worth retrying later: a server down, overloaded (429), a timeout, a lost connection."""

    transient = True


class WriteConflict(TransientError):
    """Another writer changed what a computation read since it read it (a replica of the pool
    recomputing the same aggregate): computed again later, like any transient error. Told apart
    because with several replicas a few are expected, while other transient errors are trouble."""


class PermanentError(MaasError):
    """Retrying will not help: bad data, a mapping violation, a bug. Dead-letter it."""


class StoreError(MaasError):
    """A store operation failed (see the transient flag)."""


class StoreUnavailable(StoreError, TransientError):
    """The store cannot be reached right now."""


class StoreRefused(StoreError, PermanentError):
    """The store refused our credentials (401) or their rights (403): a setting is wrong, so
    retrying cannot help. Exit 2 like a configuration error, so a supervisor restarting on
    failure does not loop on it."""

    exit_code = 2


class BusError(MaasError):
    """A bus operation failed."""


class BusUnavailable(BusError, TransientError):
    """The broker cannot be reached right now."""


class BusRefused(BusError, PermanentError):
    """The broker refused our login, the vhost or the user's rights: a setting is wrong, so
    retrying cannot help. Exit 2 like a configuration error, so a supervisor restarting on
    failure does not loop on it."""

    exit_code = 2


class QueueConflict(BusError):
    """Queues exist on the broker with other arguments than declared. A broker cannot change a
    queue's arguments in place and the queue may hold messages, so it is left as it is, working
    as it was first declared; recreating it is the operator's decision (``maas routing setup``
    says how). Raised once everything else is declared."""

    def __init__(self, conflicts: dict[str, str]) -> None:
        self.conflicts = conflicts  # queue -> what differs
        listed = "; ".join(f"queue {name!r}: {why}" for name, why in sorted(conflicts.items()))
        super().__init__(f"queue(s) held by the broker with other arguments, left as they are: {listed}")


class BusInterrupted(BusError):
    """A stop was requested while the bus waited for the broker to come back: the call gave up
    before its reconnect budget so the process can exit within its grace period (nothing of
    the call was settled; the broker redelivers what was unacked)."""


class ValidationError(PermanentError):
    """A document or message does not match its schema."""


class UnreadableNotArchived(PermanentError):
    """A payload could not be read at all and its bytes are kept nowhere but on the source (the
    collector's archive is off). As a rejection, the journal would move past it and
    ``after_success`` delete or move it: its data would be gone. It fails its collector instead,
    stays on the source and out of the journal, and is read again by the next run."""


class SourceError(MaasError):
    """A collector source (SFTP, FTP, OData, HTTP, directory) failed (see the transient flag)."""


class SourceUnavailable(SourceError, TransientError):
    """The remote interface cannot be reached right now (refused, timeout, 5xx, 429): poll again later."""


class SourceRefused(SourceError, PermanentError):
    """The interface refused us for a reason a retry will not fix (credentials, host key, TLS, 4xx)."""


class SourceQueryRefused(SourceRefused):
    """HTTP 400: the interface refused the query itself (a syntax or an option it does not
    support), not us: told apart so a query it would take can be tried (OData ``$orderby``)."""


class ArchiveError(MaasError):
    """The raw-bytes archive could not be written or read (see the transient flag)."""


class ArchiveUnsafePath(ArchiveError, PermanentError):
    """Writing would leave the archive root (symlink planted in the tree, unusable name)."""


class ArchiveWriteFailed(ArchiveError, TransientError):
    """The disk refused the write (full, read-only, permissions): nothing was half-written."""


class ArchiveNamesTaken(ArchiveError, PermanentError):
    """Every name tried for an entry in its day directory is taken (see maas.collector.renaming):
    a retry would find them taken again, so the collector fails instead of retrying forever,
    and the message names the directory for the operator to look into."""
