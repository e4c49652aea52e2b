"""ARM resource types of the data services Service Connector connects an AKS cluster to (TARGETS.md section 2).

Each type carries the read-only properties its provider fills in and that Service Connector and the product read
(endpoints, host names, the Cosmos DB API, ports), the actions that return keys (`listKeys`,
`listConnectionStrings`) and the resources the provider creates with it. Shapes follow the azure-rest-api-specs GET
examples of each provider; values the examples leave open (times, sizes, versions) are ours.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from emulator.arm import keys
from emulator.arm.errors import bad_request
from emulator.arm.ids import stable_uuid
from emulator.arm.typespec import TypeSpec

STORAGE_ACCOUNT = "microsoft.storage/storageaccounts"
STORAGE_SERVICES = ("blob", "queue", "table", "file")  # `{account}/{x}Services/default`, created with the account
SERVICE_BUS = "microsoft.servicebus/namespaces"
EVENT_HUBS = "microsoft.eventhub/namespaces"
COSMOS_ACCOUNT = "microsoft.documentdb/databaseaccounts"
POSTGRES_SERVER = "microsoft.dbforpostgresql/flexibleservers"
MYSQL_SERVER = "microsoft.dbformysql/flexibleservers"
REDIS = "microsoft.cache/redis"
REDIS_ENTERPRISE = "microsoft.cache/redisenterprise"
APP_INSIGHTS = "microsoft.insights/components"
APP_CONFIGURATION = "microsoft.appconfiguration/configurationstores"
SIGNALR = "microsoft.signalrservice/signalr"
WEB_PUBSUB = "microsoft.signalrservice/webpubsub"

STORAGE_NAME = re.compile(r"^[a-z0-9]{3,24}$")


class CosmosApi:
    """The API of a Cosmos DB account: `kind` MongoDB, or a capability; otherwise NoSQL."""

    SQL, MONGO, CASSANDRA, GREMLIN, TABLE = "Sql", "MongoDB", "Cassandra", "Gremlin", "Table"
    CAPABILITIES = {"enablecassandra": CASSANDRA, "enablegremlin": GREMLIN, "enabletable": TABLE}
    CHILD = {  # child collection -> the API that holds it
        "sqldatabases": SQL,
        "mongodbdatabases": MONGO,
        "cassandrakeyspaces": CASSANDRA,
        "gremlindatabases": GREMLIN,
        "tables": TABLE,
    }

    @classmethod
    def of(cls, account: dict) -> str:
        if (account.get("kind") or "").lower() == "mongodb":
            return cls.MONGO
        for capability in (account.get("properties") or {}).get("capabilities") or []:
            api = cls.CAPABILITIES.get(str(capability.get("name", "")).lower())
            if api:
                return api
        return cls.SQL


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


# -- Storage ---------------------------------------------------------------------------------------------------
def _storage_account(resource: dict, existing: dict | None, tenant: str) -> None:
    name = resource["name"]
    if not STORAGE_NAME.match(name):
        raise bad_request(
            f"{name} is not a valid storage account name. Storage account name must be between 3 and 24 "
            "characters in length and use numbers and lower-case letters only.",
            "AccountNameInvalid",
        )
    props = resource["properties"]
    resource.setdefault("kind", "StorageV2")
    resource.setdefault("sku", {"name": "Standard_LRS", "tier": "Standard"})
    props["primaryEndpoints"] = {
        service: f"https://{name}.{service}.core.windows.net/" for service in ("dfs", *STORAGE_SERVICES)
    } | {"web": f"https://{name}.z6.web.core.windows.net/"}
    props["primaryLocation"] = resource["location"]
    props["statusOfPrimary"] = "available"
    props["provisioningState"] = "Succeeded"
    created = props.setdefault("creationTime", _now())
    props.setdefault("keyCreationTime", {"key1": created, "key2": created})
    props.setdefault("minimumTlsVersion", "TLS1_2")
    props.setdefault("allowBlobPublicAccess", False)
    props.setdefault("supportsHttpsTrafficOnly", True)
    props.setdefault("accessTier", "Hot")
    props.setdefault("networkAcls", {"bypass": "AzureServices", "virtualNetworkRules": [], "ipRules": [],
                                     "defaultAction": "Allow"})  # fmt: skip


def _storage_services(account: dict) -> list[tuple[str, str, dict]]:
    return [
        (f"{account['id']}/{service}Services/default", f"{STORAGE_ACCOUNT}/{service}services", {"properties": {}})
        for service in STORAGE_SERVICES
    ]


def _storage_service(resource: dict, existing: dict | None, tenant: str) -> None:
    if resource["name"] != "default":
        raise bad_request(f"The service name '{resource['name']}' is invalid: it must be 'default'.", "InvalidName")
    resource["properties"].setdefault("cors", {"corsRules": []})


def _storage_keys(account: dict) -> dict:
    created = account["properties"]["creationTime"]
    return {
        "keys": [
            {"keyName": f"key{n}", "value": keys.storage_key(account["id"], n), "permissions": "FULL",
             "creationTime": created}
            for n in (1, 2)
        ]
    }  # fmt: skip


# -- Service Bus and Event Hubs namespaces ------------------------------------------------------------------------
def _namespace(resource: dict, existing: dict | None, tenant: str) -> None:
    props = resource["properties"]
    resource.setdefault("sku", {"name": "Standard", "tier": "Standard"})
    props["serviceBusEndpoint"] = f"https://{resource['name']}.servicebus.windows.net:443/"
    props["metricId"] = f"{resource['id'].split('/')[2]}:{resource['name']}"
    props["provisioningState"] = "Succeeded"
    props["status"] = "Active"
    props.setdefault("createdAt", _now())
    props["updatedAt"] = _now()
    props.setdefault("minimumTlsVersion", "1.2")
    props.setdefault("publicNetworkAccess", "Enabled")
    props.setdefault("disableLocalAuth", False)
    if resource["type"].lower().startswith("microsoft.eventhub/"):
        props.setdefault("kafkaEnabled", True)


def _root_rule(namespace: dict) -> list[tuple[str, str, dict]]:
    rule_id = f"{namespace['id']}/authorizationRules/{keys.SAS_RULE}"
    return [(rule_id, namespace["type"].lower() + "/authorizationrules", {"properties": {}})]


def _authorization_rule(resource: dict, existing: dict | None, tenant: str) -> None:
    resource["properties"].setdefault("rights", ["Listen", "Manage", "Send"])


def _rule_keys(rule: dict) -> dict:
    namespace_id = rule["id"].rsplit("/authorizationRules/", 1)[0]
    host = f"{namespace_id.rsplit('/', 1)[-1]}.servicebus.windows.net"
    primary, secondary = (keys.sas_key(namespace_id, rule["name"], slot) for slot in ("primaryKey", "secondaryKey"))
    connection = f"Endpoint=sb://{host}/;SharedAccessKeyName={rule['name']};SharedAccessKey="
    return {
        "primaryConnectionString": connection + primary,
        "secondaryConnectionString": connection + secondary,
        "primaryKey": primary,
        "secondaryKey": secondary,
        "keyName": rule["name"],
    }


# -- Cosmos DB ----------------------------------------------------------------------------------------------------
def _cosmos_account(resource: dict, existing: dict | None, tenant: str) -> None:
    props = resource["properties"]
    name, location = resource["name"], resource["location"]
    resource.setdefault("kind", "GlobalDocumentDB")
    props["documentEndpoint"] = f"https://{name}.documents.azure.com:443/"
    props.setdefault("databaseAccountOfferType", "Standard")
    props.setdefault("capabilities", [])
    props.setdefault("consistencyPolicy", {"defaultConsistencyLevel": "Session", "maxIntervalInSeconds": 5,
                                           "maxStalenessPrefix": 100})  # fmt: skip
    region = {"id": f"{name}-{location}", "locationName": location, "failoverPriority": 0,
              "documentEndpoint": f"https://{name}-{location}.documents.azure.com:443/",
              "provisioningState": "Succeeded", "isZoneRedundant": False}  # fmt: skip
    props["locations"] = props["readLocations"] = props["writeLocations"] = [region]
    props["instanceId"] = stable_uuid("cosmos-instance", resource["id"])
    props["provisioningState"] = "Succeeded"
    props.setdefault("disableLocalAuth", False)
    props.setdefault("publicNetworkAccess", "Enabled")
    if CosmosApi.of(resource) == CosmosApi.MONGO:
        props.setdefault("apiProperties", {"serverVersion": "4.2"})


def _cosmos_child(resource: dict, existing: dict | None, tenant: str) -> None:
    """A database, keyspace, graph or table: `properties.resource.id` is its name, as the provider echoes it."""
    props = resource["properties"]
    body = dict(props.get("resource") or {})
    if body.get("id", resource["name"]) != resource["name"]:
        raise bad_request(f"The resource id '{body['id']}' does not match the name '{resource['name']}'.")
    body["id"] = resource["name"]
    body.setdefault("_rid", stable_uuid("rid", resource["id"])[:8])
    body.setdefault("_etag", f'"{stable_uuid("etag", resource["id"])}"')
    props["resource"] = body
    props.pop("options", None)  # write-only


def _cosmos_api_check(collection: str):
    def check(account: dict, body: dict) -> None:
        api = CosmosApi.of(account)
        wanted = CosmosApi.CHILD[collection]
        if api != wanted:
            raise bad_request(
                f"The database account '{account['name']}' uses the {api} API: it holds no {collection} "
                f"(that is the {wanted} API).",
                "BadRequest",
            )

    return check


def _cosmos_keys(account: dict) -> dict:
    slots = ("primaryMasterKey", "secondaryMasterKey", "primaryReadonlyMasterKey", "secondaryReadonlyMasterKey")
    return {slot: keys.cosmos_key(account["id"], slot) for slot in slots}


def cosmos_connection_string(account: dict, api: str, key: str) -> str:
    """The connection string of each API, as Service Connector's pages and `listConnectionStrings` show it."""
    name = account["name"]
    if api == CosmosApi.MONGO:
        return (
            f"mongodb://{name}:{key}@{name}.mongo.cosmos.azure.com:10255/?ssl=true&replicaSet=globaldb"
            f"&retrywrites=false&maxIdleTimeMS=120000&appName=@{name}@"
        )
    if api == CosmosApi.TABLE:
        return (
            f"DefaultEndpointsProtocol=https;AccountName={name};AccountKey={key};"
            f"TableEndpoint=https://{name}.table.cosmos.azure.com:443/;"
        )
    return f"AccountEndpoint=https://{name}.documents.azure.com:443/;AccountKey={key};"


