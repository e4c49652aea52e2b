"""The ABAC delegation condition of infra/roles.bicep, evaluated by the local cloud: Service Connector assigns a
target's role to a workload identity with the caller's rights (concept-permission.md), so the condition on the
app's role-assignment grant must admit every role Service Connector assigns (concept-microsoft-entra-roles.md) and
nothing else (MicrosoftDocs role-based-access-control/delegate-role-assignments-examples.md, "Constrain roles and
principal types"). One local cloud per test (two tests).
"""

from __future__ import annotations

import os

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.identity import ManagedIdentityCredential
from azure.mgmt.servicelinker import ServiceLinkerManagementClient

from tests.conftest import CLUSTER, IDENTITY, RG, SUB, Admin, demo_spec
from tests.fidelity.test_arm_sdk import ARM_SCOPE, arm_kwargs
from tests.infra.test_infra_template import bicep

P = f"{RG}/providers"
# Targets whose workload-identity connection gets an Azure role (TARGETS.md section 2), with the role's GUIDs
WITH_ROLES = {
    "blob": f"{P}/Microsoft.Storage/storageAccounts/stshop/blobServices/default",
    "queue": f"{P}/Microsoft.Storage/storageAccounts/stshop/queueServices/default",
    "table": f"{P}/Microsoft.Storage/storageAccounts/stshop/tableServices/default",
    "vault": f"{P}/Microsoft.KeyVault/vaults/kv-shop",
    "config": f"{P}/Microsoft.AppConfiguration/configurationStores/appcs-shop",
    "cosmos": f"{P}/Microsoft.DocumentDB/databaseAccounts/cosmos-shop/sqlDatabases/orders",
    "hub": f"{P}/Microsoft.EventHub/namespaces/eh-shop",
    "bus": f"{P}/Microsoft.ServiceBus/namespaces/sb-shop",
    "signalr": f"{P}/Microsoft.SignalRService/SignalR/sigr-shop",
    "pubsub": f"{P}/Microsoft.SignalRService/WebPubSub/wps-shop",
    "openai": f"{P}/Microsoft.CognitiveServices/accounts/oai-shop",
}
BLOB_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"


def _infra_grants(drop_role: str = "") -> list[dict]:
    """The two custom roles of roles.bicep as the app holds them: the operator role, and the delegation role whose
    assignment carries the condition (`join(serviceConnectorRoles, ', ')` spelled out as Bicep does)."""
    variables = {name: spec["value"] for name, spec in bicep("roles.bicep")["variables"].items()}
    roles = [role for role in variables["serviceConnectorRoles"] if role != drop_role]
    condition = variables["delegationCondition"].replace("\\'", "'").replace("${assignableRoleList}", ", ".join(roles))
    scope = f"/subscriptions/{SUB}"
    return [
        {"scope": scope, "actions": variables["actions"], "data_actions": variables["dataActions"]},
        {"scope": scope, "actions": variables["delegationActions"], "condition": condition},
    ]


def _cloud(make_cloud, drop_role: str = ""):
    spec = demo_spec() | {"throttling": {"enabled": False}}
    spec["principals"][0]["grants"] = _infra_grants(drop_role)
    subscription = spec["subscriptions"][0]
    subscription["providers"]["Microsoft.KubernetesConfiguration"] = "Registered"
    subscription["resource_groups"][0].update(
        storage_accounts=[{"name": "stshop"}], app_configuration_stores=[{"name": "appcs-shop"}],
        cosmos_accounts=[{"name": "cosmos-shop", "databases": ["orders"]}], event_hubs_namespaces=[{"name": "eh-shop"}],
        service_bus_namespaces=[{"name": "sb-shop"}], signalr_services=[{"name": "sigr-shop"}],
        web_pubsubs=[{"name": "wps-shop"}],
    )  # fmt: skip
    return make_cloud(spec)


def _linkers() -> ServiceLinkerManagementClient:
    credential = ManagedIdentityCredential(client_id=os.environ["AZURE_CLIENT_ID"])
    return ServiceLinkerManagementClient(credential, api_version="2024-04-01", **arm_kwargs())


def _workload_identity(local, target: str) -> dict:
    identity = next(r for r in Admin(local).state()["resources"] if r["id"].lower() == IDENTITY.lower())
    auth = {"authType": "userAssignedIdentity", "clientId": identity["properties"]["clientId"], "subscriptionId": SUB}
    return {"properties": {"targetService": {"type": "AzureResource", "id": target}, "authInfo": auth,
                           "clientType": "python", "scope": "shop"}}  # fmt: skip


def test_the_condition_admits_every_role_service_connector_assigns(make_cloud):
    local = _cloud(make_cloud)
    linkers = _linkers()
    for name, target in WITH_ROLES.items():
        linker = linkers.linker.begin_create_or_update(CLUSTER, f"wi_{name}", _workload_identity(local, target))
        assert linker.result().provisioning_state == "Succeeded", name
    csi = _workload_identity(local, WITH_ROLES["vault"])
    csi["properties"]["targetService"]["resourceProperties"] = {
        "type": "KeyVault",
        "connectAsKubernetesCsiDriver": True,
    }
    csi["properties"]["authInfo"] = {"authType": "userAssignedIdentity"}
    assert linkers.linker.begin_create_or_update(CLUSTER, "kv_csi", csi).result().provisioning_state == "Succeeded"
    # ... and nothing else: the app cannot hand out Owner, even to a service principal
    owner = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
    definition = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{owner}"
    body = {"properties": {"roleDefinitionId": definition, "principalId": "p", "principalType": "ServicePrincipal"}}
    url = f"{local.arm_endpoint}{RG}/providers/Microsoft.Authorization/roleAssignments/{owner}?api-version=2022-04-01"
    token = ManagedIdentityCredential(client_id=os.environ["AZURE_CLIENT_ID"]).get_token(ARM_SCOPE).token
    headers = {"Authorization": f"Bearer {token}"}
    answer = requests.put(url, json=body, headers=headers, verify=str(local.ca_bundle), timeout=30)
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "AuthorizationFailed")


def test_a_role_missing_from_the_condition_fails_the_connection(make_cloud):
    local = _cloud(make_cloud, drop_role=BLOB_CONTRIBUTOR)
    with pytest.raises(HttpResponseError) as raised:
        _linkers().linker.begin_create_or_update(
            CLUSTER, "wi_blob", _workload_identity(local, WITH_ROLES["blob"])
        ).result()
    assert "AuthorizationFailed" in str(raised.value) and "roleAssignments/write" in str(raised.value)
