"""The real Azure SDKs against the local cloud: identity, ARM resources, Service Connector, Key Vault."""

from __future__ import annotations

import base64
import os

import pytest
import requests
import yaml
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential
from azure.keyvault.secrets import SecretClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.kubernetesconfiguration import SourceControlConfigurationClient
from azure.mgmt.msi import ManagedServiceIdentityClient
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.servicelinker import ServiceLinkerManagementClient
from kubernetes import client as k8s

from shared.adapters.azure.errors import FailureKind, classify
from tests.conftest import CLUSTER, DATABASE, OPENAI, RG, SUB, Admin, UserCredential, demo_spec

ARM_SCOPE = "https://management.azure.com/.default"
AKS_SCOPE = "6dae42f8-4368-4678-94ff-3960e28e3630/.default"


def arm_kwargs() -> dict:
    return {"base_url": os.environ["SC_ARM_ENDPOINT"], "credential_scopes": [ARM_SCOPE], "polling_interval": 0}


@pytest.fixture
def credential(cloud):
    return ManagedIdentityCredential(client_id=os.environ["AZURE_CLIENT_ID"])


@pytest.fixture
def linker_client(credential):
    return ServiceLinkerManagementClient(credential, api_version="2024-04-01", **arm_kwargs())


@pytest.fixture
def resources(credential):
    return ResourceManagementClient(credential, SUB, **arm_kwargs())


@pytest.fixture
def user_resources(admin):
    """ARM as a person on the platform team: tags resources, deletes them."""
    return ResourceManagementClient(UserCredential(admin, "platform-admin"), SUB, **arm_kwargs())


def register_kubernetes_configuration(resources: ResourceManagementClient) -> None:
    resources.providers.register("Microsoft.KubernetesConfiguration")


def sql_secret_linker(name: str = "orders_sql", namespace: str = "shop") -> dict:
    return {
        "properties": {
            "targetService": {"type": "AzureResource", "id": DATABASE},
            "authInfo": {
                "authType": "secret",
                "name": "app",
                "secretInfo": {"secretType": "rawValue", "value": "pw-1"},
            },
            "clientType": "python",
            "scope": namespace,
        }
    }


def kube_client(credential, cloud_admin: Admin) -> k8s.ApiClient:
    containers = ContainerServiceClient(credential, SUB, **arm_kwargs())
    result = containers.managed_clusters.list_cluster_user_credentials("rg-shop", "aks-shop")
    kubeconfig = yaml.safe_load(result.kubeconfigs[0].value)
    cluster = kubeconfig["clusters"][0]["cluster"]
    ca_path = cloud_admin.cloud.ca_bundle.parent / "kube-ca.pem"
    ca_path.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    config = k8s.Configuration()
    config.host = cluster["server"]
    config.ssl_ca_cert = str(ca_path)
    config.api_key = {"authorization": "Bearer " + credential.get_token(AKS_SCOPE).token}
    return k8s.ApiClient(config)


def test_managed_identity_and_default_credential_get_tokens(cloud):
    for credential in (ManagedIdentityCredential(client_id=os.environ["AZURE_CLIENT_ID"]), DefaultAzureCredential()):
        token = credential.get_token(ARM_SCOPE)
        assert token.token.count(".") == 2 and token.expires_on > 0


def test_requests_without_token_get_401_like_arm(cloud):
    response = requests.get(f"{cloud.arm_endpoint}{CLUSTER}?api-version=2024-05-01", verify=str(cloud.ca_bundle))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AuthenticationFailed"


def test_a_principal_lacking_a_right_gets_authorization_failed(cloud, admin):
    token = admin.token("auditor")
    response = requests.put(
        f"{cloud.arm_endpoint}{RG}/providers/Microsoft.Sql/servers/sql-shop/databases/new?api-version=2023-08-01",
        json={"location": "westeurope"},
        headers={"Authorization": f"Bearer {token}"},
        verify=str(cloud.ca_bundle),
    )
    assert response.status_code == 403
    message = response.json()["error"]["message"]
    assert response.json()["error"]["code"] == "AuthorizationFailed"
    assert "does not have authorization to perform action 'Microsoft.Sql/servers/databases/write' over scope" in message


