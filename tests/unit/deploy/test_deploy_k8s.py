"""deploy/k8s: every manifest valid for the Kubernetes API (offline schemas), the kustomize base
complete, and the rendered objects true to our rules (probes, security, secrets by reference).

Schemas come from kubernetes-validate (they ship in the package: no cluster, no network).
Rendering uses ``kubectl kustomize`` and is skipped, with the reason, where kubectl is missing.
"""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from deploy_files import (
    K8S,
    METRICS_PORT,
    ROOT,
    cli_error,
    enabled_collectors,
    image_pinned,
    load_all_yaml,
    load_yaml,
    packaged_pools,
    run,
    tool,
    validate_deployment,
)

from maas.config import load_settings

pytestmark = pytest.mark.unit

# The oldest Kubernetes release we support and the newest the schemas know.
VERSIONS = ("1.29.0", kubernetes_validate.utils.latest_version())
SECRET_DIR = "/run/secrets/maas/"


def _manifests() -> list[Path]:
    """Every Kubernetes object file: YAML below k8s/ that is neither a kustomization nor config."""
    return sorted(
        path
        for path in K8S.rglob("*.yaml")
        if path.name != "kustomization.yaml" and "config" not in path.relative_to(K8S).parts
    )


def _listed(directory: Path) -> Iterator[Path]:
    """Files a kustomization pulls in (itself too), following directory resources."""
    kustomization = load_yaml(directory / "kustomization.yaml")
    yield directory / "kustomization.yaml"
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        assert path.exists(), f"{directory}/kustomization.yaml lists {entry}, which does not exist"
        yield from _listed(path) if path.is_dir() else [path]


def _validate(document: dict[str, Any], version: str) -> str | None:
    try:
        kubernetes_validate.validate(document, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = "/".join(map(str, exc.path))
        return f"{document['kind']} {document['metadata'].get('name')}: {where}: {exc.message}"
    return None


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", _manifests(), ids=lambda p: str(p.relative_to(K8S)))
def test_manifest_validates_against_the_kubernetes_schemas(path: Path, version: str) -> None:
    errors = [_validate(document, version) for document in load_all_yaml(path)]
    assert not [e for e in errors if e], errors


def test_the_base_reaches_every_manifest_and_kustomization_and_nothing_else() -> None:
    everything = [*_manifests(), *K8S.rglob("kustomization.yaml")]
    assert sorted(set(_listed(K8S))) == sorted(p.resolve() for p in everything)


def test_generated_config_files_exist() -> None:
    for generator in load_yaml(K8S / "kustomization.yaml")["configMapGenerator"]:
        for entry in generator["files"]:
            assert (K8S / entry.split("=")[-1]).is_file(), entry


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    result = run(tool("kubectl"), "kustomize", str(K8S))
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def _of(kind: str, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def _pod_specs(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for o in objects:
        spec = o.get("spec", {})
        template = spec.get("jobTemplate", {}).get("spec", spec).get("template")
        if template:
            yield f"{o['kind']} {o['metadata']['name']}", template["spec"]


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


def _argv(container: dict[str, Any]) -> list[str]:
    """The container's arguments with ``$(VAR)`` expanded from its env, as the kubelet does."""
    env = _env(container)
    return [re.sub(r"\$\((\w+)\)", lambda m: env[m[1]], arg) for arg in container["args"]]


@pytest.mark.parametrize("version", VERSIONS)
def test_rendered_objects_validate(rendered: list[dict[str, Any]], version: str) -> None:
    errors = [_validate(document, version) for document in rendered]
    assert not [e for e in errors if e], errors


def _pools(rendered: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    pools = {}
    for deployment in _of("Deployment", rendered):
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert _argv(container)[:2] == ["engine", "pool"], deployment["metadata"]["name"]
        pools[_argv(container)[2]] = deployment
    return pools


def test_one_deployment_per_pool_with_its_own_selector(rendered: list[dict[str, Any]]) -> None:
    pools = _pools(rendered)
    assert pools
    selectors = {str(sorted(d["spec"]["selector"]["matchLabels"].items())) for d in pools.values()}
    assert len(selectors) == len(pools), "two pools share a selector: their Deployments would fight"
    for name, deployment in pools.items():
        assert deployment["metadata"]["name"] == f"maas-pool-{name}"
        assert deployment["spec"]["replicas"] >= 1


def test_every_pool_of_the_packaged_routing_file_has_a_deployment(rendered: list[dict[str, Any]]) -> None:
    pools = packaged_pools()
    assert set(_pools(rendered)) == pools


def test_pool_probes_use_the_metrics_port(rendered: list[dict[str, Any]]) -> None:
    for name, deployment in _pools(rendered).items():
        spec = deployment["spec"]["template"]["spec"]
        container = spec["containers"][0]
        argv = _argv(container)
        assert argv[argv.index("--metrics-port") + 1] == str(METRICS_PORT), name
        assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"metrics": METRICS_PORT}
        assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "metrics"}, name
        assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "metrics"}, name
        assert spec["terminationGracePeriodSeconds"] >= 30, f"{name}: no time to finish a batch"


def test_collectors_run_once_per_schedule_without_overlap(rendered: list[dict[str, Any]]) -> None:
    (cronjob,) = _of("CronJob", rendered)
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    assert _argv(pod["containers"][0])[:2] == ["collect", "--once"]
    assert pod["restartPolicy"] == "Never"


def test_routing_setup_is_a_job(rendered: list[dict[str, Any]]) -> None:
    (job,) = _of("Job", rendered)
    assert _argv(job["spec"]["template"]["spec"]["containers"][0]) == ["routing", "setup"]


def test_every_command_line_is_a_real_cli_command(rendered: list[dict[str, Any]]) -> None:
    for where, spec in _pod_specs(rendered):
        for container in spec["containers"]:
            assert cli_error(_argv(container)) is None, where


def test_pods_run_as_non_root_with_read_only_root_and_limits(rendered: list[dict[str, Any]]) -> None:
    for where, spec in _pod_specs(rendered):
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0, where
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert spec["automountServiceAccountToken"] is False, where
        for container in spec["containers"]:
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["capabilities"] == {"drop": ["ALL"]}, where
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][bound]), f"{where}: {bound}"


