"""Service Connector's targets for an AKS source: the `targetService.id` shapes it accepts, the auth types each allows,
where a secret comes from, the roles it assigns for workload identity and the keys it writes.

The emulator's own table (it imports nothing from the product), derived from TARGETS.md (shared reference):
id shapes from azure-cli `serviceconnector/_resource_config.py` `TARGET_RESOURCES`; auth types from
`SUPPORTED_AUTH_TYPE[KubernetesCluster]` (SQL also takes workload identity, as the AKS-to-SQL tutorial does); roles
from `concept-microsoft-entra-roles.md`; key names and value forms from the `how-to-integrate-*.md` pages (workload
identity = the user-assigned identity table, TARGETS.md section 1.5). Client types a page does not list use the
`*` row (the python names); docs/emulator.md lists what is inferred.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

from emulator.arm import dataservices as ds
from emulator.arm import keys
from emulator.arm.linker_config import (
    AccountKind,
    AuthType,
    ConfigItem,
    Credentials,
    account_configuration,
    sql_configuration,
)

WI, SECRET, SP = AuthType.USER_ASSIGNED_IDENTITY, AuthType.SECRET, AuthType.SERVICE_PRINCIPAL_SECRET
ARM_SCOPE = "https://management.azure.com/.default"
COSMOS_KEYS_API = "2021-04-15"  # the api-version in the Cosmos pages' list-keys URLs


class SecretSource(StrEnum):
    """Where a `secret` connection's credential comes from."""

    USER = "user"  # authInfo carries name + secretInfo {rawValue} (SQL, PostgreSQL, MySQL)
    SERVICE = "service"  # Service Connector fetches the target's keys itself: authInfo is only {"authType": "secret"}
    NONE = "none"  # no secret auth at all (Key Vault)


@dataclass(frozen=True)
class TargetContext:
    """What a configuration is built from: the linker's target, its resolved resource and the linker's auth."""

    target_id: str
    parts: dict[str, str]  # the id pattern's named groups (account, database, graph, ...)
    resource: dict  # the ARM resource the target hangs under (the account, the server, the namespace, ...)
    client_type: str
    auth: AuthType
    creds: Credentials
    csi: bool = False  # Key Vault through the Secrets Store CSI driver (connectAsKubernetesCsiDriver)


Fields = Callable[[TargetContext], dict[str, str]]
KeyTable = dict[str, dict[AuthType, tuple[tuple[str, str], ...]]]  # client type ("*" = others) -> auth -> (key, field)
# Fields whose value is a credential: listConfigurations answers "" for them (AKS, D-AKS).
CREDENTIALS = frozenset({"password", "key", "secret_connection_string", "client_secret", "sp_connection_string",
                         "dotnet_connection_string"})  # fmt: skip


@dataclass(frozen=True)
class TargetKind:
    name: str  # the azure-cli target name
    shape: str  # the id after `/providers/`, `{group}` for a name (TARGET_RESOURCES)
    auth: tuple[AuthType, ...]  # allowed for an AKS source; the first is the CLI's default
    secret: SecretSource
    roles: tuple[str, ...]  # role definition GUIDs assigned to the workload identity on the target
    configure: Callable[[TargetContext], list[ConfigItem]]
    index_of: str = ""  # a named group that is not an ARM child but an index on the resource (Redis database)
    # The action Service Connector performs with the caller's token to fetch a secret (concept-permission.md), and
    # where: a suffix of the resource id, formatted with the id's parts.
    list_keys: str = ""
    list_keys_at: str = ""

    @cached_property
    def pattern(self) -> re.Pattern:
        tail = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(self.shape))
        return re.compile(rf"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/{tail}$", re.I)

    def match(self, target_id: str) -> re.Match | None:
        return self.pattern.match(target_id)


def tabled(fields: Fields, table: KeyTable) -> Callable[[TargetContext], list[ConfigItem]]:
    """Keys from a table: the client type's row (else `*`), the auth type's column (else the `*` row's)."""

    def configure(ctx: TargetContext) -> list[ConfigItem]:
        row = table.get(ctx.client_type, {})
        entries = row.get(ctx.auth) or table["*"][ctx.auth]
        values = fields(ctx)
        return [
            ConfigItem(name, field[1:] if field.startswith("=") else values[field], field in CREDENTIALS)
            for name, field in entries
        ]

    return configure


