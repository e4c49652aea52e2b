"""The same requests against the emulated Kubernetes API and a real kube-apiserver (tools/localkube), compared.

Each test runs one script of requests, through the real `kubernetes` client with an Entra token, against the demo
cluster on both backends, and compares what the product reads: status, reason, and the body fields it uses. A
difference either gets fixed in emulator/kube or is listed in docs/emulator-kubernetes.md with why it may stay.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from emulator.runtime import LocalCloud, start
from tests.conftest import AKS_AUDIENCE, CLUSTER, DEMO_SCENARIO, Admin

pytestmark = pytest.mark.realkube
METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
IMAGE = "mcr.microsoft.com/azurelinux/base/core:3.0"


@dataclass
class Side:
    """One backend's demo cluster, reached as the platform admin (Azure RBAC: every data action)."""

    name: str
    cloud: LocalCloud
    api: k8s.ApiClient

    @property
    def apps(self) -> k8s.AppsV1Api:
        return k8s.AppsV1Api(self.api)

    @property
    def core(self) -> k8s.CoreV1Api:
        return k8s.CoreV1Api(self.api)


def _side(name: str, cloud: LocalCloud) -> Side:
    admin = Admin(cloud)
    [cluster] = [c for c in admin.state()["resources"] if c["id"].lower() == CLUSTER.lower()]
    kubeconfig = yaml.safe_load(cloud.cloud.clusters.kubeconfig_for(cluster))
    config = k8s.Configuration()
    config.host, config.ssl_ca_cert = kubeconfig["clusters"][0]["cluster"]["server"], str(cloud.ca_bundle)
    config.api_key = {"authorization": f"Bearer {admin.token('platform-admin', AKS_AUDIENCE)}"}
    return Side(name, cloud, k8s.ApiClient(config))


@pytest.fixture(scope="module")
def sides(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Side]]:
    started = []
    try:
        for backend in ("emulated", "real"):
            started.append(start(DEMO_SCENARIO, tmp_path_factory.mktemp(backend), kube=backend))
        yield [_side(backend, cloud) for backend, cloud in zip(("emulated", "real"), started, strict=True)]
    finally:
        for cloud in started:
            cloud.stop()


def on_both(sides: list[Side], script: Callable[[Side, str], object]) -> object:
    """Run the script on each backend (with a fresh name), assert the outcomes equal, return the real one."""
    suffix = uuid.uuid4().hex[:6]
    outcomes = {side.name: script(side, f"t{suffix}") for side in sides}
    assert outcomes["emulated"] == outcomes["real"], json.dumps(outcomes, indent=1, default=str)
    return outcomes["real"]


def refusal(call: Callable[[], object]) -> dict:
    """What the product reads of a refused call: status, reason, the details' kind/name/group and the causes."""
    try:
        call()
    except ApiException as error:
        body = json.loads(error.body)
        details = body.get("details") or {}
        return {
            "status": error.status,
            "reason": body.get("reason"),
            "message": body.get("message"),
            "details": {k: details.get(k) for k in ("name", "group", "kind")},
            "causes": sorted((c.get("reason"), c.get("field")) for c in details.get("causes") or []),
        }
    return {"status": "not refused"}


def deployment(name: str, containers: tuple[str, ...] = ("app",), replicas: int = 1) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop", "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": c, "image": IMAGE} for c in containers]},
            },
        },
    }


def test_errors_404_409_422_and_forbidden(sides):
    def script(side: Side, name: str) -> dict:
        side.apps.create_namespaced_deployment("shop", deployment(name))
        bad = deployment("Not_A_Name")
        return {
            "missing": refusal(lambda: side.apps.read_namespaced_deployment(f"{name}-missing", "shop")),
            "exists": refusal(lambda: side.apps.create_namespaced_deployment("shop", deployment(name))),
            "invalid": refusal(lambda: side.apps.create_namespaced_deployment("shop", bad)),
            "no namespace": refusal(lambda: side.core.read_namespace(f"{name}-gone")),
        }

    on_both(sides, script)


def test_resource_version_conflict_on_update_and_patch(sides):
    def script(side: Side, name: str) -> dict:
        created = side.apps.create_namespaced_deployment("shop", deployment(name))
        side.apps.patch_namespaced_deployment(name, "shop", {"metadata": {"labels": {"v": "2"}}})
        stale = side.apps.read_namespaced_deployment(name, "shop")
        stale.metadata.resource_version = created.metadata.resource_version
        stale_patch = {"metadata": {"resourceVersion": created.metadata.resource_version, "labels": {"v": "3"}}}
        return {
            "put": refusal(lambda: side.apps.replace_namespaced_deployment(name, "shop", stale)),
            "merge patch": refusal(
                lambda: side.apps.patch_namespaced_deployment(name, "shop", stale_patch, _content_type=MERGE)
            ),
        }

    on_both(sides, script)


