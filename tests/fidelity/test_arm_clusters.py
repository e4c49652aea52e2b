"""Managed clusters through the real azure-mgmt-containerservice SDK, held to the spec example and FACTS.md."""

from __future__ import annotations

import time

import pytest
import requests
import yaml
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.resource.resources import ResourceManagementClient

from tests.conftest import CLUSTER, RG, SUB, Admin, UserCredential, demo_spec
from tests.fidelity.test_arm_sdk import arm_kwargs


@pytest.fixture
def containers(admin):
    return ContainerServiceClient(UserCredential(admin, "platform-admin"), SUB, **arm_kwargs())


def test_cluster_get_is_as_rich_as_the_spec_example(containers, admin):
    """FACTS.md section 10, "`az aks show` style GET of a managed cluster carries `powerState`,
    `currentKubernetesVersion`, `nodeResourceGroup` (`MC_<rg>_<name>_<location>`), `agentPoolProfiles`, `identity`…,
    `azurePortalFQDN`, `enableRBAC`, `networkProfile` (…`effectiveOutboundIPs[].id` = a
    `Microsoft.Network/publicIPAddresses` id in the node resource group), `eTag`"."""
    cluster = containers.managed_clusters.get("rg-shop", "aks-shop")
    assert cluster.power_state.code == "Running"
    assert cluster.current_kubernetes_version == cluster.kubernetes_version
    assert cluster.node_resource_group == "MC_rg-shop_aks-shop_westeurope"
    pool = cluster.agent_pool_profiles[0]
    assert (pool.name, pool.os_type, pool.mode, pool.provisioning_state) == (
        "nodepool1",
        "Linux",
        "System",
        "Succeeded",
    )
    assert cluster.identity.type == "SystemAssigned" and cluster.identity.principal_id
    assert cluster.azure_portal_fqdn.endswith(".portal.hcp.westeurope.azmk8s.io")
    assert cluster.fqdn.endswith(".hcp.westeurope.azmk8s.io")
    assert cluster.enable_rbac is True and cluster.e_tag
    network = cluster.network_profile
    assert (network.network_plugin, network.load_balancer_sku, network.outbound_type) == (
        "azure",
        "standard",
        "loadBalancer",
    )
    (outbound,) = network.load_balancer_profile.effective_outbound_i_ps
    node_group = f"/subscriptions/{SUB}/resourceGroups/MC_rg-shop_aks-shop_westeurope"
    assert outbound.id.lower().startswith(f"{node_group}/providers/Microsoft.Network/publicIPAddresses/".lower())
    # the outbound IP exists as a resource, in a resource group managed by the cluster
    resources = ResourceManagementClient(UserCredential(admin, "platform-admin"), SUB, **arm_kwargs())
    address = resources.resources.get_by_id(outbound.id, api_version="2024-05-01")
    assert address.type == "Microsoft.Network/publicIPAddresses"
    assert address.properties["ipAddress"] and address.properties["publicIPAllocationMethod"] == "Static"
    groups = {r["id"].lower(): r for r in admin.state()["resources"]}
    assert groups[node_group.lower()]["managedBy"] == CLUSTER


