"""The configuration Service Connector writes for a linker: key names per target kind, auth type and client type.

Sources (FACTS.md sections 2 and 10): MicrosoftDocs azure-docs `articles/service-connector/`
`how-to-integrate-sql-database.md` (SQL: one table per auth type and client type),
`how-to-integrate-openai.md`, `how-to-integrate-cognitive-services.md` and `how-to-integrate-ai-services.md`
(Cognitive Services accounts: the names depend on the account kind, not on the client type).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class AuthType(StrEnum):
    """The `authInfo.authType` values an AKS source accepts (names of auth schemes, not secrets)."""

    SECRET = "secret"  # noqa: S105
    USER_ASSIGNED_IDENTITY = "userAssignedIdentity"
    SERVICE_PRINCIPAL_SECRET = "servicePrincipalSecret"  # noqa: S105


class AccountKind(StrEnum):
    """`kind` of a Microsoft.CognitiveServices account, which decides the key prefix."""

    OPENAI = "OpenAI"
    COGNITIVE_SERVICES = "CognitiveServices"
    AI_SERVICES = "AIServices"


@dataclass(frozen=True)
class ConfigItem:
    name: str
    value: str
    credential: bool = False  # listConfigurations answers "" for these (FACTS.md section 1, AKS-specific)


@dataclass(frozen=True)
class Credentials:
    """What the linker's auth info and target give the configuration; secrets only when writing the secret."""

    user: str = ""  # SQL user (secret auth)
    password: str = ""  # SQL password or service-principal secret
    client_id: str = ""  # user-assigned identity or service principal
    principal_id: str = ""  # the user-assigned identity's object id
    tenant_id: str = ""
    account_key: str = ""
    secrets: bool = False  # building the Kubernetes secret: fetch the target's keys (else they stay "")


def sql_configuration(
    client_type: str, auth: AuthType, server: str, database: str, creds: Credentials
) -> list[ConfigItem]:
    """Azure SQL Database keys (how-to-integrate-sql-database.md). Combinations the page does not list fall back to
    the python names (documented as unconfirmed in docs/emulator.md)."""
    host = f"{server}.database.windows.net"
    if auth is AuthType.USER_ASSIGNED_IDENTITY:
        return _sql_identity(client_type, host, database, creds)
    if auth is AuthType.SECRET:
        return _sql_secret(client_type, host, database, creds)
    return _python_sql(host, database, creds.client_id, creds.password, "ActiveDirectoryServicePrincipal")


def _sql_identity(client_type: str, host: str, database: str, creds: Credentials) -> list[ConfigItem]:
    jdbc = f"jdbc:sqlserver://{host}:1433;databaseName={database};msiClientId={creds.client_id};"
    single = {
        "dotnet": ("AZURE_SQL_CONNECTIONSTRING", f"Data Source={host},1433;Initial Catalog={database};"
                   f"User ID={creds.client_id};Authentication=ActiveDirectoryManagedIdentity"),
        "java": ("AZURE_SQL_CONNECTIONSTRING", f"{jdbc}authentication=ActiveDirectoryMSI;"),
        "springBoot": ("spring.datasource.url", f"{jdbc}authentication=ActiveDirectoryMSI;"),
    }.get(client_type)  # fmt: skip
    if single is not None:
        return [ConfigItem(*single)]
    if client_type == "nodejs":
        return [
            *_server_port_database(host, database),
            ConfigItem("AZURE_SQL_AUTHENTICATIONTYPE", "azure-active-directory-default"),
            ConfigItem("AZURE_SQL_CLIENTID", creds.client_id),
        ]
    # python (and none): AZURE_SQL_USER is the identity's object (principal) id, as the page's table says.
    return [
        *_server_port_database(host, database),
        ConfigItem("AZURE_SQL_USER", creds.principal_id),
        ConfigItem("AZURE_SQL_AUTHENTICATION", "ActiveDirectoryMsi"),
    ]


