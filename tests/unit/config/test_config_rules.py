"""What configuration files may not say, where relative paths point, and where each problem is
located (file:line: key, or the MAAS_* variable): the defects a new user's audit found."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from chain_catalog import CATALOG

from maas.collector.config import check_collector_file, load_collectors
from maas.config import load_settings, read_yaml
from maas.config.checks import check_files, check_settings, missing_path, summary
from maas.config.settings import Settings, StoreSettings, _warned, warn_near_misses
from maas.errors import ConfigError, ConfigProblem
from maas.store.factory import duckdb_path
from maas_cli.defaults import catalog_for

pytestmark = pytest.mark.unit


def problems_of(path: Path, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ=environ or {})
    return [p.render() for p in info.value.problems]


def write(tmp_path: Path, text: str, name: str = "maas.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# ---- YAML: no tags, no duplicate keys, nothing that crashes the reader


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "foo: !!python/object:os.system x\n",
            "1: foo: YAML tags are not allowed (!!python/object:os.system)",
        ),
        ("store:\n  url: !custom x\n", "2: store.url: YAML tags are not allowed (!custom)"),
        ("log_level: !!str INFO\n", "1: log_level: YAML tags are not allowed (!!str)"),
        ("catalogs:\n  - ! a\n", "2: catalogs.0: YAML tags are not allowed (!)"),
        ("log_level: INFO\nlog_level: DEBUG\n", "2: log_level: duplicate key (first at line 1)"),
        ("<<: {log_level: DEBUG}\n", "1: YAML merge keys (<<) are not supported: write the keys out"),
        ("? [a]\n: 1\n", "1: a key must be a plain value (text or a number), not a list or mapping"),
        ("archive_dir: 2024-02-30\n", "1: archive_dir: cannot read '2024-02-30' (day is out of range"),
    ],
)
def test_what_yaml_may_not_say_is_a_located_problem(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:{expected}")


def test_every_yaml_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "bus:\n  url: !x a\n  url: b\nstore: !!map {}\nlog_level: INFO\nlog_level: X\n")
    with pytest.raises(ConfigError) as info:
        read_yaml(path)
    assert [(p.line, p.key) for p in info.value.problems] == [
        (2, "bus.url"),
        (3, "bus.url"),
        (4, "store"),
        (6, "log_level"),
    ]


def test_a_yaml_tag_in_a_collector_file_is_a_problem_of_that_file(tmp_path: Path) -> None:
    path = write(tmp_path, "collectors:\n  - id: !!python/name:os.system x\n", "collectors/a.yaml")
    problems, checked = check_files(path.parent, None, lambda p: check_collector_file(p, CATALOG.models))
    assert [p.render() for p in problems] == [
        f"{path}:2: collectors.0.id: YAML tags are not allowed (!!python/name:os.system)"
    ]
    assert checked == [path]


def test_anchors_and_aliases_stay_allowed(tmp_path: Path) -> None:
    path = write(tmp_path, "store:\n  username: &who maas\nbus:\n  username: *who\n")
    settings = load_settings(path, environ={})
    assert settings.bus.username == settings.store.username == "maas"


def test_an_alias_inside_its_own_anchor_is_a_problem_not_a_recursion_error(tmp_path: Path) -> None:
    (problem,) = problems_of(write(tmp_path, "catalogs: &a [*a]\n"))
    assert problem.endswith(":1: catalogs.0: an alias refers to a list or mapping that contains it")


def test_aliases_expanding_a_small_file_into_millions_of_values_are_refused(tmp_path: Path) -> None:
    """Ten aliases of ten aliases... : 10**7 values from seven lines, which validation would walk."""
    lines = ["a0: &a0 [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 7)]
    (problem,) = problems_of(write(tmp_path, "\n".join(lines) + "\n"))
    assert "more than 100,000 values once aliases are expanded" in problem


# ---- store URLs: refused at validation, in the form the store factory reads


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (
            "duckdb://x.duckdb",
            "not a DuckDB file URL: 'duckdb://x.duckdb'; expected duckdb:///relative/path.duckdb",
        ),
        ("duckdb:x.duckdb", "not a DuckDB file URL"),
        ("duckdb:///data/", "a DuckDB URL names a file, not a directory"),
        ("duckdb:///a.duckdb?mode=ro", "a DuckDB URL names a file, with no '?' or '#'"),
        ("DUCKDB:///a.duckdb", "write the URL scheme in lower case"),
        ("http://opensearch:92x0", "not a valid URL (host, or port from 0 to 65535)"),
        ("https://admin:S3cret#x@opensearch:9200", "do not put a password in the URL"),
    ],
)
def test_a_bad_store_url_is_refused_naming_the_variable(url: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, environ={"MAAS_STORE_URL": url})
    (problem,) = info.value.problems
    assert problem.render().startswith(f"environment MAAS_STORE_URL: store.url: {reason}")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("amqp://rabbitmq:56x2/", "not a valid URL"),
        ("amqp://rabbitmq:99999/", "port from 0 to 65535"),
        ("amqp://rabbitmq/?heartbeat=often", "not a valid RabbitMQ URL (Invalid heartbeat value"),
        ("amqp://rabbitmq/?nope=1", "not a valid RabbitMQ URL (Unknown URL parameter: 'nope')"),
        ("AMQPS://rabbitmq/", "write the URL scheme in lower case"),
        ("amqp://maas:Tr0ub4dor/3xyz@rabbit:5672/", "do not put a password in the URL"),
        ('amqps://h/?ssl_options={"ca_certs":"/nonexistent"}', "ssl_options in the URL is not supported"),
        ("amqps://h/?ssl_options={bad", "ssl_options in the URL is not supported"),
    ],
)
def test_a_bus_url_the_client_would_refuse_is_refused_at_validation(url: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, environ={"MAAS_BUS_URL": url})
    assert "environment MAAS_BUS_URL: bus.url: " in str(info.value) and reason in str(info.value)
    assert "Tr0ub4dor" not in str(info.value) and "S3cret" not in str(info.value)


def test_every_valid_duckdb_url_is_one_the_store_factory_reads() -> None:
    for url in ("duckdb:///a.duckdb", "duckdb:////var/lib/maas/m.duckdb", "duckdb:///"):
        assert duckdb_path(StoreSettings(url=url).url)
    with pytest.raises(ConfigError, match="store.url: not a DuckDB file URL"):  # never a bare ValueError
        duckdb_path("duckdb://x.duckdb")


# ---- relative paths: from a settings file, relative to that file


def test_relative_paths_of_a_settings_file_are_relative_to_its_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        tmp_path,
        "store:\n  url: duckdb:///db/m.duckdb\n  password: file:secrets/pw\n"
        "tls:\n  ca_file: ca.pem\n  client_cert: /abs/c.pem\n  client_key: ~/k.pem\n"
        "archive_dir: archive\nstate_dir: ../state\ncollectors_dir: collectors\nrouting_file: routing.yaml\n",
        "dist/maas.yaml",
    )
    elsewhere = tmp_path / "misc"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    settings = load_settings(Path("../dist/maas.yaml"), environ={})
    base = tmp_path / "dist"
    assert settings.store.url == f"duckdb:///{base / 'db' / 'm.duckdb'}"
    assert settings.store.password is not None and settings.store.password.target == str(base / "secrets/pw")
    assert settings.tls.ca_file == base / "ca.pem"
    assert settings.tls.client_cert == Path("/abs/c.pem") and settings.tls.client_key == Path("~/k.pem")
    assert settings.archive_dir == base / "archive" and settings.state_dir == base / "../state"
    assert settings.collectors_dir == base / "collectors" and settings.routing_file == base / "routing.yaml"


def test_a_duckdb_url_without_a_path_names_maas_duckdb_beside_the_settings_file(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "store:\n  url: duckdb:///\n", "dist/maas.yaml"), environ={})
    assert settings.store.url == f"duckdb:///{tmp_path / 'dist' / 'maas.duckdb'}"


def test_paths_from_the_environment_and_defaults_stay_relative_to_the_working_directory(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "log_level: INFO\n", "dist/maas.yaml")
    env = {"MAAS_COLLECTORS_DIR": "collectors", "MAAS_STORE_URL": "duckdb:///m.duckdb"}
    settings = load_settings(path, environ=env)
    assert settings.collectors_dir == Path("collectors") and settings.store.url == "duckdb:///m.duckdb"
    assert settings.archive_dir == Path("backups") and settings.state_dir == Path(".maas")


def test_a_missing_collectors_dir_or_routing_file_is_a_problem_of_the_key_naming_it(tmp_path: Path) -> None:
    path = write(
        tmp_path, "log_level: INFO\ncollectors_dir: nope\nrouting_file: routing.yaml\n", "dist/maas.yaml"
    )
    settings = load_settings(path, environ={})
    problems, checked = check_files(settings.collectors_dir, settings.routing_file, settings=settings)
    base = tmp_path / "dist"
    assert [p.render() for p in problems] == [
        f"{path}:2: collectors_dir: {base / 'nope'}: no such directory",
        f"{path}:3: routing_file: {base / 'routing.yaml'}: no such file",
    ]
    assert checked == []
    env_settings = load_settings(None, environ={"MAAS_COLLECTORS_DIR": str(path)})
    problem = missing_path(env_settings, "collectors_dir", path, directory=True)
    assert problem is not None
    assert problem.render() == f"environment MAAS_COLLECTORS_DIR: collectors_dir: {path}: not a directory"


def test_loading_the_collectors_of_a_missing_directory_is_an_error_not_an_empty_list(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"collectors directory {tmp_path / 'nope'}: no such directory"):
        load_collectors(tmp_path / "nope")


# ---- catalogs, internal keys, readable messages


def test_a_bad_catalog_reference_is_located(tmp_path: Path) -> None:
    path = write(tmp_path, "log_level: INFO\ncatalogs:\n  - nope\n")
    assert problems_of(path) == [f"{path}:3: catalogs.0: catalog 'nope': expected 'package.module:ATTRIBUTE'"]
    importable = write(
        tmp_path, "catalogs:\n  - cds.catalog:CATALOG\n  - no_such_module.x:CATALOG\n", "b.yaml"
    )
    with pytest.raises(ConfigError) as info:
        catalog_for(load_settings(importable, environ={}))
    (problem,) = info.value.problems
    assert problem.render().startswith(
        f"{importable}:3: catalogs.1: catalog 'no_such_module.x:CATALOG': cannot import"
    )


def test_source_file_is_no_setting(tmp_path: Path) -> None:
    path = write(tmp_path, "source_file: /etc/other.yaml\n")
    assert problems_of(path) == [f"{path}:1: source_file: unknown key"]
    assert "source_file" not in Settings.model_fields
    settings = load_settings(
        write(tmp_path, "log_level: INFO\n", "ok.yaml"), environ={"MAAS_SOURCE_FILE": "/x"}
    )
    assert settings.source_file == tmp_path / "ok.yaml"


def test_type_errors_of_paths_and_sections_say_what_is_expected(tmp_path: Path) -> None:
    path = write(tmp_path, "archive_dir: [1, 2]\nstore: 5\ntls:\n  ca_file: {a: 1}\n")
    assert problems_of(path) == [
        f"{path}:1: archive_dir: expected a path (text)",
        f"{path}:2: store: expected a mapping (indented 'key: value' lines)",
        f"{path}:4: tls.ca_file: expected a path (text)",
    ]


# ---- where problems are: file and line, or the variable; the summary counts files


def test_a_bad_variable_is_named_even_over_a_settings_file(tmp_path: Path) -> None:
    path = write(tmp_path, "bus:\n  url: memory://\n")
    assert problems_of(path, {"MAAS_BUS__PREFETCH": "many"}) == [
        "environment MAAS_BUS__PREFETCH: bus.prefetch: Input should be a valid integer, "
        "unable to parse string as an integer"
    ]


def test_resolve_problems_name_the_variable_that_set_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAAS_STORE__PASSWORD", "env:MAAS_T_UNSET")
    monkeypatch.delenv("MAAS_T_UNSET", raising=False)
    _settings, problems = check_settings(None, resolve=True)
    assert [p.render() for p in problems] == [
        "environment MAAS_STORE__PASSWORD: store.password: "
        "secret env:MAAS_T_UNSET: environment variable is not set"
    ]


def test_the_summary_counts_distinct_files_and_the_environment() -> None:
    def problem(file: str | None) -> ConfigProblem:
        return ConfigProblem(file, 1, "k", "r")

    assert summary([problem("a.yaml")] * 3) == "3 problem(s) in 1 file(s)"
    assert summary([problem("a.yaml"), problem("b.yaml")]) == "2 problem(s) in 2 file(s)"
    assert summary([problem("environment MAAS_X")]) == "1 problem(s) in the environment"
    assert summary([problem("a.yaml"), problem("environment MAAS_X")]) == (
        "2 problem(s) in 1 file(s) and the environment"
    )
    assert summary([problem(None)]) == "1 problem(s)"


# ---- collectors whose every record the model would refuse

COLLECTOR = """collectors:
  - id: c
    interface_name: I
    source: {{type: filesystem, root: /tmp}}
    extract:
      format: csv
      fields:
{fields}
    model: test-raw