def _cosmos_connection_strings(account: dict) -> dict:
    api = CosmosApi.of(account)
    families = [CosmosApi.SQL] + ([api] if api in (CosmosApi.MONGO, CosmosApi.TABLE) else [])
    label = {CosmosApi.SQL: "SQL", CosmosApi.MONGO: "MongoDB", CosmosApi.TABLE: "Table"}
    strings = []
    for family in families:
        for slot, kind in (("primaryMasterKey", "Primary"), ("secondaryMasterKey", "Secondary"),
                           ("primaryReadonlyMasterKey", "Primary Read-Only"),
                           ("secondaryReadonlyMasterKey", "Secondary Read-Only")):  # fmt: skip
            strings.append(
                {
                    "connectionString": cosmos_connection_string(account, family, keys.cosmos_key(account["id"], slot)),
                    "description": f"{kind} {label[family]} Connection String",
                    "keyKind": kind.replace("-", "").replace(" ", ""),
                    "type": family,
                }
            )
    return {"connectionStrings": strings}


# -- PostgreSQL and MySQL flexible servers -------------------------------------------------------------------------
def _flexible_server(suffix: str, version: str):
    def shape(resource: dict, existing: dict | None, tenant: str) -> None:
        props = resource["properties"]
        props["fullyQualifiedDomainName"] = f"{resource['name']}.{suffix}"
        props["state"] = "Ready"
        props.setdefault("version", version)
        props.setdefault("administratorLogin", "azureadmin")
        props.pop("administratorLoginPassword", None)  # write-only, as in ARM
        props.setdefault("storage", {"storageSizeGB": 32})
        props.setdefault("network", {"publicNetworkAccess": "Enabled"})
        resource.setdefault("sku", {"name": "Standard_B1ms", "tier": "Burstable"})

    return shape


