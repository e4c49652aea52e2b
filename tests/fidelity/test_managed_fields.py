"""managedFields on the emulated API, through the real `kubernetes` client: who owns which field after a create,
a patch under a field manager, and server-side apply (conflicts, force, co-ownership, pruning)."""

from __future__ import annotations

import json

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from tests.fidelity.kube_harness import Cluster, cluster_fixture  # noqa: F401 (the fixture)
from tests.fidelity.test_kube_api import api_client

CONTAINER = 'k:{"name":"app"}'


def manifest(**pod: object) -> dict:
    container = {"name": "app", "image": "nginx:1.27", **pod.pop("container", {})}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app", "namespace": "shop"},
        "spec": {"selector": {"matchLabels": {"app": "app"}},
                 "template": {"metadata": {"labels": {"app": "app"}}, "spec": {"containers": [container], **pod}}},
    }  # fmt: skip


def call(api: k8s.ApiClient, method: str, path: str, body: object, content_type: str, **query: str) -> dict:
    response = api.call_api(
        *api.param_serialize(method, path, query_params=list(query.items()),
                             header_params={"Content-Type": content_type, "Accept": "application/json"},
                             body=body, auth_settings=["BearerToken"])[:4]
    )  # fmt: skip
    data = response.read()
    if response.status >= 300:
        raise ApiException(http_resp=response, body=data.decode())
    return json.loads(data)


def apply(api: k8s.ApiClient, obj: dict, manager: str, force: bool = False) -> dict:
    path = f"/apis/apps/v1/namespaces/shop/deployments/{obj['metadata']['name']}"
    query = {"fieldManager": manager, **({"force": "true"} if force else {})}
    return call(api, "PATCH", path, yaml.safe_dump(obj), "application/apply-patch+yaml", **query)


def entries(obj: dict) -> dict[tuple[str, str], dict]:
    return {(e["manager"], e["operation"]): e for e in obj["metadata"]["managedFields"]}


def pod_fields(entry: dict) -> dict:
    return entry["fieldsV1"]["f:spec"]["f:template"]["f:spec"]


@pytest.fixture
def api(cluster: Cluster) -> k8s.ApiClient:
    return api_client(cluster)


def test_create_and_patch_record_each_manager_with_the_fields_it_set(api):
    created = k8s.AppsV1Api(api).create_namespaced_deployment("shop", manifest())
    [entry] = created.metadata.managed_fields
    assert (entry.manager, entry.operation, entry.api_version, entry.fields_type) == (
        "OpenAPI-Generator",
        "Update",
        "apps/v1",
        "FieldsV1",
    )  # no fieldManager: the User-Agent up to its first '/'
    fields = entry.fields_v1
    assert "f:metadata" not in fields  # name and namespace are never owned (strip-meta)
    assert fields["f:spec"]["f:selector"] == {}  # an atomic struct is one leaf
    assert fields["f:spec"]["f:template"]["f:metadata"]["f:labels"] == {".": {}, "f:app": {}}
    assert fields["f:spec"]["f:template"]["f:spec"]["f:containers"][CONTAINER] == {".": {}, "f:image": {}, "f:name": {}}
    patch = [{"op": "add", "path": "/spec/template/spec/containers/0/envFrom",
              "value": [{"secretRef": {"name": "sc-x-secret"}}]},
             {"op": "add", "path": "/spec/template/spec/serviceAccountName", "value": "sc-account-1"}]  # fmt: skip
    patched = call(api, "PATCH", "/apis/apps/v1/namespaces/shop/deployments/app", patch,
                   "application/json-patch+json", fieldManager="sc-autopilot")  # fmt: skip
    ours = entries(patched)[("sc-autopilot", "Update")]
    assert ours["fieldsType"] == "FieldsV1" and ours["time"].endswith("Z")
    # the deprecated serviceAccount mirrors serviceAccountName (core/v1 conversion): owned by whoever set it, as on
    # kube-apiserver 1.37 (checked against tools/localkube)
    assert pod_fields(ours) == {
        "f:containers": {CONTAINER: {"f:envFrom": {}}},
        "f:serviceAccount": {},
        "f:serviceAccountName": {},
    }
    assert patched["spec"]["template"]["spec"]["serviceAccount"] == "sc-account-1"
    creator = pod_fields(entries(patched)[("OpenAPI-Generator", "Update")])
    assert "f:envFrom" not in creator["f:containers"][CONTAINER]
    # the same patch again changes nothing: no new resourceVersion, no new time
    again = call(api, "PATCH", "/apis/apps/v1/namespaces/shop/deployments/app",
                 [{"op": "replace", "path": "/spec/template/spec/serviceAccountName", "value": "sc-account-1"}],
                 "application/json-patch+json", fieldManager="sc-autopilot")  # fmt: skip
    assert again["metadata"]["resourceVersion"] == patched["metadata"]["resourceVersion"]
    assert again["metadata"]["managedFields"] == patched["metadata"]["managedFields"]


