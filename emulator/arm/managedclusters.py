"""Microsoft.ContainerService/managedClusters as AKS returns them, and what AKS creates beside a cluster.

Shape after the spec example `aks/stable/2025-07-01/examples/ManagedClustersGet.json` and FACTS.md section 10:
power state, current version, `nodeResourceGroup` `MC_<rg>_<name>_<location>`, agent pools, identity, portal FQDN,
RBAC, a network profile whose effective outbound IP is a `Microsoft.Network/publicIPAddresses` resource that exists
in the node resource group, an eTag that changes on every write.
"""

from __future__ import annotations

import base64
import hashlib
import uuid

from emulator.arm.ids import stable_uuid
from emulator.identity import AKS_AUDIENCE

KUBERNETES_VERSION = "1.33.2"
NODE_IMAGE = "AKSUbuntu-2204gen2containerd-202507.21.0"
PUBLIC_IP = "microsoft.network/publicipaddresses"


def outbound_ip(cluster_id: str) -> str:
    """The address of the cluster's managed outbound IP (what a SQL firewall rule for the cluster allows)."""
    digest = hashlib.sha256(cluster_id.lower().encode()).digest()
    return f"20.{digest[0]}.{digest[1]}.{digest[2] or 1}"


def node_resource_group_id(cluster: dict) -> str:
    subscription, resource_group = cluster["id"].split("/")[2], cluster["id"].split("/")[4]
    return f"/subscriptions/{subscription}/resourceGroups/MC_{resource_group}_{cluster['name']}_{cluster['location']}"


def outbound_ip_id(cluster: dict) -> str:
    name = stable_uuid("outbound-ip", cluster["id"])
    return f"{node_resource_group_id(cluster)}/providers/Microsoft.Network/publicIPAddresses/{name}"


def shape(resource: dict, existing: dict | None, tenant: str) -> None:
    """Fill the read-only properties AKS reports (kept across PUTs; the eTag changes on each write)."""
    props = resource["properties"]
    name, location, cluster_id = resource["name"], resource["location"], resource["id"]
    props.setdefault("provisioningState", "Succeeded")
    props.setdefault("powerState", {"code": "Running"})
    version = props.setdefault("kubernetesVersion", KUBERNETES_VERSION)
    props["currentKubernetesVersion"] = version
    prefix = props.setdefault("dnsPrefix", f"{name}-dns")
    host = f"{prefix}-{stable_uuid('fqdn', cluster_id)[:8]}"
    props["fqdn"] = f"{host}.hcp.{location}.azmk8s.io"
    props["azurePortalFQDN"] = f"{host}.portal.hcp.{location}.azmk8s.io"
    props.setdefault("maxAgentPools", 100)
    props.setdefault("agentPoolProfiles", [_agent_pool(version)])
    for pool in props["agentPoolProfiles"]:
        pool["eTag"] = _etag()
    props["nodeResourceGroup"] = node_resource_group_id(resource).rsplit("/", 1)[-1]
    props.setdefault("enableRBAC", True)
    props.setdefault("supportPlan", "KubernetesOfficial")
    props.setdefault("aadProfile", {"managed": True, "enableAzureRBAC": True, "tenantID": tenant})
    props.setdefault("disableLocalAccounts", True)
    oidc = props.setdefault("oidcIssuerProfile", {"enabled": False})
    if oidc.get("enabled"):
        oidc["issuerURL"] = f"https://{location}.oic.prod-aks.azure.com/{tenant}/{stable_uuid(cluster_id)}/"
    else:
        oidc.pop("issuerURL", None)
    props.setdefault("securityProfile", {}).setdefault("workloadIdentity", {"enabled": False})
    props["networkProfile"] = _network_profile(resource, props.get("networkProfile") or {})
    props["identityProfile"] = {
        "kubeletidentity": {
            "resourceId": f"{node_resource_group_id(resource)}/providers/Microsoft.ManagedIdentity/"
            f"userAssignedIdentities/{name}-agentpool",
            "clientId": stable_uuid("kubelet-client", cluster_id),
            "objectId": stable_uuid("kubelet-object", cluster_id),
        }
    }
    resource.setdefault(
        "identity", {"type": "SystemAssigned", "principalId": stable_uuid("principal", cluster_id), "tenantId": tenant}
    )
    resource.setdefault("sku", {"name": "Base", "tier": "Free"})
    resource["eTag"] = _etag()


