"""Service Connector as recorded traffic and the docs show it, through azure-mgmt-servicelinker 1.2.0b3.

Each test names the FACTS.md section 10 bullet it checks ("What recorded traffic and spec examples show"); key names
come from MicrosoftDocs azure-docs `articles/service-connector/how-to-integrate-sql-database.md`,
`how-to-integrate-openai.md`, `how-to-integrate-cognitive-services.md` and `how-to-integrate-ai-services.md`.
"""

from __future__ import annotations

import os

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.mgmt.servicelinker import ServiceLinkerManagementClient

from tests.conftest import CLUSTER, DATABASE, IDENTITY, OPENAI, RG, SUB, Admin, UserCredential, demo_spec
from tests.fidelity.test_arm_sdk import arm_kwargs, register_kubernetes_configuration, sql_secret_linker

LINKERS = f"{CLUSTER}/providers/Microsoft.ServiceLinker/linkers"
ACCOUNTS = f"{RG}/providers/Microsoft.CognitiveServices/accounts"
PYTHON_SQL_SECRET = ["AZURE_SQL_SERVER", "AZURE_SQL_PORT", "AZURE_SQL_DATABASE", "AZURE_SQL_USER", "AZURE_SQL_PASSWORD"]


def _spec(**top) -> dict:
    """The demo estate with both providers registered and one account of each kind."""
    spec = demo_spec()
    spec.update(top)
    subscription = spec["subscriptions"][0]
    subscription["providers"]["Microsoft.KubernetesConfiguration"] = "Registered"
    subscription["resource_groups"][0]["openai_accounts"] += [
        {"name": "cog-shop", "kind": "CognitiveServices"},
        {"name": "ais-shop", "kind": "AIServices"},
    ]
    return spec


@pytest.fixture
def local(make_cloud, request):
    """`@pytest.mark.parametrize("local", [seconds], indirect=True)` sets the scenario's lro_retry_after."""
    return make_cloud(_spec(lro_retry_after=getattr(request, "param", 0)))


@pytest.fixture
def client(local) -> ServiceLinkerManagementClient:
    from azure.identity import ManagedIdentityCredential

    credential = ManagedIdentityCredential(client_id=os.environ["AZURE_CLIENT_ID"])
    return ServiceLinkerManagementClient(credential, api_version="2024-04-01", **arm_kwargs())


@pytest.fixture
def raw(local):
    """ARM over plain HTTPS as the app's identity, to see status codes and headers the SDK hides."""
    admin = Admin(local)
    session = requests.Session()
    session.verify = str(local.ca_bundle)
    session.trust_env = False
    session.headers["Authorization"] = f"Bearer {admin.token('sc-autopilot')}"

    def call(method: str, path: str, body: dict | None = None) -> requests.Response:
        url = path if path.startswith("https://") else f"{local.arm_endpoint}{path}?api-version=2024-04-01"
        return session.request(method, url, json=body, timeout=30)

    return call


def _uami_client_id(local) -> str:
    state = Admin(local).state()["resources"]
    return next(r for r in state if r["id"].lower() == IDENTITY.lower())["properties"]["clientId"]


def _identity_linker(target: str, client_id: str, client_type: str = "python") -> dict:
    auth = {"authType": "userAssignedIdentity", "clientId": client_id, "subscriptionId": SUB}
    return {
        "properties": {
            "targetService": {"type": "AzureResource", "id": target},
            "authInfo": auth,
            "clientType": client_type,
            "scope": "shop",
        }
    }


def _names(client: ServiceLinkerManagementClient, linker: str) -> list[str]:
    return [c.name for c in client.linker.list_configurations(CLUSTER, linker).configurations]


def test_a_put_on_an_existing_linker_answers_201(raw):
    """FACTS.md 10: "Linker PUT on an EXISTING linker answers 201 (both recordings), like the first PUT"."""
    first = raw("PUT", f"{LINKERS}/orders_sql", sql_secret_linker())
    raw("GET", first.headers["Azure-AsyncOperation"])
    second = raw("PUT", f"{LINKERS}/orders_sql", sql_secret_linker())
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json()["properties"]["provisioningState"] == "Accepted"