def _flexible_database(charset: str, collation: str):
    def shape(resource: dict, existing: dict | None, tenant: str) -> None:
        resource["properties"].setdefault("charset", charset)
        resource["properties"].setdefault("collation", collation)

    return shape


def _flexible_firewall_rule(resource: dict, existing: dict | None, tenant: str) -> None:
    props = resource["properties"]
    if "startIpAddress" not in props or "endIpAddress" not in props:
        raise bad_request("Firewall rule requires startIpAddress and endIpAddress.")


def _postgres_databases(server: dict) -> list[tuple[str, str, dict]]:
    return [(f"{server['id']}/databases/postgres", f"{POSTGRES_SERVER}/databases", {"properties": {}})]


# -- Redis, App Configuration, SignalR, Web PubSub -----------------------------------------------------------------
def _redis(resource: dict, existing: dict | None, tenant: str) -> None:
    props = resource["properties"]
    props.setdefault("sku", {"name": "Standard", "family": "C", "capacity": 1})
    props["hostName"] = f"{resource['name']}.redis.cache.windows.net"
    props["port"], props["sslPort"] = 6379, 6380
    props.setdefault("enableNonSslPort", False)
    props.setdefault("redisVersion", "6.0")
    props.setdefault("minimumTlsVersion", "1.2")
    props.setdefault("publicNetworkAccess", "Enabled")
    props.setdefault("redisConfiguration", {})
    props["provisioningState"] = "Succeeded"


