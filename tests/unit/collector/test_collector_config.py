"""Collector files: every problem located by file, line and the key as written in the file."""

from __future__ import annotations

from pathlib import Path

import pytest
from chain_catalog import CATALOG

from maas.collector.config import check_collector_file, load_collectors, select
from maas.errors import ConfigError

pytestmark = pytest.mark.unit

BAD = """collectors:
  - id: x
    interface_name: I
    source: {type: filesystem, root: /tmp, bogus: 1}
    extract:
      format: json
      record: "value[*]"
      fields:
        size: {path: ContentLength, type: integr}
    model: no-such-family
"""

GOOD = """collectors:
  - id: {id}
    interface_name: I
    source: {{type: filesystem, root: /tmp}}
    extract: {{format: csv, fields: {{name: {{path: name}}}}}}
    model: test-raw
"""


def test_problems_name_the_key_as_written_without_union_tags(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(BAD)
    rendered = [p.render() for p in check_collector_file(path)]
    assert f"{path}:4: collectors.0.source.bogus: unknown key" in rendered
    assert any(r.startswith(f"{path}:9: collectors.0.extract.fields.size.type: ") for r in rendered)


def test_unknown_model_family_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(BAD.replace("bogus: 1", "patterns: ['*']").replace("integr", "int"))
    (problem,) = check_collector_file(path, CATALOG.models)
    assert problem.line == 10 and "unknown document family 'no-such-family'" in problem.reason


def test_duplicate_ids_across_files_and_selection(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD.format(id="same"))
    (tmp_path / "b.yaml").write_text(GOOD.format(id="same"))
    with pytest.raises(ConfigError, match="collector id 'same' is used twice"):
        load_collectors(tmp_path, CATALOG.models)
    (tmp_path / "b.yaml").write_text(GOOD.format(id="other"))
    collectors = load_collectors(tmp_path, CATALOG.models)
    assert [c.id for c in select(collectors, ["other"])] == ["other"]
    with pytest.raises(ConfigError, match="unknown collector id"):
        select(collectors, ["nope"])


LOCAL_PATHS = """collectors:
  - id: local
    interface_name: I
    source: {type: filesystem, root: incoming}
    extract: {format: csv, fields: {name: {path: name}}}
    model: test-raw
  - id: remote
    interface_name: I
    source:
      type: sftp
      host: h
      username: u
      root: outgoing
      key_file: keys/id_ed25519
      key_passphrase: file:keys/passphrase
      known_hosts: ~/.ssh/known_hosts
    extract: {format: csv, fields: {name: {path: name}}}
    model: test-raw
  - id: absolute
    interface_name: I
    source: {type: ftp, host: h, username: u, password: "file:/run/secrets/ftp", root: /x}
    extract: {format: csv, fields: {name: {path: name}}}
    model: test-raw
"""


def test_local_paths_of_a_collector_file_are_relative_to_that_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As in a settings file: cron and systemd start the process in another directory. Paths on
    the server (an SFTP or FTP root), absolute paths and '~' are left as written."""
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "c.yaml").write_text(LOCAL_PATHS)
    monkeypatch.chdir(tmp_path)
    local, remote, absolute = load_collectors(conf)
    assert local.source.root == conf / "incoming"
    assert remote.source.root == "outgoing"
    assert remote.source.key_file == conf / "keys/id_ed25519"
    assert remote.source.key_passphrase.reference == f"file:{conf / 'keys/passphrase'}"
    assert remote.source.known_hosts == Path("~/.ssh/known_hosts")
    assert absolute.source.password.reference == "file:/run/secrets/ftp"
    assert absolute.source.root == "/x"


def test_the_configuration_hash_is_the_file_as_written_wherever_it_lies(tmp_path: Path) -> None:
    """Replay compares it with the archive's sidecars: a checkout in another directory (which
    resolves a relative root elsewhere) must not read as a changed configuration."""
    hashes = set()
    for place in ("here", "there/deeper"):
        (tmp_path / place).mkdir(parents=True)
        (tmp_path / place / "c.yaml").write_text(LOCAL_PATHS)
        hashes.add(tuple(c.config_hash() for c in load_collectors(tmp_path / place)))
    (one,) = hashes
    assert len(set(one)) == 3  # still one per collector
    changed = LOCAL_PATHS.replace("root: incoming", "root: elsewhere")
    (tmp_path / "here" / "c.yaml").write_text(changed)
    assert load_collectors(tmp_path / "here")[0].config_hash() != one[0]  # what is written counts


def test_the_configuration_hash_is_only_what_the_file_writes(tmp_path: Path) -> None:
    """Pinned: a new version that adds an option (with its default) must not change the hash of
    a file that does not write it, or every archived payload would replay as "configuration
    changed". This value may only change when the hashing itself is meant to change."""
    (tmp_path / "c.yaml").write_text(LOCAL_PATHS)
    hashes = [c.config_hash() for c in load_collectors(tmp_path)]
    assert hashes == ["bde8831dfcf35b2f", "baf0d896021f8085", "3664ddd0a23c9fb7"]


HTTP = """collectors:
  - id: api
    interface_name: I
    source:
      type: http
      url: {url}
      auth: {{type: oauth2, token_url: "{token_url}", client_id: c, client_secret: env:X}}
    extract: {{format: json, fields: {{name: {{path: name}}}}}}
    model: test-raw
  - id: odata
    interface_name: I
    source: {{type: odata, service_url: "{url}", entity_set: Products}}
    extract: {{format: json, fields: {{name: {{path: name}}}}}}
    model: test-raw
"""


@pytest.mark.parametrize("password", ["hunter2", "pa/ss?w#rd", "/leading"])
def test_a_password_in_a_collector_url_is_refused_without_showing_it(tmp_path: Path, password: str) -> None:
    """'/', '?' and '#' end urllib's host part early: the password must be looked for in the text."""
    url = f"https://maas:{password}@api.example/v1"
    path = tmp_path / "c.yaml"
    path.write_text(HTTP.format(url=url, token_url=url.replace("/v1", "/token")))
    rendered = [p.render() for p in check_collector_file(path)]
    keys = [
        "collectors.0.source.url",
        "collectors.0.source.auth.token_url",
        "collectors.1.source.service_url",
    ]
    assert sorted(r.split(": ")[1] for r in rendered) == sorted(keys)
    assert all("do not put credentials in the URL" in r and password not in r for r in rendered)


def test_deleting_collected_files_without_an_archive_is_refused(tmp_path: Path) -> None:
    """Rejected records of a deleted file would exist nowhere: validation says so, by key."""
    text = GOOD.format(id="inbox").replace("model: test-raw", "model: test-raw\n    archive: false")
    text = text.replace("type: filesystem", "type: filesystem, after_success: delete")
    (tmp_path / "c.yaml").write_text(text)
    (problem,) = [p.render() for p in check_collector_file(tmp_path / "c.yaml")]
    assert "after_success: delete needs archive: true" in problem and ": collectors.0.source: " in problem


def test_an_odata_page_of_one_record_is_refused(tmp_path: Path) -> None:
    """A poll resumes from the last record read, which comes back first: with pages of one
    record it would never get further (the collector would stall, saying ok)."""
    odata = "{type: odata, service_url: 'https://prip.example/v1', entity_set: Products, page_size: 1}"
    text = GOOD.format(id="prip").replace("{type: filesystem, root: /tmp}", odata)
    (tmp_path / "c.yaml").write_text(text)
    (problem,) = [p.render() for p in check_collector_file(tmp_path / "c.yaml")]
    assert "collectors.0.source.page_size: " in problem and "at least 2 (each page starts again" in problem