def test_apply_conflicts_with_another_managers_field_unless_forced(api):
    apply(api, manifest(), "kustomize-controller")
    call(api, "PATCH", "/apis/apps/v1/namespaces/shop/deployments/app",
         {"spec": {"template": {"spec": {"containers": [{"name": "app", "envFrom": [{"secretRef": {"name": "s"}}]}]}}}},
         "application/strategic-merge-patch+json", fieldManager="sc-autopilot")  # fmt: skip
    declares = manifest(container={"envFrom": [{"configMapRef": {"name": "app-config"}}]})
    with pytest.raises(ApiException) as raised:
        apply(api, declares, "kustomize-controller")
    status = json.loads(raised.value.body)
    assert raised.value.status == 409 and status["reason"] == "Conflict"
    assert status["message"] == (
        'Apply failed with 1 conflict: conflict with "sc-autopilot" using apps/v1: '
        '.spec.template.spec.containers[name="app"].envFrom'
    )
    assert status["details"]["causes"][0]["reason"] == "FieldManagerConflict"
    forced = apply(api, declares, "kustomize-controller", force=True)
    assert forced["spec"]["template"]["spec"]["containers"][0]["envFrom"] == [{"configMapRef": {"name": "app-config"}}]
    assert ("sc-autopilot", "Update") not in entries(forced)  # it owned nothing else: its entry is gone
    assert "f:envFrom" in pod_fields(entries(forced)[("kustomize-controller", "Apply")])["f:containers"][CONTAINER]
    assert forced["metadata"]["managedFields"][0]["operation"] == "Apply"  # Apply entries sort first


def test_apply_keeps_fields_of_other_managers_and_prunes_only_its_own(api):
    apply(api, manifest(container={"env": [{"name": "MODE", "value": "a"}]}), "argocd-controller")
    call(api, "PATCH", "/apis/apps/v1/namespaces/shop/deployments/app",
         {"spec": {"template": {"metadata": {"labels": {"azure.workload.identity/use": "true"}},
                                "spec": {"serviceAccountName": "sc-account-1"}}}},
         "application/merge-patch+json", fieldManager="sc-autopilot")  # fmt: skip
    # the same manifest without env: the applier's own env is pruned, our fields (which it never set) stay
    after = apply(api, manifest(), "argocd-controller")
    spec = after["spec"]["template"]["spec"]
    assert "env" not in spec["containers"][0]
    assert spec["serviceAccountName"] == "sc-account-1"
    assert after["spec"]["template"]["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    # a manifest that states our value co-owns it: no conflict, both managers own the field
    shared = apply(api, manifest(serviceAccountName="sc-account-1"), "argocd-controller")
    owners = [m for (m, _), e in entries(shared).items() if "f:serviceAccountName" in pod_fields(e)]
    assert sorted(owners) == ["argocd-controller", "sc-autopilot"]


def test_apply_requires_a_field_manager_and_creates_missing_objects(api):
    with pytest.raises(ApiException) as raised:
        call(api, "PATCH", "/apis/apps/v1/namespaces/shop/deployments/new", yaml.safe_dump(manifest()),
             "application/apply-patch+yaml")  # fmt: skip
    assert raised.value.status == 422
    obj = manifest()
    obj["metadata"]["name"] = "new"
    created = apply(api, obj, "helm-controller")
    assert [(e["manager"], e["operation"]) for e in created["metadata"]["managedFields"]] == [
        ("helm-controller", "Apply")
    ]
    assert created["metadata"]["uid"] and created["spec"]["replicas"] == 1