def _redis_keys(cache: dict) -> dict:
    return {slot: keys.short_key(cache["id"], slot) for slot in ("primaryKey", "secondaryKey")}


def _redis_enterprise(resource: dict, existing: dict | None, tenant: str) -> None:
    props = resource["properties"]
    resource.setdefault("sku", {"name": "Enterprise_E10", "capacity": 2})
    props["hostName"] = f"{resource['name']}.{resource['location']}.redisenterprise.cache.azure.net"
    props.setdefault("minimumTlsVersion", "1.2")
    props["provisioningState"] = "Succeeded"
    props["resourceState"] = "Running"


def _redis_enterprise_database(resource: dict, existing: dict | None, tenant: str) -> None:
    props = resource["properties"]
    props.setdefault("clientProtocol", "Encrypted")
    props["port"] = 10000
    props.setdefault("clusteringPolicy", "OSSCluster")
    props.setdefault("evictionPolicy", "VolatileLRU")
    props["provisioningState"] = "Succeeded"
    props["resourceState"] = "Running"


def _default_database(cache: dict) -> list[tuple[str, str, dict]]:
    return [(f"{cache['id']}/databases/default", f"{REDIS_ENTERPRISE}/databases", {"properties": {}})]


def _app_insights(resource: dict, existing: dict | None, tenant: str) -> None:
    """A component's instrumentation key and connection string (the ones Service Connector's secret carries)."""
    props = resource["properties"]
    resource.setdefault("kind", "web")
    key = stable_uuid("instrumentation-key", resource["id"])
    app_id = stable_uuid("app-id", resource["id"])
    location = resource["location"]
    props.setdefault("Application_Type", "web")
    props["InstrumentationKey"] = key
    props["AppId"] = app_id
    props["ConnectionString"] = (
        f"InstrumentationKey={key};IngestionEndpoint=https://{location}-0.in.applicationinsights.azure.com/;"
        f"LiveEndpoint=https://{location}.livediagnostics.monitor.azure.com/;ApplicationId={app_id}"
    )
    props["provisioningState"] = "Succeeded"


