"""Every target Service Connector supports for an AKS source, on the local cloud, through the real SDKs.

The data services are created as a platform engineer would (azure-mgmt-storage, -cosmosdb, -servicebus,
-postgresqlflexibleservers, -redis; the generic ResourceManagementClient for the others), then connected with
azure-mgmt-servicelinker for every auth type an AKS source allows (TARGETS.md sections 1.6 and 2). Expected key
names are copied from TARGETS.md (the how-to-integrate pages), not from the emulator's table; the secret is read with
the `kubernetes` client. One local cloud for the whole module.
"""

from __future__ import annotations

import base64
import copy
import os

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.identity import ManagedIdentityCredential
from azure.mgmt.cosmosdb import CosmosDBManagementClient
from azure.mgmt.postgresqlflexibleservers import PostgreSQLManagementClient
from azure.mgmt.redis import RedisManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.resource.resources.models import GenericResource
from azure.mgmt.servicebus import ServiceBusManagementClient
from azure.mgmt.servicelinker import ServiceLinkerManagementClient
from azure.mgmt.storage import StorageManagementClient
from kubernetes import client as k8s

from emulator.runtime import start
from tests.conftest import CLUSTER, IDENTITY, RG, SUB, Admin, UserCredential, demo_spec
from tests.fidelity.test_arm_sdk import arm_kwargs, kube_client

P = f"{RG}/providers"
STORAGE = f"{P}/Microsoft.Storage/storageAccounts/stshop"
VAULT = f"{P}/Microsoft.KeyVault/vaults/kv-shop"
COSMOS = f"{P}/Microsoft.DocumentDB/databaseAccounts"
SERVICE_BUS = f"{P}/Microsoft.ServiceBus/namespaces/sb-shop"
EVENT_HUBS = f"{P}/Microsoft.EventHub/namespaces/eh-shop"
POSTGRES = f"{P}/Microsoft.DBforPostgreSQL/flexibleServers/pg-shop"
MYSQL = f"{P}/Microsoft.DBforMySQL/flexibleServers/my-shop"
REDIS = f"{P}/Microsoft.Cache/redis/redis-shop"
REDIS_ENTERPRISE = f"{P}/Microsoft.Cache/redisEnterprise/redise-shop"
APP_INSIGHTS = f"{P}/microsoft.insights/components/appi-shop"
APP_CONFIG = f"{P}/Microsoft.AppConfiguration/configurationStores/appcs-shop"
SIGNALR = f"{P}/Microsoft.SignalRService/SignalR/sigr-shop"
WEB_PUBSUB = f"{P}/Microsoft.SignalRService/WebPubSub/wps-shop"
TARGET = {
    "storage-blob": f"{STORAGE}/blobServices/default",
    "storage-queue": f"{STORAGE}/queueServices/default",
    "storage-table": f"{STORAGE}/tableServices/default",
    "storage-file": f"{STORAGE}/fileServices/default",
    "keyvault": VAULT,
    "appconfig": APP_CONFIG,
    "cosmos-sql": f"{COSMOS}/cosmos-sql/sqlDatabases/orders",
    "cosmos-mongo": f"{COSMOS}/cosmos-mongo/mongodbDatabases/orders",
    "cosmos-cassandra": f"{COSMOS}/cosmos-cass/cassandraKeyspaces/orders",
    "cosmos-gremlin": f"{COSMOS}/cosmos-grem/gremlinDatabases/shop/graphs/orders",
    "cosmos-table": f"{COSMOS}/cosmos-tab/tables/orders",
    "eventhub": EVENT_HUBS,
    "servicebus": SERVICE_BUS,
    "redis": f"{REDIS}/databases/0",
    "redis-enterprise": f"{REDIS_ENTERPRISE}/databases/default",
    "app-insights": APP_INSIGHTS,
    "postgres-flexible": f"{POSTGRES}/databases/orders",
    "mysql-flexible": f"{MYSQL}/databases/orders",
    "signalr": SIGNALR,
    "webpubsub": WEB_PUBSUB,
}
WI, SECRET, SP = "userAssignedIdentity", "secret", "servicePrincipalSecret"


def _sp(prefix: str, *head: str) -> list[str]:
    return [*head, f"{prefix}_CLIENTID", f"{prefix}_CLIENTSECRET", f"{prefix}_TENANTID"]


