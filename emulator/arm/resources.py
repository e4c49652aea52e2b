"""Per-type shaping of ARM resources: the read-only properties each resource provider fills in."""

from __future__ import annotations

from emulator.arm import dataservices, keys, managedclusters
from emulator.arm.errors import arm_error, bad_request
from emulator.arm.ids import stable_uuid
from emulator.arm.managedclusters import PUBLIC_IP, outbound_ip  # noqa: F401 (Service Connector's firewall rule)
from emulator.arm.typespec import TypeSpec

CLUSTER = "microsoft.containerservice/managedclusters"
SQL_SERVER = "microsoft.sql/servers"
SQL_DATABASE = "microsoft.sql/servers/databases"
SQL_FIREWALL_RULE = "microsoft.sql/servers/firewallrules"
COGNITIVE_ACCOUNT = "microsoft.cognitiveservices/accounts"
IDENTITY = "microsoft.managedidentity/userassignedidentities"
FEDERATED_CREDENTIAL = "microsoft.managedidentity/userassignedidentities/federatedidentitycredentials"
KEY_VAULT = "microsoft.keyvault/vaults"
EXTENSION = "microsoft.kubernetesconfiguration/extensions"
ROLE_ASSIGNMENT = "microsoft.authorization/roleassignments"
RESOURCE_GROUP = "microsoft.resources/resourcegroups"
TAGS = "microsoft.resources/tags"
LINKER = "microsoft.servicelinker/linkers"


def _sql_server(resource: dict, existing: dict | None, tenant: str) -> None:
    props = resource["properties"]
    props["fullyQualifiedDomainName"] = f"{resource['name']}.database.windows.net"
    props.setdefault("state", "Ready")
    props.setdefault("version", "12.0")
    props.setdefault("administratorLogin", "sqladmin")
    props.pop("administratorLoginPassword", None)  # write-only, as in ARM


def _sql_database(resource: dict, existing: dict | None, tenant: str) -> None:
    props = resource["properties"]
    props.setdefault("status", "Online")
    props.setdefault("collation", "SQL_Latin1_General_CP1_CI_AS")
    props["databaseId"] = stable_uuid(resource["id"])
    resource.setdefault("kind", "v12.0,user")


def _firewall_rule(resource: dict, existing: dict | None, tenant: str) -> None:
    props = resource["properties"]
    if "startIpAddress" not in props or "endIpAddress" not in props:
        raise bad_request("Firewall rule requires startIpAddress and endIpAddress.")


def _cognitive_account(resource: dict, existing: dict | None, tenant: str) -> None:
    props = resource["properties"]
    resource.setdefault("kind", "OpenAI")
    resource.setdefault("sku", {"name": "S0"})
    subdomain = props.setdefault("customSubDomainName", resource["name"])
    host = "openai.azure.com" if resource["kind"] == "OpenAI" else "cognitiveservices.azure.com"
    props["endpoint"] = f"https://{subdomain}.{host}/"
    props["provisioningState"] = "Succeeded"


def _identity(resource: dict, existing: dict | None, tenant: str) -> None:
    props = resource["properties"]
    props["tenantId"] = tenant
    props["principalId"] = stable_uuid("principal", resource["id"])
    props["clientId"] = stable_uuid("client", resource["id"])


def _federated_credential(resource: dict, existing: dict | None, tenant: str) -> None:
    props = resource["properties"]
    if not props.get("issuer") or not props.get("subject"):
        raise bad_request("Federated identity credential requires issuer and subject.")
    props.setdefault("audiences", ["api://AzureADTokenExchange"])


def _key_vault(resource: dict, existing: dict | None, tenant: str) -> None:
    props = resource["properties"]
    props["vaultUri"] = f"https://{resource['name']}.vault.azure.net/"
    props["tenantId"] = tenant
    props.setdefault("enableRbacAuthorization", True)
    props.setdefault("sku", {"family": "A", "name": "standard"})


def _extension(resource: dict, existing: dict | None, tenant: str) -> None:
    props = resource["properties"]
    props.setdefault("provisioningState", "Succeeded")
    props.setdefault("statuses", [])


