"""End-to-end fixtures: a platform engineer's hands (tagging as a user) and the app's entry points."""

from __future__ import annotations

import base64
import os
import time

import pytest
from azure.mgmt.resource.resources import ResourceManagementClient

from shared.config import Settings
from shared.container import Application
from tests.conftest import CLUSTER, SUB, Admin, UserCredential

PASSWORD_URL = "https://kv-shop.vault.azure.net/secrets/sql-orders-password"
PASSWORD = "Demo-Only-P@ssw0rd-7c1f"
WRITES = {"PUT", "PATCH", "DELETE"}

SQL_TAGS = {
    "sc-group": "shop",
    "sc-namespace": "shop",
    "sc-workloads": "deployment/api,sts/worker",
    "sc-sql-user": "orders_app",
    "sc-sql-password": PASSWORD_URL,
}
OPENAI_TAGS = {"sc-group": "shop", "sc-namespace": "shop", "sc-workloads": "deploy/web:web,cronjob/report"}
CLUSTER_TAGS = {"sc-group": "shop", "sc-identity": "id-shop-workloads"}


class Estate:
    """The platform team's side: tags and deletes resources as a person, reads what the cloud holds."""

    def __init__(self, admin: Admin):
        self.admin = admin
        self.arm = ResourceManagementClient(
            UserCredential(admin, "platform-admin"),
            SUB,
            base_url=os.environ["SC_ARM_ENDPOINT"],
            credential_scopes=["https://management.azure.com/.default"],
            polling_interval=0,
        )
        self.event_cursor = 0

    def tag(self, resource_id: str, tags: dict[str, str], operation: str = "Merge") -> None:
        body = {"operation": operation, "properties": {"tags": tags}}
        self.arm.tags.begin_update_at_scope(resource_id, body).result()

    def untag(self, resource_id: str, *names: str) -> None:
        current = self.arm.tags.get_at_scope(resource_id).properties.tags or {}
        self.tag(resource_id, {k: v for k, v in current.items() if k not in names}, operation="Replace")

    def delete(self, resource_id: str, api_version: str = "2023-08-01") -> None:
        self.arm.resources.begin_delete_by_id(resource_id, api_version=api_version).result()

    def new_events(self, schema: str = "eventgrid") -> list[dict]:
        events = self.admin.get("events", schema=schema, since=self.event_cursor)["events"]
        self.event_cursor += len(events)
        return events

    def objects(self) -> dict:
        return self.admin.cluster_objects(CLUSTER)

    def workload(self, kind: str, name: str, namespace: str = "shop") -> dict:
        return _find(self.objects(), kind, namespace, name)

    def secret(self, name: str, namespace: str = "shop") -> dict | None:
        try:
            return _find(self.objects(), "Secret", namespace, name)
        except LookupError:
            return None

    def linkers(self) -> list[dict]:
        return [
            r
            for r in self.admin.state()["resources"]
            if r["type"].lower() == "microsoft.servicelinker/linkers" and r["id"].lower().startswith(CLUSTER.lower())
        ]

    def rolled_out(self, timeout: float = 60) -> None:
        """Wait until every Deployment, StatefulSet and DaemonSet has rolled out its template, as a person waits for
        `kubectl rollout status` (a real control plane's controllers take a moment; the emulated API's are instant)."""
        deadline = time.monotonic() + timeout
        while True:
            pending = [
                (item["kind"], item["metadata"]["name"])
                for item in _iter_objects(self.objects())
                if item["kind"] in ROLLING and not _rolled_out(item)
            ]
            if not pending:
                return
            assert time.monotonic() < deadline, f"still rolling out after {timeout} s: {pending}"
            time.sleep(0.2)

    def writes_since(self, seq: int) -> list[dict]:
        return [r for r in self.admin.requests_since(seq) if r["method"] in WRITES and r["status"] < 400]


ROLLING = ("Deployment", "StatefulSet", "DaemonSet")


def _rolled_out(workload: dict) -> bool:
    """`kubectl rollout status` (kubectl pkg/polymorphichelpers/rollout_status.go): the controller has observed the
    latest generation; every replica is updated and available; no old replica is still terminating (the moment
    between the new pods becoming available and the old ReplicaSet scaling to zero is not "rolled out"); a
    StatefulSet's pods all run its update revision."""
    status, spec, kind = workload.get("status") or {}, workload.get("spec") or {}, workload["kind"]
    if status.get("observedGeneration", 0) < workload["metadata"].get("generation", 1):
        return False
    if kind == "DaemonSet":
        wanted = status.get("desiredNumberScheduled", 0)
        return status.get("updatedNumberScheduled", 0) >= wanted and status.get("numberAvailable", 0) >= wanted
    wanted = spec.get("replicas", 1)
    if kind == "StatefulSet":
        revision_done = status.get("updateRevision") in (None, status.get("currentRevision"))
        return status.get("readyReplicas", 0) >= wanted and revision_done
    updated = status.get("updatedReplicas", 0)
    return updated >= wanted and status.get("replicas", 0) <= updated and status.get("availableReplicas", 0) >= updated


def _find(objects: dict, kind: str, namespace: str, name: str) -> dict:
    for item in _iter_objects(objects):
        meta = item.get("metadata") or {}
        if item.get("kind") == kind and meta.get("name") == name and meta.get("namespace") == namespace:
            return item
    raise LookupError(f"{kind} {namespace}/{name} not found")


def _iter_objects(objects: object):
    """The emulator's snapshot nests objects by kind/namespace; walk it whatever the nesting."""
    if isinstance(objects, dict):
        if "kind" in objects and "metadata" in objects:
            yield objects
            return
        for value in objects.values():
            yield from _iter_objects(value)
    elif isinstance(objects, list):
        for value in objects:
            yield from _iter_objects(value)


def env_from_secrets(workload: dict, container: str | None = None) -> list[str]:
    from shared.core.manifests import pod_spec

    names = []
    for c in pod_spec(workload).get("containers") or []:
        if container is None or c["name"] == container:
            names += [s["secretRef"]["name"] for s in c.get("envFrom") or [] if "secretRef" in s]
    return names


def secret_values(secret: dict) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}


@pytest.fixture
def estate(admin: Admin) -> Estate:
    return Estate(admin)


@pytest.fixture
def app(cloud) -> Application:
    return Application(Settings.from_env())
