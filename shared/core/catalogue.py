"""Every target Service Connector connects an AKS cluster to, as data: one entry per target type.

An entry says which ARM resource a user tags (the parent: the storage account, the flexible server, the Cosmos
account, the cache...), how the Service Connector target id follows from it and its tags, the auth types Service
Connector allows for an AKS source (the first is the default), where a secret comes from, the keys the connection's
Kubernetes Secret holds per auth type and client type, the roles Service Connector assigns a workload identity,
the rights the app's own identity needs, and the Event Grid operations that concern it. Nothing else in the
planner, executor or sweep names a target type: they ask this table.

Every fact comes from docs/TARGETS.md (the verified per-target facts, with their sources). Where that file
marks a fact inferred, the decision taken here is said next to it, marked "DECIDED".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

from shared.core.ids import ResourceRef
from shared.core.model import AuthKind, TargetKind

WI, SECRET, CSI = AuthKind.WORKLOAD_IDENTITY, AuthKind.SECRET, AuthKind.CSI
ANY_CLIENT = "*"  # the key table of every client type not listed on its own ("other client types" in the docs)


class SecretSource(Enum):
    """Where the value behind `sc-auth=secret` comes from."""

    FETCHED = "fetched"  # Service Connector reads the target's keys itself, with the caller's rights
    USER = "user"  # the tags name a user (sc-user) and a Key Vault secret holding the password (sc-password)


@dataclass(frozen=True)
class Role:
    name: str
    guid: str


@dataclass(frozen=True)
class DatabaseTag:
    """What `sc-database` names for a target whose Service Connector id goes below the tagged resource."""

    what: str  # shown to the user: "database", "keyspace", "database/graph"...
    pattern: re.Pattern[str]  # applied with fullmatch
    default: str | None = None  # None: the tag is required


@dataclass(frozen=True)
class Entry:
    kind: TargetKind
    cli_name: str  # `az aks connection create <cli_name>`
    title: str
    tagged_type: str  # the ARM type a user tags, as ARM spells it
    api_version: str  # to GET the tagged resource
    auth: tuple[AuthKind, ...]  # allowed for an AKS source; the first is the default
    client_types: tuple[str, ...]
    keys: Mapping[AuthKind, Mapping[str, tuple[str, ...]]]  # auth -> client type (or ANY_CLIENT) -> Secret keys
    suffix: str = ""  # appended to the tagged id to make the target id; `{0}`, `{1}`: sc-database's `/` parts
    database: DatabaseTag | None = None
    service: str | None = None  # the sc-service value selecting this entry on its tagged resource (storage)
    account_kinds: frozenset[str] = frozenset()  # lower-case ARM `kind` (or Cosmos API) selecting this entry
    secret_source: SecretSource | None = None  # None: secret auth is not allowed
    roles: tuple[Role, ...] = ()  # assigned by Service Connector to a workload identity on the target
    app_actions: tuple[str, ...] = ()  # ARM actions Service Connector performs with the caller's (the app's) rights
    contained_db_user: bool = False  # workload identity needs a database user made by a database admin
    documented: str = ""  # the MicrosoftDocs page

    @property
    def target_type(self) -> str:
        """The lower-case ARM type of the Service Connector target id."""
        extra = [s for s in self.suffix.split("/") if s][0::2]
        return "/".join([self.tagged_type, *extra]).lower()

    @property
    def default_client_type(self) -> str:
        return "python" if "python" in self.client_types else "none"

    def target_id(self, resource_id: str, database: str | None = None) -> str:
        return resource_id.rstrip("/") + self.suffix.format(*(database or "").split("/"))

    def keys_for(self, auth: AuthKind, client_type: str) -> frozenset[str] | None:
        """The keys of the connection's Secret, or None where no source documents them (the sweep then goes by
        listConfigurations alone)."""
        table = self.keys.get(auth, {})
        keys = table.get(client_type, table.get(ANY_CLIENT))
        return frozenset(keys) if keys is not None and client_type in self.client_types else None

    @property
    def operations(self) -> tuple[str, str]:
        return f"{self.tagged_type}/write", f"{self.tagged_type}/delete"


def _prefixed(prefix: str, *names: str) -> tuple[str, ...]:
    return tuple(f"{prefix}{n}" for n in names)


def _spring(*names: str) -> tuple[str, ...]:
    return names


def _spring_boot(names: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """The springBoot row of a key table, where the docs give one."""
    return {"springBoot": names} if names else {}


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")
_SQL_DB_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_$@#-]{0,62}")
_COSMOS_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,254}")
_GRAPH = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,254}/[A-Za-z0-9][A-Za-z0-9_-]{0,254}")
_TABLE = re.compile(r"[A-Za-z][A-Za-z0-9]{2,62}")
_KEYSPACE = re.compile(r"[A-Za-z0-9_]{1,48}")
_REDIS_INDEX = re.compile(r"[0-9]|1[0-5]")  # 16 databases: the Basic/Standard/Premium default
_DATABASE = DatabaseTag("database", _SQL_DB_NAME)

ALL_CLIENTS = ("dotnet", "java", "python", "nodejs", "go", "php", "ruby", "django", "springBoot", "none")
_DB_CLIENTS = ALL_CLIENTS
_STORAGE_CLIENTS = ("dotnet", "java", "python", "nodejs", "springBoot", "none")


def _storage(service: str, kind: TargetKind, role: Role | None, spring_wi: tuple, spring_secret: tuple) -> Entry:
    prefix = f"AZURE_STORAGE{service.upper()}_"
    wi = {WI: {ANY_CLIENT: _prefixed(prefix, "RESOURCEENDPOINT", "CLIENTID"), **_spring_boot(spring_wi)}}
    clients = {
        "table": ("dotnet", "java", "python", "nodejs", "none"),
        "file": ("dotnet", "java", "python", "nodejs", "php", "ruby", "springBoot", "none"),
    }
    return Entry(
        kind=kind,
        cli_name=f"storage-{service}",
        title=f"Storage {service}",
        tagged_type="Microsoft.Storage/storageAccounts",
        api_version="2023-05-01",
        suffix=f"/{service}Services/default",
        service=service,
        auth=(WI, SECRET) if role else (SECRET,),  # Azure Files: secret only (D-storage-file)
        client_types=clients.get(service, _STORAGE_CLIENTS),
        keys={
            **(wi if role else {}),
            SECRET: {ANY_CLIENT: (f"{prefix}CONNECTIONSTRING",), **_spring_boot(spring_secret)},
        },
        secret_source=SecretSource.FETCHED,  # the account keys (listKeys) as an AccountKey= connection string
        roles=(role,) if role else (),
        app_actions=("Microsoft.Storage/storageAccounts/read", "Microsoft.Storage/storageAccounts/listKeys/action"),
        documented=f"how-to-integrate-storage-{service}.md",
    )


def _cosmos(
    kind: TargetKind,
    cli: str,
    api: str,
    suffix: str,
    database: DatabaseTag,
    wi: tuple,
    secret: tuple,
    clients: tuple[str, ...],
    spring: Mapping[AuthKind, tuple] | None = None,
) -> Entry:
    keys: dict[AuthKind, dict[str, tuple[str, ...]]] = {WI: {ANY_CLIENT: wi}, SECRET: {ANY_CLIENT: secret}}
    for auth, names in (spring or {}).items():
        keys[auth]["springBoot"] = names
    return Entry(
        kind=kind,
        cli_name=cli,
        title=f"Cosmos DB ({api})",
        tagged_type="Microsoft.DocumentDB/databaseAccounts",
        api_version="2024-05-15",
        suffix=suffix,
        database=database,
        account_kinds=frozenset({api}),
        auth=(WI, SECRET),
        client_types=clients,
        keys=keys,
        secret_source=SecretSource.FETCHED,  # listKeys / listConnectionStrings
        roles=(Role("DocumentDB Account Contributor", "5bd9cd88-fe45-4216-938b-f97437e15450"),),
        app_actions=(
            "Microsoft.DocumentDB/databaseAccounts/read",
            "Microsoft.DocumentDB/databaseAccounts/listKeys/action",
            "Microsoft.DocumentDB/databaseAccounts/listConnectionStrings/action",
        ),
        documented=f"how-to-integrate-{cli}.md",
    )


def _namespace(
    kind: TargetKind,
    cli: str,
    provider: str,
    name: str,
    roles: tuple[Role, ...],
    clients: tuple,
    spring: Mapping[AuthKind, Mapping[str, tuple]],
) -> Entry:
    prefix = f"AZURE_{name}_"
    keys: dict[AuthKind, dict[str, tuple[str, ...]]] = {
        WI: {ANY_CLIENT: _prefixed(prefix, "FULLYQUALIFIEDNAMESPACE", "CLIENTID")},
        SECRET: {ANY_CLIENT: (f"{prefix}CONNECTIONSTRING",)},
    }
    for auth, by_client in spring.items():
        keys[auth].update(by_client)
    return Entry(
        kind=kind,
        cli_name=cli,
        title="Event Hubs" if cli == "eventhub" else "Service Bus",
        tagged_type=f"{provider}/namespaces",
        api_version="2024-01-01" if cli == "eventhub" else "2022-10-01-preview",
        auth=(WI, SECRET),
        client_types=clients,
        keys=keys,
        secret_source=SecretSource.FETCHED,  # a namespace shared access rule's key
        roles=roles,
        app_actions=(
            f"{provider}/namespaces/read",
            f"{provider}/namespaces/authorizationRules/read",
            f"{provider}/namespaces/authorizationRules/listKeys/action",
        ),
        documented=f"how-to-integrate-{'event-hubs' if cli == 'eventhub' else 'service-bus'}.md",
    )


def _flexible(kind: TargetKind, cli: str, provider: str, keys: Mapping[str, tuple[str, ...]]) -> Entry:
    return Entry(
        kind=kind,
        cli_name=cli,
        title="PostgreSQL flexible server" if "Postgre" in provider else "MySQL flexible server",
        tagged_type=f"{provider}/flexibleServers",
        api_version="2022-12-01" if "Postgre" in provider else "2023-12-30",
        suffix="/databases/{0}",
        database=_DATABASE,
        auth=(SECRET,),  # CLI-RC: Secret only for AKS; managed identity for these is undocumented for AKS
        client_types=_DB_CLIENTS,
        keys={SECRET: keys},
        secret_source=SecretSource.USER,
        app_actions=(
            f"{provider}/flexibleServers/read",
            f"{provider}/flexibleServers/databases/read",
            f"{provider}/flexibleServers/firewallRules/read",  # AKS networking: IP firewall rules (D-AKS)
            f"{provider}/flexibleServers/firewallRules/write",
            f"{provider}/flexibleServers/firewallRules/delete",
        ),
        documented="how-to-integrate-postgres.md" if "Postgre" in provider else "how-to-integrate-mysql.md",
    )


_SPRING_DATASOURCE = ("spring.datasource.url", "spring.datasource.username", "spring.datasource.password")
_SQL = "AZURE_SQL_"
_PG = "AZURE_POSTGRESQL_"
_MY = "AZURE_MYSQL_"
_REDIS = "AZURE_REDIS_"
_REDIS_SECRET = {  # Azure Cache for Redis and Redis Enterprise share the Redis page's tables
    ANY_CLIENT: (f"{_REDIS}CONNECTIONSTRING",),
    "none": _prefixed(_REDIS, "HOST", "PORT", "DATABASE", "PASSWORD", "SSL"),
    "springBoot": ("spring.redis.host", "spring.redis.port", "spring.redis.database", "spring.redis.password",
                   "spring.redis.ssl"),
}  # fmt: skip
_COSMOS_WI_CS = _prefixed("AZURE_COSMOS_", "LISTCONNECTIONSTRINGURL", "SCOPE", "CLIENTID", "RESOURCEENDPOINT")
_COSMOS_SECRET_CS = ("AZURE_COSMOS_CONNECTIONSTRING",)
_OPENAI_ROLE = Role("Cognitive Services OpenAI Contributor", "a001fd3d-188f-4b5d-821b-7da978bf7442")
_COGNITIVE_ACTIONS = (
    "Microsoft.CognitiveServices/accounts/read",
    "Microsoft.CognitiveServices/accounts/listKeys/action",
)
_KV_ACTIONS = ("Microsoft.KeyVault/vaults/read",)


def _endpoint_service(kind: TargetKind, cli: str, title: str, tagged_type: str, api_version: str, prefix: str,
                      endpoint: str, role: Role, list_keys: str, documented: str) -> Entry:  # fmt: skip
    """A service whose workload identity gets its endpoint and whose secret is one connection string from its keys."""
    return Entry(
        kind=kind,
        cli_name=cli,
        title=title,
        tagged_type=tagged_type,
        api_version=api_version,
        auth=(WI, SECRET),
        client_types=("dotnet", "java", "python", "nodejs", "none"),
        keys={
            WI: {ANY_CLIENT: _prefixed(prefix, endpoint, "CLIENTID")},
            SECRET: {ANY_CLIENT: (f"{prefix}CONNECTIONSTRING",)},
        },
        secret_source=SecretSource.FETCHED,
        roles=(role,),
        app_actions=(f"{tagged_type}/read", f"{tagged_type}/{list_keys}/action"),
        documented=documented,
    )


def _cognitive(kind: TargetKind, account_kind: str, family: tuple[str, ...], prefix: str, role: Role) -> Entry:
    return Entry(
        kind=kind,
        cli_name="cognitiveservices",
        title={"openai": "Azure OpenAI", "aiservices": "AI Services (Foundry)"}.get(account_kind, "Cognitive Services"),
        tagged_type="Microsoft.CognitiveServices/accounts",
        api_version="2024-10-01",
        account_kinds=frozenset({account_kind}),
        auth=(WI, SECRET),
        client_types=("dotnet", "python", "none"),
        keys={WI: {ANY_CLIENT: (*family, f"{prefix}CLIENTID")}, SECRET: {ANY_CLIENT: (*family, f"{prefix}KEY")}},
        secret_source=SecretSource.FETCHED,
        roles=(role,),
        app_actions=_COGNITIVE_ACTIONS,
        documented={"openai": "how-to-integrate-openai.md", "aiservices": "how-to-integrate-ai-services.md"}.get(
            account_kind, "how-to-integrate-cognitive-services.md"
        ),
    )


ENTRIES: tuple[Entry, ...] = (
    Entry(
        kind=TargetKind.SQL_DATABASE,
        cli_name="sql",
        title="Azure SQL Database",
        tagged_type="Microsoft.Sql/servers/databases",  # the database is tracked (taggable): tagged itself
        api_version="2023-08-01",
        # CONFLICT (TARGETS 1.6): the CLI offers Secret only for AKS; the AKS SQL tutorial (T-SQL) creates the
        # connection with --workload-identity. DECIDED: both, secret the default (as before this catalogue).
        auth=(SECRET, WI),
        client_types=_DB_CLIENTS,
        keys={
            SECRET: {
                "python": _prefixed(_SQL, "SERVER", "PORT", "DATABASE", "USER", "PASSWORD"),
                "django": _prefixed(_SQL, "HOST", "PORT", "NAME", "USER", "PASSWORD"),
                "dotnet": (f"{_SQL}CONNECTIONSTRING",),
                "java": (f"{_SQL}CONNECTIONSTRING",),
                "go": (f"{_SQL}CONNECTIONSTRING",),
                "nodejs": _prefixed(_SQL, "SERVER", "PORT", "DATABASE", "USERNAME", "PASSWORD"),
                "php": _prefixed(_SQL, "SERVERNAME", "DATABASE", "UID", "PASSWORD"),
                "ruby": _prefixed(_SQL, "HOST", "PORT", "DATABASE", "USERNAME", "PASSWORD"),
                "none": _prefixed(_SQL, "HOST", "PORT", "DATABASE", "USERNAME", "PASSWORD"),
                "springBoot": _SPRING_DATASOURCE,
            },
            WI: {  # the UMI table (TARGETS 1.5); documented for python and dotnet only
                "python": _prefixed(_SQL, "SERVER", "PORT", "DATABASE", "USER", "AUTHENTICATION"),
                "dotnet": (f"{_SQL}CONNECTIONSTRING",),
            },
        },
        secret_source=SecretSource.USER,
        app_actions=(
            "Microsoft.Sql/servers/read",
            "Microsoft.Sql/servers/databases/read",
            "Microsoft.Sql/servers/firewallRules/read",
            "Microsoft.Sql/servers/firewallRules/write",
            "Microsoft.Sql/servers/firewallRules/delete",
        ),
        contained_db_user=True,  # no Azure role: a contained database user, made by a database admin
        documented="how-to-integrate-sql-database.md",
    ),
    _flexible(
        TargetKind.POSTGRES_FLEXIBLE,
        "postgres-flexible",
        "Microsoft.DBforPostgreSQL",
        {
            "python": (f"{_PG}CONNECTIONSTRING",),
            "django": _prefixed(_PG, "NAME", "HOST", "USER", "PASSWORD"),
            "dotnet": (f"{_PG}CONNECTIONSTRING",),
            "java": (f"{_PG}CONNECTIONSTRING",),
            "go": (f"{_PG}CONNECTIONSTRING",),
            "php": (f"{_PG}CONNECTIONSTRING",),
            "ruby": (f"{_PG}CONNECTIONSTRING",),
            "nodejs": _prefixed(_PG, "HOST", "USER", "PASSWORD", "DATABASE", "PORT", "SSL"),
            "none": _prefixed(_PG, "HOST", "USERNAME", "DATABASE", "PORT", "SSL", "PASSWORD"),
            "springBoot": _SPRING_DATASOURCE,
        },
    ),
    _flexible(
        TargetKind.MYSQL_FLEXIBLE,
        "mysql-flexible",
        "Microsoft.DBforMySQL",
        {
            "python": _prefixed(_MY, "NAME", "HOST", "USER", "PASSWORD"),
            "django": _prefixed(_MY, "NAME", "HOST", "USER", "PASSWORD"),
            "dotnet": (f"{_MY}CONNECTIONSTRING",),
            "java": (f"{_MY}CONNECTIONSTRING",),
            "go": (f"{_MY}CONNECTIONSTRING",),
            "nodejs": _prefixed(_MY, "HOST", "USER", "PASSWORD", "DATABASE", "PORT", "SSL"),
            "php": _prefixed(_MY, "DBNAME", "HOST", "PORT", "FLAG", "USERNAME", "PASSWORD"),
            "ruby": _prefixed(_MY, "DATABASE", "HOST", "USERNAME", "PASSWORD", "SSLMODE"),
            "none": _prefixed(_MY, "HOST", "USERNAME", "PASSWORD", "DATABASE", "PORT", "SSL"),
            "springBoot": _SPRING_DATASOURCE,
        },
    ),
    _storage(
        "blob",
        TargetKind.STORAGE_BLOB,
        Role("Storage Blob Data Contributor", "ba92f5b4-2d11-453d-a403-e96b0029c9fe"),
        _spring(
            "spring.cloud.azure.storage.blob.credential.managed-identity-enabled",
            "spring.cloud.azure.storage.blob.account-name",
            "spring.cloud.azure.storage.blob.endpoint",
            "spring.cloud.azure.storage.blob.credential.client-id",
        ),
        _spring(
            "azure.storage.account-name",
            "azure.storage.account-key",
            "azure.storage.blob-endpoint",
            "spring.cloud.azure.storage.blob.account-name",
            "spring.cloud.azure.storage.blob.account-key",
            "spring.cloud.azure.storage.blob.endpoint",
        ),
    ),
    _storage(
        "queue",
        TargetKind.STORAGE_QUEUE,
        Role("Storage Queue Data Contributor", "974c5e8b-45b9-4653-ba55-5f855dd0fb88"),
        _spring(
            "spring.cloud.azure.storage.queue.credential.managed-identity-enabled",
            "spring.cloud.azure.storage.queue.account-name",
            "spring.cloud.azure.storage.queue.endpoint",
            "spring.cloud.azure.storage.queue.credential.client-id",
        ),
        _spring(
            "spring.cloud.azure.storage.account",
            "spring.cloud.azure.storage.access-key",
            "spring.cloud.azure.storage.queue.account-name",
            "spring.cloud.azure.storage.queue.account-key",
            "spring.cloud.azure.storage.queue.endpoint",
        ),
    ),
    _storage(
        "table",
        TargetKind.STORAGE_TABLE,
        Role("Storage Table Data Contributor", "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"),
        (),
        (),
    ),
    _storage(
        "file",
        TargetKind.STORAGE_FILE,
        None,
        (),
        _spring(
            "azure.storage.account-name",
            "azure.storage.account-key",
            "azure.storage.file-endpoint",
            "spring.cloud.azure.storage.fileshare.account-name",
            "spring.cloud.azure.storage.fileshare.account-key",
            "spring.cloud.azure.storage.fileshare.endpoint",
        ),
    ),
    Entry(
        kind=TargetKind.KEYVAULT,
        cli_name="keyvault",
        title="Key Vault",
        tagged_type="Microsoft.KeyVault/vaults",
        api_version="2023-07-01",
        # No secret auth for Key Vault (D-keyvault). CSI = connectAsKubernetesCsiDriver with the cluster's
        # azure-keyvault-secrets-provider add-on identity (D-AKS, T-CSI).
        auth=(WI, CSI),
        client_types=_STORAGE_CLIENTS,
        keys={
            WI: {
                ANY_CLIENT: _prefixed("AZURE_KEYVAULT_", "SCOPE", "RESOURCEENDPOINT", "CLIENTID"),
                "springBoot": (
                    "azure.keyvault.uri",
                    "azure.keyvault.scope",
                    "spring.cloud.azure.keyvault.secret.credential.managed-identity-enabled",
                    "spring.cloud.azure.keyvault.secret.endpoint",
                    "azure.keyvault.client-id",
                    "spring.cloud.azure.keyvault.secret.credential.client-id",
                ),
            },
            # observed (OBS-KV, T-CSI placeholders), whatever the client type: the add-on's identity and the vault
            CSI: {ANY_CLIENT: _prefixed("AZURE_KEYVAULT_", "TENANTID", "NAME", "CLIENTID")},
        },
        roles=(
            Role("Key Vault Secrets User", "4633458b-17de-408a-b874-0445c86b69e6"),
            Role("Key Vault Certificate User", "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba"),
        ),
        app_actions=_KV_ACTIONS,
        documented="how-to-integrate-key-vault.md",
    ),
    _endpoint_service(
        TargetKind.APP_CONFIGURATION,
        "appconfig",
        "App Configuration",
        "Microsoft.AppConfiguration/configurationStores",
        "2023-03-01",
        "AZURE_APPCONFIGURATION_",
        "ENDPOINT",
        Role("App Configuration Data Reader", "516239f1-63e1-4d78-a4de-a74fb236a071"),
        "ListKeys",
        "how-to-integrate-app-configuration.md",
    ),
    _cosmos(
        TargetKind.COSMOS_SQL,
        "cosmos-sql",
        "sql",
        "/sqlDatabases/{0}",
        DatabaseTag("database", _COSMOS_NAME),
        _COSMOS_WI_CS,
        _COSMOS_SECRET_CS,
        ("dotnet", "java", "python", "nodejs", "springBoot", "none"),
        {
            WI: (
                "spring.cloud.azure.cosmos.credential.managed-identity-enabled",
                "spring.cloud.azure.cosmos.database",
                "spring.cloud.azure.cosmos.endpoint",
                "spring.cloud.azure.cosmos.credential.client-id",
            ),
            SECRET: (
                "azure.cosmos.key",
                "azure.cosmos.database",
                "azure.cosmos.uri",
                "spring.cloud.azure.cosmos.key",
                "spring.cloud.azure.cosmos.database",
                "spring.cloud.azure.cosmos.endpoint",
            ),
        },
    ),
    # CONFLICT (TARGETS 4.2): the CLI lists no python client for Mongo, its doc says Python is supported and ARM
    # accepts it. DECIDED: python allowed, with the documented "other client types" keys.
    _cosmos(
        TargetKind.COSMOS_MONGO,
        "cosmos-mongo",
        "mongo",
        "/mongodbDatabases/{0}",
        DatabaseTag("database", _COSMOS_NAME),
        _COSMOS_WI_CS,
        _COSMOS_SECRET_CS,
        ("dotnet", "java", "python", "nodejs", "go", "springBoot", "none"),
        {SECRET: ("spring.data.mongodb.database", "spring.data.mongodb.uri")},
    ),
    _cosmos(
        TargetKind.COSMOS_CASSANDRA,
        "cosmos-cassandra",
        "cassandra",
        "/cassandraKeyspaces/{0}",
        DatabaseTag("keyspace", _KEYSPACE),
        _prefixed(
            "AZURE_COSMOS_",
            "LISTKEYURL",
            "SCOPE",
            "RESOURCEENDPOINT",
            "CONTACTPOINT",
            "PORT",
            "KEYSPACE",
            "USERNAME",
            "CLIENTID",
        ),
        _prefixed("AZURE_COSMOS_", "CONTACTPOINT", "PORT", "KEYSPACE", "USERNAME", "PASSWORD"),
        ("dotnet", "java", "python", "nodejs", "go", "springBoot", "none"),
        {
            SECRET: (
                "spring.data.cassandra.contact-points",
                "spring.data.cassandra.port",
                "spring.data.cassandra.keyspace-name",
                "spring.data.cassandra.username",
                "spring.data.cassandra.password",
                "spring.data.cassandra.local-datacenter",
                "spring.data.cassandra.ssl",
            )
        },
    ),
    # WI keys = the managed-identity table + AZURE_COSMOS_CLIENTID (inferred in TARGETS 3.14, as for the other APIs)
    _cosmos(
        TargetKind.COSMOS_GREMLIN,
        "cosmos-gremlin",
        "gremlin",
        "/gremlinDatabases/{0}/graphs/{1}",
        DatabaseTag("database/graph", _GRAPH),
        _prefixed(
            "AZURE_COSMOS_", "LISTKEYURL", "SCOPE", "RESOURCEENDPOINT", "HOSTNAME", "PORT", "USERNAME", "CLIENTID"
        ),
        _prefixed("AZURE_COSMOS_", "HOSTNAME", "PORT", "USERNAME", "PASSWORD"),
        ("dotnet", "java", "python", "nodejs", "php", "none"),
    ),
    _cosmos(
        TargetKind.COSMOS_TABLE,
        "cosmos-table",
        "table",
        "/tables/{0}",
        DatabaseTag("table", _TABLE),
        _COSMOS_WI_CS,
        _COSMOS_SECRET_CS,
        ("dotnet", "java", "python", "nodejs", "springBoot", "none"),
    ),
    _namespace(
        TargetKind.EVENT_HUBS,
        "eventhub",
        "Microsoft.EventHub",
        "EVENTHUB",
        (
            Role("Azure Event Hubs Data Receiver", "a638d3c7-ab3a-418d-83e6-5f17a39d4fde"),
            Role("Azure Event Hubs Data Sender", "2b629674-e913-4c01-ae53-ef4638d8f975"),
        ),
        ("dotnet", "java", "python", "nodejs", "go", "springBoot", "kafka-springBoot", "none"),
        {
            WI: {
                "springBoot": (
                    "spring.cloud.azure.eventhub.namespace",
                    "spring.cloud.azure.eventhubs.namespace",
                    "spring.cloud.azure.eventhubs.credential.managed-identity-enabled",
                    "spring.cloud.azure.client-id",
                    "spring.cloud.azure.eventhubs.credential.client-id",
                ),
                "kafka-springBoot": (
                    "spring.kafka.bootstrap-servers",
                    "spring.kafka.properties.azure.credential.managed-identity-enabled",
                    "spring.kafka.properties.azure.credential.client-id",
                ),
            },
            SECRET: {
                # sic: the doc prints a storage key for Event Hubs Spring Boot (TARGETS 4.4); copied as documented
                "springBoot": (
                    "spring.cloud.azure.storage.connection-string",
                    "spring.cloud.azure.eventhubs.connection-string",
                ),
                "kafka-springBoot": ("spring.cloud.azure.eventhubs.connection-string",),
            },
        },
    ),
    _namespace(
        TargetKind.SERVICE_BUS,
        "servicebus",
        "Microsoft.ServiceBus",
        "SERVICEBUS",
        (
            Role("Azure Service Bus Data Receiver", "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0"),
            Role("Azure Service Bus Data Sender", "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39"),
        ),
        ("dotnet", "java", "python", "nodejs", "go", "springBoot", "none"),
        {
            WI: {"springBoot": ("spring.cloud.azure.servicebus.namespace", "spring.cloud.azure.client-id")},
            SECRET: {"springBoot": ("spring.cloud.azure.servicebus.connection-string",)},
        },
    ),
    Entry(
        kind=TargetKind.REDIS,
        cli_name="redis",
        title="Azure Cache for Redis",
        tagged_type="Microsoft.Cache/redis",
        api_version="2024-03-01",
        suffix="/databases/{0}",  # the logical database index, not an ARM child resource
        database=DatabaseTag("database index", _REDIS_INDEX, default="0"),
        auth=(WI, SECRET),  # WI/SP need Microsoft Entra authentication enabled on the cache (Redis docs)
        client_types=("dotnet", "java", "python", "nodejs", "go", "springBoot", "none"),
        keys={
            WI: {ANY_CLIENT: _prefixed(_REDIS, "HOST", "CLIENTID")},
            SECRET: _REDIS_SECRET,
        },
        secret_source=SecretSource.FETCHED,
        # no Azure role: Redis gives an identity access through a data access policy assignment (TARGETS 3.18)
        app_actions=("Microsoft.Cache/redis/read", "Microsoft.Cache/redis/listKeys/action"),
        documented="how-to-integrate-redis-cache.md",
    ),
    # No table of its own in the docs: the Redis names, as the shared Redis page covers both (TARGETS 3.19, inferred)
    Entry(
        kind=TargetKind.REDIS_ENTERPRISE,
        cli_name="redis-enterprise",
        title="Azure Cache for Redis Enterprise",
        tagged_type="Microsoft.Cache/redisEnterprise",
        api_version="2024-02-01",
        suffix="/databases/{0}",
        database=DatabaseTag("database", _NAME, default="default"),
        auth=(SECRET,),
        client_types=("dotnet", "java", "python", "nodejs", "go", "springBoot", "none"),
        keys={SECRET: _REDIS_SECRET},
        secret_source=SecretSource.FETCHED,
        app_actions=(
            "Microsoft.Cache/redisEnterprise/read",
            "Microsoft.Cache/redisEnterprise/databases/read",
            "Microsoft.Cache/redisEnterprise/databases/listKeys/action",
        ),
        documented="how-to-integrate-redis-cache.md",
    ),
    Entry(
        kind=TargetKind.SIGNALR,
        cli_name="signalr",
        title="SignalR Service",
        tagged_type="Microsoft.SignalRService/SignalR",
        api_version="2023-02-01",
        auth=(WI, SECRET),
        client_types=("dotnet", "none"),  # no python (CLI-RC)
        keys={auth: {ANY_CLIENT: ("AZURE_SIGNALR_CONNECTIONSTRING",)} for auth in (WI, SECRET)},  # one key for all
        secret_source=SecretSource.FETCHED,
        roles=(Role("SignalR Service Owner", "7e4f1700-ea5a-4f59-8f37-079cfe29dce3"),),
        app_actions=("Microsoft.SignalRService/SignalR/read", "Microsoft.SignalRService/SignalR/listkeys/action"),
        documented="how-to-integrate-signalr.md",
    ),
    _endpoint_service(
        TargetKind.WEB_PUBSUB,
        "webpubsub",
        "Web PubSub",
        "Microsoft.SignalRService/WebPubSub",
        "2023-02-01",
        "AZURE_WEBPUBSUB_",
        "HOST",
        Role("SignalR/Web PubSub Contributor", "8cf5e20a-e4b2-4e9d-b3a1-5ceb692c2761"),
        "listKeys",
        "how-to-integrate-web-pubsub.md",
    ),
    _cognitive(TargetKind.OPENAI, "openai", ("AZURE_OPENAI_BASE",), "AZURE_OPENAI_", _OPENAI_ROLE),
    # AI Services: no role in D-ROLES. DECIDED: Cognitive Services OpenAI Contributor, the OpenAI row's role (its
    # OpenAI endpoint is what apps use; TARGETS 3.22b, inferred).
    _cognitive(
        TargetKind.AI_SERVICES,
        "aiservices",
        _prefixed("AZURE_AISERVICES_", "OPENAI_BASE", "COGNITIVESERVICES_ENDPOINT", "SPEECH_ENDPOINT"),
        "AZURE_AISERVICES_",
        _OPENAI_ROLE,
    ),
    _cognitive(
        TargetKind.COGNITIVE_SERVICES,
        "cognitiveservices",
        ("AZURE_COGNITIVESERVICES_ENDPOINT",),
        "AZURE_COGNITIVESERVICES_",
        Role("Cognitive Services User", "a97b65f3-24c7-4388-baec-2e87135dc908"),
    ),
    # Key names from a real listConfigurations of a web-app source (REC-AI); the same for AKS is inferred.
    Entry(
        kind=TargetKind.APP_INSIGHTS,
        cli_name="app-insights",
        title="Application Insights",
        tagged_type="Microsoft.Insights/components",
        api_version="2020-02-02",
        auth=(SECRET,),
        client_types=("dotnet", "java", "python", "nodejs", "go", "none"),
        keys={SECRET: {ANY_CLIENT: ("APPINSIGHTS_INSTRUMENTATIONKEY", "APPLICATIONINSIGHTS_CONNECTION_STRING")}},
        secret_source=SecretSource.FETCHED,  # the component's instrumentation key and connection string
        app_actions=("Microsoft.Insights/components/read",),
        documented="(no how-to page; REC-AI recording)",
    ),
)

BY_KIND: dict[TargetKind, Entry] = {e.kind: e for e in ENTRIES}
_BY_TARGET_TYPE: dict[str, Entry] = {e.target_type: e for e in ENTRIES}  # entries sharing a type share its shape
TAGGED_TYPES: tuple[str, ...] = tuple(dict.fromkeys(e.tagged_type.lower() for e in ENTRIES))
STORAGE_SERVICES: tuple[str, ...] = tuple(e.service for e in ENTRIES if e.service)
COSMOS_CAPABILITIES = {"enablecassandra": "cassandra", "enablegremlin": "gremlin", "enabletable": "table"}


def entry(kind: TargetKind) -> Entry:
    return BY_KIND[kind]


def classify(resource_type: str, account_kind: str = "", capabilities: Iterable[str] = ()) -> TargetKind | None:
    """The catalogue entry a tagged resource is, or None when sc-autopilot does not connect it.

    A storage account classifies as its blob entry: its `sc-service` tag picks the services (services_of). A Cosmos
    DB account is chosen by its API: kind MongoDB, else its Enable* capability, else NoSQL. A Cognitive Services
    account by its kind (OpenAI, AIServices, CognitiveServices); other kinds (TextAnalytics, ...) have no documented
    key table, so they are not targets.
    """
    rtype, akind = resource_type.lower(), account_kind.lower()
    candidates = [e for e in ENTRIES if e.tagged_type.lower() == rtype]
    if not candidates:
        return None
    if rtype == "microsoft.documentdb/databaseaccounts":
        api = "mongo" if akind == "mongodb" else "sql"
        if akind not in ("mongodb", "globaldocumentdb", ""):
            return None  # e.g. Parse: no Service Connector target
        for capability in capabilities:
            api = COSMOS_CAPABILITIES.get(str(capability).lower(), api)
        akind = api
    if any(e.account_kinds for e in candidates):
        return next((e.kind for e in candidates if akind in e.account_kinds), None)
    return candidates[0].kind


def services_of(kind: TargetKind) -> tuple[Entry, ...]:
    """The entries a resource of this kind may hold several connections to, chosen by `sc-service` (storage)."""
    first = BY_KIND[kind]
    if first.service is None:
        return ()
    return tuple(e for e in ENTRIES if e.service and e.tagged_type == first.tagged_type)


def entry_for_target(target_id: str) -> Entry | None:
    """The entry of a Service Connector target id (any of the entries sharing its type: they share its shape)."""
    try:
        rtype = ResourceRef.parse(target_id).type
    except ValueError:
        return None
    return _BY_TARGET_TYPE.get(rtype)


def tagged_id(target_id: str) -> str | None:
    """The tagged resource a Service Connector target id belongs to: the id without the entry's suffix."""
    found = entry_for_target(target_id)
    if found is None:
        return None
    levels = len([s for s in found.suffix.split("/") if s])
    parts = target_id.rstrip("/").split("/")
    return "/".join(parts[: len(parts) - levels]) if levels else target_id.rstrip("/")


def handled_operations() -> tuple[str, ...]:
    """Event Grid operation names of every tagged type (what the subscription's filter admits)."""
    return tuple(sorted({op for e in ENTRIES for op in e.operations}))


def assigned_roles() -> tuple[Role, ...]:
    """Every role Service Connector may assign a workload identity: the app's delegation may grant only these."""
    return tuple(sorted({r for e in ENTRIES for r in e.roles}, key=lambda r: r.guid))


def app_actions() -> tuple[str, ...]:
    """The ARM actions the app's identity needs on targets, for Service Connector to act with its rights."""
    return tuple(sorted({a for e in ENTRIES for a in e.app_actions}, key=str.lower))


def auth_names(auths: Iterable[AuthKind]) -> str:
    return ", ".join(a.value for a in auths)