def node_resources(cluster: dict) -> list[dict]:
    """The node resource group (managed by the cluster) and the cluster's managed outbound public IP."""
    group_id = node_resource_group_id(cluster)
    group = {
        "id": group_id,
        "name": group_id.rsplit("/", 1)[-1],
        "type": "Microsoft.Resources/resourceGroups",
        "location": cluster["location"],
        "managedBy": cluster["id"],
        "tags": {},
        "properties": {"provisioningState": "Succeeded"},
    }
    address = {
        "id": outbound_ip_id(cluster),
        "name": outbound_ip_id(cluster).rsplit("/", 1)[-1],
        "type": "Microsoft.Network/publicIPAddresses",
        "location": cluster["location"],
        "tags": {},
        "sku": {"name": "Standard", "tier": "Regional"},
        "etag": f'W/"{stable_uuid("ip-etag", cluster["id"])}"',
        "properties": {
            "provisioningState": "Succeeded",
            "resourceGuid": stable_uuid("ip-guid", cluster["id"]),
            "ipAddress": outbound_ip(cluster["id"]),
            "publicIPAddressVersion": "IPv4",
            "publicIPAllocationMethod": "Static",
            "idleTimeoutInMinutes": 4,
            "ipTags": [],
        },
    }
    return [group, address]


def _agent_pool(version: str) -> dict:
    return {
        "name": "nodepool1",
        "count": 3,
        "vmSize": "Standard_D4ds_v5",
        "osDiskSizeGB": 128,
        "osDiskType": "Ephemeral",
        "maxPods": 110,
        "type": "VirtualMachineScaleSets",
        "mode": "System",
        "osType": "Linux",
        "osSKU": "Ubuntu",
        "provisioningState": "Succeeded",
        "powerState": {"code": "Running"},
        "orchestratorVersion": version,
        "currentOrchestratorVersion": version,
        "nodeImageVersion": NODE_IMAGE,
        "enableNodePublicIP": False,
        "availabilityZones": ["1", "2", "3"],
        "upgradeSettings": {"maxSurge": "10%"},
    }


def _network_profile(cluster: dict, current: dict) -> dict:
    profile = {
        "networkPlugin": "azure",
        "networkPluginMode": "overlay",
        "podCidr": "10.244.0.0/16",
        "serviceCidr": "10.0.0.0/16",
        "dnsServiceIP": "10.0.0.10",
        "outboundType": "loadBalancer",
        "loadBalancerSku": "standard",
        "podCidrs": ["10.244.0.0/16"],
        "serviceCidrs": ["10.0.0.0/16"],
        "ipFamilies": ["IPv4"],
        **current,
    }
    profile["loadBalancerProfile"] = {
        "managedOutboundIPs": {"count": 1},
        "backendPoolType": "nodeIPConfiguration",
        **(current.get("loadBalancerProfile") or {}),
        "effectiveOutboundIPs": [{"id": outbound_ip_id(cluster)}],
    }
    return profile


def _etag() -> str:
    return uuid.uuid4().hex[:8]


AZURE_CLI_CLIENT_ID = "80faf920-1908-4b52-b5ef-a8e7bedfc67a"  # the public client kubelogin's devicecode uses
DEVICECODE_ARGS = (
    "get-token",
    "--login",
    "devicecode",
    "--server-id",
    AKS_AUDIENCE,
    "--client-id",
    AZURE_CLI_CLIENT_ID,
)


# What the local cloud adds to AKS's own hint: where its kubelogin is (tools/kubelogin, put on PATH by `exec`).
LOCAL_KUBELOGIN = (
    "\nOn the local cloud: tools/kubelogin in the sc-autopilot repository (`python -m emulator exec` puts tools/ on "
    "PATH), after `kubelogin convert-kubeconfig -l azurecli` (which `az aks get-credentials` runs).\n"
)


def user_kubeconfig(cluster: dict, server: str, ca_pem: str, tenant: str) -> dict:
    """listClusterUserCredential of an Entra-integrated cluster: server and CA, and a kubelogin exec user
    (`--login devicecode`) — no credential. Automation reads the server and CA and brings its own token."""
    name = cluster["name"]
    user = f"clusterUser_{cluster['id'].split('/')[4]}_{name}"
    return {
        "apiVersion": "v1",
        "clusters": [
            {
                "cluster": {
                    "certificate-authority-data": base64.b64encode(ca_pem.encode()).decode(),
                    "server": server,
                },
                "name": name,
            }
        ],
        "contexts": [{"context": {"cluster": name, "user": user}, "name": name}],
        "current-context": name,
        "kind": "Config",
        "preferences": {},
        "users": [
            {
                "name": user,
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "args": [*DEVICECODE_ARGS, "--tenant-id", tenant, "--environment", "AzurePublicCloud"],
                        "command": "kubelogin",
                        "env": None,
                        "installHint": "\nkubelogin is not installed which is required to connect to AAD enabled "
                        "cluster.\n\nTo learn more, please go to https://aka.ms/aks/kubelogin\n" + LOCAL_KUBELOGIN,
                        "provideClusterInfo": False,
                    }
                },
            }
        ],
    }
