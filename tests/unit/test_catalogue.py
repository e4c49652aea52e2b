"""The target catalogue: every Service Connector target an AKS cluster can reach, as data, and the tag contract per
target it drives (sc-service, sc-database, sc-auth, sc-user/sc-password). Facts from docs/TARGETS.md."""

from __future__ import annotations

import re

import pytest

from shared.core import catalogue
from shared.core.catalogue import ANY_CLIENT, CSI, SECRET, WI, SecretSource
from shared.core.eventgrid import HANDLED_OPERATIONS, HANDLED_TYPES
from shared.core.ids import ResourceRef
from shared.core.model import AuthKind, TargetKind
from shared.core.tags import CLIENT_TYPES, TargetConnection, parse_target_tags

RG = "/subscriptions/c0ffee00-0000-4000-8000-00000000d370/resourceGroups/rg/providers"
STORAGE = ResourceRef(f"{RG}/Microsoft.Storage/storageAccounts/st")
PG = ResourceRef(f"{RG}/Microsoft.DBforPostgreSQL/flexibleServers/pg")
MYSQL = ResourceRef(f"{RG}/Microsoft.DBforMySQL/flexibleServers/my")
COSMOS = ResourceRef(f"{RG}/Microsoft.DocumentDB/databaseAccounts/cosmos")
REDIS = ResourceRef(f"{RG}/Microsoft.Cache/redis/cache")
VAULT = ResourceRef(f"{RG}/Microsoft.KeyVault/vaults/kv")
BUS = ResourceRef(f"{RG}/Microsoft.ServiceBus/namespaces/bus")
URL = "https://kv-shop.vault.azure.net/secrets/pw"
KINDS_BY_TYPE = {
    "Microsoft.Sql/servers/databases": [TargetKind.SQL_DATABASE],
    "Microsoft.DBforPostgreSQL/flexibleServers": [TargetKind.POSTGRES_FLEXIBLE],
    "Microsoft.DBforMySQL/flexibleServers": [TargetKind.MYSQL_FLEXIBLE],
    "Microsoft.Storage/storageAccounts": [TargetKind.STORAGE_BLOB],
    "Microsoft.KeyVault/vaults": [TargetKind.KEYVAULT],
}