def _sp(prefix: str, *head: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    return (*head, (f"{prefix}_CLIENTID", "client_id"), (f"{prefix}_CLIENTSECRET", "client_secret"),
            (f"{prefix}_TENANTID", "tenant_id"))  # fmt: skip


def _common(ctx: TargetContext) -> dict[str, str]:
    return {"client_id": ctx.creds.client_id, "client_secret": ctx.creds.password, "tenant_id": ctx.creds.tenant_id}


# -- Storage: blob, queue, table, file (how-to-integrate-storage-*.md) ---------------------------------------------
def _storage_fields(service: str) -> Fields:
    def fields(ctx: TargetContext) -> dict[str, str]:
        account = ctx.resource["name"]
        key = keys.storage_key(ctx.resource["id"]) if ctx.creds.secrets else ""
        return _common(ctx) | {
            "account": account,
            "endpoint": f"https://{account}.{service}.core.windows.net/",
            "key": key,
            "secret_connection_string": f"DefaultEndpointsProtocol=https;AccountName={account};AccountKey={key};"
            "EndpointSuffix=core.windows.net",
        }

    return fields


def _storage_table(service: str) -> KeyTable:
    p = f"AZURE_STORAGE{service.upper()}"
    table: KeyTable = {"*": {
        WI: ((f"{p}_RESOURCEENDPOINT", "endpoint"), (f"{p}_CLIENTID", "client_id")),
        SECRET: ((f"{p}_CONNECTIONSTRING", "secret_connection_string"),),
        SP: _sp(p, (f"{p}_RESOURCEENDPOINT", "endpoint")),
    }}  # fmt: skip
    spring = f"spring.cloud.azure.storage.{'fileshare' if service == 'file' else service}"
    if service in ("blob", "queue"):
        table["springBoot"] = {
            WI: ((f"{spring}.credential.managed-identity-enabled", "=true"), (f"{spring}.account-name", "account"),
                 (f"{spring}.endpoint", "endpoint"), (f"{spring}.credential.client-id", "client_id")),
            SP: ((f"{spring}.account-name", "account"), (f"{spring}.endpoint", "endpoint"),
                 (f"{spring}.credential.client-id", "client_id"),
                 (f"{spring}.credential.client-secret", "client_secret")),
        }  # fmt: skip
    if service in ("blob", "file"):
        table.setdefault("springBoot", {})[SECRET] = (
            ("azure.storage.account-name", "account"), ("azure.storage.account-key", "key"),
            (f"azure.storage.{service}-endpoint", "endpoint"), (f"{spring}.account-name", "account"),
            (f"{spring}.account-key", "key"), (f"{spring}.endpoint", "endpoint"),
        )  # fmt: skip
    if service == "queue":
        table["springBoot"][SECRET] = (
            ("spring.cloud.azure.storage.account", "account"), ("spring.cloud.azure.storage.access-key", "key"),
            (f"{spring}.account-name", "account"), (f"{spring}.account-key", "key"), (f"{spring}.endpoint", "endpoint"),
        )  # fmt: skip
    return table


# -- Key Vault (how-to-integrate-key-vault.md; CSI: TARGETS.md 3.9) ------------------------------------------------
def _key_vault(ctx: TargetContext) -> list[ConfigItem]:
    vault = ctx.resource
    if ctx.csi:  # the add-on identity's client id, the vault's name and tenant (observed, TARGETS.md 3.9)
        return [
            ConfigItem("AZURE_KEYVAULT_TENANTID", ctx.creds.tenant_id),
            ConfigItem("AZURE_KEYVAULT_NAME", vault["name"]),
            ConfigItem("AZURE_KEYVAULT_CLIENTID", ctx.creds.client_id),
        ]
    return tabled(lambda c: _common(c) | {"endpoint": vault["properties"]["vaultUri"], "scope": ARM_SCOPE}, _KV)(ctx)


_KV: KeyTable = {
    "*": {
        WI: (("AZURE_KEYVAULT_SCOPE", "scope"), ("AZURE_KEYVAULT_RESOURCEENDPOINT", "endpoint"),
             ("AZURE_KEYVAULT_CLIENTID", "client_id")),
        SP: _sp("AZURE_KEYVAULT", ("AZURE_KEYVAULT_SCOPE", "scope"), ("AZURE_KEYVAULT_RESOURCEENDPOINT", "endpoint")),
    },
    "springBoot": {
        WI: (("azure.keyvault.uri", "endpoint"), ("azure.keyvault.scope", "scope"),
             ("spring.cloud.azure.keyvault.secret.credential.managed-identity-enabled", "=true"),
             ("spring.cloud.azure.keyvault.secret.endpoint", "endpoint"), ("azure.keyvault.client-id", "client_id"),
             ("spring.cloud.azure.keyvault.secret.credential.client-id", "client_id")),
    },
}  # fmt: skip


# -- App Configuration (how-to-integrate-app-configuration.md) -----------------------------------------------------
def _app_configuration_fields(ctx: TargetContext) -> dict[str, str]:
    endpoint = ctx.resource["properties"]["endpoint"]
    key_id, secret = keys.app_configuration_key(ctx.resource["id"]) if ctx.creds.secrets else ("", "")
    return _common(ctx) | {"endpoint": endpoint, "secret_connection_string": f"Endpoint={endpoint};Id={key_id};"
                                                                           f"Secret={secret}"}  # fmt: skip


_APP_CONFIGURATION: KeyTable = {"*": {
    WI: (("AZURE_APPCONFIGURATION_ENDPOINT", "endpoint"), ("AZURE_APPCONFIGURATION_CLIENTID", "client_id")),
    SECRET: (("AZURE_APPCONFIGURATION_CONNECTIONSTRING", "secret_connection_string"),),
    SP: _sp("AZURE_APPCONFIGURATION", ("AZURE_APPCONFIGURATION_ENDPOINT", "endpoint")),
}}  # fmt: skip


# -- Cosmos DB: NoSQL, MongoDB, Cassandra, Gremlin, Table (how-to-integrate-cosmos-*.md) ---------------------------
def _cosmos_fields(api: str) -> Fields:
    def fields(ctx: TargetContext) -> dict[str, str]:
        account = ctx.resource
        name = account["name"]
        key = keys.cosmos_key(account["id"]) if ctx.creds.secrets else ""
        manage = f"https://management.azure.com{account['id']}"
        database = ctx.parts.get("database", "")
        return _common(ctx) | {
            "list_connection_strings_url": f"{manage}/listConnectionStrings?api-version={COSMOS_KEYS_API}",
            "list_keys_url": f"{manage}/listKeys?api-version={COSMOS_KEYS_API}",
            "scope": ARM_SCOPE,
            "endpoint": account["properties"]["documentEndpoint"],
            "secret_connection_string": ds.cosmos_connection_string(account, api, key),
            "key": key,
            "password": key,
            "database": database,
            "contact_point": f"{name}.cassandra.cosmos.azure.com",
            "cassandra_port": "10350",
            "hostname": f"{name}.gremlin.cosmos.azure.com",
            "gremlin_port": "443",
            "username": name,
            "gremlin_username": f"/dbs/{database}/colls/{ctx.parts.get('graph', '')}",
        }

    return fields


def _cosmos_url_table(url_key: str, url_field: str, *middle: tuple[str, str]) -> dict[AuthType, tuple]:
    head = ((f"AZURE_COSMOS_{url_key}", url_field), ("AZURE_COSMOS_SCOPE", "scope"))
    return {
        WI: (*head, *middle, ("AZURE_COSMOS_CLIENTID", "client_id")),
        SP: (*head, *middle, ("AZURE_COSMOS_CLIENTID", "client_id"), ("AZURE_COSMOS_CLIENTSECRET", "client_secret"),
             ("AZURE_COSMOS_TENANTID", "tenant_id")),
    }  # fmt: skip


def _cosmos_connection_string_table() -> KeyTable:
    """NoSQL, MongoDB and Table: the list-connection-strings URL for identities, one connection string for secret."""
    identity = _cosmos_url_table("LISTCONNECTIONSTRINGURL", "list_connection_strings_url")
    endpoint = ("AZURE_COSMOS_RESOURCEENDPOINT", "endpoint")
    return {"*": {WI: (*identity[WI], endpoint), SP: (*identity[SP], endpoint),
                  SECRET: (("AZURE_COSMOS_CONNECTIONSTRING", "secret_connection_string"),)}}  # fmt: skip


_COSMOS_SQL = _cosmos_connection_string_table() | {
    "springBoot": {
        WI: (("spring.cloud.azure.cosmos.credential.managed-identity-enabled", "=true"),
             ("spring.cloud.azure.cosmos.database", "database"), ("spring.cloud.azure.cosmos.endpoint", "endpoint"),
             ("spring.cloud.azure.cosmos.credential.client-id", "client_id")),
        SECRET: (("azure.cosmos.key", "key"), ("azure.cosmos.database", "database"), ("azure.cosmos.uri", "endpoint"),
                 ("spring.cloud.azure.cosmos.key", "key"), ("spring.cloud.azure.cosmos.database", "database"),
                 ("spring.cloud.azure.cosmos.endpoint", "endpoint")),
        SP: (("spring.cloud.azure.cosmos.credential.client-id", "client_id"),
             ("spring.cloud.azure.cosmos.credential.client-secret", "client_secret"),
             ("spring.cloud.azure.cosmos.profile.tenant-id", "tenant_id"),
             ("spring.cloud.azure.cosmos.database", "database"), ("spring.cloud.azure.cosmos.endpoint", "endpoint")),
    }
}  # fmt: skip
_COSMOS_MONGO = _cosmos_connection_string_table() | {
    "springBoot": {SECRET: (("spring.data.mongodb.database", "database"),
                            ("spring.data.mongodb.uri", "secret_connection_string"))},
}  # fmt: skip
_CASSANDRA_ADDRESS = (("AZURE_COSMOS_CONTACTPOINT", "contact_point"), ("AZURE_COSMOS_PORT", "cassandra_port"),
                      ("AZURE_COSMOS_KEYSPACE", "database"), ("AZURE_COSMOS_USERNAME", "username"))  # fmt: skip
_COSMOS_CASSANDRA: KeyTable = {"*": {
    **_cosmos_url_table("LISTKEYURL", "list_keys_url", ("AZURE_COSMOS_RESOURCEENDPOINT", "endpoint"),
                        *_CASSANDRA_ADDRESS),
    SECRET: (*_CASSANDRA_ADDRESS, ("AZURE_COSMOS_PASSWORD", "password")),
}}  # fmt: skip
_GREMLIN_ADDRESS = (("AZURE_COSMOS_HOSTNAME", "hostname"), ("AZURE_COSMOS_PORT", "gremlin_port"),
                    ("AZURE_COSMOS_USERNAME", "gremlin_username"))  # fmt: skip
_COSMOS_GREMLIN: KeyTable = {"*": {
    **_cosmos_url_table("LISTKEYURL", "list_keys_url", ("AZURE_COSMOS_RESOURCEENDPOINT", "endpoint"),
                        *_GREMLIN_ADDRESS),
    SECRET: (*_GREMLIN_ADDRESS, ("AZURE_COSMOS_PASSWORD", "password")),
}}  # fmt: skip


# -- Event Hubs and Service Bus (how-to-integrate-event-hubs.md, -service-bus.md) ----------------------------------
def _namespace_fields(ctx: TargetContext) -> dict[str, str]:
    namespace = ctx.resource["name"]
    key = keys.sas_key(ctx.resource["id"]) if ctx.creds.secrets else ""
    return _common(ctx) | {
        "namespace": namespace,
        "fqns": f"{namespace}.servicebus.windows.net",
        "bootstrap": f"{namespace}.servicebus.windows.net:9093",
        "secret_connection_string": f"Endpoint=sb://{namespace}.servicebus.windows.net/;"
        f"SharedAccessKeyName={keys.SAS_RULE};SharedAccessKey={key}",
    }


def _namespace_table(prefix: str) -> KeyTable:
    fqns = (f"{prefix}_FULLYQUALIFIEDNAMESPACE", "fqns")
    return {"*": {WI: (fqns, (f"{prefix}_CLIENTID", "client_id")), SP: _sp(prefix, fqns),
                  SECRET: ((f"{prefix}_CONNECTIONSTRING", "secret_connection_string"),)}}  # fmt: skip


_EH = "spring.cloud.azure.eventhubs"
_EVENT_HUBS = _namespace_table("AZURE_EVENTHUB") | {
    "springBoot": {
        WI: (("spring.cloud.azure.eventhub.namespace", "namespace"), (f"{_EH}.namespace", "namespace"),
             (f"{_EH}.credential.managed-identity-enabled", "=true"), ("spring.cloud.azure.client-id", "client_id"),
             (f"{_EH}.credential.client-id", "client_id")),
        SP: (("spring.cloud.azure.eventhub.namespace", "namespace"), ("spring.cloud.azure.client-id", "client_id"),
             ("spring.cloud.azure.tenant-id", "tenant_id"), ("spring.cloud.azure.client-secret", "client_secret"),
             (f"{_EH}.namespace", "namespace"), (f"{_EH}.credential.client-id", "client_id"),
             (f"{_EH}.credential.client-secret", "client_secret"), (f"{_EH}.profile.tenant-id", "tenant_id")),
        SECRET: (("spring.cloud.azure.storage.connection-string", "secret_connection_string"),  # sic, the page's
                 (f"{_EH}.connection-string", "secret_connection_string")),
    },
    "kafka-springBoot": {
        WI: (("spring.kafka.bootstrap-servers", "bootstrap"),
             ("spring.kafka.properties.azure.credential.managed-identity-enabled", "=true"),
             ("spring.kafka.properties.azure.credential.client-id", "client_id")),
        SP: (("spring.kafka.bootstrap-servers", "bootstrap"),
             ("spring.kafka.properties.azure.credential.client-id", "client_id"),
             ("spring.kafka.properties.azure.credential.client-secret", "client_secret"),
             ("spring.kafka.properties.azure.profile.tenant-id", "tenant_id")),
        SECRET: ((f"{_EH}.connection-string", "secret_connection_string"),),
    },
}  # fmt: skip
_SERVICE_BUS = _namespace_table("AZURE_SERVICEBUS") | {
    "springBoot": {
        WI: (("spring.cloud.azure.servicebus.namespace", "namespace"), ("spring.cloud.azure.client-id", "client_id")),
        SP: (("spring.cloud.azure.servicebus.namespace", "namespace"), ("spring.cloud.azure.client-id", "client_id"),
             ("spring.cloud.azure.tenant-id", "tenant_id"), ("spring.cloud.azure.client-secret", "client_secret")),
        SECRET: (("spring.cloud.azure.servicebus.connection-string", "secret_connection_string"),),
    },
}  # fmt: skip


# -- Azure Cache for Redis (how-to-integrate-redis-cache.md) -------------------------------------------------------
def _redis_fields(port: str, enterprise: bool = False) -> Fields:
    """Azure Cache for Redis (the database is an index) and Redis Enterprise (its `default` database, always index
    0, port 10000; names assumed the same as Redis's, TARGETS.md 3.19)."""

    def fields(ctx: TargetContext) -> dict[str, str]:
        host = ctx.resource["properties"]["hostName"]
        key = keys.short_key(ctx.target_id if enterprise else ctx.resource["id"]) if ctx.creds.secrets else ""
        database = "0" if enterprise else ctx.parts["database"]
        return _common(ctx) | {
            "host": host, "port": port, "database": database, "password": key, "ssl": "true",
            "secret_connection_string": f"rediss://:{key}@{host}:{port}/{database}",
            "dotnet_connection_string": f"{host}:{port},password={key},ssl=True,defaultDatabase={database}",
        }  # fmt: skip

    return fields


_REDIS_FIELDS = (("HOST", "host"), ("PORT", "port"), ("DATABASE", "database"), ("PASSWORD", "password"),
                 ("SSL", "ssl"))  # fmt: skip
_REDIS: KeyTable = {
    "*": {WI: (("AZURE_REDIS_HOST", "host"), ("AZURE_REDIS_CLIENTID", "client_id")),
          SP: _sp("AZURE_REDIS", ("AZURE_REDIS_HOST", "host")),
          SECRET: (("AZURE_REDIS_CONNECTIONSTRING", "secret_connection_string"),)},
    "dotnet": {SECRET: (("AZURE_REDIS_CONNECTIONSTRING", "dotnet_connection_string"),)},
    "none": {SECRET: tuple((f"AZURE_REDIS_{name}", field) for name, field in _REDIS_FIELDS)},
    "springBoot": {SECRET: tuple((f"spring.redis.{name.lower()}", field) for name, field in _REDIS_FIELDS)},
}  # fmt: skip


# -- Application Insights (recording test_webapp_app_insights_e2e.yaml: no AZURE_ prefix) -------------------------
_APP_INSIGHTS: KeyTable = {"*": {SECRET: (
    ("APPINSIGHTS_INSTRUMENTATIONKEY", "key"), ("APPLICATIONINSIGHTS_CONNECTION_STRING", "secret_connection_string")
)}}  # fmt: skip


def _app_insights_fields(ctx: TargetContext) -> dict[str, str]:
    props = ctx.resource["properties"]
    return {"key": props["InstrumentationKey"], "secret_connection_string": props["ConnectionString"]}


# -- PostgreSQL and MySQL flexible servers (how-to-integrate-postgres.md, -mysql.md): user-provided secret ---------
def _database_fields(port: str, templates: dict[str, str]) -> Fields:
    def fields(ctx: TargetContext) -> dict[str, str]:
        values = {
            "host": ctx.resource["properties"]["fullyQualifiedDomainName"],
            "port": port,
            "database": ctx.parts["database"],
            "user": ctx.creds.user,
            "password": ctx.creds.password,
        }
        connection_strings = {name: template.format(**values) for name, template in templates.items()}
        return _common(ctx) | values | connection_strings

    return fields


_POSTGRES_STRINGS = {
    "secret_connection_string": "dbname={database} host={host} port={port} sslmode=require user={user} "
    "password={password}",
    "dotnet_connection_string": "Server={host};Database={database};Port={port};Ssl Mode=Require;User Id={user};"
    "Password={password};",
    "java_connection_string": "jdbc:postgresql://{host}:{port}/{database}?sslmode=require&user={user}"
    "&password={password}",
    "go_connection_string": "host={host} dbname={database} sslmode=require user={user} password={password}",
    "php_connection_string": "host={host} port={port} dbname={database} sslmode=require user={user} "
    "password={password}",
    "jdbc_url": "jdbc:postgresql://{host}:{port}/{database}?sslmode=require",
}
_PG = "AZURE_POSTGRESQL"
_POSTGRES: KeyTable = {
    "*": {SECRET: ((f"{_PG}_CONNECTIONSTRING", "secret_connection_string"),)},
    "django": {SECRET: ((f"{_PG}_NAME", "database"), (f"{_PG}_HOST", "host"), (f"{_PG}_USER", "user"),
                        (f"{_PG}_PASSWORD", "password"))},
    "dotnet": {SECRET: ((f"{_PG}_CONNECTIONSTRING", "dotnet_connection_string"),)},
    "java": {SECRET: ((f"{_PG}_CONNECTIONSTRING", "java_connection_string"),)},
    "go": {SECRET: ((f"{_PG}_CONNECTIONSTRING", "go_connection_string"),)},
    "php": {SECRET: ((f"{_PG}_CONNECTIONSTRING", "php_connection_string"),)},
    "ruby": {SECRET: ((f"{_PG}_CONNECTIONSTRING", "php_connection_string"),)},
    "nodejs": {SECRET: ((f"{_PG}_HOST", "host"), (f"{_PG}_USER", "user"), (f"{_PG}_PASSWORD", "password"),
                        (f"{_PG}_DATABASE", "database"), (f"{_PG}_PORT", "port"), (f"{_PG}_SSL", "=true"))},
    "none": {SECRET: ((f"{_PG}_HOST", "host"), (f"{_PG}_USERNAME", "user"), (f"{_PG}_DATABASE", "database"),
                      (f"{_PG}_PORT", "port"), (f"{_PG}_SSL", "=true"), (f"{_PG}_PASSWORD", "password"))},
    "springBoot": {SECRET: (("spring.datasource.url", "jdbc_url"), ("spring.datasource.username", "user"),
                            ("spring.datasource.password", "password"))},
}  # fmt: skip
_MYSQL_STRINGS = {
    "dotnet_connection_string": "Server={host};Database={database};Port={port};User Id={user};Password={password};"
    "SSL Mode=Required",
    "java_connection_string": "jdbc:mysql://{host}:{port}/{database}?sslmode=required&user={user}&password={password}",
    "go_connection_string": "{user}:{password}@tcp({host}:{port})/{database}?tls=true",
    "jdbc_url": "jdbc:mysql://{host}:{port}/{database}?sslmode=required",
}
_MY = "AZURE_MYSQL"
_MYSQL: KeyTable = {
    "*": {SECRET: ((f"{_MY}_NAME", "database"), (f"{_MY}_HOST", "host"), (f"{_MY}_USER", "user"),
                   (f"{_MY}_PASSWORD", "password"))},
    "dotnet": {SECRET: ((f"{_MY}_CONNECTIONSTRING", "dotnet_connection_string"),)},
    "java": {SECRET: ((f"{_MY}_CONNECTIONSTRING", "java_connection_string"),)},
    "go": {SECRET: ((f"{_MY}_CONNECTIONSTRING", "go_connection_string"),)},
    "nodejs": {SECRET: ((f"{_MY}_HOST", "host"), (f"{_MY}_USER", "user"), (f"{_MY}_PASSWORD", "password"),
                        (f"{_MY}_DATABASE", "database"), (f"{_MY}_PORT", "port"), (f"{_MY}_SSL", "=true"))},
    "php": {SECRET: ((f"{_MY}_DBNAME", "database"), (f"{_MY}_HOST", "host"), (f"{_MY}_PORT", "port"),
                     (f"{_MY}_FLAG", "=MySQL_CLIENT_SSL"), (f"{_MY}_USERNAME", "user"),
                     (f"{_MY}_PASSWORD", "password"))},
    "ruby": {SECRET: ((f"{_MY}_DATABASE", "database"), (f"{_MY}_HOST", "host"), (f"{_MY}_USERNAME", "user"),
                      (f"{_MY}_PASSWORD", "password"), (f"{_MY}_SSLMODE", "=required"))},
    "none": {SECRET: ((f"{_MY}_HOST", "host"), (f"{_MY}_USERNAME", "user"), (f"{_MY}_PASSWORD", "password"),
                      (f"{_MY}_DATABASE", "database"), (f"{_MY}_PORT", "port"), (f"{_MY}_SSL", "=true"))},
    "springBoot": {SECRET: (("spring.datasource.url", "jdbc_url"), ("spring.datasource.username", "user"),
                            ("spring.datasource.password", "password"))},
}  # fmt: skip


# -- SignalR and Web PubSub (how-to-integrate-signalr.md, -web-pubsub.md) ------------------------------------------
def _signalr_fields(ctx: TargetContext) -> dict[str, str]:
    endpoint = f"Endpoint=https://{ctx.resource['properties']['hostName']}"
    key = keys.short_key(ctx.resource["id"]) if ctx.creds.secrets else ""
    c = ctx.creds
    return _common(ctx) | {
        "host": ctx.resource["properties"]["hostName"],
        "aad_connection_string": f"{endpoint};AuthType=aad;client-id={c.client_id};Version=1.0;",
        "sp_connection_string": f"{endpoint};AuthType=aad;ClientId={c.client_id};ClientSecret={c.password};"
        f"TenantId={c.tenant_id};Version=1.0;",
        "secret_connection_string": f"{endpoint};AccessKey={key};Version=1.0;",
    }


_SIGNALR: KeyTable = {"*": {WI: (("AZURE_SIGNALR_CONNECTIONSTRING", "aad_connection_string"),),
                            SP: (("AZURE_SIGNALR_CONNECTIONSTRING", "sp_connection_string"),),
                            SECRET: (("AZURE_SIGNALR_CONNECTIONSTRING", "secret_connection_string"),)}}  # fmt: skip
_WEB_PUBSUB: KeyTable = {"*": {
    WI: (("AZURE_WEBPUBSUB_HOST", "host"), ("AZURE_WEBPUBSUB_CLIENTID", "client_id")),
    SP: _sp("AZURE_WEBPUBSUB", ("AZURE_WEBPUBSUB_HOST", "host")),
    SECRET: (("AZURE_WEBPUBSUB_CONNECTIONSTRING", "secret_connection_string"),),
}}  # fmt: skip


# -- SQL Database and Cognitive Services accounts (linker_config.py) -----------------------------------------------
def _sql(ctx: TargetContext) -> list[ConfigItem]:
    return sql_configuration(ctx.client_type, ctx.auth, ctx.parts["server"], ctx.parts["database"], ctx.creds)


def _cognitive(ctx: TargetContext) -> list[ConfigItem]:
    kind = AccountKind(ctx.resource.get("kind") or AccountKind.OPENAI)
    return account_configuration(kind, ctx.auth, ctx.resource, ctx.creds)


# Roles (concept-microsoft-entra-roles.md)
STORAGE_ROLES = {"blob": "ba92f5b4-2d11-453d-a403-e96b0029c9fe", "queue": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
                 "table": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"}  # fmt: skip
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
KEY_VAULT_CERTIFICATE_USER = "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba"
COGNITIVE_ROLES = {  # per account kind; AIServices takes the OpenAI row (INFERRED: the page lists no role for it)
    AccountKind.OPENAI: "a001fd3d-188f-4b5d-821b-7da978bf7442",  # Cognitive Services OpenAI Contributor
    AccountKind.AI_SERVICES: "a001fd3d-188f-4b5d-821b-7da978bf7442",
    AccountKind.COGNITIVE_SERVICES: "a97b65f3-24c7-4388-baec-2e87135dc908",  # Cognitive Services User
}
DOCUMENTDB_ACCOUNT_CONTRIBUTOR = "5bd9cd88-fe45-4216-938b-f97437e15450"

_ALL = (WI, SECRET, SP)
_SAS_LIST_KEYS = "Microsoft.{}/namespaces/authorizationRules/listkeys/action"
_SAS_RULE = f"/authorizationRules/{keys.SAS_RULE}"


def _kinds() -> tuple[TargetKind, ...]:
    storage = tuple(
        TargetKind(f"storage-{s}", f"Microsoft.Storage/storageAccounts/{{account}}/{s}Services/default",
                   (SECRET,) if s == "file" else _ALL,
                   SecretSource.SERVICE, (STORAGE_ROLES[s],) if s in STORAGE_ROLES else (),
                   tabled(_storage_fields(s), _storage_table(s)),
                   list_keys="Microsoft.Storage/storageAccounts/listkeys/action")
        for s in ("blob", "queue", "table", "file")
    )  # fmt: skip
    cosmos = (
        ("cosmos-sql", "sqlDatabases/{database}", ds.CosmosApi.SQL, _COSMOS_SQL),
        ("cosmos-mongo", "mongodbDatabases/{database}", ds.CosmosApi.MONGO, _COSMOS_MONGO),
        ("cosmos-cassandra", "cassandraKeyspaces/{database}", ds.CosmosApi.CASSANDRA, _COSMOS_CASSANDRA),
        ("cosmos-gremlin", "gremlinDatabases/{database}/graphs/{graph}", ds.CosmosApi.GREMLIN, _COSMOS_GREMLIN),
        ("cosmos-table", "tables/{database}", ds.CosmosApi.TABLE, None),
    )
    cosmos_kinds = tuple(
        TargetKind(name, f"Microsoft.DocumentDB/databaseAccounts/{{account}}/{tail}", _ALL, SecretSource.SERVICE,
                   (DOCUMENTDB_ACCOUNT_CONTRIBUTOR,),
                   tabled(_cosmos_fields(api), table or _cosmos_connection_string_table()),
                   list_keys="Microsoft.DocumentDB/databaseAccounts/listKeys/action")
        for name, tail, api, table in cosmos
    )  # fmt: skip
    return (
        *storage,
        TargetKind("keyvault", "Microsoft.KeyVault/vaults/{account}", (WI, SP), SecretSource.NONE,
                   (KEY_VAULT_SECRETS_USER, KEY_VAULT_CERTIFICATE_USER), _key_vault),
        TargetKind("appconfig", "Microsoft.AppConfiguration/configurationStores/{account}", _ALL,
                   SecretSource.SERVICE, ("516239f1-63e1-4d78-a4de-a74fb236a071",),
                   tabled(_app_configuration_fields, _APP_CONFIGURATION),
                   list_keys="Microsoft.AppConfiguration/configurationStores/ListKeys/action"),
        *cosmos_kinds,
        TargetKind("eventhub", "Microsoft.EventHub/namespaces/{account}", _ALL, SecretSource.SERVICE,
                   ("a638d3c7-ab3a-418d-83e6-5f17a39d4fde", "2b629674-e913-4c01-ae53-ef4638d8f975"),
                   tabled(_namespace_fields, _EVENT_HUBS), list_keys=_SAS_LIST_KEYS.format("EventHub"),
                   list_keys_at=_SAS_RULE),
        TargetKind("servicebus", "Microsoft.ServiceBus/namespaces/{account}", _ALL,
                   SecretSource.SERVICE,
                   ("4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0", "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39"),
                   tabled(_namespace_fields, _SERVICE_BUS), list_keys=_SAS_LIST_KEYS.format("ServiceBus"),
                   list_keys_at=_SAS_RULE),
        TargetKind("redis", "Microsoft.Cache/redis/{account}/databases/{database}", _ALL,
                   SecretSource.SERVICE, (), tabled(_redis_fields("6380"), _REDIS), index_of="database",
                   list_keys="Microsoft.Cache/redis/listKeys/action"),
        TargetKind("redis-enterprise", "Microsoft.Cache/redisEnterprise/{account}/databases/{database}", (SECRET,),
                   SecretSource.SERVICE, (), tabled(_redis_fields("10000", enterprise=True), _REDIS),
                   list_keys="Microsoft.Cache/redisEnterprise/databases/listKeys/action",
                   list_keys_at="/databases/{database}"),
        TargetKind("app-insights", "microsoft.insights/components/{account}", (SECRET,), SecretSource.SERVICE, (),
                   tabled(_app_insights_fields, _APP_INSIGHTS)),
        TargetKind("postgres-flexible",
                   "Microsoft.DBforPostgreSQL/flexibleServers/{account}/databases/{database}",
                   (SECRET,), SecretSource.USER, (), tabled(_database_fields("5432", _POSTGRES_STRINGS), _POSTGRES)),
        TargetKind("mysql-flexible",
                   "Microsoft.DBforMySQL/flexibleServers/{account}/databases/{database}",
                   (SECRET,), SecretSource.USER, (), tabled(_database_fields("3306", _MYSQL_STRINGS), _MYSQL)),
        TargetKind("signalr", "Microsoft.SignalRService/SignalR/{account}", _ALL,
                   SecretSource.SERVICE, ("7e4f1700-ea5a-4f59-8f37-079cfe29dce3",), tabled(_signalr_fields, _SIGNALR),
                   list_keys="Microsoft.SignalRService/SignalR/listkeys/action"),
        TargetKind("webpubsub", "Microsoft.SignalRService/WebPubSub/{account}", _ALL,
                   SecretSource.SERVICE, ("8cf5e20a-e4b2-4e9d-b3a1-5ceb692c2761",),
                   tabled(_signalr_fields, _WEB_PUBSUB),
                   list_keys="Microsoft.SignalRService/WebPubSub/listkeys/action"),
        TargetKind("sql", "Microsoft.Sql/servers/{server}/databases/{database}", (SECRET, WI),
                   SecretSource.USER, (), _sql),
        TargetKind("cognitiveservices", "Microsoft.CognitiveServices/accounts/{account}", _ALL,
                   SecretSource.SERVICE, (), _cognitive,
                   list_keys="Microsoft.CognitiveServices/accounts/listKeys/action"),
    )  # fmt: skip


KINDS = _kinds()


def kind_of(target_id: str) -> tuple[TargetKind, re.Match] | None:
    for kind in KINDS:
        match = kind.match(target_id)
        if match:
            return kind, match
    return None


def resource_id_of(target_id: str, kind: TargetKind, match: re.Match) -> str:
    """The ARM resource a configuration reads: the account, server, namespace or cache the target hangs under."""
    group = "account" if "account" in match.groupdict() else None
    return target_id[: match.end(group)] if group else target_id


def roles_for(kind: TargetKind, resource: dict) -> tuple[str, ...]:
    if kind.name == "cognitiveservices":
        return (COGNITIVE_ROLES[AccountKind(resource.get("kind") or AccountKind.OPENAI)],)
    return kind.roles


def expected_shapes(target_id: str) -> list[str]:
    """For an id no kind matches: the shapes of the kinds on the same resource type (to say what was meant)."""
    lowered = target_id.lower()
    return [f".../providers/{k.shape}" for k in KINDS
            if f"/providers/{'/'.join(k.shape.split('/')[:2])}/".lower() in lowered]  # fmt: skip
