"""Scenario files (YAML) -> a populated Cloud. The format is documented in docs/emulator.md."""

from __future__ import annotations

from pathlib import Path

import yaml

from emulator.arm import dataservices as ds
from emulator.arm import managedclusters
from emulator.arm import resources as rt
from emulator.arm.store import Subscription
from emulator.cloud import Cloud
from emulator.clusters import KubeBackend
from emulator.conditions import parse as parse_condition
from emulator.events import Webhook
from emulator.identity import Grant, Identity, principal_ids

DEFAULT_TENANT = "72f988bf-0000-4000-8000-000000000001"
# Shorthand scenario keys for the data services Service Connector targets (each item: name, tags, location, kind,
# sku, properties; `databases` for servers and Cosmos DB accounts); `resources:` takes any type the emulator knows.
DATA_SERVICES = {
    "storage_accounts": "Microsoft.Storage/storageAccounts",
    "service_bus_namespaces": "Microsoft.ServiceBus/namespaces",
    "event_hubs_namespaces": "Microsoft.EventHub/namespaces",
    "cosmos_accounts": "Microsoft.DocumentDB/databaseAccounts",
    "postgres_servers": "Microsoft.DBforPostgreSQL/flexibleServers",
    "mysql_servers": "Microsoft.DBforMySQL/flexibleServers",
    "redis_caches": "Microsoft.Cache/redis",
    "redis_enterprises": "Microsoft.Cache/redisEnterprise",  # + its `default` database
    "app_insights": "Microsoft.Insights/components",
    "app_configuration_stores": "Microsoft.AppConfiguration/configurationStores",
    "signalr_services": "Microsoft.SignalRService/SignalR",
    "web_pubsubs": "Microsoft.SignalRService/WebPubSub",
}
# `api:` of a Cosmos DB account -> how ARM says it; the collection its `databases` go to ("db/graph" for Gremlin)
COSMOS_APIS = {
    "sql": ({}, "sqlDatabases"),
    "mongodb": ({"kind": "MongoDB"}, "mongodbDatabases"),
    "cassandra": ({"capabilities": [{"name": "EnableCassandra"}]}, "cassandraKeyspaces"),
    "gremlin": ({"capabilities": [{"name": "EnableGremlin"}]}, "gremlinDatabases"),
    "table": ({"capabilities": [{"name": "EnableTable"}]}, "tables"),
}


def load(source: Path | str | dict) -> dict:
    if isinstance(source, dict):
        return source
    return yaml.safe_load(Path(source).read_text()) or {}


def build(spec: dict) -> tuple[Cloud, Identity]:
    """Populate a Cloud; return it with the identity the managed-identity endpoint serves by default."""
    cloud = Cloud(
        spec.get("tenant_id", DEFAULT_TENANT),
        lro_polls=int(spec.get("lro_polls", 1)),
        lro_retry_after=float(spec.get("lro_retry_after", 0)),
        cluster_provisioning_seconds=float(spec.get("cluster_provisioning_seconds", 0)),
        provider_registration_seconds=float(spec.get("provider_registration_seconds", 0)),
        kube_backend=KubeBackend(spec.get("kubernetes_backend", KubeBackend.EMULATED)),
    )
    throttling = spec.get("throttling") or {}
    cloud.throttle.enabled = bool(throttling.get("enabled", True))
    for kind in ("read", "write", "delete"):
        if kind + "s" in throttling:
            capacity, refill = throttling[kind + "s"]
            cloud.throttle.buckets[kind] = (float(capacity), float(refill))
    cloud.faults.latency_ms.update({k.removesuffix("_ms"): int(v) for k, v in (spec.get("latency") or {}).items()})
    for fault in spec.get("faults") or []:
        cloud.faults.add(fault)
    for hook in spec.get("webhooks") or []:
        cloud.events.webhooks.append(Webhook(**hook))

    default_identity = None
    for principal_spec in spec.get("principals") or []:
        identity = Identity(
            principal_ids(
                principal_spec["name"],
                cloud.tenant_id,
                "Application" if principal_spec.get("managed_identity") else principal_spec.get("type", "User"),
            ),
            [
                Grant(
                    scope=g.get("scope", "/"),
                    actions=tuple(g.get("actions") or ()),
                    not_actions=tuple(g.get("not_actions") or ()),
                    data_actions=tuple(g.get("data_actions") or ()),
                    condition=parse_condition(g["condition"]) if g.get("condition") else None,
                )
                for g in principal_spec.get("grants") or []
            ],
        )
        cloud.tokens.add(identity)
        if principal_spec.get("managed_identity") or default_identity is None:
            default_identity = identity
    if default_identity is None:
        raise ValueError("a scenario needs at least one principal (the app's managed identity)")

    for sub_spec in spec.get("subscriptions") or []:
        _subscription(cloud, sub_spec)
    return cloud, default_identity


