"""`az aks connection create <target>` for every target type the real Azure CLI offers for AKS, against the local
cloud: one connection per type, with an auth type the CLI allows for it (TARGETS.md 1.6), plus Key Vault's
`--enable-csi`; then `list`, one `list-configuration` and the secrets through kubectl. The data services come from the
scenario's shorthand keys. ~30 az invocations: about 100 s on a loaded 2-core machine."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time

from tests.conftest import CLUSTER, IDENTITY, RG, demo_spec
from tests.fidelity.azcli.shell import AZ_VENV, KUBECTL, MARKS, Shell, together

pytestmark = MARKS
P = f"{RG}/providers"
COSMOS = f"{P}/Microsoft.DocumentDB/databaseAccounts"
LINKERS = f"{CLUSTER}/providers/Microsoft.ServiceLinker/linkers"
WI = ("--workload-identity", IDENTITY)
SECRET = ("--secret",)
USER = ("--secret", "name=app", "secret=App-Pw-1")
SP = ("--service-principal", "client-id=00000000-0000-0000-0000-0000000000c1",
      "object-id=00000000-0000-0000-0000-0000000000b1", "secret=Sp-Secret-1")  # fmt: skip
# target command -> (target id, auth arguments, client type, the keys TARGETS.md documents for it)
CONNECTIONS = {
    "storage-blob": (f"{P}/Microsoft.Storage/storageAccounts/stshop/blobServices/default", WI, "python",
                     {"AZURE_STORAGEBLOB_RESOURCEENDPOINT", "AZURE_STORAGEBLOB_CLIENTID"}),
    "storage-queue": (f"{P}/Microsoft.Storage/storageAccounts/stshop/queueServices/default", SECRET, "python",
                      {"AZURE_STORAGEQUEUE_CONNECTIONSTRING"}),
    "storage-table": (f"{P}/Microsoft.Storage/storageAccounts/stshop/tableServices/default", SP, "python",
                      {"AZURE_STORAGETABLE_RESOURCEENDPOINT", "AZURE_STORAGETABLE_CLIENTID",
                       "AZURE_STORAGETABLE_CLIENTSECRET", "AZURE_STORAGETABLE_TENANTID"}),
    "storage-file": (f"{P}/Microsoft.Storage/storageAccounts/stshop/fileServices/default", SECRET, "python",
                     {"AZURE_STORAGEFILE_CONNECTIONSTRING"}),
    "keyvault": (f"{P}/Microsoft.KeyVault/vaults/kv-shop", WI, "python",
                 {"AZURE_KEYVAULT_SCOPE", "AZURE_KEYVAULT_RESOURCEENDPOINT", "AZURE_KEYVAULT_CLIENTID"}),
    "appconfig": (f"{P}/Microsoft.AppConfiguration/configurationStores/appcs-shop", SECRET, "python",
                  {"AZURE_APPCONFIGURATION_CONNECTIONSTRING"}),
    "cosmos-sql": (f"{COSMOS}/cosmos-sql/sqlDatabases/orders", WI, "python",
                   {"AZURE_COSMOS_LISTCONNECTIONSTRINGURL", "AZURE_COSMOS_SCOPE", "AZURE_COSMOS_CLIENTID",
                    "AZURE_COSMOS_RESOURCEENDPOINT"}),
    "cosmos-mongo": (f"{COSMOS}/cosmos-mongo/mongodbDatabases/orders", SECRET, "nodejs",
                     {"AZURE_COSMOS_CONNECTIONSTRING"}),
    "cosmos-cassandra": (f"{COSMOS}/cosmos-cass/cassandraKeyspaces/orders", SECRET, "python",
                         {"AZURE_COSMOS_CONTACTPOINT", "AZURE_COSMOS_PORT", "AZURE_COSMOS_KEYSPACE",
                          "AZURE_COSMOS_USERNAME", "AZURE_COSMOS_PASSWORD"}),
    "cosmos-gremlin": (f"{COSMOS}/cosmos-grem/gremlinDatabases/shop/graphs/orders", SECRET, "python",
                       {"AZURE_COSMOS_HOSTNAME", "AZURE_COSMOS_PORT", "AZURE_COSMOS_USERNAME",
                        "AZURE_COSMOS_PASSWORD"}),
    "cosmos-table": (f"{COSMOS}/cosmos-tab/tables/orders", SECRET, "python", {"AZURE_COSMOS_CONNECTIONSTRING"}),
    "eventhub": (f"{P}/Microsoft.EventHub/namespaces/eh-shop", WI, "python",
                 {"AZURE_EVENTHUB_FULLYQUALIFIEDNAMESPACE", "AZURE_EVENTHUB_CLIENTID"}),
    "servicebus": (f"{P}/Microsoft.ServiceBus/namespaces/sb-shop", SECRET, "python",
                   {"AZURE_SERVICEBUS_CONNECTIONSTRING"}),
    "redis": (f"{P}/Microsoft.Cache/redis/redis-shop/databases/0", SECRET, "python", {"AZURE_REDIS_CONNECTIONSTRING"}),
    "redis-enterprise": (f"{P}/Microsoft.Cache/redisEnterprise/redise-shop/databases/default", SECRET, "python",
                         {"AZURE_REDIS_CONNECTIONSTRING"}),
    "postgres-flexible": (f"{P}/Microsoft.DBforPostgreSQL/flexibleServers/pg-shop/databases/orders", USER, "python",
                          {"AZURE_POSTGRESQL_CONNECTIONSTRING"}),
    "mysql-flexible": (f"{P}/Microsoft.DBforMySQL/flexibleServers/my-shop/databases/orders", USER, "python",
                       {"AZURE_MYSQL_NAME", "AZURE_MYSQL_HOST", "AZURE_MYSQL_USER", "AZURE_MYSQL_PASSWORD"}),
    "signalr": (f"{P}/Microsoft.SignalRService/SignalR/sigr-shop", SECRET, "dotnet",
                {"AZURE_SIGNALR_CONNECTIONSTRING"}),
    "webpubsub": (f"{P}/Microsoft.SignalRService/WebPubSub/wps-shop", WI, "python",
                  {"AZURE_WEBPUBSUB_HOST", "AZURE_WEBPUBSUB_CLIENTID"}),
    "app-insights": (f"{P}/microsoft.insights/components/appi-shop", SECRET, "python",
                     {"APPINSIGHTS_INSTRUMENTATIONKEY", "APPLICATIONINSIGHTS_CONNECTION_STRING"}),
}  # fmt: skip


def _spec() -> dict:
    spec = demo_spec() | {"lro_retry_after": 1, "throttling": {"enabled": False}}
    spec["subscriptions"][0]["providers"]["Microsoft.KubernetesConfiguration"] = "Registered"
    spec["subscriptions"][0]["resource_groups"][0].update(
        storage_accounts=[{"name": "stshop"}],
        app_configuration_stores=[{"name": "appcs-shop"}],
        cosmos_accounts=[{"name": "cosmos-sql", "databases": ["orders"]},
                         {"name": "cosmos-mongo", "api": "mongodb", "databases": ["orders"]},
                         {"name": "cosmos-cass", "api": "cassandra", "databases": ["orders"]},
                         {"name": "cosmos-grem", "api": "gremlin", "databases": ["shop/orders"]},
                         {"name": "cosmos-tab", "api": "table", "databases": ["orders"]}],
        event_hubs_namespaces=[{"name": "eh-shop"}],
        service_bus_namespaces=[{"name": "sb-shop"}],
        redis_caches=[{"name": "redis-shop"}],
        redis_enterprises=[{"name": "redise-shop"}],
        postgres_servers=[{"name": "pg-shop", "databases": ["orders"]}],
        mysql_servers=[{"name": "my-shop", "databases": ["orders"]}],
        signalr_services=[{"name": "sigr-shop"}],
        web_pubsubs=[{"name": "wps-shop"}],
        app_insights=[{"name": "appi-shop"}],
    )  # fmt: skip
    return spec


def _create(shell: Shell, command: str) -> dict:
    target_id, auth, client_type, _ = CONNECTIONS[command]
    name = command.replace("-", "_")
    return shell.az("aks", "connection", "create", command, "--connection", name, "--source-id", CLUSTER,
                    "--target-id", target_id, *auth, "--client-type", client_type,
                    "--kube-namespace", "shop")  # fmt: skip


def test_every_aks_target_command_of_the_azure_cli_connects(make_cloud, tmp_path, request):
    started = time.monotonic()
    shell = Shell(make_cloud(_spec()), tmp_path)
    shell.log_in()
    commands = sorted(CONNECTIONS)
    created = {}
    for batch in range(0, len(commands), 5):
        names = commands[batch : batch + 5]
        for command, connection in zip(names, together(*[lambda c=c: _create(shell, c) for c in names]), strict=True):
            created[command] = connection
    for command, connection in created.items():
        target_id, auth, _, _ = CONNECTIONS[command]
        assert connection["provisioningState"] == "Succeeded", command
        assert connection["targetService"]["id"].lower() == target_id.lower(), command
        expected_auth = {"--workload-identity": "userAssignedIdentity", "--secret": "secret",
                         "--service-principal": "servicePrincipalSecret"}[auth[0]]  # fmt: skip
        assert connection["authInfo"]["authType"] == expected_auth, command
    csi, configurations, _ = together(
        lambda: shell.az("aks", "connection", "create", "keyvault", "--connection", "keyvault_csi", "--source-id",
                         CLUSTER, "--target-id", CONNECTIONS["keyvault"][0], "--enable-csi", "--client-type", "none",
                         "--kube-namespace", "shop"),
        lambda: shell.az("aks", "connection", "list-configuration", "--id", f"{LINKERS}/postgres_flexible"),
        lambda: shell.run("aks", "get-credentials", "-g", "rg-shop", "-n", "aks-shop", "--file", str(shell.kubeconfig)),
    )  # fmt: skip
    # TARGETS.md 3.9: `--enable-csi` sends resourceProperties.connectAsKubernetesCsiDriver, no auth arguments
    assert csi["targetService"]["resourceProperties"]["connectAsKubernetesCsiDriver"] is True
    assert csi["authInfo"]["authType"] == "userAssignedIdentity" and csi["provisioningState"] == "Succeeded"
    listed = shell.az("aks", "connection", "list", "--source-id", CLUSTER)
    assert sorted(c["name"] for c in listed) == sorted([*(c.replace("-", "_") for c in commands), "keyvault_csi"])
    # D-AKS: listConfigurations shows a credential as ""
    assert [(c["name"], c["value"]) for c in configurations["configurations"]] == [
        ("AZURE_POSTGRESQL_CONNECTIONSTRING", "")
    ]
    secrets = json.loads(shell.run("get", "secrets", "-n", "shop", "-o", "json", program=KUBECTL))["items"]
    data = {s["metadata"]["name"]: s["data"] for s in secrets}
    for command in commands:
        keys = data[f"sc-{command.replace('-', '')}-secret"]
        assert set(keys) == CONNECTIONS[command][3], command
    assert set(data["sc-keyvaultcsi-secret"]) == {"AZURE_KEYVAULT_TENANTID", "AZURE_KEYVAULT_NAME",
                                                  "AZURE_KEYVAULT_CLIENTID"}  # fmt: skip
    pg = base64.b64decode(data["sc-postgresflexible-secret"]["AZURE_POSTGRESQL_CONNECTIONSTRING"]).decode()
    assert pg.endswith("user=app password=App-Pw-1")
    shell.report(request, started)


CLI_TABLE = """
import json
from azure.cli.command_modules.serviceconnector import _resource_config as rc
source = rc.RESOURCE.KubernetesCluster
print(json.dumps({t.value: {"auth": [a.value for a in auths], "id": rc.TARGET_RESOURCES.get(t)}
                  for t, auths in rc.SUPPORTED_AUTH_TYPE[source].items()}))