def test_user_credential_is_the_entra_kubeconfig_with_a_kubelogin_exec_user(containers, cloud):
    """FACTS.md section 10, "`listClusterUserCredential` of an Entra-integrated cluster returns a kubeconfig whose user
    is an exec plugin: `kubelogin get-token --login devicecode --server-id 6dae42f8-… --client-id 80faf920-…
    --tenant-id <tenant> --environment AzurePublicCloud`"."""
    result = containers.managed_clusters.list_cluster_user_credentials("rg-shop", "aks-shop")
    assert [k.name for k in result.kubeconfigs] == ["clusterUser"]
    config = yaml.safe_load(result.kubeconfigs[0].value)
    (user,) = config["users"]
    assert user["name"] == "clusterUser_rg-shop_aks-shop" and "token" not in user["user"]
    plugin = user["user"]["exec"]
    assert plugin["command"] == "kubelogin" and plugin["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert plugin["args"] == [
        "get-token", "--login", "devicecode", "--server-id", "6dae42f8-4368-4678-94ff-3960e28e3630",
        "--client-id", "80faf920-1908-4b52-b5ef-a8e7bedfc67a", "--tenant-id", cloud.tenant_id,
        "--environment", "AzurePublicCloud",
    ]  # fmt: skip
    assert config["clusters"][0]["cluster"]["certificate-authority-data"]
    assert config["contexts"][0]["context"] == {"cluster": "aks-shop", "user": "clusterUser_rg-shop_aks-shop"}
    # AKS's own install hint, plus where the local cloud's kubelogin is (kubectl prints it when none is on PATH)
    assert "https://aka.ms/aks/kubelogin" in plugin["installHint"] and "tools/kubelogin" in plugin["installHint"]


def test_cluster_put_is_accepted_creating_and_succeeds_after_the_scenario_delay(make_cloud):
    """A managed cluster PUT answers 201 with provisioningState Creating (an update: 200, Updating) and an
    Azure-AsyncOperation; the write event is raised at the PUT (FACTS.md section 5: "Creation and tag changes arrive
    as … `ResourceWriteSuccess`"); the cluster reaches Succeeded after `cluster_provisioning_seconds`."""
    spec = demo_spec() | {"cluster_provisioning_seconds": 0.6, "lro_retry_after": 0.05}
    cloud = make_cloud(spec)
    admin = Admin(cloud)
    token = admin.token("platform-admin")
    url = f"{cloud.arm_endpoint}{RG}/providers/Microsoft.ContainerService/managedClusters/aks-new"
    session = requests.Session()
    session.verify = str(cloud.ca_bundle)
    session.headers["Authorization"] = f"Bearer {token}"
    params = {"api-version": "2025-07-01"}
    created = session.put(url, params=params, json={"location": "westeurope", "properties": {"dnsPrefix": "new"}})
    assert created.status_code == 201 and created.json()["properties"]["provisioningState"] == "Creating"
    assert created.headers["Retry-After"] == "0.05"
    events = [e for e in admin.get("events")["events"] if e["subject"].endswith("/aks-new")]
    assert [e["eventType"] for e in events] == ["Microsoft.Resources.ResourceWriteSuccess"]
    status = session.get(created.headers["Azure-AsyncOperation"])
    assert status.json()["status"] == "InProgress" and status.headers["Retry-After"] == "0.05"
    assert session.get(url, params=params).json()["properties"]["provisioningState"] == "Creating"
    time.sleep(0.7)
    assert session.get(created.headers["Azure-AsyncOperation"]).json()["status"] == "Succeeded"
    assert session.get(url, params=params).json()["properties"]["provisioningState"] == "Succeeded"

    updated = session.put(url, params=params, json={"location": "westeurope", "tags": {"sc-group": "shop"}})
    assert updated.status_code == 200 and updated.json()["properties"]["provisioningState"] == "Updating"
    assert updated.json()["eTag"] != created.json()["eTag"]


def test_sdk_begin_create_or_update_polls_to_succeeded(make_cloud):
    spec = demo_spec() | {"cluster_provisioning_seconds": 0.2}
    cloud = make_cloud(spec)
    containers = ContainerServiceClient(UserCredential(Admin(cloud), "platform-admin"), SUB, **arm_kwargs())
    poller = containers.managed_clusters.begin_create_or_update(
        "rg-shop", "aks-sdk", {"location": "westeurope", "dns_prefix": "sdk"}
    )
    assert poller.result().provisioning_state == "Succeeded"
    containers.managed_clusters.begin_delete("rg-shop", "aks-sdk").result()
    assert [c.name for c in containers.managed_clusters.list()] == ["aks-shop"]