def _app_configuration(resource: dict, existing: dict | None, tenant: str) -> None:
    props = resource["properties"]
    resource.setdefault("sku", {"name": "standard"})
    props["endpoint"] = f"https://{resource['name']}.azconfig.io"
    props.setdefault("creationDate", _now())
    props.setdefault("disableLocalAuth", False)
    props["provisioningState"] = "Succeeded"


def _app_configuration_keys(store: dict) -> dict:
    endpoint = store["properties"]["endpoint"]
    items = []
    for slot in ("Primary", "Secondary", "Primary Read Only", "Secondary Read Only"):
        key_id, secret = keys.app_configuration_key(store["id"], slot)
        items.append({"id": key_id, "name": slot, "value": secret, "readOnly": "Read Only" in slot,
                      "connectionString": f"Endpoint={endpoint};Id={key_id};Secret={secret}",
                      "lastModified": store["properties"]["creationDate"]})  # fmt: skip
    return {"value": items}


def _signalr_like(suffix: str, kind: str):
    def shape(resource: dict, existing: dict | None, tenant: str) -> None:
        props = resource["properties"]
        resource.setdefault("kind", kind)
        resource.setdefault("sku", {"name": "Standard_S1", "tier": "Standard", "size": "S1", "capacity": 1})
        props["hostName"] = f"{resource['name']}.{suffix}"
        props["publicPort"] = props["serverPort"] = 443
        props.setdefault("version", "1.0")
        props.setdefault("disableLocalAuth", False)
        props.setdefault("disableAadAuth", False)
        props["provisioningState"] = "Succeeded"

    return shape


def _access_keys(resource: dict) -> dict:
    endpoint = f"https://{resource['properties']['hostName']}"
    primary, secondary = (keys.short_key(resource["id"], slot) for slot in ("primaryKey", "secondaryKey"))
    return {
        "primaryKey": primary,
        "secondaryKey": secondary,
        "primaryConnectionString": f"Endpoint={endpoint};AccessKey={primary};Version=1.0;",
        "secondaryConnectionString": f"Endpoint={endpoint};AccessKey={secondary};Version=1.0;",
    }


