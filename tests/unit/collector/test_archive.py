"""The raw-bytes archive: layout, sidecar, idempotency, containment, and a reader that reports."""

from __future__ import annotations

import errno
import gzip
import hashlib
import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maas.collector import renaming
from maas.collector.archive import (
    Archive,
    ArchiveContext,
    Sidecar,
    read_archive,
    safe_name,
    strip_credentials,
)
from maas.collector.sources import Checkpoint, Payload
from maas.errors import ArchiveNamesTaken, ArchiveUnsafePath, ArchiveWriteFailed, PermanentError

pytestmark = pytest.mark.unit

CONTEXT = ArchiveContext(
    collector_id="prip-s1", config_hash="c0ffee", interface="S1A-Serco", extractor="json"
)
WHEN = datetime(2024, 3, 9, 23, 59, 58, tzinfo=UTC)


def payload(
    name: str, data: bytes, when: datetime = WHEN, url: str = "https://prip.example/odata"
) -> Payload:
    return Payload(name=name, data=data, source_url=url, checkpoint=Checkpoint(), fetched_at=when)


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_layout_gzip_and_sidecar(tmp_path: Path) -> None:
    stored = Archive(tmp_path).put(payload("Products-p0001.json", b'{"value": []}'), CONTEXT)

    assert stored.path == tmp_path / "S1A-Serco/2024/03/09/Products-p0001.json.gz"
    assert gzip.decompress(stored.path.read_bytes()) == b'{"value": []}'
    sidecar = json.loads(Path(str(stored.path) + ".json").read_text())
    assert sidecar == {
        "schema": 1,
        "collector_id": "prip-s1",
        "config_hash": "c0ffee",
        "interface": "S1A-Serco",
        "name": "Products-p0001.json",
        "source_url": "https://prip.example/odata",
        "fetched_at": "2024-03-09T23:59:58+00:00",
        "size": 13,
        "sha256": hashlib.sha256(b'{"value": []}').hexdigest(),
        "extractor": "json",
        "compression": "gzip",
    }
    assert not stored.reused


def test_day_is_the_utc_day_of_the_fetch(tmp_path: Path) -> None:
    from datetime import timedelta, timezone

    late_evening_in_new_york = datetime(2024, 3, 9, 22, 0, tzinfo=timezone(timedelta(hours=-5)))
    stored = Archive(tmp_path).put(payload("a.xml", b"<a/>", late_evening_in_new_york), CONTEXT)
    assert stored.path.parent == tmp_path / "S1A-Serco/2024/03/10"


def test_same_bytes_are_stored_once_and_every_fetch_gets_its_sidecar(tmp_path: Path) -> None:
    """A plan re-issued under a new name with the same bytes that day: the bytes are kept once,
    but the second fetch has a sidecar of its own (its name, time and source), pointing at them."""
    archive = Archive(tmp_path)
    first = archive.put(payload("a.xml", b"<same/>"), CONTEXT)
    later = datetime(2024, 3, 9, 23, 59, 59, tzinfo=UTC)
    again = archive.put(payload("b.xml", b"<same/>", later, url="https://other.example/b"), CONTEXT)

    assert again.reused and again.path == first.path
    reference = tmp_path / "S1A-Serco/2024/03/09/b.xml.gz.json"
    assert again.sidecar_path == reference
    assert [p for p in files_under(tmp_path) if ".index" not in p.parts] == [
        first.path,
        first.sidecar_path,
        reference,
    ]
    sidecar = json.loads(reference.read_text())
    assert sidecar["data_file"] == "2024/03/09/a.xml.gz"
    assert (sidecar["name"], sidecar["fetched_at"]) == ("b.xml", later.isoformat())
    assert sidecar["source_url"] == "https://other.example/b"
    assert "data_file" not in json.loads(first.sidecar_path.read_text())  # beside its data: as always
    read = [(e.path, e.sidecar and e.sidecar.name, e.data) for e in archive.entries()]
    assert read == [(first.path, "a.xml", b"<same/>"), (reference, "b.xml", b"<same/>")]
    assert [e.data for e in read_archive(reference)] == [b"<same/>"]