COSMOS_URL = ["AZURE_COSMOS_LISTCONNECTIONSTRINGURL", "AZURE_COSMOS_SCOPE"]
CASSANDRA = ["AZURE_COSMOS_CONTACTPOINT", "AZURE_COSMOS_PORT", "AZURE_COSMOS_KEYSPACE", "AZURE_COSMOS_USERNAME"]
GREMLIN = ["AZURE_COSMOS_HOSTNAME", "AZURE_COSMOS_PORT", "AZURE_COSMOS_USERNAME"]
KEY_URL = ["AZURE_COSMOS_LISTKEYURL", "AZURE_COSMOS_SCOPE", "AZURE_COSMOS_RESOURCEENDPOINT"]
# (target, auth, client type) -> the keys, in order (TARGETS.md section 2 and the per-target tables of section 3)
CASES = {
    **{(f"storage-{s}", auth, "python"): keys for s in ("blob", "queue", "table") for auth, keys in {
        WI: [f"AZURE_STORAGE{s.upper()}_RESOURCEENDPOINT", f"AZURE_STORAGE{s.upper()}_CLIENTID"],
        SECRET: [f"AZURE_STORAGE{s.upper()}_CONNECTIONSTRING"],
        SP: _sp(f"AZURE_STORAGE{s.upper()}", f"AZURE_STORAGE{s.upper()}_RESOURCEENDPOINT"),
    }.items()},
    ("storage-file", SECRET, "python"): ["AZURE_STORAGEFILE_CONNECTIONSTRING"],
    ("storage-blob", WI, "springBoot"): [
        "spring.cloud.azure.storage.blob.credential.managed-identity-enabled",
        "spring.cloud.azure.storage.blob.account-name", "spring.cloud.azure.storage.blob.endpoint",
        "spring.cloud.azure.storage.blob.credential.client-id"],
    ("keyvault", WI, "python"): ["AZURE_KEYVAULT_SCOPE", "AZURE_KEYVAULT_RESOURCEENDPOINT", "AZURE_KEYVAULT_CLIENTID"],
    ("keyvault", SP, "python"): _sp("AZURE_KEYVAULT", "AZURE_KEYVAULT_SCOPE", "AZURE_KEYVAULT_RESOURCEENDPOINT"),
    ("appconfig", WI, "python"): ["AZURE_APPCONFIGURATION_ENDPOINT", "AZURE_APPCONFIGURATION_CLIENTID"],
    ("appconfig", SECRET, "python"): ["AZURE_APPCONFIGURATION_CONNECTIONSTRING"],
    ("appconfig", SP, "python"): _sp("AZURE_APPCONFIGURATION", "AZURE_APPCONFIGURATION_ENDPOINT"),
    **{(f"cosmos-{api}", auth, client): keys for api, client in (("sql", "python"), ("mongo", "nodejs"),
                                                                ("table", "python")) for auth, keys in {
        WI: [*COSMOS_URL, "AZURE_COSMOS_CLIENTID", "AZURE_COSMOS_RESOURCEENDPOINT"],
        SECRET: ["AZURE_COSMOS_CONNECTIONSTRING"],
        SP: [*_sp("AZURE_COSMOS", *COSMOS_URL), "AZURE_COSMOS_RESOURCEENDPOINT"],
    }.items()},
    ("cosmos-cassandra", WI, "python"): [*KEY_URL, *CASSANDRA, "AZURE_COSMOS_CLIENTID"],
    ("cosmos-cassandra", SECRET, "python"): [*CASSANDRA, "AZURE_COSMOS_PASSWORD"],
    ("cosmos-cassandra", SP, "python"): _sp("AZURE_COSMOS", *KEY_URL, *CASSANDRA),
    ("cosmos-gremlin", WI, "python"): [*KEY_URL, *GREMLIN, "AZURE_COSMOS_CLIENTID"],
    ("cosmos-gremlin", SECRET, "python"): [*GREMLIN, "AZURE_COSMOS_PASSWORD"],
    ("cosmos-gremlin", SP, "python"): _sp("AZURE_COSMOS", *KEY_URL, *GREMLIN),
    **{(target, auth, "python"): keys for target, prefix in (("eventhub", "AZURE_EVENTHUB"),
                                                            ("servicebus", "AZURE_SERVICEBUS")) for auth, keys in {
        WI: [f"{prefix}_FULLYQUALIFIEDNAMESPACE", f"{prefix}_CLIENTID"],
        SECRET: [f"{prefix}_CONNECTIONSTRING"],
        SP: _sp(prefix, f"{prefix}_FULLYQUALIFIEDNAMESPACE"),
    }.items()},
    ("eventhub", WI, "kafka-springBoot"): [
        "spring.kafka.bootstrap-servers", "spring.kafka.properties.azure.credential.managed-identity-enabled",
        "spring.kafka.properties.azure.credential.client-id"],
    ("servicebus", SECRET, "springBoot"): ["spring.cloud.azure.servicebus.connection-string"],
    ("redis", WI, "python"): ["AZURE_REDIS_HOST", "AZURE_REDIS_CLIENTID"],
    ("redis", SECRET, "python"): ["AZURE_REDIS_CONNECTIONSTRING"],
    ("redis", SP, "python"): _sp("AZURE_REDIS", "AZURE_REDIS_HOST"),
    ("redis", SECRET, "dotnet"): ["AZURE_REDIS_CONNECTIONSTRING"],
    ("redis", SECRET, "none"): ["AZURE_REDIS_HOST", "AZURE_REDIS_PORT", "AZURE_REDIS_DATABASE", "AZURE_REDIS_PASSWORD",
                                "AZURE_REDIS_SSL"],
    ("redis-enterprise", SECRET, "python"): ["AZURE_REDIS_CONNECTIONSTRING"],
    ("app-insights", SECRET, "python"): ["APPINSIGHTS_INSTRUMENTATIONKEY", "APPLICATIONINSIGHTS_CONNECTION_STRING"],
    ("postgres-flexible", SECRET, "python"): ["AZURE_POSTGRESQL_CONNECTIONSTRING"],
    ("postgres-flexible", SECRET, "django"): ["AZURE_POSTGRESQL_NAME", "AZURE_POSTGRESQL_HOST", "AZURE_POSTGRESQL_USER",
                                              "AZURE_POSTGRESQL_PASSWORD"],
    ("postgres-flexible", SECRET, "none"): ["AZURE_POSTGRESQL_HOST", "AZURE_POSTGRESQL_USERNAME",
                                            "AZURE_POSTGRESQL_DATABASE", "AZURE_POSTGRESQL_PORT",
                                            "AZURE_POSTGRESQL_SSL", "AZURE_POSTGRESQL_PASSWORD"],
    ("postgres-flexible", SECRET, "springBoot"): ["spring.datasource.url", "spring.datasource.username",
                                                  "spring.datasource.password"],
    ("mysql-flexible", SECRET, "python"): ["AZURE_MYSQL_NAME", "AZURE_MYSQL_HOST", "AZURE_MYSQL_USER",
                                           "AZURE_MYSQL_PASSWORD"],
    ("mysql-flexible", SECRET, "dotnet"): ["AZURE_MYSQL_CONNECTIONSTRING"],
    ("mysql-flexible", SECRET, "php"): ["AZURE_MYSQL_DBNAME", "AZURE_MYSQL_HOST", "AZURE_MYSQL_PORT",
                                        "AZURE_MYSQL_FLAG", "AZURE_MYSQL_USERNAME", "AZURE_MYSQL_PASSWORD"],
    **{("signalr", auth, "dotnet"): ["AZURE_SIGNALR_CONNECTIONSTRING"] for auth in (WI, SECRET, SP)},
    ("webpubsub", WI, "python"): ["AZURE_WEBPUBSUB_HOST", "AZURE_WEBPUBSUB_CLIENTID"],
    ("webpubsub", SECRET, "python"): ["AZURE_WEBPUBSUB_CONNECTIONSTRING"],
    ("webpubsub", SP, "python"): _sp("AZURE_WEBPUBSUB", "AZURE_WEBPUBSUB_HOST"),
}  # fmt: skip
# Role definitions assigned to the workload identity (concept-microsoft-entra-roles.md, TARGETS.md section 2)
ROLES = {
    "storage-blob": {"ba92f5b4-2d11-453d-a403-e96b0029c9fe"},
    "storage-queue": {"974c5e8b-45b9-4653-ba55-5f855dd0fb88"},
    "storage-table": {"0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"},
    "keyvault": {"4633458b-17de-408a-b874-0445c86b69e6", "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba"},
    "appconfig": {"516239f1-63e1-4d78-a4de-a74fb236a071"},
    "cosmos-sql": {"5bd9cd88-fe45-4216-938b-f97437e15450"},
    "eventhub": {"a638d3c7-ab3a-418d-83e6-5f17a39d4fde", "2b629674-e913-4c01-ae53-ef4638d8f975"},
    "servicebus": {"4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0", "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39"},
    "signalr": {"7e4f1700-ea5a-4f59-8f37-079cfe29dce3"},
    "webpubsub": {"8cf5e20a-e4b2-4e9d-b3a1-5ceb692c2761"},
    "redis": set(),  # Redis uses data access policies, not an ARM role (TARGETS.md 3.18)
}
CREDENTIAL_SUFFIXES = ("CONNECTIONSTRING", "CONNECTION_STRING", "PASSWORD", "CLIENTSECRET", "KEY", "password",
                       "connection-string", "client-secret")  # fmt: skip


