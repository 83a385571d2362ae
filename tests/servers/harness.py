"""Client-side helpers for source tests: poll like the orchestrator, a file still being written,
and a tree holding names that are not UTF-8."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from maas.collector.sources import Payload, Rejected, Source, SourceState

Drain = Callable[[Source, SourceState], tuple[list[Payload], SourceState]]


def take(source: Source, state: SourceState) -> tuple[list[Payload], list[Rejected], SourceState]:
    """One poll as the orchestrator runs it: each payload's checkpoint folded into the state as
    the journal will, each rejection kept apart (reported, never journaled)."""
    payloads, rejected = [], []
    for item in source.poll(state):
        if isinstance(item, Rejected):
            rejected.append(item)
            continue
        payloads.append(item)
        state = state.advance(item.checkpoint)
    return payloads, rejected, state


def drain(source: Source, state: SourceState) -> tuple[list[Payload], SourceState]:
    """Take every payload of one poll (see ``take``), in a test that expects no rejection."""
    payloads, rejected, state = take(source, state)
    assert not rejected, [r.render() for r in rejected]
    return payloads, state


GOOD_NAMES = ("S1A_MP_20240309.csv", "été.csv", "2024/S1B_MP_20240310.csv")  # été: valid UTF-8
BAD_NAMES = (b"caf\xe9.csv", b"d\xe9p\xf4t/S1C_MP_20240311.csv")  # Latin-1 bytes, not UTF-8
REJECTIONS = [
    rf"file {shown}: its name is not valid UTF-8 (byte 0xE9 at offset {at}); rename it to collect it"
    for shown, at in ((r"caf\xe9.csv", 3), (r"d\xe9p\xf4t/S1C_MP_20240311.csv", 1))
]


def names_not_utf8(root: Path) -> list[bytes]:
    """``root`` holding GOOD_NAMES and BAD_NAMES (one file, one file in a directory so named),
    each file's content naming it; returns the paths of the bad ones as bytes."""
    for name in GOOD_NAMES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(f"name\n{name}\n", encoding="utf-8")
    bad = [os.path.join(os.fsencode(root), name) for name in BAD_NAMES]
    for path in bad:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        Path(os.fsdecode(path)).write_bytes(b"name\n" + os.path.basename(path) + b"\n")
    return bad


def rename_to_utf8(root: Path) -> list[str]:
    """What the operator does: rename BAD_NAMES to valid UTF-8; returns the names to collect."""
    os.rename(os.path.join(os.fsencode(root), BAD_NAMES[0]), root / "café.csv")
    os.rename(os.path.join(os.fsencode(root), b"d\xe9p\xf4t"), root / "dépôt")
    return ["café.csv", "dépôt/S1C_MP_20240311.csv"]


def rejects_names_not_utf8_alone(open_source: Callable[[], Source], root: Path) -> None:
    """The behaviour every file source owes a tree from ``names_not_utf8`` (``open_source``
    collects ``*.csv`` recursively from ``root`` and deletes what it collected): the good files
    are collected and deleted, the bad ones rejected by name at every poll and left in place
    (not journaled), and collected at the first poll after they are renamed."""
    bad = names_not_utf8(root)
    with open_source() as source:
        payloads, rejected, state = take(source, SourceState())
        for payload in payloads:
            source.after_success(payload)
        again, rejected_again, _ = take(source, state)
    expected = sorted((name, f"name\n{name}\n".encode()) for name in GOOD_NAMES)
    assert sorted((p.name, p.data) for p in payloads) == expected
    assert sorted(r.render() for r in rejected) == REJECTIONS == sorted(r.render() for r in rejected_again)
    assert again == [] and sorted(state.seen) == sorted(GOOD_NAMES)
    assert all(os.path.exists(path) for path in bad)
    assert not any((root / name).exists() for name in GOOD_NAMES)

    renamed = rename_to_utf8(root)
    with open_source() as source:
        payloads, rejected, _ = take(source, state)
    assert sorted(p.name for p in payloads) == renamed and rejected == []


def leaves_a_file_grown_since_its_read(
    open_source: Callable[[], Source], inbox: Path, done: Path | None
) -> None:
    """The behaviour every file source owes ``after_success`` (``open_source`` collects ``*.csv``
    from ``inbox`` and deletes it, or moves it to ``done`` when given): a file a producer appended
    to after it was read is left in place, as the appended rows are nowhere else; the next poll
    collects it whole, and only then is it deleted or moved."""
    plan = inbox / "a.csv"
    plan.write_text("name,value\na,1\n")
    with open_source() as source:
        [payload], state = drain(source, SourceState())
        with plan.open("a") as out:
            out.write("late,99\n")
        source.after_success(payload)
        assert plan.read_text() == "name,value\na,1\nlate,99\n"
        assert done is None or not (done / "a.csv").exists()
        [again], state = drain(source, state)
        source.after_success(again)
    assert again.data == b"name,value\na,1\nlate,99\n"
    assert not plan.exists()
    assert done is None or (done / "a.csv").read_bytes() == again.data


def never_overwrites_in_move_to(open_source: Callable[[], Source], inbox: Path, done: Path) -> None:
    """The behaviour every file source owes ``after_success: move`` (``open_source`` collects
    ``*.csv`` from ``inbox`` and moves it to ``done``): a file of the same name already in ``done``
    is kept; the one collected gets the fetch time in its name, then a counter."""
    done.mkdir(parents=True, exist_ok=True)
    (done / "a.csv").write_text("operator's copy\n")
    when = datetime(2024, 3, 9, 23, 59, 58, tzinfo=UTC)
    for n in range(3):
        (inbox / "a.csv").write_text(f"name,value\na,{n}\n")
        with open_source() as source:
            [payload], _ = drain(source, SourceState())
            source.after_success(replace(payload, fetched_at=when))
        assert not (inbox / "a.csv").exists()
    assert {p.name: p.read_text() for p in done.iterdir()} == {
        "a.csv": "operator's copy\n",
        "a.20240309T235958Z.csv": "name,value\na,0\n",
        "a.20240309T235958Z-2.csv": "name,value\na,1\n",
        "a.20240309T235958Z-3.csv": "name,value\na,2\n",
    }


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