def test_cluster_get_and_resources_list_with_tag_filter(credential, resources, user_resources):
    containers = ContainerServiceClient(credential, SUB, **arm_kwargs())
    cluster = containers.managed_clusters.get("rg-shop", "aks-shop")
    assert cluster.provisioning_state == "Succeeded"
    assert cluster.oidc_issuer_profile.enabled is False
    assert list(resources.resources.list(filter="tagName eq 'sc-group'")) == []
    user_resources.tags.begin_update_at_scope(
        DATABASE, {"operation": "Merge", "properties": {"tags": {"sc-group": "shop"}}}
    ).result()
    tagged = list(resources.resources.list(filter="tagName eq 'sc-group'"))
    assert [r.id for r in tagged] == [DATABASE] and tagged[0].tags == {"sc-group": "shop"}
    types = {
        r.type for r in resources.resources.list(filter="resourceType eq 'Microsoft.ContainerService/managedClusters'")
    }
    assert types == {"Microsoft.ContainerService/ManagedClusters"}


def test_tag_writes_emit_the_subscription_topic_event(user_resources, admin):
    user_resources.tags.begin_update_at_scope(
        OPENAI, {"operation": "Merge", "properties": {"tags": {"sc-group": "shop"}}}
    ).result()
    events = admin.get("events")["events"]
    event = events[-1]
    assert event["eventType"] == "Microsoft.Resources.ResourceWriteSuccess"
    assert event["subject"] == f"{OPENAI}/providers/Microsoft.Resources/tags/default"
    assert event["topic"] == f"/subscriptions/{SUB}" and event["dataVersion"] == "2"
    assert event["data"]["operationName"] == "Microsoft.Resources/tags/write"
    assert set(event["data"]) >= {"authorization", "claims", "correlationId", "operationName", "resourceProvider",
                                  "resourceUri", "status", "subscriptionId", "tenantId"}  # fmt: skip
    cloud_event = admin.get("events", schema="cloudevents")["events"][-1]
    assert cloud_event["specversion"] == "1.0" and cloud_event["source"] == f"/subscriptions/{SUB}"
    assert cloud_event["type"] == "Microsoft.Resources.ResourceWriteSuccess"


def test_identity_and_federated_credentials(credential):
    msi = ManagedServiceIdentityClient(credential, SUB, **arm_kwargs())
    identity = msi.user_assigned_identities.get("rg-shop", "id-shop-workloads")
    assert identity.client_id and identity.principal_id
    assert list(msi.federated_identity_credentials.list("rg-shop", "id-shop-workloads")) == []


def test_key_vault_secret_through_the_real_host_name(cloud):
    client = SecretClient(
        "https://kv-shop.vault.azure.net", ManagedIdentityCredential(client_id=os.environ["AZURE_CLIENT_ID"])
    )
    assert client.get_secret("sql-orders-password").value == "Demo-Only-P@ssw0rd-7c1f"
    with pytest.raises(ResourceNotFoundError):
        client.get_secret("missing")


def test_linker_without_kubernetes_configuration_registered_fails_its_operation(linker_client, resources):
    """FACTS.md section 6: only Microsoft.KubernetesConfiguration unregistered -> the PUT is accepted and the LRO
    fails with GeneralUserError "...invalid status code 'Conflict'", not a synchronous 409."""
    with pytest.raises(HttpResponseError) as raised:
        linker_client.linker.begin_create_or_update(CLUSTER, "orders_sql", sql_secret_linker()).result()
    assert "GeneralUserError" in str(raised.value) and "'Conflict'" in str(raised.value)
    assert linker_client.linker.get(CLUSTER, "orders_sql").provisioning_state == "Failed"
    register_kubernetes_configuration(resources)
    assert resources.providers.get("Microsoft.KubernetesConfiguration").registration_state == "Registered"