def _role_assignment(resource: dict, existing: dict | None, tenant: str) -> None:
    props = resource["properties"]
    if not props.get("roleDefinitionId") or not props.get("principalId"):
        raise arm_error(400, "InvalidRoleAssignmentRequest", "roleDefinitionId and principalId are required.")
    props["scope"] = resource["id"].split("/providers/Microsoft.Authorization/", 1)[0]


def _cognitive_keys(account: dict) -> dict:
    return {"key1": keys.hex_key(account["id"], "key1"), "key2": keys.hex_key(account["id"], "key2")}


TYPES: dict[str, TypeSpec] = {
    CLUSTER: TypeSpec(
        "Microsoft.ContainerService/ManagedClusters",
        shape=managedclusters.shape,
        actions={"listclusterusercredential": "list_cluster_user_credential"},
    ),
    SQL_SERVER: TypeSpec("Microsoft.Sql/servers", shape=_sql_server),
    SQL_DATABASE: TypeSpec("Microsoft.Sql/servers/databases", parent=SQL_SERVER, shape=_sql_database),
    SQL_FIREWALL_RULE: TypeSpec("Microsoft.Sql/servers/firewallRules", parent=SQL_SERVER, shape=_firewall_rule),
    COGNITIVE_ACCOUNT: TypeSpec(
        "Microsoft.CognitiveServices/accounts", shape=_cognitive_account, actions={"listkeys": _cognitive_keys}
    ),
    IDENTITY: TypeSpec("Microsoft.ManagedIdentity/userAssignedIdentities", shape=_identity),
    FEDERATED_CREDENTIAL: TypeSpec(
        "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
        parent=IDENTITY,
        shape=_federated_credential,
    ),
    KEY_VAULT: TypeSpec("Microsoft.KeyVault/vaults", shape=_key_vault),
    PUBLIC_IP: TypeSpec("Microsoft.Network/publicIPAddresses"),
    EXTENSION: TypeSpec("Microsoft.KubernetesConfiguration/extensions", shape=_extension),
    ROLE_ASSIGNMENT: TypeSpec("Microsoft.Authorization/roleAssignments", shape=_role_assignment),
    **dataservices.TYPES,
}
# Types that appear in `/resources` listings (tracked resources); proxy resources do not.
TRACKED = {CLUSTER, SQL_SERVER, SQL_DATABASE, COGNITIVE_ACCOUNT, IDENTITY, KEY_VAULT, PUBLIC_IP} | {
    key for key, spec in dataservices.TYPES.items() if spec.tracked
}


def new_resource(resource_id: str, type_key: str, body: dict, existing: dict | None, tenant: str) -> dict:
    """Build the stored resource from a PUT body (ARM PUT replaces the user-settable parts)."""
    spec = TYPES[type_key]
    name = resource_id.rsplit("/", 1)[-1]
    resource = {
        "id": existing["id"] if existing else resource_id,
        "name": name,
        "type": spec.canonical,
        "properties": dict(body.get("properties") or {}),
    }
    if type_key in TRACKED:
        location = body.get("location") or (existing or {}).get("location")
        if not location:
            raise arm_error(400, "LocationRequired", "The location property is required for this definition.")
        resource["location"] = location
        resource["tags"] = dict(body.get("tags") or {})
    for key in ("kind", "sku", "identity"):
        if key in body:
            resource[key] = body[key]
        elif existing and key in existing:
            resource[key] = existing[key]
    if existing:  # read-only properties survive a PUT
        for key, value in existing.get("properties", {}).items():
            resource["properties"].setdefault(key, value)
    spec.shape(resource, existing, tenant)
    return resource


def companions(resource: dict, tenant: str) -> list[dict]:
    """What the provider creates with a new resource (a storage account's default services, ...)."""
    make = TYPES[resource["type"].lower()].companions
    return [new_resource(rid, key, body, None, tenant) for rid, key, body in (make(resource) if make else [])]
