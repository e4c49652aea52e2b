"""The mission's "new AKS cluster" path: a cluster created with the group tag raises its write event while it is still
Creating; the app defers it, Event Grid redelivers, and once AKS reports Succeeded the cluster is wired."""

from __future__ import annotations

import time

import requests

from shared.config import Settings
from shared.container import Application
from shared.core.consent import ALLOWED_TARGETS
from tests.conftest import DATABASE, RG, Admin, demo_spec
from tests.e2e.conftest import SQL_TAGS, Estate

NEW_CLUSTER = f"{RG}/providers/Microsoft.ContainerService/managedClusters/aks-new"
AKS_SERVER_APP = "6dae42f8-4368-4678-94ff-3960e28e3630"  # the token audience of an Entra-integrated AKS API


def test_a_cluster_tagged_at_creation_is_deferred_while_creating_and_wired_on_redelivery(make_cloud):
    cloud = make_cloud(demo_spec() | {"cluster_provisioning_seconds": 1.5})
    admin = Admin(cloud)
    estate, app = Estate(admin), Application(Settings.from_env())
    estate.tag(DATABASE, {k: v for k, v in SQL_TAGS.items() if k != "sc-workloads"})  # a connection, no workload
    assert app.events.handle(estate.new_events()).ok  # no cluster in the group yet: nothing to do

    # `az aks create --tags sc-group=shop`: ARM accepts the PUT (201 Creating) and raises the write event at once
    created = requests.put(
        f"{cloud.arm_endpoint}{NEW_CLUSTER}",
        params={"api-version": "2025-07-01"},
        json={"location": "westeurope", "tags": {"sc-group": "shop"}, "properties": {"dnsPrefix": "aks-new"}},
        headers={"Authorization": f"Bearer {admin.token('platform-admin')}"},
        verify=str(cloud.ca_bundle),
        timeout=30,
    )
    assert (created.status_code, created.json()["properties"]["provisioningState"]) == (201, "Creating")
    events = estate.new_events()
    assert [e["subject"] for e in events] == [NEW_CLUSTER]

    deferred = app.events.handle(events)
    assert deferred.deferred and not _linkers_on(admin, NEW_CLUSTER)
    assert any(f.code == "CLUSTER_NOT_READY" for f in deferred.findings)

    _wait_until_succeeded(admin, NEW_CLUSTER)
    # A new cluster has no application namespace: its owner creates it and consents to the database (sc-autopilot
    # never creates one); until then the connection is refused with CONSENT_MISSING.
    refused = app.events.handle(events)
    assert any(f.code == "CONSENT_MISSING" for f in refused.findings) and not _linkers_on(admin, NEW_CLUSTER)
    _create_namespace(cloud, admin, NEW_CLUSTER, "shop", {ALLOWED_TARGETS: RG})
    wired = app.events.handle(events)  # Event Grid redelivers the deferred event
    assert wired.ok and not wired.deferred, wired.summary()
    [linker] = _linkers_on(admin, NEW_CLUSTER)
    assert linker["properties"]["targetService"]["id"] == DATABASE and linker["properties"]["scope"] == "shop"


def _create_namespace(cloud, admin: Admin, cluster_id: str, name: str, annotations: dict[str, str]) -> None:
    """As the cluster's owner would (kubectl create namespace; kubectl annotate), through its Kubernetes API."""
    key = admin.state()["clusters"][next(c for c in admin.state()["clusters"] if c.lower() == cluster_id.lower())][
        "key"
    ]
    created = requests.post(
        f"{cloud.arm_endpoint}/clusters/{key}/api/v1/namespaces",
        json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "annotations": annotations}},
        headers={"Authorization": f"Bearer {admin.token('platform-admin', AKS_SERVER_APP)}"},
        verify=str(cloud.ca_bundle),
        timeout=30,
    )
    assert created.status_code == 201, created.text


def _linkers_on(admin: Admin, cluster_id: str) -> list[dict]:
    prefix = f"{cluster_id}/providers/Microsoft.ServiceLinker/linkers/".lower()
    return [r for r in admin.state()["resources"] if r["id"].lower().startswith(prefix)]


def _wait_until_succeeded(admin: Admin, resource_id: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = next(r for r in admin.state()["resources"] if r["id"].lower() == resource_id.lower())
        if state["properties"]["provisioningState"] == "Succeeded":
            return
        time.sleep(0.1)
    raise AssertionError(f"{resource_id} did not reach Succeeded in {timeout}s")