def test_every_target_kind_has_exactly_one_entry_and_every_entry_is_whole():
    assert sorted(e.kind.value for e in catalogue.ENTRIES) == sorted(k.value for k in TargetKind)
    for entry in catalogue.ENTRIES:
        assert entry.auth and len(set(entry.auth)) == len(entry.auth), entry.kind
        assert set(entry.keys) == set(entry.auth), f"{entry.kind}: a key table per allowed auth, no other"
        assert (SECRET in entry.auth) == (entry.secret_source is not None), entry.kind
        assert set(entry.client_types) <= set(CLIENT_TYPES) and "none" in entry.client_types, entry.kind
        for auth, table in entry.keys.items():
            assert set(table) - {ANY_CLIENT} <= set(entry.client_types), f"{entry.kind} {auth}: unknown client"
            assert all(keys and len(set(keys)) == len(keys) for keys in table.values()), entry.kind
        assert entry.documented and re.fullmatch(r"\d{4}-\d{2}-\d{2}(-preview)?", entry.api_version)
        assert all(re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", r.guid) for r in entry.roles)


def test_the_default_auth_is_workload_identity_where_allowed_else_secret_and_sql_keeps_secret():
    for entry in catalogue.ENTRIES:
        if entry.kind is TargetKind.SQL_DATABASE:  # CONFLICT in TARGETS 1.6: secret first, as before the catalogue
            assert entry.auth == (SECRET, WI)
        elif WI in entry.auth:
            assert entry.auth[0] is WI, entry.kind
        else:
            assert entry.auth[0] is SECRET, entry.kind


@pytest.mark.parametrize(
    ("kind", "auth"),
    [
        (TargetKind.SQL_DATABASE, (SECRET, WI)),
        (TargetKind.POSTGRES_FLEXIBLE, (SECRET,)),
        (TargetKind.MYSQL_FLEXIBLE, (SECRET,)),
        (TargetKind.STORAGE_BLOB, (WI, SECRET)),
        (TargetKind.STORAGE_FILE, (SECRET,)),
        (TargetKind.KEYVAULT, (WI, CSI)),
        (TargetKind.REDIS_ENTERPRISE, (SECRET,)),
        (TargetKind.APP_INSIGHTS, (SECRET,)),
        (TargetKind.SIGNALR, (WI, SECRET)),
    ],
)
def test_auth_types_allowed_for_aks_are_the_cli_tables(kind, auth):
    assert catalogue.entry(kind).auth == auth


def test_user_provided_secrets_are_exactly_the_relational_databases():
    users = {e.kind for e in catalogue.ENTRIES if e.secret_source is SecretSource.USER}
    assert users == {TargetKind.SQL_DATABASE, TargetKind.POSTGRES_FLEXIBLE, TargetKind.MYSQL_FLEXIBLE}


@pytest.mark.parametrize(
    ("kind", "auth", "client", "keys"),
    [
        (TargetKind.STORAGE_BLOB, WI, "python", {"AZURE_STORAGEBLOB_RESOURCEENDPOINT", "AZURE_STORAGEBLOB_CLIENTID"}),
        (TargetKind.STORAGE_QUEUE, SECRET, "java", {"AZURE_STORAGEQUEUE_CONNECTIONSTRING"}),
        (TargetKind.STORAGE_FILE, SECRET, "php", {"AZURE_STORAGEFILE_CONNECTIONSTRING"}),
        (TargetKind.KEYVAULT, WI, "python",
         {"AZURE_KEYVAULT_SCOPE", "AZURE_KEYVAULT_RESOURCEENDPOINT", "AZURE_KEYVAULT_CLIENTID"}),
        (TargetKind.KEYVAULT, CSI, "none",
         {"AZURE_KEYVAULT_TENANTID", "AZURE_KEYVAULT_NAME", "AZURE_KEYVAULT_CLIENTID"}),
        (TargetKind.POSTGRES_FLEXIBLE, SECRET, "python", {"AZURE_POSTGRESQL_CONNECTIONSTRING"}),
        (TargetKind.POSTGRES_FLEXIBLE, SECRET, "none",
         {"AZURE_POSTGRESQL_HOST", "AZURE_POSTGRESQL_USERNAME", "AZURE_POSTGRESQL_DATABASE", "AZURE_POSTGRESQL_PORT",
          "AZURE_POSTGRESQL_SSL", "AZURE_POSTGRESQL_PASSWORD"}),
        (TargetKind.MYSQL_FLEXIBLE, SECRET, "python",
         {"AZURE_MYSQL_NAME", "AZURE_MYSQL_HOST", "AZURE_MYSQL_USER", "AZURE_MYSQL_PASSWORD"}),
        (TargetKind.SQL_DATABASE, SECRET, "python",
         {"AZURE_SQL_SERVER", "AZURE_SQL_PORT", "AZURE_SQL_DATABASE", "AZURE_SQL_USER", "AZURE_SQL_PASSWORD"}),
        (TargetKind.SQL_DATABASE, WI, "python",
         {"AZURE_SQL_SERVER", "AZURE_SQL_PORT", "AZURE_SQL_DATABASE", "AZURE_SQL_USER", "AZURE_SQL_AUTHENTICATION"}),
        (TargetKind.COSMOS_CASSANDRA, SECRET, "python",
         {"AZURE_COSMOS_CONTACTPOINT", "AZURE_COSMOS_PORT", "AZURE_COSMOS_KEYSPACE", "AZURE_COSMOS_USERNAME",
          "AZURE_COSMOS_PASSWORD"}),
        (TargetKind.COSMOS_GREMLIN, WI, "python",
         {"AZURE_COSMOS_LISTKEYURL", "AZURE_COSMOS_SCOPE", "AZURE_COSMOS_RESOURCEENDPOINT", "AZURE_COSMOS_HOSTNAME",
          "AZURE_COSMOS_PORT", "AZURE_COSMOS_USERNAME", "AZURE_COSMOS_CLIENTID"}),
        (TargetKind.EVENT_HUBS, WI, "kafka-springBoot",
         {"spring.kafka.bootstrap-servers", "spring.kafka.properties.azure.credential.managed-identity-enabled",
          "spring.kafka.properties.azure.credential.client-id"}),
        (TargetKind.SERVICE_BUS, WI, "go", {"AZURE_SERVICEBUS_FULLYQUALIFIEDNAMESPACE", "AZURE_SERVICEBUS_CLIENTID"}),
        (TargetKind.REDIS, SECRET, "none",
         {"AZURE_REDIS_HOST", "AZURE_REDIS_PORT", "AZURE_REDIS_DATABASE", "AZURE_REDIS_PASSWORD", "AZURE_REDIS_SSL"}),
        (TargetKind.REDIS, WI, "python", {"AZURE_REDIS_HOST", "AZURE_REDIS_CLIENTID"}),
        (TargetKind.SIGNALR, WI, "dotnet", {"AZURE_SIGNALR_CONNECTIONSTRING"}),
        (TargetKind.AI_SERVICES, WI, "python",
         {"AZURE_AISERVICES_OPENAI_BASE", "AZURE_AISERVICES_COGNITIVESERVICES_ENDPOINT",
          "AZURE_AISERVICES_SPEECH_ENDPOINT", "AZURE_AISERVICES_CLIENTID"}),
        (TargetKind.OPENAI, SECRET, "python", {"AZURE_OPENAI_BASE", "AZURE_OPENAI_KEY"}),
        (TargetKind.COGNITIVE_SERVICES, WI, "none",
         {"AZURE_COGNITIVESERVICES_ENDPOINT", "AZURE_COGNITIVESERVICES_CLIENTID"}),
        (TargetKind.APP_INSIGHTS, SECRET, "go",
         {"APPINSIGHTS_INSTRUMENTATIONKEY", "APPLICATIONINSIGHTS_CONNECTION_STRING"}),
    ],
)  # fmt: skip
def test_the_secret_keys_are_the_documented_tables(kind, auth, client, keys):
    assert catalogue.entry(kind).keys_for(auth, client) == keys


def test_keys_are_none_where_nothing_documents_them():
    assert catalogue.entry(TargetKind.SQL_DATABASE).keys_for(WI, "java") is None  # UMI table: python, dotnet only
    assert catalogue.entry(TargetKind.SIGNALR).keys_for(WI, "python") is None  # not a SignalR client type
    assert catalogue.entry(TargetKind.STORAGE_FILE).keys_for(WI, "python") is None  # no WI for Azure Files


@pytest.mark.parametrize(
    ("resource_type", "account_kind", "capabilities", "kind"),
    [
        ("microsoft.sql/servers/databases", "", (), TargetKind.SQL_DATABASE),
        ("Microsoft.Storage/storageAccounts", "StorageV2", (), TargetKind.STORAGE_BLOB),
        ("microsoft.documentdb/databaseaccounts", "GlobalDocumentDB", (), TargetKind.COSMOS_SQL),
        ("microsoft.documentdb/databaseaccounts", "MongoDB", (), TargetKind.COSMOS_MONGO),
        ("microsoft.documentdb/databaseaccounts", "GlobalDocumentDB", ("EnableCassandra",),
         TargetKind.COSMOS_CASSANDRA),
        ("microsoft.documentdb/databaseaccounts", "GlobalDocumentDB", ("enablegremlin",), TargetKind.COSMOS_GREMLIN),
        ("microsoft.documentdb/databaseaccounts", "GlobalDocumentDB", ("EnableServerless", "EnableTable"),
         TargetKind.COSMOS_TABLE),
        ("microsoft.documentdb/databaseaccounts", "Parse", (), None),
        ("microsoft.cognitiveservices/accounts", "OpenAI", (), TargetKind.OPENAI),
        ("microsoft.cognitiveservices/accounts", "AIServices", (), TargetKind.AI_SERVICES),
        ("microsoft.cognitiveservices/accounts", "CognitiveServices", (), TargetKind.COGNITIVE_SERVICES),
        ("microsoft.cognitiveservices/accounts", "TextAnalytics", (), None),
        ("microsoft.insights/components", "web", (), TargetKind.APP_INSIGHTS),
        ("microsoft.cache/redisenterprise", "", (), TargetKind.REDIS_ENTERPRISE),
        ("microsoft.sql/servers", "", (), None),
        ("microsoft.compute/virtualmachines", "", (), None),
    ],
)  # fmt: skip
def test_a_tagged_resource_classifies_by_type_kind_and_api(resource_type, account_kind, capabilities, kind):
    assert catalogue.classify(resource_type, account_kind, capabilities) is kind


@pytest.mark.parametrize(
    ("target_id", "tagged"),
    [
        (f"{STORAGE.id}/blobServices/default", STORAGE.id),
        (f"{STORAGE.id}/fileServices/default", STORAGE.id),
        (f"{PG.id}/databases/orders", PG.id),
        (f"{COSMOS.id}/gremlinDatabases/g/graphs/people", COSMOS.id),
        (f"{COSMOS.id}/cassandraKeyspaces/ks", COSMOS.id),
        (f"{REDIS.id}/databases/0/", REDIS.id),
    ],
)
def test_a_target_id_leads_back_to_the_resource_its_owner_tagged(target_id, tagged):
    assert catalogue.tagged_id(target_id) == tagged


def test_a_target_that_is_the_tagged_resource_is_its_own_and_an_unknown_id_has_none():
    assert catalogue.tagged_id(VAULT.id) == VAULT.id
    assert (
        catalogue.tagged_id(f"{RG}/Microsoft.Sql/servers/s/databases/d") == f"{RG}/Microsoft.Sql/servers/s/databases/d"
    )
    assert catalogue.tagged_id(f"{RG}/Microsoft.Compute/virtualMachines/vm") is None
    assert catalogue.tagged_id("not an id") is None


def test_event_grid_handles_every_tagged_type_and_its_write_and_delete():
    for entry in catalogue.ENTRIES:
        assert entry.tagged_type.lower() in HANDLED_TYPES
        assert {f"{entry.tagged_type}/write", f"{entry.tagged_type}/delete"} <= set(HANDLED_OPERATIONS)


def test_the_roles_service_connector_assigns_are_the_documented_ones():
    roles = {r.guid: r.name for r in catalogue.assigned_roles()}
    assert roles["ba92f5b4-2d11-453d-a403-e96b0029c9fe"] == "Storage Blob Data Contributor"
    assert roles["4633458b-17de-408a-b874-0445c86b69e6"] == "Key Vault Secrets User"
    assert roles["69a216fc-b8fb-44d8-bc22-1f3c2cd27a39"] == "Azure Service Bus Data Sender"
    assert roles["a001fd3d-188f-4b5d-821b-7da978bf7442"] == "Cognitive Services OpenAI Contributor"
    assert len(roles) == 15
    no_role = {e.kind for e in catalogue.ENTRIES if WI in e.auth and not e.roles}
    assert no_role == {TargetKind.SQL_DATABASE, TargetKind.REDIS}  # a database user / a data access policy


def test_a_secret_service_connector_fetches_needs_a_list_keys_right_of_the_app():
    for entry in catalogue.ENTRIES:
        if entry.secret_source is SecretSource.FETCHED and entry.kind is not TargetKind.APP_INSIGHTS:
            assert any(
                a.lower().endswith(("listkeys/action", "listconnectionstrings/action")) for a in entry.app_actions
            )
        assert all(a.lower().startswith(entry.tagged_type.split("/")[0].lower()) for a in entry.app_actions)


# -- the tag contract per target -----------------------------------------------------------------------------------
def _parse(ref, kind, tags, **kw):
    return parse_target_tags(ref, kind, {"sc-group": "shop", **tags}, **kw)


def test_a_storage_account_connects_blob_by_default_and_one_connection_per_named_service():
    tags, findings = _parse(STORAGE, TargetKind.STORAGE_BLOB, {})
    assert findings == [] and tags.connections == (
        TargetConnection(TargetKind.STORAGE_BLOB, f"{STORAGE.id}/blobServices/default", WI, "python"),
    )
    tags, findings = _parse(STORAGE, TargetKind.STORAGE_BLOB, {"sc-service": " Queue, file,queue "})
    assert findings == [] and tags.connections == (
        TargetConnection(TargetKind.STORAGE_QUEUE, f"{STORAGE.id}/queueServices/default", WI, "python"),
        TargetConnection(TargetKind.STORAGE_FILE, f"{STORAGE.id}/fileServices/default", SECRET, "python"),
    )


def test_workload_identity_on_azure_files_names_the_auth_types_it_allows():
    tags, findings = _parse(
        STORAGE, TargetKind.STORAGE_BLOB, {"sc-service": "blob,file", "sc-auth": "workload-identity"}
    )
    assert tags is None
    assert [(f.tag, f.message, f.fix) for f in findings] == [
        ("sc-auth", "tag sc-auth: Storage file does not allow workload-identity for an AKS source", "use one of secret")
    ]


@pytest.mark.parametrize(("value", "shown"), [("disk", "'disk'"), ("blob,,x", "'x'"), (",", "','")])
def test_an_unknown_storage_service_is_refused(value, shown):
    tags, findings = _parse(STORAGE, TargetKind.STORAGE_BLOB, {"sc-service": value})
    assert tags is None and [(f.tag, f.message) for f in findings] == [
        ("sc-service", f"tag sc-service: {shown} is not a storage service")
    ]
    assert findings[0].fix == "use one or more of blob, queue, table, file, comma separated"


def test_a_flexible_server_needs_its_database_user_and_password():
    tags, findings = _parse(PG, TargetKind.POSTGRES_FLEXIBLE, {"sc-database": "orders", "sc-user": "app",
                                                                "sc-password": URL})  # fmt: skip
    assert findings == [] and (tags.user, tags.password_url) == ("app", URL)
    assert tags.connections == (
        TargetConnection(TargetKind.POSTGRES_FLEXIBLE, f"{PG.id}/databases/orders", SECRET, "python"),
    )
    _, findings = _parse(MYSQL, TargetKind.MYSQL_FLEXIBLE, {})
    assert [f.tag for f in findings] == ["sc-database", "sc-user", "sc-password"]
    assert findings[0].message == "tag sc-database: missing: MySQL flexible server connects to one database"


def test_the_sql_aliases_serve_every_user_provided_secret():
    tags, findings = _parse(MYSQL, TargetKind.MYSQL_FLEXIBLE, {"sc-database": "shop", "sc-sql-user": "app",
                                                                "sc-sql-password": URL})  # fmt: skip
    assert findings == [] and (tags.user, tags.password_url) == ("app", URL)


def test_a_flexible_server_allows_only_secret_auth():
    _, findings = _parse(PG, TargetKind.POSTGRES_FLEXIBLE, {"sc-database": "d", "sc-auth": "workload-identity",
                                                             "sc-user": "app", "sc-password": URL})  # fmt: skip
    assert [(f.tag, f.fix) for f in findings] == [("sc-auth", "use one of secret")]


@pytest.mark.parametrize(
    ("capabilities", "kind", "database", "suffix"),
    [
        ((), TargetKind.COSMOS_SQL, "shop", "/sqlDatabases/shop"),
        (("EnableCassandra",), TargetKind.COSMOS_CASSANDRA, "shop_ks", "/cassandraKeyspaces/shop_ks"),
        (("EnableGremlin",), TargetKind.COSMOS_GREMLIN, "shop/people", "/gremlinDatabases/shop/graphs/people"),
        (("EnableTable",), TargetKind.COSMOS_TABLE, "Orders", "/tables/Orders"),
    ],
)
def test_cosmos_sc_database_is_read_by_the_accounts_api(capabilities, kind, database, suffix):
    classified = catalogue.classify("microsoft.documentdb/databaseaccounts", "GlobalDocumentDB", capabilities)
    tags, findings = _parse(COSMOS, classified, {"sc-database": database})
    assert findings == [] and tags.connections == (TargetConnection(kind, COSMOS.id + suffix, WI, "python"),)


@pytest.mark.parametrize(
    ("kind", "value"),
    [(TargetKind.COSMOS_GREMLIN, "shop"), (TargetKind.COSMOS_GREMLIN, "a/b/c"), (TargetKind.COSMOS_TABLE, "1x"),
     (TargetKind.COSMOS_CASSANDRA, "ks-1"), (TargetKind.COSMOS_SQL, "../x")],
)  # fmt: skip
def test_a_cosmos_database_of_the_wrong_shape_for_the_api_is_refused(kind, value):
    tags, findings = _parse(COSMOS, kind, {"sc-database": value})
    assert tags is None and [f.tag for f in findings] == ["sc-database"]


def test_redis_defaults_to_database_zero_and_takes_an_index_up_to_fifteen():
    tags, _ = _parse(REDIS, TargetKind.REDIS, {})
    assert tags.connections[0].target_id == f"{REDIS.id}/databases/0"
    tags, _ = _parse(REDIS, TargetKind.REDIS, {"sc-database": "15", "sc-auth": "secret"})
    assert tags.connections == (TargetConnection(TargetKind.REDIS, f"{REDIS.id}/databases/15", SECRET, "python"),)
    for bad in ("16", "-1", "01x", "default"):
        assert _parse(REDIS, TargetKind.REDIS, {"sc-database": bad})[0] is None


def test_key_vault_takes_csi_and_refuses_secret_naming_what_it_allows():
    tags, findings = _parse(VAULT, TargetKind.KEYVAULT, {"sc-auth": "CSI"})
    assert findings == [] and tags.connections == (TargetConnection(TargetKind.KEYVAULT, VAULT.id, CSI, "python"),)
    _, findings = _parse(VAULT, TargetKind.KEYVAULT, {"sc-auth": "secret"})
    assert [(f.message, f.fix) for f in findings] == [
        ("tag sc-auth: Key Vault does not allow secret for an AKS source", "use one of workload-identity, csi")
    ]


def test_csi_is_for_key_vault_only():
    _, findings = _parse(BUS, TargetKind.SERVICE_BUS, {"sc-auth": "csi"})
    assert [(f.tag, f.fix) for f in findings] == [("sc-auth", "use one of workload-identity, secret")]


def test_a_target_without_python_defaults_to_client_type_none_and_refuses_python():
    signalr = ResourceRef(f"{RG}/Microsoft.SignalRService/SignalR/sig")
    tags, _ = _parse(signalr, TargetKind.SIGNALR, {})
    assert tags.connections[0].client_type == "none"
    _, findings = _parse(signalr, TargetKind.SIGNALR, {"sc-client-type": "python"})
    assert [(f.message, f.fix) for f in findings] == [
        ("tag sc-client-type: SignalR Service has no client type python", "use one of dotnet, none")
    ]


def test_a_secret_service_connector_fetches_needs_no_user_or_password():
    tags, findings = _parse(BUS, TargetKind.SERVICE_BUS, {"sc-auth": "secret"})
    assert findings == [] and (tags.user, tags.password_url) == (None, None)


def _named(tagged_type: str) -> str:
    """`Microsoft.Sql/servers/databases` -> `Microsoft.Sql/servers/x0/databases/x1`."""
    provider, *types = tagged_type.split("/")
    return "/".join([provider, *(f"{t}/x{i}" for i, t in enumerate(types))])


def test_every_entry_parses_with_its_defaults_and_each_allowed_auth():
    refs = {e.kind: ResourceRef(f"{RG}/{_named(e.tagged_type)}") for e in catalogue.ENTRIES}
    for entry in catalogue.ENTRIES:
        needs = {"sc-database": "x/y" if entry.database and "/" in entry.database.what else "db1"}
        if entry.database and entry.database.what == "database index":
            needs = {}
        needs = needs if entry.database else {}
        for auth in entry.auth:
            tags = {**needs, "sc-auth": auth.value, "sc-user": "app", "sc-password": URL}
            if entry.service:
                tags["sc-service"] = entry.service
            parsed, findings = _parse(refs[entry.kind], entry.kind, tags)
            assert findings == [], (entry.kind, auth, findings)
            [connection] = parsed.connections
            assert (connection.kind, connection.auth) == (entry.kind, auth)
            assert ResourceRef.parse(connection.target_id).type == entry.target_type
            assert catalogue.tagged_id(connection.target_id) == refs[entry.kind].id
            assert connection.client_type == entry.default_client_type
            assert entry.keys_for(auth, connection.client_type), (entry.kind, auth)


def test_auth_kind_names_are_the_tag_values():
    assert catalogue.auth_names(AuthKind) == "secret, workload-identity, csi"
