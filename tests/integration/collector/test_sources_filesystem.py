"""The filesystem source on real directories: gates, seen set, after-success, archive containment."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest
from pydantic import TypeAdapter
from servers.harness import (
    Drain,
    appending,
    leaves_a_file_grown_since_its_read,
    never_overwrites_in_move_to,
    rejects_names_not_utf8_alone,
    take,
)

from maas.collector.archive import Archive, ArchiveContext
from maas.collector.sources import SourceConfig, SourceState, create_source
from maas.errors import SourceUnavailable

pytestmark = pytest.mark.integration
FAST = {"stable_checks": 1, "stable_interval_s": 0.05}
CONTEXT = ArchiveContext("mp-files", "h1", "MP-S1", "csv")


def config(root: Path, **overrides: object) -> SourceConfig:
    data = {"type": "filesystem", "root": str(root), **FAST, **overrides}
    return TypeAdapter(SourceConfig).validate_python(data)


def tree(root: Path) -> None:
    (root / "2024/03").mkdir(parents=True)
    (root / "MPL_S1A_20240309.csv").write_text("id,start\n1,2024-03-09T10:00:00Z\n")
    (root / "2024/03/MPL_S1B_20240310.csv").write_text("id,start\n2,2024-03-10T10:00:00Z\n")
    (root / "README.txt").write_text("not a plan")


def test_collects_new_files_then_nothing(tmp_path: Path, drain: Drain) -> None:
    tree(tmp_path)
    with create_source(config(tmp_path, patterns=["*.csv"], recursive=True)) as source:
        first, state = drain(source, SourceState())
        again, _ = drain(source, state)

    assert sorted(p.name for p in first) == ["2024/03/MPL_S1B_20240310.csv", "MPL_S1A_20240309.csv"]
    payload = next(p for p in first if p.name == "MPL_S1A_20240309.csv")
    assert payload.data == b"id,start\n1,2024-03-09T10:00:00Z\n"
    assert payload.source_url == (tmp_path / "MPL_S1A_20240309.csv").resolve().as_uri()
    seen = state.seen["MPL_S1A_20240309.csv"]
    assert (seen.size, seen.sha256) == (len(payload.data), hashlib.sha256(payload.data).hexdigest())
    assert again == []


def test_the_seen_set_keeps_only_files_still_at_the_source(tmp_path: Path, drain: Drain) -> None:
    """Files moved away by another tool are forgotten at the next collected file: the journal's
    seen set stays the size of the directory, not of its history."""
    tree(tmp_path)
    with create_source(config(tmp_path, patterns=["*.csv"], recursive=True)) as source:
        _, state = drain(source, SourceState())
        (tmp_path / "MPL_S1A_20240309.csv").unlink()
        (tmp_path / "MPL_S1A_20240311.csv").write_text("id,start\n3,2024-03-11T10:00:00Z\n")
        os.utime(tmp_path / "MPL_S1A_20240311.csv", (time.time() - 5, time.time() - 5))
        new, state = drain(source, state)
    assert [p.name for p in new] == ["MPL_S1A_20240311.csv"]
    assert sorted(state.seen) == ["2024/03/MPL_S1B_20240310.csv", "MPL_S1A_20240311.csv"]


def test_not_recursive_by_default(tmp_path: Path, drain: Drain) -> None:
    tree(tmp_path)
    with create_source(config(tmp_path, patterns=["*.csv"])) as source:
        payloads, _ = drain(source, SourceState())
    assert [p.name for p in payloads] == ["MPL_S1A_20240309.csv"]


def test_changed_file_is_collected_again_and_state_survives_json(tmp_path: Path, drain: Drain) -> None:
    tree(tmp_path)
    with create_source(config(tmp_path, patterns=["*.csv"])) as source:
        _, state = drain(source, SourceState())
        stored = SourceState.from_json(state.to_json())
        assert drain(source, stored)[0] == []

        plan = tmp_path / "MPL_S1A_20240309.csv"
        plan.write_text("id,start\n1,2024-03-09T11:00:00Z\n")
        os.utime(plan, (time.time() - 5, time.time() - 5))
        changed, _ = drain(source, stored)
    assert [p.data for p in changed] == [b"id,start\n1,2024-03-09T11:00:00Z\n"]


def test_growing_file_waits_until_its_size_is_stable(tmp_path: Path, drain: Drain) -> None:
    growing = tmp_path / "big.xml"
    growing.write_bytes(b"<a>")
    with (
        appending(growing, b"<b/>"),
        create_source(config(tmp_path, stable_checks=2, stable_interval_s=0.1)) as source,
    ):
        while_growing, _ = drain(source, SourceState())
    with create_source(config(tmp_path, stable_checks=2, stable_interval_s=0.1)) as source:
        after, _ = drain(source, SourceState())

    assert while_growing == []
    assert [p.data for p in after] == [growing.read_bytes()]


def test_minimum_age(tmp_path: Path, drain: Drain) -> None:
    fresh = tmp_path / "fresh.csv"
    fresh.write_text("x")
    with create_source(config(tmp_path, min_age_s=60)) as source:
        assert drain(source, SourceState())[0] == []
        os.utime(fresh, (time.time() - 61, time.time() - 61))
        assert [p.name for p in drain(source, SourceState())[0]] == ["fresh.csv"]


@pytest.mark.parametrize("action", ["keep", "delete", "move"])
def test_after_success_acts_only_when_called(tmp_path: Path, drain: Drain, action: str) -> None:
    root = tmp_path / "in"
    root.mkdir()
    (root / "a.csv").write_text("a")
    extra = {"move_to": "done"} if action == "move" else {}
    with create_source(config(root, after_success=action, recursive=True, **extra)) as source:
        [payload], state = drain(source, SourceState())
        assert (root / "a.csv").exists()  # nothing happens before the orchestrator says so
        source.after_success(payload)
        assert drain(source, state)[0] == []  # seen, or moved out of the listing

    assert (root / "a.csv").exists() == (action == "keep")
    assert (root / "done/a.csv").exists() == (action == "move")


@pytest.mark.parametrize("action", ["delete", "move"])
def test_a_file_grown_since_its_read_is_left_for_the_next_poll(tmp_path: Path, action: str) -> None:
    extra = {"move_to": str(tmp_path / "done")} if action == "move" else {}
    cfg = config(tmp_path / "in", patterns=["*.csv"], after_success=action, **extra)
    (tmp_path / "in").mkdir()
    done = tmp_path / "done" if action == "move" else None
    leaves_a_file_grown_since_its_read(lambda: create_source(cfg), tmp_path / "in", done)


def test_a_move_never_overwrites_a_file_already_in_move_to(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    cfg = config(tmp_path / "in", patterns=["*.csv"], after_success="move", move_to="done")
    never_overwrites_in_move_to(lambda: create_source(cfg), tmp_path / "in", tmp_path / "in/done")


def test_symlinks_are_not_followed(tmp_path: Path, drain: Drain) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text("no")
    root = tmp_path / "root"
    root.mkdir()
    (root / "link.csv").symlink_to(outside / "secret.csv")
    (root / "linkdir").symlink_to(outside)
    with create_source(config(root, recursive=True)) as source:
        assert drain(source, SourceState())[0] == []


def test_hostile_names_stay_inside_the_archive(tmp_path: Path, drain: Drain) -> None:
    root, archive_root = tmp_path / "in", tmp_path / "archive"
    root.mkdir()
    (root / "..\\..\\etc\\x").write_text("backslashes are plain characters on POSIX")
    with create_source(config(root)) as source:
        [payload], _ = drain(source, SourceState())
    stored = Archive(archive_root).put(payload, CONTEXT)

    assert archive_root in stored.path.parents and stored.path.name == "etc~x.gz"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive", "in"]


def test_missing_root_is_transient(tmp_path: Path) -> None:
    with create_source(config(tmp_path / "not-mounted")) as source, pytest.raises(SourceUnavailable):
        list(source.poll(SourceState()))


def test_a_name_that_is_not_utf8_is_rejected_alone_and_collected_once_renamed(tmp_path: Path) -> None:
    """The behaviour the SFTP and FTP sources copy: only the Latin-1 names are left out."""
    root = tmp_path / "mixed"
    cfg = config(root, patterns=["*.csv"], recursive=True, after_success="delete")
    rejects_names_not_utf8_alone(lambda: create_source(cfg), root)


def test_a_file_removed_after_the_listing_is_reported_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Removed during the stability pause: one rejection says so (the same check reports names
    an FTP server lists but cannot address), and the next poll, not listing it, says nothing."""
    (tmp_path / "kept.csv").write_text("id\n1\n")
    removed = tmp_path / "removed.csv"
    removed.write_text("id\n2\n")
    monkeypatch.setattr("maas.collector.sources.files.time.sleep", lambda _: removed.unlink())
    with create_source(config(tmp_path)) as source:
        payloads, rejected, _ = take(source, SourceState())
    assert [p.name for p in payloads] == ["kept.csv"]
    assert [r.render() for r in rejected] == [
        "file removed.csv: listed, then not found when checked again (removed meanwhile, or a name the "
        "server cannot address: some FTP servers show bytes that are not UTF-8 as '?'); tried again "
        "at the next poll"
    ]
    monkeypatch.setattr("maas.collector.sources.files.time.sleep", lambda _: None)
    with create_source(config(tmp_path)) as source:
        payloads, rejected, _ = take(source, SourceState())
    assert [p.name for p in payloads] == ["kept.csv"]
    assert rejected == []


def test_a_sub_directory_that_cannot_be_listed_is_reported_and_the_rest_collected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The OS refusing a sub-directory (its permissions; simulated, as the tests may run as root,
    whom permissions do not stop) is a directory rejection; the root's and siblings' files are
    collected."""
    tree(tmp_path)
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked/MPL_S1C.csv").write_text("id\n3\n")
    scandir = os.scandir

    def refusing(path: str) -> object:
        if os.path.basename(path) == "locked":
            raise PermissionError(13, "Permission denied", path)
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refusing)
    with create_source(config(tmp_path, recursive=True, patterns=["*.csv"])) as source:
        payloads, rejected, _ = take(source, SourceState())
    assert sorted(p.name for p in payloads) == ["2024/03/MPL_S1B_20240310.csv", "MPL_S1A_20240309.csv"]
    assert [r.render() for r in rejected] == [
        "directory locked: cannot list it (Permission denied); its files are collected once it can be listed"
    ]