def test_secret_linker_lifecycle_writes_the_secret_and_leaves_it_on_delete(credential, linker_client, resources, admin):
    register_kubernetes_configuration(resources)
    linker = linker_client.linker.begin_create_or_update(CLUSTER, "orders_sql", sql_secret_linker()).result()
    assert linker.provisioning_state == "Succeeded" and linker.scope == "shop"
    assert linker.auth_info.auth_type == "secret"
    assert linker.auth_info.secret_info.secret_type == "rawValue"
    assert linker.auth_info.secret_info.value is None  # never returned
    assert [item.name for item in linker_client.linker.list(CLUSTER)] == ["orders_sql"]

    core = k8s.CoreV1Api(kube_client(credential, admin))
    secret = core.read_namespaced_secret("sc-orderssql-secret", "shop")
    values = {k: base64.b64decode(v).decode() for k, v in secret.data.items()}
    assert values == {
        "AZURE_SQL_SERVER": "sql-shop.database.windows.net",
        "AZURE_SQL_PORT": "1433",
        "AZURE_SQL_DATABASE": "orders",
        "AZURE_SQL_USER": "app",
        "AZURE_SQL_PASSWORD": "pw-1",
    }
    configurations = linker_client.linker.list_configurations(CLUSTER, "orders_sql").configurations
    assert {c.name: c.value for c in configurations}["AZURE_SQL_PASSWORD"] == ""
    result = linker_client.linker.begin_validate(CLUSTER, "orders_sql").result()
    assert result.is_connection_available is True

    extensions = SourceControlConfigurationClient(credential, SUB, **arm_kwargs()).extensions
    extension = extensions.get("rg-shop", "Microsoft.ContainerService", "managedClusters", "aks-shop", "sc-extension")
    assert (
        extension.provisioning_state == "Succeeded" and extension.extension_type == "microsoft.servicelinker.connection"
    )

    linker_client.linker.begin_delete(CLUSTER, "orders_sql").result()
    with pytest.raises(ResourceNotFoundError):
        linker_client.linker.get(CLUSTER, "orders_sql")
    assert core.read_namespaced_secret("sc-orderssql-secret", "shop").metadata.name  # left behind, as documented


def test_workload_identity_linker_wires_oidc_service_account_and_federated_credential(
    credential, linker_client, resources, admin
):
    register_kubernetes_configuration(resources)
    msi = ManagedServiceIdentityClient(credential, SUB, **arm_kwargs())
    uami = msi.user_assigned_identities.get("rg-shop", "id-shop-workloads")
    body = {
        "properties": {
            "targetService": {"type": "AzureResource", "id": OPENAI},
            "authInfo": {"authType": "userAssignedIdentity", "clientId": uami.client_id, "subscriptionId": SUB},
            "clientType": "python",
            "scope": "shop",
        }
    }
    linker_client.linker.begin_create_or_update(CLUSTER, "oai_wi", body).result()
    cluster = ContainerServiceClient(credential, SUB, **arm_kwargs()).managed_clusters.get("rg-shop", "aks-shop")
    assert cluster.oidc_issuer_profile.enabled and cluster.security_profile.workload_identity.enabled
    fics = list(msi.federated_identity_credentials.list("rg-shop", "id-shop-workloads"))
    assert [(f.issuer, f.subject) for f in fics] == [
        (cluster.oidc_issuer_profile.issuer_url, f"system:serviceaccount:shop:sc-account-{uami.client_id}")
    ]
    core = k8s.CoreV1Api(kube_client(credential, admin))
    account = core.read_namespaced_service_account(f"sc-account-{uami.client_id}", "shop")
    assert account.metadata.annotations["azure.workload.identity/client-id"] == uami.client_id
    secret = core.read_namespaced_secret("sc-oaiwi-secret", "shop")
    assert set(secret.data) == {"AZURE_OPENAI_BASE", "AZURE_OPENAI_CLIENTID"}
    assignments = [r for r in admin.state()["resources"] if r["type"] == "Microsoft.Authorization/roleAssignments"]
    assert assignments and assignments[0]["properties"]["principalId"] == uami.principal_id


@pytest.mark.parametrize(
    ("name", "auth", "code"),
    [
        ("orders-sql", None, "InvalidResourceName"),
        ("orders_sql", {"authType": "servicePrincipalSecret", "clientId": "a", "principalId": "b", "secret": "c"},
         "UnsupportedAuthType"),
        ("orders_sql", {"authType": "workloadIdentity"}, "InvalidAuthType"),
        ("orders_sql", {"authType": "secret", "name": "app",
                        "secretInfo": {"secretType": "keyVaultSecretUri", "value": "https://x"}}, "InvalidSecretInfo"),
    ],
)  # fmt: skip
def test_linker_bodies_are_validated_like_the_service(linker_client, resources, name, auth, code):
    register_kubernetes_configuration(resources)
    body = sql_secret_linker()
    if auth is not None:
        body["properties"]["authInfo"] = auth
    with pytest.raises(HttpResponseError) as raised:
        linker_client.linker.begin_create_or_update(CLUSTER, name, body).result()
    assert raised.value.status_code == 400 and raised.value.error.code == code