def test_json_patch_test_operation_and_generation(sides):
    def script(side: Side, name: str) -> dict:
        created = side.apps.create_namespaced_deployment("shop", deployment(name))
        add = {"op": "add", "path": "/spec/template/spec/containers/0/envFrom", "value": [{"secretRef": {"name": "s"}}]}
        failing = [{"op": "test", "path": "/metadata/resourceVersion", "value": "0"}, add]
        # not resourceVersion: the real deployment controller moves it (status) at any moment after the create
        passing = [{"op": "test", "path": "/spec/replicas", "value": 1}, add]
        refused = refusal(
            lambda: side.apps.patch_namespaced_deployment(name, "shop", failing, _content_type=JSON_PATCH)
        )
        patched = side.apps.patch_namespaced_deployment(name, "shop", passing, _content_type=JSON_PATCH)
        return {
            "refused": {k: refused[k] for k in ("status", "reason")},
            "envFrom": [e.secret_ref.name for e in patched.spec.template.spec.containers[0].env_from],
            "generation": (created.metadata.generation, patched.metadata.generation),
        }

    on_both(sides, script)


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet", "DaemonSet", "CronJob"])
def test_strategic_merge_patch_on_each_workload_kind(sides, kind):
    def manifest(name: str) -> dict:
        template = deployment(name, ("web", "nginx"))["spec"]["template"]
        base = {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "namespace": "shop"}}
        if kind == "CronJob":
            job = {"template": {**template, "spec": {**template["spec"], "restartPolicy": "OnFailure"}}}
            return base | {"apiVersion": "batch/v1", "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": job}}}
        spec = {"selector": {"matchLabels": {"app": name}}, "template": template}
        return base | {"spec": spec | ({"serviceName": name} if kind == "StatefulSet" else {})}

    def pod_spec_patch(spec: dict) -> dict:
        return (
            {"spec": {"jobTemplate": {"spec": {"template": {"spec": spec}}}}}
            if kind == "CronJob"
            else {"spec": {"template": {"spec": spec}}}
        )

    def script(side: Side, name: str) -> dict:
        api = k8s.BatchV1Api(side.api) if kind == "CronJob" else side.apps
        snake = {"Deployment": "deployment", "StatefulSet": "stateful_set", "DaemonSet": "daemon_set"}.get(
            kind, "cron_job"
        )
        create, patch = getattr(api, f"create_namespaced_{snake}"), getattr(api, f"patch_namespaced_{snake}")
        create("shop", manifest(name))
        for secret in ("one", "two"):
            containers = [{"name": "web", "envFrom": [{"secretRef": {"name": secret}}]}]
            patched = patch(name, "shop", pod_spec_patch({"containers": containers, "serviceAccountName": "sa-x"}))
        body = side.api.sanitize_for_serialization(patched)
        template = body["spec"]["jobTemplate"]["spec"]["template"] if kind == "CronJob" else body["spec"]["template"]
        removed = patch(name, "shop", pod_spec_patch({"containers": [{"name": "web", "envFrom": None}]}))
        removed_body = side.api.sanitize_for_serialization(removed)
        removed_template = (
            removed_body["spec"]["jobTemplate"]["spec"]["template"]
            if kind == "CronJob"
            else removed_body["spec"]["template"]
        )
        return {
            "containers": [(c["name"], c.get("envFrom")) for c in template["spec"]["containers"]],
            "serviceAccountName": template["spec"].get("serviceAccountName"),
            "after removal": [(c["name"], c.get("envFrom")) for c in removed_template["spec"]["containers"]],
            "generation": removed_body["metadata"].get("generation"),
        }

    on_both(sides, script)


def test_merge_patch_annotations_and_null_removal(sides):
    def script(side: Side, name: str) -> dict:
        side.core.create_namespaced_config_map(
            "shop", {"metadata": {"name": name, "annotations": {"a": "1", "b": "2"}}}
        )
        patched = side.core.patch_namespaced_config_map(
            name, "shop", {"metadata": {"annotations": {"a": None, "c": "3"}}}, _content_type=MERGE
        )
        return patched.metadata.annotations

    on_both(sides, script)


