"""Every catalogue entry and every auth type it allows for AKS, walked end to end on the local cloud.

For each (target, auth, client type): create the resource through ARM as a platform engineer would (the generic
ResourceManagementClient; its children, such as a flexible server's database or a Cosmos DB keyspace, too), tag it,
apply (the events the tags raised, through the app's event entry point), check the linker's shape and auth, the
secret's keys exactly as the catalogue documents them (docs/TARGETS.md) and the workload's wiring, sweep (Compliant),
break the wiring (the sweep repairs it), then untag (the connection, its secret and the wiring are removed).

One local cloud per module (per xdist worker). `make test` walks REPRESENTATIVE (one case per kind of secret source
and auth: workload identity, a secret Service Connector fetches, a secret the user provides, Key Vault CSI);
`pytest -m all_targets tests/e2e/test_every_target.py` (make test-targets) walks every case.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from azure.mgmt.resource.resources import ResourceManagementClient

from emulator.runtime import start
from shared.config import Settings
from shared.container import Application
from shared.core import catalogue, naming
from shared.core.catalogue import SecretSource
from shared.core.ids import ResourceRef
from shared.core.model import AuthKind, TargetKind
from shared.core.verdicts import Status
from tests.conftest import CLUSTER, RG, SUB, Admin, UserCredential, demo_spec
from tests.e2e.conftest import CLUSTER_TAGS, Estate, env_from_secrets, secret_values

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
P = f"{RG}/providers"
PASSWORD_URL = "https://kv-shop.vault.azure.net/secrets/db-password"
WI = AuthKind.WORKLOAD_IDENTITY
# Extra client types beyond each entry's default: ones whose key table differs from python's.
EXTRA_CLIENTS = {
    TargetKind.POSTGRES_FLEXIBLE: ("none", "nodejs"),
    TargetKind.MYSQL_FLEXIBLE: ("php",),
    TargetKind.SQL_DATABASE: ("dotnet",),
    TargetKind.REDIS: ("none",),
    TargetKind.EVENT_HUBS: ("kafka-springBoot",),
    TargetKind.STORAGE_BLOB: ("springBoot",),
}


def _cases() -> list[tuple[TargetKind, AuthKind, str]]:
    cases = []
    for entry in catalogue.ENTRIES:
        for auth in entry.auth:
            for client in (entry.default_client_type, *EXTRA_CLIENTS.get(entry.kind, ())):
                if entry.keys_for(auth, client) is not None:
                    cases.append((entry.kind, auth, client))
    return cases


CASES = _cases()
REPRESENTATIVE = {
    (TargetKind.STORAGE_BLOB, WI, "python"),  # workload identity on a sub-resource id
    (TargetKind.SERVICE_BUS, AuthKind.SECRET, "python"),  # a secret Service Connector fetches
    (TargetKind.POSTGRES_FLEXIBLE, AuthKind.SECRET, "python"),  # a secret the user provides (sc-user, sc-password)
    (TargetKind.KEYVAULT, AuthKind.CSI, "python"),  # Key Vault through the CSI driver's add-on identity
}


def _params():
    for kind, auth, client in CASES:
        marks = () if (kind, auth, client) in REPRESENTATIVE else (pytest.mark.all_targets,)
        yield pytest.param(kind, auth, client, id=f"{kind.value}-{auth.value}-{client}", marks=marks)


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    spec = demo_spec() | {"throttling": {"enabled": False}}
    subscription = spec["subscriptions"][0]
    subscription["providers"]["Microsoft.KubernetesConfiguration"] = "Registered"
    # The app's identity holds exactly the target rights the catalogue (and infra/roles.bicep) gives it.
    [grant] = next(p for p in spec["principals"] if p["name"] == "sc-autopilot")["grants"]
    grant["actions"] = sorted({*grant["actions"], *catalogue.app_actions()})
    [group] = subscription["resource_groups"]
    group["key_vaults"][0]["secrets"]["db-password"] = {
        "value": "Demo-Only-Db-P@ss-2b9e",
        "tags": {"sc-targets": RG},  # its owner lets it go to any target of rg-shop
    }
    cloud = start(spec, tmp_path_factory.mktemp("every-target"))
    with pytest.MonkeyPatch.context() as patch:
        for key, value in cloud.environment().items():
            patch.setenv(key, value)
        # every case breaks Deployment api's wiring once; two reverts within the window would (by design) stop the
        # re-patching of a workload, so this module's window is empty: each case's break is repaired
        patch.setenv("SC_REVERT_WINDOW_HOURS", "0")
        # and every case removes its connection (linker, secret, service account): more than the default 20 an hour
        patch.setenv("SC_MAX_REMOVALS_PER_HOUR", "1000")
        yield cloud
    cloud.stop()


@pytest.fixture(scope="module")
def world(local):
    estate = Estate(Admin(local))
    app = Application(Settings.from_env())
    estate.tag(CLUSTER, CLUSTER_TAGS)
    assert app.events.handle(estate.new_events()).ok
    arm = ResourceManagementClient(
        UserCredential(estate.admin, "platform-admin"),
        SUB,
        base_url=os.environ["SC_ARM_ENDPOINT"],
        credential_scopes=["https://management.azure.com/.default"],
        polling_interval=0,
    )
    return estate, app, arm


def _put(arm: ResourceManagementClient, resource_id: str, api_version: str, body: dict) -> None:
    arm.resources.begin_create_or_update_by_id(
        resource_id, api_version=api_version, parameters={"location": "westeurope", **body}
    ).result()


COSMOS_API = {
    TargetKind.COSMOS_SQL: ("GlobalDocumentDB", None),
    TargetKind.COSMOS_MONGO: ("MongoDB", None),
    TargetKind.COSMOS_CASSANDRA: ("GlobalDocumentDB", "EnableCassandra"),
    TargetKind.COSMOS_GREMLIN: ("GlobalDocumentDB", "EnableGremlin"),
    TargetKind.COSMOS_TABLE: ("GlobalDocumentDB", "EnableTable"),
}
ACCOUNT_KIND = {
    TargetKind.OPENAI: "OpenAI",
    TargetKind.AI_SERVICES: "AIServices",
    TargetKind.COGNITIVE_SERVICES: "CognitiveServices",
    TargetKind.APP_INSIGHTS: "web",
}


def create(arm: ResourceManagementClient, entry: catalogue.Entry, name: str) -> tuple[str, dict[str, str]]:
    """The resource a user tags, created through ARM with what the connection needs below it; its id and the
    tags that name that (sc-database, sc-service)."""
    provider, *types = entry.tagged_type.split("/")
    if entry.kind is TargetKind.SQL_DATABASE:
        resource_id = f"{P}/Microsoft.Sql/servers/sql-shop/databases/{name}"
    else:
        resource_id = f"{P}/{provider}/{types[0]}/{name}"
    body: dict = {"properties": {}}
    if entry.kind in COSMOS_API:
        kind, capability = COSMOS_API[entry.kind]
        body = {"kind": kind, "properties": {
            "databaseAccountOfferType": "Standard", "locations": [{"locationName": "westeurope"}],
            "capabilities": [{"name": capability}] if capability else []}}  # fmt: skip
    elif entry.kind in ACCOUNT_KIND:
        body = {"kind": ACCOUNT_KIND[entry.kind], "sku": {"name": "S0"}, "properties": {}}
    elif provider == "Microsoft.Storage":
        body = {"kind": "StorageV2", "sku": {"name": "Standard_LRS"}, "properties": {}}
    elif provider == "Microsoft.KeyVault":
        sku = {"family": "A", "name": "standard"}
        body = {"properties": {"tenantId": "72f988bf-0000-4000-8000-000000000001", "sku": sku,
                               "enableRbacAuthorization": True}}  # fmt: skip
    _put(arm, resource_id, entry.api_version, body)
    tags: dict[str, str] = {}
    if entry.service:
        tags["sc-service"] = entry.service
    if entry.database is not None:
        database = {"database/graph": "shop/orders", "table": "Orders", "database index": "1"}.get(
            entry.database.what, "orders"
        )
        tags["sc-database"] = database
        if entry.database.what != "database index":  # a Redis index is not an ARM resource
            parts = catalogue.entry(entry.kind).target_id(resource_id, database)[len(resource_id) :].split("/")[1:]
            for depth in range(2, len(parts) + 1, 2):
                _put(arm, resource_id + "/" + "/".join(parts[:depth]), entry.api_version, {"properties": {}})
    return resource_id, tags


def _linker(estate: Estate, name: str) -> dict | None:
    return next((r for r in estate.linkers() if r["name"] == name), None)


def _verdicts(app: Application) -> list:
    return [v for c in app.sweeper.run(now=NOW).clusters for v in c.verdicts]


@pytest.mark.parametrize(("kind", "auth", "client"), list(_params()))
def test_each_target_and_auth_is_connected_judged_repaired_and_removed(world, local, kind, auth, client):
    estate, app, arm = world
    entry = catalogue.entry(kind)
    name = f"t{CASES.index((kind, auth, client))}{kind.value.replace('-', '')}"[:24]
    resource_id, tags = create(arm, entry, name)
    tags |= {"sc-group": "shop", "sc-namespace": "shop", "sc-workloads": "deployment/api", "sc-auth": auth.value,
             "sc-client-type": client}  # fmt: skip
    if auth is AuthKind.SECRET and entry.secret_source is SecretSource.USER:
        tags |= {"sc-user": "orders_app", "sc-password": PASSWORD_URL}
    estate.tag(resource_id, tags)
    report = app.events.handle(estate.new_events())
    assert report.ok, report.summary()

    # the linker: Service Connector's target id, auth and client type
    target_id = entry.target_id(resource_id, tags.get("sc-database"))
    linker_name = naming.linker_name(ResourceRef.parse(target_id), "shop")
    linker = _linker(estate, linker_name)
    assert linker is not None, f"no linker {linker_name}: {report.summary()}"
    properties = linker["properties"]
    assert properties["targetService"]["id"].lower() == target_id.lower()
    assert (properties["authInfo"]["authType"], properties["clientType"], properties["scope"]) == (
        auth.linker_auth_type, client, "shop",
    )  # fmt: skip
    csi = (properties["targetService"].get("resourceProperties") or {}).get("connectAsKubernetesCsiDriver", False)
    assert csi is (auth is AuthKind.CSI)

    # the secret holds exactly the documented keys, and the workload gets it
    secret_name = naming.secret_name(linker_name)
    secret = estate.secret(secret_name)
    assert secret is not None and set(secret_values(secret)) == entry.keys_for(auth, client)
    api = estate.workload("Deployment", "api")
    assert secret_name in env_from_secrets(api)
    pod = api["spec"]["template"]
    if auth is WI:
        assert pod["spec"]["serviceAccountName"].startswith("sc-account-")
        assert pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    else:
        assert pod["spec"].get("serviceAccountName") in (None, "default")

    # the sweep: Compliant; the wiring broken by hand is repaired
    verdicts = _verdicts(app)
    assert [(v.connection, v.status) for v in verdicts] == [(linker_name, Status.COMPLIANT)], verdicts
    runtime = local.cloud.clusters.runtime(CLUSTER)
    broken = runtime.store.get("deployments", "shop", "api")
    broken["spec"]["template"]["spec"]["containers"][0].pop("envFrom")
    runtime.store.apply(broken)
    [drifted] = _verdicts(app)
    assert drifted.status is Status.DRIFTED and drifted.repaired
    assert [(v.connection, v.status) for v in _verdicts(app)] == [(linker_name, Status.COMPLIANT)]

    # untagged: the connection, its secret and the wiring are gone
    estate.untag(resource_id, "sc-group")
    removal = app.events.handle(estate.new_events())
    assert removal.ok, removal.summary()
    assert _linker(estate, linker_name) is None, [f.to_dict() for f in removal.findings]
    assert estate.secret(secret_name) is None
    assert secret_name not in env_from_secrets(estate.workload("Deployment", "api"))


def test_the_walk_covers_every_entry_and_every_auth_it_allows():
    covered = {(kind, auth) for kind, auth, _ in CASES}
    assert covered == {(e.kind, a) for e in catalogue.ENTRIES for a in e.auth}
    assert {k for k, _, _ in REPRESENTATIVE} <= {k for k, _, _ in CASES}