def test_writable_paths_are_volumes(rendered: list[dict[str, Any]]) -> None:
    """A read-only root needs /tmp and the state directory (locks) mounted writable."""
    for where, spec in _pod_specs(rendered):
        for container in spec["containers"]:
            mounts = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
            assert {"/tmp", "/var/lib/maas/state"} <= mounts, where


def test_every_image_is_pinned_to_this_version(rendered: list[dict[str, Any]]) -> None:
    version = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    assert version
    for where, spec in _pod_specs(rendered):
        for container in spec["containers"]:
            assert image_pinned(container["image"]), where
            assert container["image"].endswith(f":{version[1]}"), where


def _settings(rendered: list[dict[str, Any]], tmp_path: Path) -> Path:
    (config_map,) = [
        c for c in _of("ConfigMap", rendered) if c["metadata"]["name"].startswith("maas-settings")
    ]
    path = tmp_path / "maas.yaml"
    path.write_text(config_map["data"]["maas.yaml"])
    return path


def test_settings_validate_and_name_secrets_only_by_reference(
    rendered: list[dict[str, Any]], tmp_path: Path
) -> None:
    settings = load_settings(_settings(rendered, tmp_path), environ={})
    references = [s.password.reference for s in (settings.store, settings.bus) if s.password]
    assert references and all(r.startswith(f"file:{SECRET_DIR}") for r in references), references
    assert settings.tls.verify is True


def test_no_secret_values_in_the_base(rendered: list[dict[str, Any]]) -> None:
    assert _of("Secret", rendered) == [], "the base must reference the Secret, not carry it"
    for where, spec in _pod_specs(rendered):
        for container in spec["containers"]:
            for variable in container.get("env", []):
                assert not re.search(r"PASS|SECRET|TOKEN", variable["name"]), f"{where}: {variable['name']}"


def test_every_pod_mounts_the_settings_and_the_secret_it_refers_to(rendered: list[dict[str, Any]]) -> None:
    for where, spec in _pod_specs(rendered):
        volumes = {v["name"]: v for v in spec["volumes"]}
        for container in spec["containers"]:
            mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
            config = container["env"][[e["name"] for e in container["env"]].index("MAAS_CONFIG")]["value"]
            assert mounts[str(Path(config).parent)]["configMap"]["name"].startswith("maas-settings"), where
            secret = mounts[SECRET_DIR.rstrip("/")]["secret"]
            assert secret["secretName"] == "maas-secrets", where
            readable_by_group = secret["defaultMode"] & 0o040 and spec["securityContext"].get("fsGroup")
            assert readable_by_group or secret["defaultMode"] & 0o004, f"{where}: secret unreadable"