# Secret auth, per client type: (key, field) pairs, or one connection string (how-to-integrate-sql-database.md,
# "Connection String"). Fields: host, port, host_port, database, user, password (the credential).
_SQL_SECRET_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "python": (("AZURE_SQL_SERVER", "host"), ("AZURE_SQL_PORT", "port"), ("AZURE_SQL_DATABASE", "database"),
               ("AZURE_SQL_USER", "user"), ("AZURE_SQL_PASSWORD", "password")),
    "nodejs": (("AZURE_SQL_SERVER", "host"), ("AZURE_SQL_PORT", "port"), ("AZURE_SQL_DATABASE", "database"),
               ("AZURE_SQL_USERNAME", "user"), ("AZURE_SQL_PASSWORD", "password")),
    "django": (("AZURE_SQL_HOST", "host"), ("AZURE_SQL_PORT", "port"), ("AZURE_SQL_NAME", "database"),
               ("AZURE_SQL_USER", "user"), ("AZURE_SQL_PASSWORD", "password")),
    "ruby": (("AZURE_SQL_HOST", "host"), ("AZURE_SQL_PORT", "port"), ("AZURE_SQL_DATABASE", "database"),
             ("AZURE_SQL_USERNAME", "user"), ("AZURE_SQL_PASSWORD", "password")),
    "php": (("AZURE_SQL_SERVERNAME", "host_port"), ("AZURE_SQL_DATABASE", "database"), ("AZURE_SQL_UID", "user"),
            ("AZURE_SQL_PASSWORD", "password")),
    "springBoot": (("spring.datasource.url", "jdbc_url"), ("spring.datasource.username", "user"),
                   ("spring.datasource.password", "password")),
}  # fmt: skip
_SQL_SECRET_CONNECTION_STRINGS = {
    "dotnet": "Data Source={host},1433;Initial Catalog={database};User ID={user};Password={password}",
    "java": "jdbc:sqlserver://{host}:1433;databaseName={database};user={user};password={password};",
    "go": "server={host};port=1433;database={database};user id={user};password={password};",
}


def _sql_secret(client_type: str, host: str, database: str, creds: Credentials) -> list[ConfigItem]:
    values = {
        "host": host,
        "port": "1433",
        "host_port": f"{host},1433",
        "database": database,
        "user": creds.user,
        "password": creds.password,
        "jdbc_url": f"jdbc:sqlserver://{host}:1433;databaseName={database};",
    }
    template = _SQL_SECRET_CONNECTION_STRINGS.get(client_type)
    if template is not None:
        return [ConfigItem("AZURE_SQL_CONNECTIONSTRING", template.format(**values), credential=True)]
    fields = _SQL_SECRET_FIELDS.get(client_type, _SQL_SECRET_FIELDS["python"])
    return [ConfigItem(name, values[field], credential=field == "password") for name, field in fields]


def _python_sql(host: str, database: str, user: str, password: str, authentication: str = "") -> list[ConfigItem]:
    items = [
        *_server_port_database(host, database),
        ConfigItem("AZURE_SQL_USER", user),
        ConfigItem("AZURE_SQL_PASSWORD", password, credential=True),
    ]
    return [*items, ConfigItem("AZURE_SQL_AUTHENTICATION", authentication)] if authentication else items


def _server_port_database(host: str, database: str) -> list[ConfigItem]:
    return [
        ConfigItem("AZURE_SQL_SERVER", host),
        ConfigItem("AZURE_SQL_PORT", "1433"),
        ConfigItem("AZURE_SQL_DATABASE", database),
    ]


def account_configuration(kind: AccountKind, auth: AuthType, account: dict, creds: Credentials) -> list[ConfigItem]:
    """Cognitive Services account keys: the same for every client type (the three pages list one table each)."""
    subdomain = (account.get("properties") or {}).get("customSubDomainName") or account["name"]
    if kind is AccountKind.OPENAI:
        prefix = "AZURE_OPENAI"
        endpoints = [ConfigItem("AZURE_OPENAI_BASE", f"https://{subdomain}.openai.azure.com/")]
    elif kind is AccountKind.AI_SERVICES:
        prefix = "AZURE_AISERVICES"
        endpoints = [
            ConfigItem("AZURE_AISERVICES_OPENAI_BASE", f"https://{subdomain}.openai.azure.com/"),
            ConfigItem(
                "AZURE_AISERVICES_COGNITIVESERVICES_ENDPOINT", f"https://{subdomain}.cognitiveservices.azure.com/"
            ),
            ConfigItem("AZURE_AISERVICES_SPEECH_ENDPOINT", f"https://{account['location']}.stt.speech.microsoft.com"),
        ]
    else:
        prefix = "AZURE_COGNITIVESERVICES"
        endpoints = [
            ConfigItem("AZURE_COGNITIVESERVICES_ENDPOINT", f"https://{subdomain}.cognitiveservices.azure.com/")
        ]
    if auth is AuthType.USER_ASSIGNED_IDENTITY:
        return [*endpoints, ConfigItem(f"{prefix}_CLIENTID", creds.client_id)]
    if auth is AuthType.SECRET:
        return [*endpoints, ConfigItem(f"{prefix}_KEY", creds.account_key, credential=True)]
    return [
        *endpoints,
        ConfigItem(f"{prefix}_CLIENTID", creds.client_id),
        ConfigItem(f"{prefix}_CLIENTSECRET", creds.password, credential=True),
        ConfigItem(f"{prefix}_TENANTID", creds.tenant_id),
    ]


def renamed(items: list[ConfigItem], customized_keys: dict[str, str] | None) -> list[ConfigItem]:
    """`configurationInfo.customizedKeys`: default name -> the name the user wants."""
    renames = customized_keys or {}
    return [ConfigItem(renames.get(i.name, i.name), i.value, i.credential) for i in items]