@pytest.mark.parametrize("local", [7], indirect=True)
def test_operation_status_documents_and_retry_after(raw):
    """FACTS.md 10: "Operation status while running: "status": "Accepted" (not InProgress); documents carry id,
    resourceId, name, status, startTime, endTime, and the final one properties"; Retry-After per the scenario."""
    put = raw("PUT", f"{LINKERS}/orders_sql", sql_secret_linker())
    assert put.headers["Retry-After"] == "7"
    running = raw("GET", put.headers["Azure-AsyncOperation"])
    assert running.headers["Retry-After"] == "7"
    body = running.json()
    assert body["status"] == "Accepted" and body["resourceId"] == f"{LINKERS}/orders_sql"
    assert body["id"].endswith(f"/operationStatuses/{body['name']}") and body["startTime"]
    assert "endTime" not in body
    done = raw("GET", put.headers["Azure-AsyncOperation"]).json()
    assert done["status"] == "Succeeded" and done["endTime"] >= done["startTime"]
    assert done["properties"] == {"Message": None}


def test_validate_answers_202_with_both_headers_and_a_status_document(raw, client):
    """FACTS.md 10: "validateLinker: 202 with BOTH Azure-AsyncOperation and Location; the result is the status
    document with properties: {isConnectionAvailable, validationDetail[...], sourceId: null, targetId: null}"."""
    client.linker.begin_create_or_update(CLUSTER, "orders_sql", sql_secret_linker()).result()
    answer = raw("POST", f"{LINKERS}/orders_sql/validateLinker")
    assert answer.status_code == 202
    assert "/operationStatuses/" in answer.headers["Azure-AsyncOperation"]
    assert "/operationResults/" in answer.headers["Location"]
    result = client.linker.begin_validate(CLUSTER, "orders_sql").result()
    assert result.status == "Succeeded" and result.resource_id == f"{LINKERS}/orders_sql"
    assert result.is_connection_available is True and result.linker_name == "orders_sql"
    assert result.source_id is None and result.target_id is None
    names = [d.name for d in result.validation_detail]
    assert names[0] == "Target resource existence validated." and all(n.endswith("validated.") for n in names)
    assert {d.description for d in result.validation_detail} == {None}
    assert {d.result for d in result.validation_detail} == {"success"}


def test_validate_of_a_workload_identity_linker_has_five_details(local, client):
    """FACTS.md 10: "validationDetail names are sentences, e.g. ... "Managed Identity permissions validated." (5 items
    for workload identity)"."""
    client.linker.begin_create_or_update(CLUSTER, "oai_wi", _identity_linker(OPENAI, _uami_client_id(local))).result()
    names = [d.name for d in client.linker.begin_validate(CLUSTER, "oai_wi").result().validation_detail]
    assert len(names) == 5 and "Managed Identity permissions validated." in names


def test_get_keeps_secret_info_without_its_value_and_full_system_data(raw, client, local):
    """FACTS.md 10: "GET of a secret-auth linker keeps authInfo.secretInfo: {"secretType": "rawValue"} with the value
    removed" and "systemData: createdBy, createdByType, createdAt, lastModifiedBy, lastModifiedByType,
    lastModifiedAt"."""
    client.linker.begin_create_or_update(CLUSTER, "orders_sql", sql_secret_linker()).result()
    body = raw("GET", f"{LINKERS}/orders_sql").json()
    assert body["properties"]["authInfo"]["secretInfo"] == {"secretType": "rawValue"}
    assert "pw-1" not in str(body)
    created = body["systemData"]
    assert created["createdByType"] == "Application" and created["createdBy"] == local.app_client_id
    assert created["lastModifiedAt"] == created["createdAt"]
    person = ServiceLinkerManagementClient(
        UserCredential(Admin(local), "platform-admin"), api_version="2024-04-01", **arm_kwargs()
    )
    person.linker.begin_create_or_update(CLUSTER, "orders_sql", sql_secret_linker()).result()
    system = client.linker.get(CLUSTER, "orders_sql").system_data
    assert system.created_by == local.app_client_id and system.created_by_type == "Application"
    assert system.last_modified_by == "platform-admin" and system.last_modified_by_type == "User"
    assert system.last_modified_at >= system.created_at


def test_list_configurations_items_carry_an_empty_description_and_no_credential(raw, client):
    """FACTS.md 10: 'listConfigurations items: {name, value, configType, description: ""}; credential values ""'."""
    client.linker.begin_create_or_update(CLUSTER, "orders_sql", sql_secret_linker()).result()
    items = raw("POST", f"{LINKERS}/orders_sql/listConfigurations").json()["configurations"]
    assert {i["description"] for i in items} == {""} and {i["configType"] for i in items} == {"Default"}
    values = {i["name"]: i["value"] for i in items}
    assert values["AZURE_SQL_PASSWORD"] == "" and values["AZURE_SQL_SERVER"] == "sql-shop.database.windows.net"