"""


def test_a_collector_that_cannot_give_its_model_a_required_field_is_a_problem(tmp_path: Path) -> None:
    path = write(tmp_path, COLLECTOR.format(fields="        value: {path: v, type: int}"), "c.yaml")
    assert [p.render() for p in check_collector_file(path, CATALOG.models)] == [
        f"{path}:7: collectors.0.extract.fields: model 'test-raw' needs field(s) name (required, key or "
        "partition), which this extraction does not set: every record would be refused"
    ]


def test_an_extracted_field_the_model_does_not_declare_is_a_problem(tmp_path: Path) -> None:
    fields = "        name: {path: n}\n        colour: {constant: blue}"
    path = write(tmp_path, COLLECTOR.format(fields=fields), "c.yaml")
    (problem,) = check_collector_file(path, CATALOG.models)
    assert problem.render().startswith(
        f"{path}:9: collectors.0.extract.fields.colour: "
        "not a field of model 'test-raw' (its fields: name, value)"
    )
    good = write(tmp_path, COLLECTOR.format(fields="        name: {path: n}"), "good.yaml")
    assert check_collector_file(good, CATALOG.models) == []


def test_the_packaged_collectors_give_their_models_every_field_they_need() -> None:
    from cds.catalog import CATALOG as CDS

    assert CDS.collectors_dir is not None
    for path in sorted(CDS.collectors_dir.glob("*.yaml")):
        assert check_collector_file(path, CDS.models) == [], path


# ---- MAAS_* variables that are no setting


def test_a_variable_spelled_almost_like_a_setting_is_warned_about_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    _warned.clear()
    environ = {
        "MAAS_ARCHIVE_DIRR": "x",
        "MAAS_STORE_USERNAME": "u",
        "MAAS_NOPE": "1",  # not close to any setting: ignored silently (README says so)
        "MAAS_CONFIG": "maas.yaml",
        "MAAS_REQUIRE_SERVICES": "1",
        "MAAS_CACHE_DIR": "/c",
        "MAAS_TEST_BUS_PASSWORD": "p",
        "MAAS_STORE_PASSWORD": "s",  # read by the settings as a secret: not a typo
    }
    settings = load_settings(None, environ={"MAAS_STORE__PASSWORD": "env:MAAS_STORE_PASSWORD"})
    with caplog.at_level(logging.WARNING):
        warnings = warn_near_misses(environ, settings)
        again = warn_near_misses(environ, settings)
    assert warnings == [
        "MAAS_ARCHIVE_DIRR is not a setting and is ignored: did you mean MAAS_ARCHIVE_DIR?",
        "MAAS_STORE_USERNAME is not a setting and is ignored: did you mean MAAS_STORE__USERNAME?",
    ]
    assert again == []
    assert [r.getMessage() for r in caplog.records] == warnings
