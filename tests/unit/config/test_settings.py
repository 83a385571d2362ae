"""Settings: validation with located errors, environment overrides, secrets by reference."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from maas.config import SecretRef, load_settings
from maas.config.checks import check_files
from maas.errors import ConfigError
from maas.logs import JSONFormatter, TextFormatter

pytestmark = pytest.mark.unit


def write(tmp_path: Path, text: str, name: str = "maas.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults_are_embedded(tmp_path: Path) -> None:
    settings = load_settings(None, environ={})
    assert settings.store.url.startswith("duckdb:///")
    assert settings.bus.url == "memory://"
    assert settings.tls.verify is True


def test_unknown_key_and_bad_url_are_both_named_with_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "store:\n  url: ftp://host/x\nbus:\n  url: memory://\ncolour: blue\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    rendered = [p.render() for p in info.value.problems]
    assert f"{path}:2: store.url: unsupported URL scheme 'ftp'" in rendered[0]
    assert f"{path}:5: colour: unknown key" in rendered
    assert len(rendered) == 2


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "store:\n  url: [unclosed\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert info.value.problems[0].line is not None
    assert "invalid YAML" in info.value.problems[0].reason


def test_a_file_that_is_not_utf8_is_a_problem_naming_it(tmp_path: Path) -> None:
    settings = tmp_path / "maas.yaml"
    settings.write_bytes(b"store:\n  url: duckdb:///caf\xe9.duckdb\n")  # Latin-1, not UTF-8
    with pytest.raises(ConfigError) as info:
        load_settings(settings, environ={})
    assert [p.render() for p in info.value.problems] == [
        f"{settings}:2: cannot read (not UTF-8 text: byte 0xe9)"
    ]
    collectors = tmp_path / "collectors"
    collectors.mkdir()
    (collectors / "a.yaml").write_bytes(b"\xff\xfe\x00c\x00")  # saved as UTF-16
    problems, _ = check_files(collectors, None)  # every file is still checked
    assert [p.render() for p in problems] == [
        f"{collectors / 'a.yaml'}:1: cannot read (not UTF-8 text: byte 0xff)"
    ]


def test_password_in_url_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "bus:\n  url: amqp://user:hunter2@host:5672/\n")
    with pytest.raises(ConfigError, match="bus.url: do not put a password in the URL"):
        load_settings(path, environ={})


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = write(tmp_path, "store:\n  url: duckdb:///a.duckdb\n")
    env = {"MAAS_STORE_URL": "http://127.0.0.1:9200", "MAAS_BUS__PREFETCH": "7", "MAAS_CONFIG": "x"}
    settings = load_settings(path, environ=env)
    assert settings.store.url == "http://127.0.0.1:9200"
    assert settings.bus.prefetch == 7


def test_environment_typo_below_a_section_is_reported() -> None:
    with pytest.raises(ConfigError, match=r"store.urll: unknown key"):
        load_settings(None, environ={"MAAS_STORE__URLL": "x"})


def test_literal_secret_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "store:\n  url: http://h:9200\n  password: hunter2\n")
    with pytest.raises(ConfigError, match="store.password: secrets must be references"):
        load_settings(path, environ={})


def test_secret_resolves_late_and_is_masked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "store:\n  url: http://h:9200\n  username: u\n  password: env:MAAS_T_PW\n")
    settings = load_settings(path, environ={})
    assert settings.store.password is not None
    monkeypatch.setenv("MAAS_T_PW", "s3cr3t-value")
    assert settings.store.password.resolve() == "s3cr3t-value"
    assert "s3cr3t" not in repr(settings) + str(settings.shown())
    assert settings.shown()["store"]["password"] == "***"


def test_file_secret_and_missing_secret(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("from-a-file\n")
    assert SecretRef(f"file:{tmp_path / 'pw'}").resolve() == "from-a-file"
    with pytest.raises(ConfigError, match="MAAS_NOT_SET_ANYWHERE"):
        SecretRef("env:MAAS_NOT_SET_ANYWHERE").resolve()


@pytest.mark.parametrize("formatter", [TextFormatter(), JSONFormatter()])
def test_logs_mask_resolved_secrets_and_url_passwords(
    formatter: logging.Formatter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAAS_T_LOGPW", "tops3cret-xyz")
    SecretRef("env:MAAS_T_LOGPW").resolve()
    record = logging.LogRecord(
        "t", logging.ERROR, __file__, 1, "login tops3cret-xyz via amqp://bob:pw123@h/", None, None
    )
    line = formatter.format(record)
    assert "tops3cret-xyz" not in line and "pw123" not in line
    assert "amqp://bob:***@h/" in line


def test_check_files_reports_every_file(tmp_path: Path) -> None:
    collectors = tmp_path / "collectors"
    collectors.mkdir()
    (collectors / "a.yaml").write_text("ok: 1\n")
    (collectors / "b.yaml").write_text("bad: [\n")
    problems, checked = check_files(collectors, None)
    assert [p.file for p in problems] == [str(collectors / "b.yaml")]
    assert len(checked) == 2


def test_missing_collectors_dir_is_a_problem(tmp_path: Path) -> None:
    problems, _ = check_files(tmp_path / "nope", None)
    assert problems[0].render() == f"{tmp_path / 'nope'}: no such directory"


def test_catalogs_from_environment_are_split() -> None:
    settings = load_settings(None, environ={"MAAS_CATALOGS": "a.b:C, d:E"})
    assert settings.catalogs == ["a.b:C", "d:E"]