def _subscription(cloud: Cloud, spec: dict) -> None:
    subscription = Subscription(id=spec["id"], display_name=spec.get("name", spec["id"]))
    for namespace, state in (spec.get("providers") or {}).items():
        subscription.set_provider(namespace, state)
    cloud.arm.add_subscription(subscription)
    for rg_spec in spec.get("resource_groups") or []:
        _resource_group(cloud, subscription.id, rg_spec)


def _resource_group(cloud: Cloud, subscription_id: str, spec: dict) -> None:
    rg_id = f"/subscriptions/{subscription_id}/resourceGroups/{spec['name']}"
    location = spec.get("location", "westeurope")
    cloud.arm.put(
        {
            "id": rg_id,
            "name": spec["name"],
            "type": "Microsoft.Resources/resourceGroups",
            "location": location,
            "tags": dict(spec.get("tags") or {}),
            "properties": {"provisioningState": "Succeeded"},
        }
    )

    def put(type_key: str, resource_id: str, item: dict, **extra) -> dict:
        body = {"location": item.get("location", location), "tags": item.get("tags") or {}, **extra}
        return cloud.arm.put(rt.new_resource(resource_id, type_key, body, None, cloud.tenant_id))

    for item in spec.get("clusters") or []:
        properties = {
            "provisioningState": item.get("provisioning_state", "Succeeded"),
            "oidcIssuerProfile": {"enabled": bool(item.get("oidc_issuer", False))},
            "securityProfile": {"workloadIdentity": {"enabled": bool(item.get("workload_identity", False))}},
        }
        cluster = put(
            rt.CLUSTER,
            f"{rg_id}/providers/Microsoft.ContainerService/managedClusters/{item['name']}",
            item,
            properties=properties,
        )
        for node_resource in managedclusters.node_resources(cluster):
            cloud.arm.put(node_resource)
        cloud.clusters.load(cluster, item.get("kubernetes") or {})
        cloud.clusters.ensure(cluster).server = item.get("api_server")
    for item in spec.get("sql_servers") or []:
        server_id = f"{rg_id}/providers/Microsoft.Sql/servers/{item['name']}"
        put(rt.SQL_SERVER, server_id, item, properties={"administratorLogin": item.get("admin_login", "sqladmin")})
        for database in item.get("databases") or []:
            put(rt.SQL_DATABASE, f"{server_id}/databases/{database['name']}", database)
    for item in spec.get("openai_accounts") or []:
        put(
            rt.COGNITIVE_ACCOUNT,
            f"{rg_id}/providers/Microsoft.CognitiveServices/accounts/{item['name']}",
            item,
            kind=item.get("kind", "OpenAI"),
        )
    for item in spec.get("identities") or []:
        put(rt.IDENTITY, f"{rg_id}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{item['name']}", item)
    for item in spec.get("key_vaults") or []:
        put(rt.KEY_VAULT, f"{rg_id}/providers/Microsoft.KeyVault/vaults/{item['name']}", item)
        for name, secret in (item.get("secrets") or {}).items():  # "value" or {value, tags}
            secret = secret if isinstance(secret, dict) else {"value": secret}
            cloud.keyvault.seed(item["name"], name, str(secret["value"]), secret.get("tags"))
    for key, resource_type in DATA_SERVICES.items():
        for item in spec.get(key) or []:
            _data_service(cloud, rg_id, location, resource_type, item)
    for item in spec.get("resources") or []:
        _data_service(cloud, rg_id, location, item["type"], item)


def _data_service(cloud: Cloud, rg_id: str, location: str, resource_type: str, item: dict) -> None:
    """One data service (and what its provider creates with it), its databases, keyspaces, graphs or tables."""
    namespace, type_name = resource_type.split("/", 1)
    resource_id = f"{rg_id}/providers/{namespace}/{type_name}/{item['name']}"
    body = {"location": item.get("location", location), "tags": item.get("tags") or {},
            "properties": dict(item.get("properties") or {})}  # fmt: skip
    body.update({k: item[k] for k in ("kind", "sku") if k in item})
    collection = "databases"  # flexible servers' databases
    if resource_type.lower() == ds.COSMOS_ACCOUNT:
        extra, collection = COSMOS_APIS[str(item.get("api", "sql")).lower()]
        body.setdefault("kind", extra.get("kind", "GlobalDocumentDB"))
        body["properties"].setdefault("capabilities", extra.get("capabilities", []))
    resource = cloud.arm.put(rt.new_resource(resource_id, resource_type.lower(), body, None, cloud.tenant_id))
    for companion in rt.companions(resource, cloud.tenant_id):
        cloud.arm.put(companion)
    child_type = f"{resource_type.lower()}/{collection.lower()}"
    for database in item.get("databases") or []:
        name, _, graph = str(database).partition("/")
        child_id = f"{resource_id}/{collection}/{name}"
        cloud.arm.put(rt.new_resource(child_id, child_type, {"properties": {}}, None, cloud.tenant_id))
        if graph:
            graph_type = f"{ds.COSMOS_ACCOUNT}/gremlindatabases/graphs"
            cloud.arm.put(rt.new_resource(f"{child_id}/graphs/{graph}", graph_type, {}, None, cloud.tenant_id))