@pytest.mark.parametrize(
    ("client_type", "names"),
    [
        ("python", PYTHON_SQL_SECRET),
        ("none", PYTHON_SQL_SECRET),
        ("dotnet", ["AZURE_SQL_CONNECTIONSTRING"]),
        ("java", ["AZURE_SQL_CONNECTIONSTRING"]),
        ("go", ["AZURE_SQL_CONNECTIONSTRING"]),
        ("nodejs", ["AZURE_SQL_SERVER", "AZURE_SQL_PORT", "AZURE_SQL_DATABASE", "AZURE_SQL_USERNAME",
                    "AZURE_SQL_PASSWORD"]),
        ("django", ["AZURE_SQL_HOST", "AZURE_SQL_PORT", "AZURE_SQL_NAME", "AZURE_SQL_USER", "AZURE_SQL_PASSWORD"]),
        ("springBoot", ["spring.datasource.url", "spring.datasource.username", "spring.datasource.password"]),
    ],
)  # fmt: skip
def test_sql_secret_key_names_per_client_type(client, client_type, names):
    """FACTS.md 10: "Key names depend on the target kind AND the client type: SQL secret, python: ...; SQL secret,
    dotnet: one AZURE_SQL_CONNECTIONSTRING" (how-to-integrate-sql-database.md, "Connection String")."""
    body = sql_secret_linker()
    body["properties"]["clientType"] = client_type
    client.linker.begin_create_or_update(CLUSTER, "orders_sql", body).result()
    assert _names(client, "orders_sql") == names


def test_customized_keys_rename_the_defaults(client):
    """FACTS.md 2: "configurationInfo.customizedKeys renames keys"."""
    body = sql_secret_linker()
    body["properties"]["configurationInfo"] = {"customizedKeys": {"AZURE_SQL_PASSWORD": "DB_PASSWORD"}}
    client.linker.begin_create_or_update(CLUSTER, "orders_sql", body).result()
    assert "DB_PASSWORD" in _names(client, "orders_sql") and "AZURE_SQL_PASSWORD" not in _names(client, "orders_sql")


@pytest.mark.parametrize(
    ("client_type", "names"),
    [
        ("python", ["AZURE_SQL_SERVER", "AZURE_SQL_PORT", "AZURE_SQL_DATABASE", "AZURE_SQL_USER",
                    "AZURE_SQL_AUTHENTICATION"]),
        ("nodejs", ["AZURE_SQL_SERVER", "AZURE_SQL_PORT", "AZURE_SQL_DATABASE", "AZURE_SQL_AUTHENTICATIONTYPE",
                    "AZURE_SQL_CLIENTID"]),
        ("dotnet", ["AZURE_SQL_CONNECTIONSTRING"]),
    ],
)  # fmt: skip
def test_sql_workload_identity_key_names(local, client, client_type, names):
    """FACTS.md 10: "SQL user-assigned identity (workload identity), python: AZURE_SQL_SERVER/PORT/DATABASE,
    AZURE_SQL_USER and AZURE_SQL_AUTHENTICATION=ActiveDirectoryMsi"."""
    client.linker.begin_create_or_update(
        CLUSTER, "orders_wi", _identity_linker(DATABASE, _uami_client_id(local), client_type)
    ).result()
    configurations = client.linker.list_configurations(CLUSTER, "orders_wi").configurations
    assert [c.name for c in configurations] == names
    if client_type == "python":
        assert {c.name: c.value for c in configurations}["AZURE_SQL_AUTHENTICATION"] == "ActiveDirectoryMsi"