def _types() -> dict[str, TypeSpec]:
    cosmos_children = {
        "sqldatabases": "sqlDatabases",
        "mongodbdatabases": "mongodbDatabases",
        "cassandrakeyspaces": "cassandraKeyspaces",
        "gremlindatabases": "gremlinDatabases",
        "tables": "tables",
    }
    types = {
        STORAGE_ACCOUNT: TypeSpec("Microsoft.Storage/storageAccounts", shape=_storage_account, tracked=True,
                                  actions={"listkeys": _storage_keys}, companions=_storage_services,
                                  created_status=200),
        SERVICE_BUS: TypeSpec("Microsoft.ServiceBus/Namespaces", shape=_namespace, tracked=True,
                              companions=_root_rule),
        f"{SERVICE_BUS}/authorizationrules": TypeSpec("Microsoft.ServiceBus/Namespaces/AuthorizationRules",
                                                      parent=SERVICE_BUS, shape=_authorization_rule,
                                                      actions={"listkeys": _rule_keys}),
        EVENT_HUBS: TypeSpec("Microsoft.EventHub/Namespaces", shape=_namespace, tracked=True, companions=_root_rule),
        f"{EVENT_HUBS}/authorizationrules": TypeSpec("Microsoft.EventHub/Namespaces/AuthorizationRules",
                                                     parent=EVENT_HUBS, shape=_authorization_rule,
                                                     actions={"listkeys": _rule_keys}),
        COSMOS_ACCOUNT: TypeSpec("Microsoft.DocumentDB/databaseAccounts", shape=_cosmos_account, tracked=True,
                                 actions={"listkeys": _cosmos_keys,
                                          "listconnectionstrings": _cosmos_connection_strings},
                                 created_status=200, deleted_status=202),
        f"{COSMOS_ACCOUNT}/gremlindatabases/graphs": TypeSpec(
            "Microsoft.DocumentDB/databaseAccounts/gremlinDatabases/graphs",
            parent=f"{COSMOS_ACCOUNT}/gremlindatabases", shape=_cosmos_child, created_status=200, deleted_status=202),
        POSTGRES_SERVER: TypeSpec("Microsoft.DBforPostgreSQL/flexibleServers", tracked=True,
                                  shape=_flexible_server("postgres.database.azure.com", "16"),
                                  companions=_postgres_databases, created_status=202, deleted_status=202),
        f"{POSTGRES_SERVER}/databases": TypeSpec("Microsoft.DBforPostgreSQL/flexibleServers/databases",
                                                 parent=POSTGRES_SERVER, shape=_flexible_database("UTF8", "en_US.utf8"),
                                                 created_status=202, deleted_status=202),
        f"{POSTGRES_SERVER}/firewallrules": TypeSpec("Microsoft.DBforPostgreSQL/flexibleServers/firewallRules",
                                                     parent=POSTGRES_SERVER, shape=_flexible_firewall_rule,
                                                     created_status=202, deleted_status=202),
        MYSQL_SERVER: TypeSpec("Microsoft.DBforMySQL/flexibleServers", tracked=True,
                               shape=_flexible_server("mysql.database.azure.com", "8.0.21"), created_status=202,
                               deleted_status=202),
        f"{MYSQL_SERVER}/databases": TypeSpec("Microsoft.DBforMySQL/flexibleServers/databases", parent=MYSQL_SERVER,
                                              shape=_flexible_database("utf8mb4", "utf8mb4_0900_ai_ci"),
                                              created_status=202, deleted_status=202),
        f"{MYSQL_SERVER}/firewallrules": TypeSpec("Microsoft.DBforMySQL/flexibleServers/firewallRules",
                                                  parent=MYSQL_SERVER, shape=_flexible_firewall_rule,
                                                  created_status=202, deleted_status=202),
        REDIS: TypeSpec("Microsoft.Cache/Redis", shape=_redis, tracked=True, actions={"listkeys": _redis_keys}),
        REDIS_ENTERPRISE: TypeSpec("Microsoft.Cache/redisEnterprise", shape=_redis_enterprise, tracked=True,
                                   companions=_default_database),
        f"{REDIS_ENTERPRISE}/databases": TypeSpec("Microsoft.Cache/redisEnterprise/databases", parent=REDIS_ENTERPRISE,
                                                  shape=_redis_enterprise_database, actions={"listkeys": _redis_keys}),
        APP_INSIGHTS: TypeSpec("microsoft.insights/components", shape=_app_insights, tracked=True),
        APP_CONFIGURATION: TypeSpec("Microsoft.AppConfiguration/configurationStores", shape=_app_configuration,
                                    tracked=True, actions={"listkeys": _app_configuration_keys}),
        SIGNALR: TypeSpec("Microsoft.SignalRService/SignalR", shape=_signalr_like("service.signalr.net", "SignalR"),
                          tracked=True, actions={"listkeys": _access_keys}),
        WEB_PUBSUB: TypeSpec("Microsoft.SignalRService/WebPubSub", tracked=True, actions={"listkeys": _access_keys},
                             shape=_signalr_like("webpubsub.azure.com", "WebPubSub")),
    }  # fmt: skip
    for service in STORAGE_SERVICES:
        types[f"{STORAGE_ACCOUNT}/{service}services"] = TypeSpec(
            f"Microsoft.Storage/storageAccounts/{service}Services", parent=STORAGE_ACCOUNT, shape=_storage_service
        )
    for lower, spelled in cosmos_children.items():
        types[f"{COSMOS_ACCOUNT}/{lower}"] = TypeSpec(
            f"Microsoft.DocumentDB/databaseAccounts/{spelled}",
            parent=COSMOS_ACCOUNT,
            shape=_cosmos_child,
            parent_check=_cosmos_api_check(lower),
            created_status=200,
            deleted_status=202,
        )
    return types


TYPES = _types()
