"""Client-side helpers for source tests: poll like the orchestrator, and a file still being written."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from maas.collector.sources import Payload, Source, SourceState

Drain = Callable[[Source, SourceState], tuple[list[Payload], SourceState]]


def drain(source: Source, state: SourceState) -> tuple[list[Payload], SourceState]:
    """Take every payload of one poll, folding each checkpoint into the state as the journal will."""
    payloads = []
    for payload in source.poll(state):
        payloads.append(payload)
        state = state.advance(payload.checkpoint)
    return payloads, state


@contextmanager
def appending(path: Path, chunk: bytes) -> Iterator[None]:
    """A writer keeps appending to ``path`` (a file still being uploaded) until the block ends."""
    stop = threading.Event()

    def writer() -> None:
        with path.open("ab") as out:
            while not stop.is_set():
                out.write(chunk)
                out.flush()
                time.sleep(0.01)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