@pytest.mark.parametrize(
    ("account", "names"),
    [
        ("oai-shop", ["AZURE_OPENAI_BASE", "AZURE_OPENAI_CLIENTID"]),
        ("cog-shop", ["AZURE_COGNITIVESERVICES_ENDPOINT", "AZURE_COGNITIVESERVICES_CLIENTID"]),
        ("ais-shop", ["AZURE_AISERVICES_OPENAI_BASE", "AZURE_AISERVICES_COGNITIVESERVICES_ENDPOINT",
                      "AZURE_AISERVICES_SPEECH_ENDPOINT", "AZURE_AISERVICES_CLIENTID"]),
    ],
)  # fmt: skip
@pytest.mark.parametrize("client_type", ["python", "dotnet", "java", "nodejs", "none"])
def test_cognitive_services_key_names_follow_the_account_kind(local, client, account, names, client_type):
    """FACTS.md 10: "Cognitive Services account of kind CognitiveServices: AZURE_COGNITIVESERVICES_ENDPOINT,
    _CLIENTID; kind AIServices: AZURE_AISERVICES_OPENAI_BASE, ..._COGNITIVESERVICES_ENDPOINT, ..._SPEECH_ENDPOINT,
    ..._CLIENTID" — the same for every client type (the docs list one table per auth type)."""
    body = _identity_linker(f"{ACCOUNTS}/{account}", _uami_client_id(local), client_type)
    client.linker.begin_create_or_update(CLUSTER, "ai_wi", body).result()
    assert _names(client, "ai_wi") == names


def test_openai_service_principal_keys(client):
    """FACTS.md 10: "OpenAI service principal adds AZURE_OPENAI_TENANTID (with _CLIENTID, _CLIENTSECRET)"."""
    auth = {"authType": "servicePrincipalSecret", "clientId": "c1", "principalId": "p1", "secret": "s3cr3t"}
    body = {"properties": {"targetService": {"type": "AzureResource", "id": OPENAI}, "authInfo": auth,
                           "clientType": "python", "scope": "shop"}}  # fmt: skip
    client.linker.begin_create_or_update(CLUSTER, "oai_sp", body).result()
    values = {c.name: c.value for c in client.linker.list_configurations(CLUSTER, "oai_sp").configurations}
    assert list(values) == ["AZURE_OPENAI_BASE", "AZURE_OPENAI_CLIENTID", "AZURE_OPENAI_CLIENTSECRET",
                            "AZURE_OPENAI_TENANTID"]  # fmt: skip
    assert values["AZURE_OPENAI_CLIENTSECRET"] == "" and values["AZURE_OPENAI_CLIENTID"] == "c1"


def test_only_the_linkers_own_unregistered_namespace_answers_409(make_cloud):
    """FACTS.md 6: "for the resource's OWN namespace ARM answers HTTP 409 MissingSubscriptionRegistration (e.g.
    Microsoft.ServiceLinker unregistered, on the linker PUT)"."""
    from azure.identity import ManagedIdentityCredential

    spec = _spec()
    spec["subscriptions"][0]["providers"]["Microsoft.ServiceLinker"] = "NotRegistered"
    make_cloud(spec)
    credential = ManagedIdentityCredential(client_id=os.environ["AZURE_CLIENT_ID"])
    client = ServiceLinkerManagementClient(credential, api_version="2024-04-01", **arm_kwargs())
    with pytest.raises(HttpResponseError) as raised:
        client.linker.begin_create_or_update(CLUSTER, "orders_sql", sql_secret_linker())
    assert raised.value.status_code == 409 and raised.value.error.code == "MissingSubscriptionRegistration"
    assert "Microsoft.ServiceLinker" in raised.value.message


def test_kubernetes_configuration_unregistered_is_a_failed_operation(make_cloud):
    """FACTS.md 6: Microsoft.KubernetesConfiguration unregistered -> "connection creation fails with 'Operation
    returned an invalid status code: Conflict'" as a failed operation; registering it lets a retry succeed."""
    from azure.identity import ManagedIdentityCredential
    from azure.mgmt.resource.resources import ResourceManagementClient

    make_cloud(demo_spec())  # the demo: Microsoft.KubernetesConfiguration NotRegistered
    credential = ManagedIdentityCredential(client_id=os.environ["AZURE_CLIENT_ID"])
    client = ServiceLinkerManagementClient(credential, api_version="2024-04-01", **arm_kwargs())
    with pytest.raises(HttpResponseError) as raised:
        client.linker.begin_create_or_update(CLUSTER, "orders_sql", sql_secret_linker()).result()
    assert "GeneralUserError" in str(raised.value)
    assert "Execution failed. Operation returned an invalid status code 'Conflict'" in str(raised.value)
    register_kubernetes_configuration(ResourceManagementClient(credential, SUB, **arm_kwargs()))
    retried = client.linker.begin_create_or_update(CLUSTER, "orders_sql", sql_secret_linker()).result()
    assert retried.provisioning_state == "Succeeded"