def test_deleting_whole_old_days_never_breaks_a_kept_day(tmp_path: Path) -> None:
    """Retention deletes whole old days: bytes stored on an earlier day are not reused by a later
    one, which stores its own copy (its sidecar pointed at the old day's, so deleting that day
    left the later fetch with 'missing data file'); later fetches that day reuse that copy."""
    archive, status = Archive(tmp_path), b'{"up": true}'
    archive.put(payload("status.json", status, datetime(2024, 1, 1, tzinfo=UTC)), CONTEXT)
    march = archive.put(payload("status.json", status, datetime(2024, 3, 1, 8, tzinfo=UTC)), CONTEXT)
    again = archive.put(payload("state.json", status, datetime(2024, 3, 1, 9, tzinfo=UTC)), CONTEXT)
    shutil.rmtree(tmp_path / "S1A-Serco/2024/01")

    read = [(e.problem, e.sidecar and e.sidecar.name, e.data) for e in archive.entries()]
    assert read == [(None, "status.json", status), (None, "state.json", status)]
    assert not march.reused and march.path == tmp_path / "S1A-Serco/2024/03/01/status.json.gz"
    assert again.reused and again.path == march.path


def test_the_same_name_and_bytes_fetched_again_that_day_are_a_fetch_of_their_own(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    morning = datetime(2024, 3, 9, 8, tzinfo=UTC)
    first = archive.put(payload("a.xml", b"<same/>", morning), CONTEXT)
    noon = archive.put(payload("a.xml", b"<same/>", morning.replace(hour=12)), CONTEXT)

    assert noon.sidecar_path.name == "a.xml.20240309T120000.000000Z.gz.json"
    assert [(e.sidecar and e.sidecar.fetched_at, e.data) for e in archive.entries()] == [
        (first.sidecar.fetched_at, b"<same/>"),
        (noon.sidecar.fetched_at, b"<same/>"),
    ]


def test_the_same_fetch_archived_again_writes_nothing_new(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    archive.put(payload("a.xml", b"<same/>"), CONTEXT)
    archive.put(payload("b.xml", b"<same/>"), CONTEXT)
    before = files_under(tmp_path)

    assert archive.put(payload("a.xml", b"<same/>"), CONTEXT).reused
    assert archive.put(payload("b.xml", b"<same/>"), CONTEXT).reused
    assert files_under(tmp_path) == before and len(list(archive.entries())) == 2


def test_a_lost_index_never_turns_a_sidecar_alone_into_a_data_entry(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    archive.put(payload("a.xml", b"<same/>", datetime(2024, 3, 9, tzinfo=UTC)), CONTEXT)
    alone = archive.put(payload("b.xml", b"<same/>", datetime(2024, 3, 9, 1, tzinfo=UTC)), CONTEXT)
    shutil.rmtree(tmp_path / "S1A-Serco/.index")

    again = archive.put(payload("b.xml", b"<same/>", datetime(2024, 3, 9, 2, tzinfo=UTC)), CONTEXT)
    assert alone.reused and not again.reused
    assert again.path.name == f"b.xml.{hashlib.sha256(b'<same/>').hexdigest()[:16]}.gz"
    assert [e.ok for e in archive.entries()] == [True, True, True]


@pytest.mark.parametrize(
    ("data_file", "problem"),
    [
        ("../../../../../etc/passwd", "sidecar data_file '../../../../../etc/passwd' is not a data file"),
        ("2024/03/09/../../../../x.gz", "is not a data file of the archive layout"),
        ("2024/03/09/.hidden.gz", "is not a data file of the archive layout"),
        ("2024/03/09/gone.xml.gz", "missing data file (data file "),
        ("2024/03/09/other.xml.gz", "sha256 mismatch"),
    ],
)
def test_a_sidecar_alone_reads_only_a_matching_data_file_of_its_interface(
    tmp_path: Path, data_file: str, problem: str
) -> None:
    archive = Archive(tmp_path)
    archive.put(payload("a.xml", b"<same/>"), CONTEXT)
    archive.put(payload("other.xml", b"<other/>"), CONTEXT)
    alone = archive.put(payload("b.xml", b"<same/>", datetime(2024, 3, 9, 23, 59, 59, tzinfo=UTC)), CONTEXT)
    sidecar = json.loads(alone.sidecar_path.read_text())
    alone.sidecar_path.write_text(json.dumps({**sidecar, "data_file": data_file}))

    [entry] = read_archive(alone.sidecar_path)
    assert not entry.ok and entry.data is None and problem in (entry.problem or "")


def test_same_name_different_bytes_keeps_both(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    one = archive.put(payload("MPL_2024.csv", b"v1"), CONTEXT)
    two = archive.put(payload("MPL_2024.csv", b"v2"), CONTEXT)

    assert one.path != two.path and one.path.parent == two.path.parent
    assert two.path.name == f"MPL_2024.csv.{hashlib.sha256(b'v2').hexdigest()[:16]}.gz"
    assert {e.data for e in archive.entries()} == {b"v1", b"v2"}


@pytest.mark.parametrize(
    ("hostile", "expected"),
    [
        ("../../etc/x", "etc~x"),
        ("/etc/passwd", "etc~passwd"),
        ("..\\..\\windows\\win.ini", "windows~win.ini"),
        ("a/./b/../c", "a~b~c"),
        ("nul\x00byte", "nul_byte"),
        ("..", "payload"),
        (".hidden", "hidden"),
        ("S1A_EW_RAW__0NDH_20211206T121955.SAFE.zip", "S1A_EW_RAW__0NDH_20211206T121955.SAFE.zip"),
    ],
)
def test_safe_name(hostile: str, expected: str) -> None:
    assert safe_name(hostile) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=0, max_size=400))
def test_safe_name_is_always_one_plain_component(name: str) -> None:
    safe = safe_name(name)
    assert safe and "/" not in safe and "\\" not in safe and "\x00" not in safe
    assert not safe.startswith(".") and len(safe.encode()) <= 200


def test_traversal_in_names_and_interface_stays_inside_root(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    context = ArchiveContext("c", "h", "../../outside", "xml")
    Archive(root).put(payload("../../etc/x", b"pwned?"), context)
    Archive(root).put(payload("/abs/olute", b"abs"), CONTEXT)

    assert [p.name for p in tmp_path.iterdir()] == ["archive"]
    written = files_under(root)
    assert all(root in p.parents for p in written)
    assert root / "outside/2024/03/09/etc~x.gz" in written


def test_symlink_planted_in_the_tree_is_refused(tmp_path: Path) -> None:
    root, elsewhere = tmp_path / "archive", tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / "S1A-Serco/2024").mkdir(parents=True)
    (root / "S1A-Serco/2024/03").symlink_to(elsewhere)

    with pytest.raises(ArchiveUnsafePath, match="symlink"):
        Archive(root).put(payload("a.xml", b"<a/>"), CONTEXT)
    assert list(elsewhere.iterdir()) == []


def test_symlink_as_interface_directory_is_refused(tmp_path: Path) -> None:
    root, elsewhere = tmp_path / "archive", tmp_path / "elsewhere"
    elsewhere.mkdir()
    root.mkdir()
    (root / "S1A-Serco").symlink_to(elsewhere)
    with pytest.raises(ArchiveUnsafePath):
        Archive(root).put(payload("a.xml", b"<a/>"), CONTEXT)
    assert list(elsewhere.iterdir()) == []


def test_symlink_at_the_entry_name_is_replaced_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    day = root / "S1A-Serco/2024/03/09"
    day.mkdir(parents=True)
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep me")
    (day / "a.xml.gz").symlink_to(victim)

    stored = Archive(root).put(payload("a.xml", b"<a/>"), CONTEXT)
    assert victim.read_bytes() == b"keep me"
    assert not stored.path.is_symlink() and gzip.decompress(stored.path.read_bytes()) == b"<a/>"


def test_no_temporary_files_left_behind(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    for i in range(5):
        archive.put(payload(f"f{i}.csv", f"row {i}".encode()), CONTEXT)
    assert not [p for p in files_under(tmp_path) if p.name.endswith(".tmp")]


def test_leftover_data_without_sidecar_is_overwritten_on_retry(tmp_path: Path) -> None:
    """A crash between the data rename and the sidecar rename leaves data alone; the retry fixes it."""
    day = tmp_path / "S1A-Serco/2024/03/09"
    day.mkdir(parents=True)
    (day / "a.xml.gz").write_bytes(gzip.compress(b"<partial"))

    stored = Archive(tmp_path).put(payload("a.xml", b"<a/>"), CONTEXT)
    assert stored.path == day / "a.xml.gz" and not stored.reused
    assert [e.data for e in read_archive(day)] == [b"<a/>"]


def test_an_entry_with_an_unreadable_sidecar_is_never_overwritten(tmp_path: Path) -> None:
    """Its data file may be the only copy of a fetch: a new payload of that name goes beside it."""
    day = tmp_path / "S1A-Serco/2024/03/09"
    day.mkdir(parents=True)
    (day / "a.xml.gz").write_bytes(gzip.compress(b"<only-copy/>"))
    (day / "a.xml.gz.json").write_text("{not json")

    stored = Archive(tmp_path).put(payload("a.xml", b"<a/>"), CONTEXT)
    assert stored.path != day / "a.xml.gz" and stored.path.name.startswith("a.xml.")
    assert gzip.decompress((day / "a.xml.gz").read_bytes()) == b"<only-copy/>"
    assert gzip.decompress(stored.path.read_bytes()) == b"<a/>"


def test_a_long_name_whose_usual_names_are_taken_stays_a_valid_file_name(tmp_path: Path) -> None:
    """Both usual names of a 200-byte name held by other bytes (the second as by a collision of
    the 16-hex prefix): the next one tried stays within the 255-byte limit, where the old last
    resort (name + '.' + 64 hex) failed with 'File name too long'."""
    archive, name, data = Archive(tmp_path), "n" * 300 + ".xml", b"<v/>"
    first = archive.put(payload(name, b"<other/>"), CONTEXT).path
    collided = first.parent / f"{safe_name(name)}.{hashlib.sha256(data).hexdigest()[:16]}.gz"
    shutil.copy(first, collided)
    shutil.copy(first.with_name(first.name + ".json"), collided.with_name(collided.name + ".json"))
    stored = archive.put(payload(name, data), CONTEXT)
    assert stored.path.name == collided.name.removesuffix(".gz") + "-2.gz"  # as the module doc says
    assert len((stored.path.name + ".json").encode()) <= 255
    assert gzip.decompress(stored.path.read_bytes()) == data


@pytest.mark.parametrize("alone", [False, True], ids=["data file", "sidecar alone"])
def test_a_day_whose_names_are_all_taken_refuses_the_payload_for_good(tmp_path: Path, alone: bool) -> None:
    """Every name tried is taken: a retry would find them taken again, so the error is permanent
    (a transient one had the collector retry it forever) and names the day directory and name."""
    archive, data, day = Archive(tmp_path), b"<v/>", tmp_path / "S1A-Serco/2024/03/09"
    if alone:  # its bytes are held that day: only its sidecar is to be written
        archive.put(payload("first.xml", data, WHEN.replace(second=0)), CONTEXT)
    mark = "20240309T235958.000000Z" if alone else hashlib.sha256(data).hexdigest()[:16]
    day.mkdir(parents=True, exist_ok=True)
    for name in renaming.names_to_try("a.xml", mark):
        (day / (name + (".gz" if alone else ".gz.json"))).write_text("{taken")

    with pytest.raises(ArchiveNamesTaken) as refused:
        archive.put(payload("a.xml", data), CONTEXT)
    assert not refused.value.transient and isinstance(refused.value, PermanentError)
    assert str(refused.value) == f"archive {day}: {renaming.NAME_TRIES} names tried for a.xml, all taken"


def test_a_sidecar_that_cannot_be_encoded_leaves_nothing_written(tmp_path: Path) -> None:
    """A name from a listing that is not UTF-8 (surrogate escapes) cannot go into the JSON sidecar:
    refused by name before the data file is written, so no entry is left without its sidecar."""
    bad = b"caf\xe9.csv".decode("utf-8", "surrogateescape")
    with pytest.raises(ArchiveUnsafePath, match=r"payload caf\\xe9\.csv: sidecar cannot be written"):
        Archive(tmp_path).put(payload(bad, b"name,value\nb,2\n"), CONTEXT)
    assert files_under(tmp_path) == []
    assert list(read_archive(tmp_path)) == []


def test_the_sidecar_is_encoded_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bytes encoded to refuse a sidecar that cannot be stored are the bytes written."""
    encoded: list[bytes] = []
    real = Sidecar.to_bytes
    monkeypatch.setattr(Sidecar, "to_bytes", lambda self: encoded.append(real(self)) or encoded[-1])
    stored = Archive(tmp_path).put(payload("a.xml", b"<a/>"), CONTEXT)
    assert encoded == [stored.sidecar_path.read_bytes()]


def test_credentials_never_reach_the_sidecar(tmp_path: Path) -> None:
    url = "ftp://ops:hunter2@ftp.example:21/in/a.csv"
    stored = Archive(tmp_path).put(payload("a.csv", b"x", url=url), CONTEXT)
    text = Path(str(stored.path) + ".json").read_text()
    assert "hunter2" not in text and "ftp://ops@ftp.example:21/in/a.csv" in text
    assert strip_credentials("https://example/x") == "https://example/x"


def test_reader_walks_root_interface_day_and_file_in_time_order(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    later = archive.put(payload("z-first-name.json", b"2", datetime(2024, 3, 9, 12, tzinfo=UTC)), CONTEXT)
    earlier = archive.put(payload("a-second-name.json", b"1", datetime(2024, 3, 9, 6, tzinfo=UTC)), CONTEXT)
    archive.put(payload("b.json", b"3", datetime(2024, 3, 10, tzinfo=UTC)), CONTEXT)
    other = ArchiveContext("c2", "h", "S2A-ATOS", "xml")
    archive.put(payload("c.xml", b"4"), other)

    assert [e.data for e in archive.entries()] == [b"1", b"2", b"3", b"4"]
    assert [e.data for e in archive.entries("S1A-Serco")] == [b"1", b"2", b"3"]
    assert [e.data for e in archive.entries("S1A-Serco", "2024", "03", "09")] == [b"1", b"2"]
    assert [e.path for e in read_archive(later.path)] == [later.path]
    assert [e.path for e in read_archive(Path(str(earlier.path) + ".json"))] == [earlier.path]
    assert all(e.ok and e.sidecar and e.sidecar.sha256 for e in archive.entries())


def test_reader_reports_bad_entries_and_keeps_going(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    good = archive.put(payload("good.json", b"good", datetime(2024, 3, 9, 1, tzinfo=UTC)), CONTEXT)
    tampered = archive.put(payload("tampered.json", b"orig", datetime(2024, 3, 9, 2, tzinfo=UTC)), CONTEXT)
    corrupt = archive.put(payload("corrupt.json", b"data", datetime(2024, 3, 9, 3, tzinfo=UTC)), CONTEXT)
    lonely = archive.put(payload("lonely.json", b"lone", datetime(2024, 3, 9, 4, tzinfo=UTC)), CONTEXT)
    orphan = archive.put(payload("orphan.json", b"orph", datetime(2024, 3, 9, 5, tzinfo=UTC)), CONTEXT)
    broken = archive.put(payload("broken.json", b"brok", datetime(2024, 3, 9, 6, tzinfo=UTC)), CONTEXT)

    tampered.path.write_bytes(gzip.compress(b"evil"))
    corrupt.path.write_bytes(b"\x1f\x8b not really gzip")
    os.unlink(str(lonely.path) + ".json")
    os.unlink(orphan.path)
    Path(str(broken.path) + ".json").write_text("{not json")

    problems = {e.path.name: e.problem for e in archive.entries() if e.problem}
    assert [e.path for e in archive.entries() if e.ok] == [good.path]
    assert sorted(problems) == [
        "broken.json.gz",
        "corrupt.json.gz",
        "orphan.json.gz.json",
        "tampered.json.gz",
    ]
    assert problems["tampered.json.gz"].startswith("sha256 mismatch")
    assert problems["corrupt.json.gz"].startswith("corrupt gzip")
    assert problems["orphan.json.gz.json"] == "sidecar without its data file"
    assert problems["broken.json.gz"].startswith("unreadable sidecar")
    assert all(e.data is None for e in archive.entries() if not e.ok)


def test_a_data_file_without_its_sidecar_is_a_warning_not_a_problem(tmp_path: Path) -> None:
    """A write cut short before its sidecar: the payload was never journaled and is fetched again,
    so nothing is lost; the reader says so instead of failing every later replay."""
    lonely = Archive(tmp_path).put(payload("lonely.json", b"lone"), CONTEXT)
    os.unlink(str(lonely.path) + ".json")
    [entry] = read_archive(tmp_path)
    assert (entry.path, entry.problem, entry.sidecar, entry.data, entry.ok) == (
        lonely.path,
        None,
        None,
        None,
        False,
    )
    assert entry.warning is not None and entry.warning.startswith("data file without its sidecar")
    assert [e.warning for e in read_archive(lonely.path)] == [entry.warning]


def no_space_for(suffix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills up when the archive opens a temporary file for ``suffix`` (``.gz.json``)."""
    real_open = os.open

    def full(path: str | Path, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        if str(path).endswith(".tmp") and f"{suffix}." in str(path):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        return real_open(path, flags, mode, dir_fd=dir_fd)

    monkeypatch.setattr(os, "open", full)


def test_a_full_disk_at_the_sidecar_leaves_no_data_file_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The data file fits, its sidecar does not: the put fails and leaves nothing an entry could
    be read from; once there is room again the same payload is archived under its own name."""
    with monkeypatch.context() as patched:
        no_space_for(".gz.json", patched)
        with pytest.raises(ArchiveWriteFailed, match="No space left on device"):
            Archive(tmp_path).put(payload("Products-p0001.json", b'{"value": []}'), CONTEXT)
    assert [p for p in files_under(tmp_path) if ".index" not in p.parts] == []
    assert list(read_archive(tmp_path)) == []

    stored = Archive(tmp_path).put(payload("Products-p0001.json", b'{"value": []}'), CONTEXT)
    assert stored.path.name == "Products-p0001.json.gz" and not stored.reused
    assert [(e.ok, e.data) for e in read_archive(tmp_path)] == [(True, b'{"value": []}')]


def test_a_sidecar_that_cannot_be_put_in_place_takes_its_data_file_away(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = os.replace

    def refuse_sidecars(src: str, dst: str, **kwargs: int) -> None:
        if dst.endswith(".gz.json"):
            raise OSError(errno.EIO, os.strerror(errno.EIO), dst)
        real_replace(src, dst, **kwargs)

    monkeypatch.setattr(os, "replace", refuse_sidecars)
    with pytest.raises(ArchiveWriteFailed, match="Input/output error"):
        Archive(tmp_path).put(payload("a.xml", b"<a/>"), CONTEXT)
    assert files_under(tmp_path) == []


def test_reader_reports_a_missing_path(tmp_path: Path) -> None:
    [entry] = list(read_archive(tmp_path / "nope"))
    assert not entry.ok and entry.problem == "no such file or directory"


def test_stale_index_pointer_does_not_fake_a_reuse(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    first = archive.put(payload("a.xml", b"<a/>"), CONTEXT)
    os.unlink(first.path)
    os.unlink(str(first.path) + ".json")

    again = archive.put(payload("a.xml", b"<a/>", datetime(2024, 3, 9, 23, 59, 59, tzinfo=UTC)), CONTEXT)
    assert not again.reused and again.path.exists()
