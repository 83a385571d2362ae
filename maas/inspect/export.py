"""A slice of a live store copied into a DuckDB file for offline investigation.

The slice is read with ``Store.scan`` (a point in time and ``search_after`` pages on OpenSearch:
every match, no 10,000-hit window, bounded memory) and written with ``DuckDBStore.write``, so
the file has exactly the embedded store's layout — the same tables, columns, ids and content
hashes — and every ``maas inspect`` query runs on it as on a replay output.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from maas.errors import MaasError, StoreError
from maas.model import DocumentClass
from maas.store.base import Filter, Store
from maas.store.duckdb import DuckDBStore
from maas.store.lock import ProcessLock

CHUNK = 5000
Progress = Callable[[DocumentClass, int], None]  # (family, documents copied so far)


class OutputExists(MaasError):
    """The output file is there and the caller asked neither to replace nor to add to it."""

    exit_code = 2


@dataclass(frozen=True)
class Slice:
    doc_class: DocumentClass
    filters: Sequence[Filter] = ()


def fresh_duckdb(path: Path, *, replace: bool = False) -> DuckDBStore:
    """An embedded store at ``path``: new, or replacing (``replace``) one.

    The lock beside the file is taken before anything is removed, so a file another process has
    open is never deleted under it.
    """
    if path.exists() and not replace:
        raise OutputExists(f"{path} exists: pass --force to replace it (or write to another file)")
    lock = ProcessLock(_beside(path, ".lock"), f"embedded store {path}")
    with lock:
        if replace:
            for old in (path, _beside(path, ".wal")):
                old.unlink(missing_ok=True)
        return DuckDBStore(path)


@contextmanager
def output_store(path: Path, *, replace: bool = False, append: bool = False) -> Iterator[DuckDBStore]:
    """An embedded store at ``path`` for the block: new, replacing (``replace``) or extending
    (``append``) one; closed when the block ends.

    A new or replacing export is written beside ``path`` under a temporary name and renamed over
    it only once the block succeeded: a failed export leaves neither an empty file that makes
    the next run ask for --force nor, with --force, a half-replaced one. The lock beside
    ``path`` is held throughout, so a file another process has open is never replaced under it.
    An append writes in place (ids are upserted: running it again finishes the job).
    """
    if path.exists() and not (replace or append):
        raise OutputExists(f"{path} exists: pass --force to replace it (or write to another file)")
    if append and path.exists():
        with closing(DuckDBStore(path)) as store:
            yield store
        return
    with ProcessLock(_beside(path, ".lock"), f"embedded store {path}"):
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
        try:
            with closing(DuckDBStore(scratch / path.name)) as store:
                yield store
            _beside(path, ".wal").unlink(missing_ok=True)  # a stale WAL would be replayed into it
            (scratch / path.name).replace(path)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def _beside(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def export(
    source: Store, target: DuckDBStore, slices: Sequence[Slice], progress: Progress | None = None
) -> dict[str, int]:
    """Copy every slice; returns the documents copied per family."""
    copied = {}
    for part in slices:
        target.setup([part.doc_class])
        copied[part.doc_class.family] = _copy(source, target, part, progress)
    return copied


def _copy(source: Store, target: DuckDBStore, part: Slice, progress: Progress | None) -> int:
    documents = source.scan(part.doc_class, part.filters, batch_size=CHUNK)
    done = 0
    while chunk := list(itertools.islice(documents, CHUNK)):
        refused = target.write(chunk).failed
        if refused:
            raise StoreError(
                f"{len(refused)} {part.doc_class.family} document(s) not exported: "
                f"{refused[0].id}: {refused[0].reason}"
            )
        done += len(chunk)
        if progress:
            progress(part.doc_class, done)
    return done