def test_metadata_only_list_and_table(sides):
    def script(side: Side, name: str) -> dict:
        side.core.create_namespaced_secret("shop", {"metadata": {"name": name}, "string_data": {"p": "x"}})
        listed = json.loads(
            side.core.list_namespaced_secret("shop", _headers={"Accept": METADATA_ONLY}, _preload_content=False).data
        )
        table = json.loads(
            side.apps.list_namespaced_deployment("shop", _headers={"Accept": TABLE}, _preload_content=False).data
        )
        mine = [i for i in listed["items"] if i["metadata"]["name"] == name]
        return {
            "list kind": (listed["kind"], listed["apiVersion"]),
            "item keys": [sorted(i) for i in mine],
            "item kind": [(i["kind"], i["apiVersion"]) for i in mine],
            "table": (table["kind"], [c["name"] for c in table["columnDefinitions"]]),
            "rows": sorted(r["cells"][0] for r in table["rows"] if r["cells"][0] in ("api", "web")),
        }

    on_both(sides, script)


def test_dry_run_does_not_persist(sides):
    def script(side: Side, name: str) -> dict:
        made = side.apps.create_namespaced_deployment("shop", deployment(name), dry_run="All")
        return {
            "answer": (made.metadata.name, made.metadata.generation),
            "stored": refusal(lambda: side.apps.read_namespaced_deployment(name, "shop"))["status"],
        }

    on_both(sides, script)


def test_field_managers_and_managed_fields(sides):
    def script(side: Side, name: str) -> dict:
        side.apps.create_namespaced_deployment("shop", deployment(name), field_manager="kubectl-create")
        patched = side.apps.patch_namespaced_deployment(
            name, "shop", {"metadata": {"annotations": {"x": "1"}}}, field_manager="sc-autopilot"
        )
        # the controllers' own status writes (subresource "status") are recorded by the real API server only
        return sorted((m.manager, m.operation) for m in patched.metadata.managed_fields or [] if not m.subresource)

    on_both(sides, script)


def test_server_side_apply(sides):
    def script(side: Side, name: str) -> dict:
        apply = {"field_manager": "sc-autopilot", "force": True, "_content_type": "application/apply-patch+yaml"}
        try:
            applied = side.apps.patch_namespaced_deployment(name, "shop", deployment(name), **apply)
        except ApiException as error:
            return {"status": error.status, "reason": json.loads(error.body).get("reason")}
        return {
            "generation": applied.metadata.generation,
            "managers": sorted(
                (m.manager, m.operation) for m in applied.metadata.managed_fields or [] if not m.subresource
            ),
        }

    on_both(sides, script)


def test_deployment_status_through_a_rollout(sides):
    def wait_rolled_out(side: Side, name: str, generation: int) -> dict:
        deadline = time.monotonic() + 60
        while True:
            status = side.apps.read_namespaced_deployment(name, "shop").status
            if (
                (status.observed_generation or 0) >= generation
                and status.updated_replicas == 2
                and (status.available_replicas == 2 and status.replicas == 2)
            ):
                return status
            if time.monotonic() > deadline:
                return status
            time.sleep(0.2)

    def script(side: Side, name: str) -> dict:
        side.apps.create_namespaced_deployment("shop", deployment(name, replicas=2))
        first = wait_rolled_out(side, name, 1)
        patched = side.apps.patch_namespaced_deployment(
            name, "shop", {"spec": {"template": {"metadata": {"annotations": {"rotated": "1"}}}}}
        )
        second = wait_rolled_out(side, name, patched.metadata.generation)
        conditions = {c.type: (c.status, c.reason) for c in second.conditions or []}
        return {
            "first": (first.observed_generation, first.updated_replicas, first.available_replicas),
            "second": (second.observed_generation, second.updated_replicas, second.available_replicas),
            "generation": patched.metadata.generation,
            "conditions": conditions,
        }

    on_both(sides, script)


def test_the_real_side_is_a_real_release_with_openapi_and_running_demo_pods(sides):
    real = next(side for side in sides if side.name == "real")
    version = k8s.VersionApi(real.api).get_code()
    assert version.git_version == "v1.37.2" and (version.major, version.minor) == ("1", "37")
    config = real.api.configuration
    answer = real.api.call_api(
        "GET", f"{config.host}/openapi/v3", header_params={"Authorization": config.api_key["authorization"]}
    )
    assert answer.status == 200 and "apis/apps/v1" in json.loads(answer.read())["paths"]
    deadline = time.monotonic() + 60
    while True:
        pods = real.core.list_namespaced_pod("shop").items
        ready = {
            p.metadata.name.rsplit("-", 2)[0]
            if p.metadata.owner_references[0].kind == "ReplicaSet"
            else p.metadata.name
            for p in pods
            if any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
        }
        if {"api", "web", "worker-0"} <= ready or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert {"api", "web", "worker-0"} <= ready, [(p.metadata.name, p.status.phase) for p in pods]
    [node] = real.core.list_node().items
    assert node.status.node_info.kubelet_version == "v1.37.2"
