"""One rule for a name that is taken, written once (maas.collector.renaming) and followed by the
archive (a data file, a sidecar alone) and by ``after_success: move``: lowering its one limit
lowers it for all three."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import TypeAdapter
from servers.harness import drain

from maas.collector import renaming
from maas.collector.archive import Archive, ArchiveContext
from maas.collector.sources import Checkpoint, Payload, SourceConfig, SourceState, create_source
from maas.errors import ArchiveError, SourceRefused

pytestmark = pytest.mark.unit

CONTEXT = ArchiveContext("c", "h", "S1A-Serco", "csv")
WHEN = datetime(2024, 3, 9, 23, 59, 58, tzinfo=UTC)
DAY = "S1A-Serco/2024/03/09"


def payload(name: str, data: bytes, when: datetime = WHEN) -> Payload:
    return Payload(name, data, f"file:///in/{name}", Checkpoint(), when)


def take(directory: Path, names: list[str], content: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        (directory / name).write_text(content)


@pytest.fixture
def three_tries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each writer then tries three names: ``name``, ``name`` marked, and marked ``-2``."""
    monkeypatch.setattr(renaming, "NAME_TRIES", 3)


def test_the_rule() -> None:
    names = list(renaming.names_to_try("a", "M", ".csv"))
    assert names[:4] == ["a.csv", "a.M.csv", "a.M-2.csv", "a.M-3.csv"]
    assert len(names) == len(set(names)) == renaming.NAME_TRIES


@pytest.mark.usefixtures("three_tries")
def test_a_data_file_tries_the_names_of_the_rule(tmp_path: Path) -> None:
    sha = payload("a.csv", b"new").sha256[:16]
    taken = ["a.csv.gz.json", f"a.csv.{sha}.gz.json", f"a.csv.{sha}-2.gz.json"]
    take(tmp_path / DAY, taken, "{unreadable sidecar: its name stays taken")
    with pytest.raises(ArchiveError, match="3 names tried for a.csv, all taken"):
        Archive(tmp_path).put(payload("a.csv", b"new"), CONTEXT)
    (tmp_path / DAY / taken[-1]).unlink()
    stored = Archive(tmp_path).put(payload("a.csv", b"new"), CONTEXT)
    assert stored.path.name == f"a.csv.{sha}-2.gz"


@pytest.mark.usefixtures("three_tries")
def test_a_sidecar_alone_tries_the_names_of_the_rule(tmp_path: Path) -> None:
    archive, later, stamp = Archive(tmp_path), WHEN.replace(second=59), "20240309T235959.000000Z"
    archive.put(payload("first.csv", b"same"), CONTEXT)
    taken = ["a.csv.gz", f"a.csv.{stamp}.gz", f"a.csv.{stamp}-2.gz"]
    take(tmp_path / DAY, taken, "a kill's leftover: no sidecar, but its name is taken")
    with pytest.raises(ArchiveError, match="3 names tried for a.csv, all taken"):
        archive.put(payload("a.csv", b"same", later), CONTEXT)
    (tmp_path / DAY / taken[-1]).unlink()
    stored = archive.put(payload("a.csv", b"same", later), CONTEXT)
    assert stored.sidecar_path.name == f"a.csv.{stamp}-2.gz.json"


@pytest.mark.usefixtures("three_tries")
def test_a_move_tries_the_names_of_the_rule(tmp_path: Path) -> None:
    inbox, done = tmp_path / "in", tmp_path / "done"
    take(inbox, ["a.csv"], "name,value\na,1\n")
    taken = ["a.csv", "a.20240309T235958Z.csv", "a.20240309T235958Z-2.csv"]
    take(done, taken, "operator's copy\n")
    config = TypeAdapter(SourceConfig).validate_python(
        {"type": "filesystem", "root": str(inbox), "stable_checks": 1, "stable_interval_s": 0.05}
        | {"patterns": ["*.csv"], "after_success": "move", "move_to": str(done)}
    )
    with create_source(config) as source:
        [fetched], _ = drain(source, SourceState())
        with pytest.raises(SourceRefused, match="not moved, 3 files of that name already in"):
            source.after_success(replace(fetched, fetched_at=WHEN))
        (done / taken[-1]).unlink()
        source.after_success(replace(fetched, fetched_at=WHEN))
    assert (done / taken[-1]).read_text() == "name,value\na,1\n"
