"""The Grafana provisioning files: datasources by stable uid, read-only, secrets and URLs from the
environment, TLS verified, and the paths and versions they share with deploy/compose.yaml."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from grafana_queries import (
    DATASOURCES_FILE,
    OPENSEARCH,
    PROMETHEUS,
    PROVIDERS_FILE,
    ROOT,
    datasources,
    provisioned,
)

from cds.catalog import CATALOG
from maas.model import FieldType

pytestmark = pytest.mark.unit

COMPOSE = ROOT / "deploy" / "compose.yaml"
FIELDS = {m.family: m.fields for m in CATALOG.models}
# Dashboards refer to these uids: renaming one breaks every panel that uses it.
PINNED = {
    "maas-cds-publication": "cds-publication",
    "maas-cds-publication-sensing": "cds-publication",
    "maas-cds-product": "cds-product",
    "maas-cds-product-dd": "cds-product",
    "maas-cds-datatake": "cds-datatake",
    "maas-cds-completeness": "cds-completeness",
    "maas-cds-orbit-completeness": "cds-orbit-completeness",
    "maas-cds-interface-status": "cds-interface-status",
    "maas-raw-interface-probe": "raw-interface-probe",
    "maas-raw": "raw-*-product,raw-mp-datatake,raw-interface-probe",
    "maas-prometheus": "",
}
ENV_REFERENCE = re.compile(r"^\$\{[A-Z][A-Z0-9_]*\}$")


def _entries(kind: str) -> list[dict[str, Any]]:
    return [d for d in provisioned()["datasources"] if d["type"] == kind]


def _grafana_service() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text())["services"]["grafana"])


def _mount_target(source: str) -> str:
    for volume in _grafana_service()["volumes"]:
        parts = volume.split(":")
        if parts[0] == source:
            return parts[1]
    raise AssertionError(f"deploy/compose.yaml does not mount {source} into Grafana")


def test_datasource_uids_are_unique_and_pinned() -> None:
    uids = [d["uid"] for d in provisioned()["datasources"]]
    assert len(uids) == len(set(uids)), uids
    assert {uid: ds.index for uid, ds in datasources().items()} == PINNED


def test_every_datasource_is_read_only() -> None:
    assert all(d["editable"] is False for d in provisioned()["datasources"])


def test_opensearch_datasources_use_the_plugin_verified_tls_and_environment_credentials() -> None:
    for entry in _entries(OPENSEARCH):
        assert entry["url"] == "${MAAS_OPENSEARCH_URL}", entry["uid"]
        assert entry["access"] == "proxy" and entry["basicAuth"] is True, entry["uid"]
        assert ENV_REFERENCE.match(entry["basicAuthUser"]), entry["uid"]
        assert entry["jsonData"]["tlsSkipVerify"] is False, entry["uid"]
        assert entry["jsonData"]["flavor"] == "opensearch", entry["uid"]


def test_no_secret_is_written_in_the_provisioning() -> None:
    secrets = [
        (d["uid"], k, v) for d in provisioned()["datasources"] for k, v in d.get("secureJsonData", {}).items()
    ]
    assert secrets, "the OpenSearch password is expected in secureJsonData"
    assert all(ENV_REFERENCE.match(str(value)) for _, _, value in secrets), secrets
    assert "password:" not in DATASOURCES_FILE.read_text().replace("basicAuthPassword:", "")


def test_prometheus_datasource_reads_its_url_from_the_environment() -> None:
    (entry,) = _entries(PROMETHEUS)
    assert entry["url"] == "${MAAS_PROMETHEUS_URL}"
    assert entry["jsonData"]["tlsSkipVerify"] is False


def test_compose_gives_grafana_the_urls_the_datasources_read() -> None:
    environment = _grafana_service()["environment"]
    urls = {d["url"].strip("${}") for d in provisioned()["datasources"]}
    assert urls <= set(environment), f"not set for Grafana in deploy/compose.yaml: {urls - set(environment)}"


def test_compose_installs_the_opensearch_plugin() -> None:
    assert OPENSEARCH in _grafana_service()["environment"]["GF_INSTALL_PLUGINS"]


@pytest.mark.parametrize("uid", [uid for uid, ds in datasources().items() if ds.type == OPENSEARCH])
def test_opensearch_datasource_reaches_families_that_all_have_its_time_field(uid: str) -> None:
    source = datasources()[uid]
    families = source.families(list(FIELDS))
    assert families, f"{uid}: {source.index!r} matches no model family"
    for family in families:
        field = FIELDS[family].get(source.time_field)
        assert field is not None and field.type is FieldType.DATETIME, f"{uid}: {family}.{source.time_field}"


def test_opensearch_datasources_name_the_deployed_opensearch_minor_version() -> None:
    deployed = re.search(r"opensearch:\$\{OPENSEARCH_VERSION:-([0-9.]+)\}", COMPOSE.read_text())
    assert deployed, "the OpenSearch image of deploy/compose.yaml"
    for entry in _entries(OPENSEARCH):
        assert entry["jsonData"]["version"].split(".")[:2] == deployed[1].split(".")[:2], entry["uid"]


def test_dashboard_provider_reads_the_mounted_dashboards_read_only() -> None:
    (provider,) = yaml.safe_load(PROVIDERS_FILE.read_text())["providers"]
    assert provider["type"] == "file"
    assert provider["allowUiUpdates"] is False and provider["disableDeletion"] is True
    assert provider["options"]["path"] == _mount_target("../grafana/dashboards")


def test_provisioning_folder_is_where_grafana_looks() -> None:
    assert (
        _mount_target("../grafana/provisioning") == _grafana_service()["environment"]["GF_PATHS_PROVISIONING"]
    )