# What Service Connector does with the caller's token on the targets (concept-permission.md): the app's grants in the
# demo scenario cover SQL and Cognitive Services; these are the other targets' (Redis keys left out on purpose).
ON_BEHALF_OF = [
    "Microsoft.Storage/storageAccounts/listkeys/action",
    "Microsoft.DocumentDB/databaseAccounts/listKeys/action",
    "Microsoft.AppConfiguration/configurationStores/ListKeys/action",
    "Microsoft.EventHub/namespaces/authorizationRules/listkeys/action",
    "Microsoft.ServiceBus/namespaces/authorizationRules/listkeys/action",
    "Microsoft.Cache/redisEnterprise/databases/listKeys/action",
    "Microsoft.SignalRService/SignalR/listkeys/action",
    "Microsoft.SignalRService/WebPubSub/listkeys/action",
    "Microsoft.DBforPostgreSQL/flexibleServers/firewallRules/write",
    "Microsoft.DBforMySQL/flexibleServers/firewallRules/write",
]
REDIS_KEYS = "Microsoft.Cache/redis/listKeys/action"


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    spec = demo_spec() | {"throttling": {"enabled": False}}
    spec["subscriptions"][0]["providers"]["Microsoft.KubernetesConfiguration"] = "Registered"
    app = spec["principals"][0]
    app["grants"][0]["actions"] += ON_BEHALF_OF
    app["grants"].append({"scope": f"{P}/Microsoft.Cache/redis/redis-shop", "actions": [REDIS_KEYS]})
    cloud = start(spec, tmp_path_factory.mktemp("sc-targets"))
    with pytest.MonkeyPatch.context() as patch:
        for key, value in cloud.environment().items():
            patch.setenv(key, value)
        yield cloud
    cloud.stop()