"""
CLI_AUTH = {"workload-identity": "userAssignedIdentity", "secret": "secret", "secret(auto)": "secret",
            "service-principal": "servicePrincipalSecret"}  # fmt: skip


def test_the_emulators_targets_are_the_installed_azure_clis():
    """The emulator's own table (emulator/arm/linker_targets.py) against the real CLI's `_resource_config.py` for a
    KubernetesCluster source: the same id shape, the same auth types (first = default), the same secret source
    (`secret` = the user gives it, `secret(auto)` = Service Connector fetches it). One documented deviation: SQL also
    takes workload identity (the AKS-to-SQL tutorial; FACTS.md section 1)."""
    from emulator.arm.linker_targets import KINDS, SecretSource

    answer = subprocess.run([str(AZ_VENV / "bin" / "python"), "-c", CLI_TABLE], capture_output=True, text=True,
                            timeout=120, check=True)  # fmt: skip
    cli = json.loads(answer.stdout)
    for kind in KINDS:
        entry = cli[kind.name]
        shape = re.sub(r"\{\w+\}", "{}", entry["id"].split("/providers/", 1)[1]).lower()
        assert re.sub(r"\{\w+\}", "{}", kind.shape).lower() == shape, kind.name
        expected = [CLI_AUTH[a] for a in entry["auth"]] + (["userAssignedIdentity"] if kind.name == "sql" else [])
        assert [str(a) for a in kind.auth] == expected, kind.name
        if "secret" in entry["auth"]:
            assert kind.secret is SecretSource.USER, kind.name
        elif "secret(auto)" in entry["auth"]:
            assert kind.secret is SecretSource.SERVICE, kind.name
    assert {k.name for k in KINDS} == set(cli) - {
        "postgres",
        "mysql",
        "confluent-cloud",
        "neon-postgres",
        "mongodb-atlas",
    }  # fmt: skip  (deprecated, or not Azure resources)
