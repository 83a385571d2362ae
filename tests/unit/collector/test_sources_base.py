"""Source contract pieces that need no server: state folding, JSON form, config rules, factory."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import paramiko
import pytest
from pydantic import TypeAdapter, ValidationError

from maas.collector.sources import Checkpoint, Payload, Resume, SeenFile, SourceConfig, SourceState
from maas.collector.sources.config import ODataConfig, SftpConfig
from maas.collector.sources.factory import SOURCES
from maas.collector.sources.odata import ODataV4Source
from maas.collector.sources.sftp import CHECKED_PARAMIKO

pytestmark = pytest.mark.unit
T0 = datetime(2024, 3, 9, 10, tzinfo=UTC)


def validate(data: dict[str, Any]) -> SourceConfig:
    return TypeAdapter(SourceConfig).validate_python(data)


def test_advance_folds_checkpoints() -> None:
    state = SourceState()
    state = state.advance(Checkpoint(seen=SeenFile("a.csv", 3, 1.5, "aa")))
    state = state.advance(Checkpoint(seen=SeenFile("a.csv", 4, 2.5, "bb")))
    state = state.advance(
        Checkpoint(watermark=T0, recent={"k1": T0 - timedelta(minutes=5), "k2": T0}, keep_after=T0)
    )
    state = state.advance(Checkpoint(watermark=T0 - timedelta(hours=1)))  # never goes back
    state = state.advance(Checkpoint(resume=Resume("c6", "d6")))

    assert state.seen == {"a.csv": SeenFile("a.csv", 4, 2.5, "bb")}
    assert state.watermark == T0
    assert state.recent == {"k2": T0}  # k1 fell out of the overlap window
    assert state.resume == Resume("c6", "d6")
    assert state.advance(Checkpoint()).resume == Resume("c6", "d6")


def test_seen_entries_of_files_gone_from_the_source_are_forgotten() -> None:
    state = SourceState(seen={p: SeenFile(p, 1, 1.0, "aa") for p in ("gone.csv", "kept.csv")})
    state = state.advance(Checkpoint(seen=SeenFile("new.csv", 2, 2.0, "bb"), present=frozenset({"kept.csv"})))
    assert sorted(state.seen) == ["kept.csv", "new.csv"]
    assert sorted(state.advance(Checkpoint(seen=SeenFile("x.csv", 1, 1.0, "cc"))).seen) == [
        "kept.csv", "new.csv", "x.csv"
    ]  # fmt: skip  # no listing given (not a file source): nothing forgotten


def test_state_json_round_trip() -> None:
    state = SourceState(
        seen={"d/a.xml": SeenFile("d/a.xml", 10, 1710000000.25, "ff")},
        watermark=T0,
        recent={"id-1": T0},
        resume=Resume("3", "abc"),
    )
    assert SourceState.from_json(state.to_json()) == state
    assert SourceState.from_json({}) == SourceState()


def test_payload_hashes_its_bytes() -> None:
    payload = Payload(name="a", data=b"abc", source_url="file:///a", checkpoint=Checkpoint())
    assert payload.sha256 == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert payload.size == 3


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"type": "filesystem", "root": "/x", "after_success": "move"}, "move_to is required"),
        ({"type": "filesystem", "root": "/x", "bogus": 1}, "Extra inputs"),
        ({"type": "sftp", "host": "h", "username": "u"}, "give password"),
        ({"type": "sftp", "host": "h", "username": "u", "password": "hunter2"}, "secrets must be references"),
        (
            {"type": "odata", "service_url": "https://u:p@h/odata", "entity_set": "P"},
            "credentials in the URL",
        ),
        ({"type": "odata", "service_url": "ftp://h/", "entity_set": "P"}, "http(s)://"),
        (
            {"type": "odata", "service_url": "https://h/", "entity_set": "P", "window": {"size_s": 60}},
            "start",
        ),
        (
            {
                "type": "odata",
                "service_url": "https://h/",
                "entity_set": "P",
                "order_by": "ContentDate/Start asc",
            },
            "order_by must begin with 'PublicationDate asc'",
        ),
        (
            {
                "type": "odata",
                "service_url": "https://h/",
                "entity_set": "P",
                "order_by": "PublicationDate desc",
            },
            "order_by must begin with 'PublicationDate asc'",
        ),
        (
            {
                "type": "odata",
                "service_url": "https://h/",
                "entity_set": "P",
                "select": ["Name", "PublicationDate"],
            },
            "select must include Id",
        ),
        ({"type": "http", "url": "https://h/x", "paging": {"mode": "cursor", "param": "c"}}, "cursor_path"),
        ({"type": "webdav", "url": "https://h/"}, "does not match any of the expected tags"),
        (
            {
                "type": "http",
                "url": "https://h/x",
                "auth": {"type": "oauth2", "token_url": "https://h/t", "client_id": "c"},
            },
            "client_credentials needs client_secret",
        ),
        (
            {
                "type": "http",
                "url": "https://h/x",
                "auth": {"type": "oauth2", "token_url": "https://h/t", "client_id": "c", "grant": "password"},
            },
            "password needs username and password",
        ),
    ],
)
def test_config_errors_are_specific(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate(data)


def test_secure_defaults() -> None:
    sftp = validate({"type": "sftp", "host": "h", "username": "u", "key_file": "/k"})
    odata = validate({"type": "odata", "service_url": "https://h/odata/v1", "entity_set": "Products"})
    assert isinstance(sftp, SftpConfig)
    assert sftp.insecure_accept_any_host_key is False and str(sftp.known_hosts) == "~/.ssh/known_hosts"
    assert isinstance(odata, ODataConfig) and odata.verify_tls is True
    assert odata.ordering == "PublicationDate asc,Id asc"  # a stable order among equal watermarks


def test_odata_ranges_and_literals() -> None:
    cfg = validate(
        {
            "type": "odata",
            "service_url": "https://h/odata/v1",
            "entity_set": "Products",
            "overlap_s": 60,
            "start": "2024-03-09T10:00:00Z",
            "window": {"size_s": 3600, "until": "2024-03-09T12:00:00Z"},
            "filter": "startswith(Name,'S1')",
        }
    )
    assert isinstance(cfg, ODataConfig)
    source = ODataV4Source(cfg)
    ranges = list(source.ranges(SourceState()))
    start = T0 - timedelta(minutes=1)
    assert ranges == [
        (start, start + timedelta(hours=1)),
        (start + timedelta(hours=1), start + timedelta(hours=2)),
        (start + timedelta(hours=2), start + timedelta(hours=3)),
        (start + timedelta(hours=3), None),
    ]
    assert (
        source.filter(T0, None)
        == "(startswith(Name,'S1')) and PublicationDate gt 2024-03-09T09:59:59.999999Z"  # i.e. ge 10:00
    )


def test_factory_knows_every_source_type_and_imports_lazily() -> None:
    assert set(SOURCES) == {"filesystem", "sftp", "ftp", "odata.v4", "odata.v2", "http"}
    probe = (
        "import sys\n"
        "from pydantic import TypeAdapter\n"
        "from maas.collector.sources import SourceConfig, create_source\n"
        "create_source(TypeAdapter(SourceConfig).validate_python({'type': 'filesystem', 'root': '/tmp'}))\n"
        "print(sorted(m for m in ('paramiko', 'pyodata', 'requests') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(("owner", "name"), [("SFTPClient", "_request"), ("SFTPAttributes", "_from_msg")])
def test_a_paramiko_without_the_private_calls_the_sftp_source_uses_fails_its_import_naming_its_version(
    owner: str, name: str
) -> None:
    """Through the factory, as a collector run loads it: its collector fails with the reason
    (a permanent source error), the run and the other collectors go on."""
    probe = (
        "import paramiko\n"
        "from pydantic import TypeAdapter\n"
        "from maas.collector.sources import SourceConfig, create_source\n"
        "from maas.errors import SourceRefused\n"
        f"delattr(paramiko.{owner}, {name!r})\n"
        "config = {'type': 'sftp', 'host': 'h', 'username': 'u', 'password': 'env:P', 'root': '/'}\n"
        "try:\n"
        "    create_source(TypeAdapter(SourceConfig).validate_python(config))\n"
        "except SourceRefused as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == (
        f"the sftp source cannot be loaded: the SFTP source needs {owner}.{name}, private to "
        f"paramiko and missing from paramiko "
        f"{paramiko.__version__}; install a release it was checked with (paramiko {CHECKED_PARAMIKO})"
    )