@pytest.fixture(scope="module")
def admin(local) -> Admin:
    return Admin(local)


@pytest.fixture(scope="module")
def person(admin):
    return UserCredential(admin, "platform-admin")


@pytest.fixture(scope="module")
def app_credential(local):
    return ManagedIdentityCredential(client_id=os.environ["AZURE_CLIENT_ID"])


@pytest.fixture(scope="module")
def linkers(app_credential) -> ServiceLinkerManagementClient:
    return ServiceLinkerManagementClient(app_credential, api_version="2024-04-01", **arm_kwargs())


def _arm(local, admin, method: str, path: str, api_version: str, body: dict | None = None) -> requests.Response:
    """Plain HTTPS as the platform engineer: the actions the generic client has no method for (listKeys)."""
    session = requests.Session()
    session.verify, session.trust_env = str(local.ca_bundle), False
    url = f"{local.arm_endpoint}{path}?api-version={api_version}"
    headers = {"Authorization": f"Bearer {admin.token('platform-admin')}"}
    return session.request(method, url, json=body, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def estate(local, person):
    """The data services, created through ARM with their providers' own SDKs where installed."""
    kwargs = arm_kwargs()
    storage = StorageManagementClient(person, SUB, **kwargs)
    storage.storage_accounts.begin_create(
        "rg-shop", "stshop", {"sku": {"name": "Standard_LRS"}, "kind": "StorageV2", "location": "westeurope"}
    ).result()
    cosmos = CosmosDBManagementClient(person, SUB, **kwargs)
    for name, kind, capability in (("cosmos-sql", "GlobalDocumentDB", None), ("cosmos-mongo", "MongoDB", None),
                                   ("cosmos-cass", "GlobalDocumentDB", "EnableCassandra"),
                                   ("cosmos-grem", "GlobalDocumentDB", "EnableGremlin"),
                                   ("cosmos-tab", "GlobalDocumentDB", "EnableTable")):  # fmt: skip
        properties = {"databaseAccountOfferType": "Standard", "locations": [{"locationName": "westeurope"}],
                      "capabilities": [{"name": capability}] if capability else []}  # fmt: skip
        body = {"location": "westeurope", "kind": kind, "properties": properties}
        cosmos.database_accounts.begin_create_or_update("rg-shop", name, body).result()
    orders = {"resource": {"id": "orders"}, "options": {}}
    cosmos.sql_resources.begin_create_update_sql_database("rg-shop", "cosmos-sql", "orders", orders).result()
    cosmos.mongo_db_resources.begin_create_update_mongo_db_database(
        "rg-shop", "cosmos-mongo", "orders", orders
    ).result()
    cosmos.cassandra_resources.begin_create_update_cassandra_keyspace(
        "rg-shop", "cosmos-cass", "orders", orders
    ).result()
    cosmos.gremlin_resources.begin_create_update_gremlin_database(
        "rg-shop", "cosmos-grem", "shop", {"resource": {"id": "shop"}, "options": {}}
    ).result()
    cosmos.gremlin_resources.begin_create_update_gremlin_graph(
        "rg-shop", "cosmos-grem", "shop", "orders", orders
    ).result()
    cosmos.table_resources.begin_create_update_table("rg-shop", "cosmos-tab", "orders", orders).result()
    ServiceBusManagementClient(person, SUB, **kwargs).namespaces.begin_create_or_update(
        "rg-shop", "sb-shop", {"location": "westeurope", "sku": {"name": "Standard", "tier": "Standard"}}
    ).result()
    postgres = PostgreSQLManagementClient(person, SUB, **kwargs)
    server = {"location": "westeurope", "sku": {"name": "Standard_B1ms", "tier": "Burstable"},
              "properties": {"administratorLogin": "pgadmin", "administratorLoginPassword": "Admin-Pw-1"}}  # fmt: skip
    postgres.servers.begin_create_or_update("rg-shop", "pg-shop", server).result()
    postgres.databases.begin_create("rg-shop", "pg-shop", "orders", {"properties": {"charset": "UTF8"}}).result()
    RedisManagementClient(person, SUB, **kwargs).redis.begin_create(
        "rg-shop", "redis-shop", {"location": "westeurope", "sku": {"name": "Standard", "family": "C", "capacity": 1}}
    ).result()
    generic = ResourceManagementClient(person, SUB, **kwargs).resources
    for resource_id, version, sku in ((EVENT_HUBS, "2024-01-01", {"name": "Standard"}),
                                      (MYSQL, "2023-12-30", {"name": "Standard_B1ms", "tier": "Burstable"}),
                                      (f"{MYSQL}/databases/orders", "2023-12-30", None),
                                      (APP_CONFIG, "2024-05-01", {"name": "standard"}),
                                      (SIGNALR, "2024-03-01", {"name": "Standard_S1"}),
                                      (WEB_PUBSUB, "2024-03-01", {"name": "Standard_S1"}),
                                      (REDIS_ENTERPRISE, "2024-10-01", {"name": "Enterprise_E10"}),
                                      (APP_INSIGHTS, "2020-02-02", None)):  # fmt: skip
        body = GenericResource(location=None if "/databases/" in resource_id else "westeurope", sku=sku, properties={})
        generic.begin_create_or_update_by_id(resource_id, body, api_version=version).result()
    return {"storage": storage, "cosmos": cosmos}


def _uami(admin) -> dict:
    return next(r for r in admin.state()["resources"] if r["id"].lower() == IDENTITY.lower())


def _auth(auth: str, admin) -> dict:
    if auth == WI:
        return {"authType": WI, "clientId": _uami(admin)["properties"]["clientId"], "subscriptionId": SUB}
    if auth == SP:
        return {"authType": SP, "clientId": "sp-client", "principalId": "sp-object", "secret": "Sp-Secret-1"}
    return {"authType": SECRET}


def _linker(target: str, auth: dict, client_type: str = "python", **target_service) -> dict:
    return {
        "properties": {
            "targetService": {"type": "AzureResource", "id": TARGET.get(target, target), **target_service},
            "authInfo": copy.deepcopy(auth),
            "clientType": client_type,
            "scope": "shop",
        }
    }


@pytest.fixture(scope="module")
def core(app_credential, admin) -> k8s.CoreV1Api:
    return k8s.CoreV1Api(kube_client(app_credential, admin))


def _secret(core: k8s.CoreV1Api, linker_name: str) -> dict[str, str]:
    secret = core.read_namespaced_secret(f"sc-{linker_name.replace('_', '').lower()}-secret", "shop")
    return {k: base64.b64decode(v).decode() for k, v in secret.data.items()}


@pytest.mark.parametrize(("target", "auth", "client_type"), list(CASES), ids=["-".join(case) for case in CASES])
def test_each_target_auth_and_client_type_writes_the_documented_keys(
    estate, linkers, admin, core, target, auth, client_type
):
    """TARGETS.md sections 1.5 and 2: the keys per client type and auth type; listConfigurations blanks credentials
    (D-AKS); the Kubernetes secret holds them all."""
    body = _linker(target, _auth(auth, admin), client_type)
    if target in ("postgres-flexible", "mysql-flexible"):
        body["properties"]["authInfo"] = {"authType": SECRET, "name": "app",
                                          "secretInfo": {"secretType": "rawValue", "value": "App-Pw-1"}}  # fmt: skip
    name = f"{target}_{auth}_{client_type}".replace("-", "_")
    linker = linkers.linker.begin_create_or_update(CLUSTER, name, body).result()
    assert linker.provisioning_state == "Succeeded" and linker.target_service.id == TARGET[target]
    configurations = linkers.linker.list_configurations(CLUSTER, name).configurations
    assert [c.name for c in configurations] == CASES[(target, auth, client_type)]
    blank = {c.name for c in configurations if c.value == ""}
    credentials = {c.name for c in configurations if c.name.endswith(CREDENTIAL_SUFFIXES)}
    if (target, auth) == ("signalr", WI):  # `Endpoint=…;AuthType=aad;client-id=…`: no credential in it (INFERRED)
        credentials = set()
    assert blank == credentials
    data = _secret(core, name)
    assert set(data) == set(CASES[(target, auth, client_type)]) and all(data.values())
    assert "App-Pw-1" in "".join(data.values()) or target not in ("postgres-flexible", "mysql-flexible")


def test_secret_values_carry_the_keys_the_provider_lists(local, estate, linkers, admin, core):
    """TARGETS.md 1.8: Service Connector fetches the key itself; the values have each page's form."""
    secret = _auth(SECRET, admin)
    for name, target in (("blob", "storage-blob"), ("cosmos", "cosmos-sql"), ("bus", "servicebus"),
                         ("cache", "redis"), ("config", "appconfig"), ("pubsub", "webpubsub")):  # fmt: skip
        linkers.linker.begin_create_or_update(CLUSTER, f"values_{name}", _linker(target, secret)).result()
    storage_key = estate["storage"].storage_accounts.list_keys("rg-shop", "stshop")["keys"][0]["value"]
    assert _secret(core, "values_blob")["AZURE_STORAGEBLOB_CONNECTIONSTRING"] == (
        f"DefaultEndpointsProtocol=https;AccountName=stshop;AccountKey={storage_key};EndpointSuffix=core.windows.net"
    )
    cosmos_key = estate["cosmos"].database_accounts.list_keys("rg-shop", "cosmos-sql").primary_master_key
    assert _secret(core, "values_cosmos")["AZURE_COSMOS_CONNECTIONSTRING"] == (
        f"AccountEndpoint=https://cosmos-sql.documents.azure.com:443/;AccountKey={cosmos_key};"
    )
    rule = _arm(local, admin, "POST", f"{SERVICE_BUS}/authorizationRules/RootManageSharedAccessKey/listKeys",
                "2024-01-01").json()  # fmt: skip
    assert _secret(core, "values_bus")["AZURE_SERVICEBUS_CONNECTIONSTRING"] == (rule["primaryConnectionString"])
    redis_key = _arm(local, admin, "POST", f"{REDIS}/listKeys", "2024-11-01").json()["primaryKey"]
    assert _secret(core, "values_cache")["AZURE_REDIS_CONNECTIONSTRING"] == (
        f"rediss://:{redis_key}@redis-shop.redis.cache.windows.net:6380/0"
    )
    store_keys = _arm(local, admin, "POST", f"{APP_CONFIG}/listKeys", "2024-05-01").json()["value"]
    primary = next(k for k in store_keys if k["name"] == "Primary")
    assert _secret(core, "values_config")["AZURE_APPCONFIGURATION_CONNECTIONSTRING"] == (primary["connectionString"])
    assert primary["connectionString"].startswith("Endpoint=https://appcs-shop.azconfig.io;Id=")
    pubsub = _arm(local, admin, "POST", f"{WEB_PUBSUB}/listKeys", "2024-03-01").json()
    assert _secret(core, "values_pubsub")["AZURE_WEBPUBSUB_CONNECTIONSTRING"] == (pubsub["primaryConnectionString"])


def test_user_provided_secrets_build_the_documented_connection_strings(estate, linkers, admin, core):
    """TARGETS.md 3.2/3.3: PostgreSQL python and MySQL dotnet connection strings from the host, database and user."""
    user = {"authType": SECRET, "name": "app", "secretInfo": {"secretType": "rawValue", "value": "App-Pw-1"}}
    linkers.linker.begin_create_or_update(CLUSTER, "pg_form", _linker("postgres-flexible", user)).result()
    linkers.linker.begin_create_or_update(CLUSTER, "my_form", _linker("mysql-flexible", user, "dotnet")).result()
    assert _secret(core, "pg_form") == {
        "AZURE_POSTGRESQL_CONNECTIONSTRING": "dbname=orders host=pg-shop.postgres.database.azure.com port=5432 "
        "sslmode=require user=app password=App-Pw-1"
    }
    assert _secret(core, "my_form")["AZURE_MYSQL_CONNECTIONSTRING"] == (
        "Server=my-shop.mysql.database.azure.com;Database=orders;Port=3306;User Id=app;Password=App-Pw-1;"
        "SSL Mode=Required"
    )
    rules = {r["type"] for r in admin.state()["resources"] if r["type"].endswith("/firewallRules")}
    assert {"Microsoft.DBforPostgreSQL/flexibleServers/firewallRules",
            "Microsoft.DBforMySQL/flexibleServers/firewallRules"} <= rules  # fmt: skip


@pytest.mark.parametrize("target", sorted(ROLES))
def test_workload_identity_gets_the_documented_roles_on_the_target(local, estate, linkers, admin, target):
    """TARGETS.md section 2, "WI role" (concept-microsoft-entra-roles.md), assigned to the identity's principal."""
    name = f"role_{target.replace('-', '_')}"
    linkers.linker.begin_create_or_update(CLUSTER, name, _linker(target, _auth(WI, admin))).result()
    scope = TARGET[target].split("/blobServices/")[0].split("/queueServices/")[0].split("/tableServices/")[0]
    scope = scope.split("/sqlDatabases/")[0].split("/databases/")[0]
    answer = _arm(local, admin, "GET", f"{scope}/providers/Microsoft.Authorization/roleAssignments", "2022-04-01")
    principal = _uami(admin)["properties"]["principalId"]
    assigned = {a["properties"]["roleDefinitionId"].rsplit("/", 1)[-1] for a in answer.json()["value"]
                if a["properties"]["principalId"] == principal}  # fmt: skip
    assert ROLES[target] <= assigned if ROLES[target] else assigned == set()


def test_service_connector_fetches_keys_with_the_callers_rights(estate, linkers, admin, person):
    """concept-permission.md (on-behalf-of: the intersection of Service Connector's and the caller's permissions): the
    app may list the keys of redis-shop only; a linker to another cache fails with the caller's AuthorizationFailed."""
    other = f"{P}/Microsoft.Cache/redis/redis-three"
    generic = ResourceManagementClient(person, SUB, **arm_kwargs()).resources
    body = GenericResource(location="westeurope", properties={})
    generic.begin_create_or_update_by_id(other, body, api_version="2024-11-01").result()
    with pytest.raises(HttpResponseError) as raised:
        linker = _linker(f"{other}/databases/0", {"authType": SECRET})
        linkers.linker.begin_create_or_update(CLUSTER, "no_keys", linker).result()
    assert "AuthorizationFailed" in str(raised.value) and REDIS_KEYS in str(raised.value)
    assert linkers.linker.get(CLUSTER, "no_keys").provisioning_state == "Failed"


def test_key_vault_csi_mode_uses_the_add_on_identity(local, estate, linkers, admin, core):
    """TARGETS.md 3.9: `connectAsKubernetesCsiDriver`, no auth arguments; SC enables the add-on and writes the
    vault's name, the tenant and the add-on identity's client id."""
    body = _linker("keyvault", {"authType": WI}, "none",
                   resourceProperties={"type": "KeyVault", "connectAsKubernetesCsiDriver": True})  # fmt: skip
    linker = linkers.linker.begin_create_or_update(CLUSTER, "kv_csi", body).result()
    assert linker.target_service.resource_properties.connect_as_kubernetes_csi_driver is True
    cluster = _arm(local, admin, "GET", CLUSTER, "2025-07-01").json()
    addon = cluster["properties"]["addonProfiles"]["azureKeyvaultSecretsProvider"]
    assert addon["enabled"] is True
    assert _secret(core, "kv_csi") == {
        "AZURE_KEYVAULT_TENANTID": local.tenant_id,
        "AZURE_KEYVAULT_NAME": "kv-shop",
        "AZURE_KEYVAULT_CLIENTID": addon["identity"]["clientId"],
    }
    assignments = _arm(local, admin, "GET", f"{VAULT}/providers/Microsoft.Authorization/roleAssignments", "2022-04-01")
    assert addon["identity"]["objectId"] in {a["properties"]["principalId"] for a in assignments.json()["value"]}


@pytest.mark.parametrize(
    ("target", "auth", "code"),
    [
        (STORAGE, {"authType": SECRET}, "UnsupportedTargetType"),  # the account, not blobServices/default
        (f"{REDIS}/databases/16", {"authType": SECRET}, "UnsupportedTargetType"),
        (f"{COSMOS}/cosmos-sql/sqlDatabases/missing", {"authType": SECRET}, "TargetNotFound"),
        ("keyvault", {"authType": SECRET}, "UnsupportedAuthType"),
        ("storage-file", None, "UnsupportedAuthType"),  # workload identity: Azure Files takes secrets only
        ("redis-enterprise", None, "UnsupportedAuthType"),
        ("app-insights", None, "UnsupportedAuthType"),
        ("postgres-flexible", None, "UnsupportedAuthType"),
        ("postgres-flexible", {"authType": SECRET}, "InvalidSecretInfo"),  # user-provided: name + rawValue
        ("servicebus", {"authType": SECRET, "name": "x", "secretInfo": {"secretType": "rawValue", "value": "y"}},
         "InvalidSecretInfo"),  # Service Connector fetches it
    ],
)  # fmt: skip
def test_wrong_shapes_and_disallowed_auth_types_are_refused(estate, linkers, admin, target, auth, code):
    """azure-docs how-to-troubleshoot-front-end-error.md: "Unknown resource type" (wrong target id) and "Unsupported
    resource" (auth type not supported for the source-target combination); the codes are ours (docs/emulator.md)."""
    with pytest.raises(HttpResponseError) as raised:
        linkers.linker.begin_create_or_update(CLUSTER, "refused", _linker(target, auth or _auth(WI, admin))).result()
    assert (raised.value.status_code, raised.value.error.code) == (400, code)
    if target == STORAGE:
        assert "blobServices/default" in raised.value.error.message
    if code == "UnsupportedAuthType":
        assert "Supported:" in raised.value.error.message


def test_arm_lists_tags_and_raises_events_for_the_new_types(local, estate, admin, person):
    """Tracked types appear in `/resources` (tag filter), tag writes and PUTs raise ResourceWriteSuccess with the
    type's operationName; a Cosmos DB account refuses a database of another API."""
    generic = ResourceManagementClient(person, SUB, **arm_kwargs())
    since = len(admin.get("events", schema="eventgrid")["events"])
    for resource_id in (STORAGE, REDIS, POSTGRES, SERVICE_BUS, f"{COSMOS}/cosmos-sql", APP_CONFIG, SIGNALR):
        merge = {"operation": "Merge", "properties": {"tags": {"sc-group": "shop"}}}
        generic.tags.begin_update_at_scope(resource_id, merge).result()
    listed = {r.type for r in generic.resources.list(filter="tagName eq 'sc-group'")}
    assert {"Microsoft.Storage/storageAccounts", "Microsoft.Cache/Redis", "Microsoft.DBforPostgreSQL/flexibleServers",
            "Microsoft.ServiceBus/Namespaces", "Microsoft.DocumentDB/databaseAccounts",
            "Microsoft.AppConfiguration/configurationStores", "Microsoft.SignalRService/SignalR"} <= listed  # fmt: skip
    events = admin.get("events", schema="eventgrid", since=since)["events"]
    tag_subjects = {e["subject"] for e in events if e["data"]["operationName"] == "Microsoft.Resources/tags/write"}
    assert f"{REDIS}/providers/Microsoft.Resources/tags/default" in tag_subjects
    generic.resources.begin_create_or_update_by_id(
        f"{P}/Microsoft.Cache/redis/redis-two",
        GenericResource(location="westeurope", properties={}),
        api_version="2024-11-01",
    ).result()
    writes = admin.get("events", schema="eventgrid", since=since)["events"]
    assert any(e["eventType"] == "Microsoft.Resources.ResourceWriteSuccess"
               and e["data"]["operationName"] == "Microsoft.Cache/redis/write" for e in writes)  # fmt: skip
    postgres = PostgreSQLManagementClient(person, SUB, **arm_kwargs())
    postgres.databases.begin_create("rg-shop", "pg-shop", "scratch", {"properties": {}}).result()
    postgres.databases.begin_delete("rg-shop", "pg-shop", "scratch").result()  # 202 + an operation, as the SDK expects
    deletes = admin.get("events", schema="eventgrid", since=since)["events"]
    assert [e["subject"] for e in deletes if e["eventType"] == "Microsoft.Resources.ResourceDeleteSuccess"] == [
        f"{POSTGRES}/databases/scratch"
    ]
    assert [d.name for d in postgres.databases.list_by_server("rg-shop", "pg-shop")] == ["orders", "postgres"]
    with pytest.raises(HttpResponseError) as raised:
        estate["cosmos"].sql_resources.begin_create_update_sql_database(
            "rg-shop", "cosmos-mongo", "wrong", {"resource": {"id": "wrong"}, "options": {}}
        ).result()
    assert raised.value.status_code == 400


def test_validate_follows_the_target_resource(estate, linkers, admin, person):
    """D-AKS: validate reports success for an AKS source, unless the target is gone (a Redis database index is not an
    ARM resource: the cache is what must exist)."""
    cache = f"{P}/Microsoft.Cache/redis/redis-gone"
    generic = ResourceManagementClient(person, SUB, **arm_kwargs()).resources
    body = GenericResource(location="westeurope", properties={})
    generic.begin_create_or_update_by_id(cache, body, api_version="2024-11-01").result()
    linkers.linker.begin_create_or_update(CLUSTER, "gone", _linker(f"{cache}/databases/3", _auth(WI, admin))).result()
    assert linkers.linker.begin_validate(CLUSTER, "gone").result().is_connection_available is True
    generic.begin_delete_by_id(cache, api_version="2024-11-01").result()
    assert linkers.linker.begin_validate(CLUSTER, "gone").result().is_connection_available is False
    names = [c.name for c in linkers.linker.list_configurations(CLUSTER, "gone").configurations]
    assert names == ["AZURE_REDIS_HOST", "AZURE_REDIS_CLIENTID"]  # as written, though the cache is gone