def _collectors(rendered: list[dict[str, Any]], tmp_path: Path) -> Path:
    """The ConfigMap the collect CronJob mounts at the settings' collectors_dir, as a directory."""
    settings = load_settings(_settings(rendered, tmp_path), environ={})
    assert settings.collectors_dir, "the packaged collectors are disabled examples: name your own"
    (cronjob,) = _of("CronJob", rendered)
    spec = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: m for m in spec["containers"][0]["volumeMounts"]}
    mount = mounts[str(settings.collectors_dir)]
    assert mount.get("readOnly") is True
    name = volumes[mount["name"]]["configMap"]["name"]
    (config_map,) = [c for c in _of("ConfigMap", rendered) if c["metadata"]["name"] == name]
    directory = tmp_path / "mounted-collectors"
    directory.mkdir()
    for key, text in config_map["data"].items():
        (directory / key).write_text(text)
    return directory


def test_the_collect_cronjob_mounts_the_collectors_the_settings_name_and_they_validate(
    rendered: list[dict[str, Any]], tmp_path: Path
) -> None:
    directory = _collectors(rendered, tmp_path)
    assert list(directory.glob("*.yaml")), "no collector file in the ConfigMap"
    code, output = validate_deployment(_settings(rendered, tmp_path), directory)
    assert code == 0, output


def test_the_collect_cronjob_is_suspended_while_no_collector_is_enabled(
    rendered: list[dict[str, Any]], tmp_path: Path
) -> None:
    """A pass with nothing enabled exits 2: a schedule of failed Jobs until an overlay resumes it."""
    (cronjob,) = _of("CronJob", rendered)
    enabled = enabled_collectors(_collectors(rendered, tmp_path))
    assert cronjob["spec"].get("suspend", False) is not bool(enabled), enabled


def test_the_overlay_of_the_collectors_readme_runs_its_own_collectors(tmp_path: Path) -> None:
    """The recipe an operator copies: its ConfigMap replaces the base's, the CronJob resumes."""
    readme = (K8S / "config" / "collectors" / "README.md").read_text()
    (block,) = re.findall(r"```yaml\n(.*?)```", readme, re.S)
    overlay = yaml.safe_load(textwrap.dedent(block))
    overlay |= {"resources": [os.path.relpath(K8S, tmp_path)], "kind": "Kustomization"}
    (file,) = overlay["configMapGenerator"][0]["files"]
    probes = (ROOT / "cds" / "config" / "collectors" / "probes.yaml").read_text()
    (tmp_path / file).parent.mkdir(parents=True)
    (tmp_path / file).write_text(probes.replace("enabled: false", "enabled: true"))
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(overlay))
    result = run(tool("kubectl"), "kustomize", str(tmp_path))
    assert result.returncode == 0, result.stderr
    rendered = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    (cronjob,) = _of("CronJob", rendered)
    assert cronjob["spec"]["suspend"] is False
    assert enabled_collectors(_collectors(rendered, tmp_path)) == ["interface-probes"]


def test_referenced_objects_exist_in_the_base(rendered: list[dict[str, Any]]) -> None:
    names = {(o["kind"], o["metadata"]["name"]) for o in rendered}
    for where, spec in _pod_specs(rendered):
        assert ("ServiceAccount", spec["serviceAccountName"]) in names, where
        for volume in spec["volumes"]:
            if "configMap" in volume:
                assert ("ConfigMap", volume["configMap"]["name"]) in names, where
            if "persistentVolumeClaim" in volume:
                assert ("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"]) in names


def test_the_operations_guide_names_every_key_of_the_secret(
    rendered: list[dict[str, Any]], tmp_path: Path
) -> None:
    text = _settings(rendered, tmp_path).read_text()
    keys = set(re.findall(rf"{SECRET_DIR}([\w.-]+)", text))
    guide = (ROOT / "docs" / "operations.md").read_text()
    assert keys and all(key in guide for key in keys), keys