def test_linker_on_an_updating_cluster_fails_with_general_user_error(linker_client, resources, admin):
    register_kubernetes_configuration(resources)
    admin.post("provisioning-state", {"id": CLUSTER, "state": "Updating"})
    with pytest.raises(HttpResponseError) as raised:
        linker_client.linker.begin_create_or_update(CLUSTER, "orders_sql", sql_secret_linker()).result()
    assert "GeneralUserError" in str(raised.value) and "Conflict" in str(raised.value)
    assert linker_client.linker.get(CLUSTER, "orders_sql").provisioning_state == "Failed"


def test_validate_reports_failure_once_the_target_is_gone(linker_client, resources, user_resources):
    register_kubernetes_configuration(resources)
    linker_client.linker.begin_create_or_update(CLUSTER, "orders_sql", sql_secret_linker()).result()
    user_resources.resources.begin_delete_by_id(DATABASE, api_version="2023-08-01").result()
    result = linker_client.linker.begin_validate(CLUSTER, "orders_sql").result()
    assert result.is_connection_available is False
    existence = [d for d in result.validation_detail if d.name == "Target resource existence validated."]
    assert [d.result for d in existence] == ["failure"]


def test_throttling_answers_429_with_retry_after_and_remaining_headers(make_cloud):
    spec = demo_spec()
    spec["throttling"] = {"enabled": True, "reads": [3, 0.5]}
    cloud = make_cloud(spec)
    token = Admin(cloud).token("platform-admin")
    session = requests.Session()
    session.verify = str(cloud.ca_bundle)
    url = f"{cloud.arm_endpoint}{CLUSTER}?api-version=2024-05-01"
    answers = [session.get(url, headers={"Authorization": f"Bearer {token}"}) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers.get("x-ms-ratelimit-remaining-subscription-reads") for a in answers[:3]] == ["2", "1", "0"]
    assert int(answers[3].headers["Retry-After"]) >= 1


def test_sdk_retries_through_injected_transient_faults(credential, admin):
    admin.post(
        "faults",
        {
            "kind": "status",
            "status": 503,
            "service": "arm",
            "method": "GET",
            "path": "managedClusters/aks-shop$",
            "times": 1,
            "retry_after": 0,
        },
    )
    admin.post(
        "faults", {"kind": "reset", "service": "arm", "method": "GET", "path": "managedClusters/aks-shop$", "times": 1}
    )
    containers = ContainerServiceClient(credential, SUB, retry_backoff_factor=0.01, **arm_kwargs())
    assert containers.managed_clusters.get("rg-shop", "aks-shop").name == "aks-shop"
    faults = {f["kind"]: f["hits"] for f in admin.get("faults")["faults"]}
    assert faults == {"status": 1, "reset": 1}


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [(400, "BadRequest", FailureKind.INVALID), (403, "AuthorizationFailed", FailureKind.FORBIDDEN),
     (409, "Conflict", FailureKind.CONFLICT), (503, "ServiceUnavailable", FailureKind.TRANSIENT)],
)  # fmt: skip
def test_an_injected_status_carries_the_code_arm_gives_it(credential, admin, status, code, kind):
    """An injected fault is classified as the real answer would be: a 400 is a refusal, never retried (it once
    said ServiceUnavailable, so a "refused" PUT was retried for 30 s as a transient failure)."""
    admin.post("faults", {"kind": "status", "status": status, "service": "arm", "method": "GET",
                          "path": "managedClusters/aks-shop$", "times": 1, "retry_after": 0})  # fmt: skip
    containers = ContainerServiceClient(credential, SUB, retry_total=0, **arm_kwargs())
    with pytest.raises(HttpResponseError) as raised:
        containers.managed_clusters.get("rg-shop", "aks-shop")
    assert (raised.value.status_code, raised.value.error.code) == (status, code)
    assert classify(raised.value).kind is kind


def test_request_log_classifies_operations(credential, user_resources, admin):
    seq = admin.mark()
    user_resources.tags.begin_update_at_scope(
        DATABASE, {"operation": "Merge", "properties": {"tags": {"a": "b"}}}
    ).result()
    ContainerServiceClient(credential, SUB, **arm_kwargs()).managed_clusters.get("rg-shop", "aks-shop")
    log = [(r["service"], r["method"], r["operation"], r["status"]) for r in admin.requests_since(seq)]
    assert ("arm", "PATCH", "write", 200) in log and ("arm", "GET", "read", 200) in log
