"""A small world for planner tests: a cluster state built from compact parts, and `simulate`, which applies a
plan's actions the way the executor and Service Connector would, so tests can converge without any I/O."""

from __future__ import annotations

import dataclasses

from shared.core import naming
from shared.core.ids import ResourceRef
from shared.core.manifests import rewire
from shared.core.model import (
    AuthKind,
    ClusterInfo,
    ClusterState,
    Connection,
    IdentityInfo,
    TargetInfo,
    TargetKind,
    WorkloadRef,
    WorkloadState,
)
from shared.core.plan import DeleteLinker, DeleteObject, PutLinker, RegisterProvider, RewireWorkload
from shared.core.planner import PlannerSettings, desired_state, plan_cluster

SUB = "c0ffee00-0000-4000-8000-00000000d370"
RG = f"/subscriptions/{SUB}/resourceGroups/rg"
CLUSTER = ResourceRef(f"{RG}/providers/Microsoft.ContainerService/managedClusters/aks")
DB = ResourceRef(f"{RG}/providers/Microsoft.Sql/servers/s/databases/orders")
OPENAI = ResourceRef(f"{RG}/providers/Microsoft.CognitiveServices/accounts/oai")
UAMI = ResourceRef(f"{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-shop")
WI_CONSENT = {"sc-namespaces": "shop"}  # the identities' owner lets them into namespace shop (same resource group)
IDENTITY = IdentityInfo(
    UAMI, "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222", WI_CONSENT
)
UAMI_B = ResourceRef(f"{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-b")
IDENTITY_B = IdentityInfo(
    UAMI_B, "33333333-3333-3333-3333-333333333333", "44444444-4444-4444-4444-444444444444", WI_CONSENT
)
IDENTITIES = {UAMI: IDENTITY, UAMI_B: IDENTITY_B}
SQL_TAGS = {"sc-group": "shop", "sc-namespace": "shop", "sc-workloads": "deploy/api,sts/worker",
            "sc-sql-user": "app", "sc-sql-password": "https://kv-shop.vault.azure.net/secrets/pw"}  # fmt: skip
OPENAI_TAGS = {"sc-group": "shop", "sc-namespace": "shop", "sc-workloads": "deploy/api"}
SETTINGS = PlannerSettings(managed_subscriptions=frozenset({SUB}))
# namespace shop's owner lets the resource group's targets in (every consent a test does not withdraw is given)
NAMESPACES = {"default": {}, "shop": {"sc-autopilot.io/allowed-targets": RG}}


def workload(kind: str, name: str, namespace: str = "shop", **spec) -> WorkloadState:
    pod = {"containers": [{"name": name, "image": "x"}], **spec}
    template = {"metadata": {"labels": {"app": name}}, "spec": pod}
    body = {"jobTemplate": {"spec": {"template": template}}} if kind == "CronJob" else {"template": template}
    manifest = {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "namespace": namespace,
                "resourceVersion": "1"}, "spec": body}  # fmt: skip
    return WorkloadState(WorkloadRef(kind, namespace, name), manifest)


def state(
    *workloads: WorkloadState,
    connections=(),
    secrets=None,
    accounts=None,
    provisioning="Succeeded",
    cluster_tags=None,
    namespaces=None,
):
    return ClusterState(
        info=ClusterInfo(CLUSTER, cluster_tags or {"sc-group": "shop", "sc-identity": "id-shop"}, provisioning),
        connections=tuple(connections),
        workloads={w.ref: w for w in workloads},
        secrets=secrets or {},
        service_accounts=accounts or {"shop": frozenset({"default"})},
        providers={"microsoft.servicelinker": "Registered", "microsoft.kubernetesconfiguration": "Registered"},
        namespaces=NAMESPACES if namespaces is None else namespaces,
    )


def plan(actual: ClusterState, targets: list[TargetInfo], identities: dict = IDENTITIES):
    desired = desired_state(actual, targets, identities, SETTINGS)
    return plan_cluster(desired, actual, SETTINGS)


def simulate(actual: ClusterState, actions) -> ClusterState:
    """What the executor and Service Connector would leave behind (a pure stand-in for the tests)."""
    connections = {c.name: c for c in actual.connections}
    workloads = dict(actual.workloads)
    secrets = {k: set(v) for k, v in actual.secrets.items()}
    accounts = {k: set(v) for k, v in actual.service_accounts.items()}
    providers = dict(actual.providers)
    for action in actions:
        if isinstance(action, RegisterProvider):
            providers[action.namespace.lower()] = "Registered"
        elif isinstance(action, PutLinker):
            i = action.intent
            connections[i.linker_name] = Connection(
                i.linker_name, i.target.id, i.auth.linker_auth_type, i.namespace, i.client_type, "Succeeded",
                i.identity.client_id if i.identity else None, i.user, i.auth is AuthKind.CSI,
            )  # fmt: skip
            secrets.setdefault(i.namespace, set()).add(i.secret_name)
            if i.service_account:
                accounts.setdefault(i.namespace, set()).add(i.service_account)
        elif isinstance(action, DeleteLinker):
            connections.pop(action.name)
        elif isinstance(action, RewireWorkload) and not action.after_linkers:  # the next pass applies those
            current = workloads[action.workload]
            workloads[action.workload] = dataclasses.replace(
                current, manifest=rewire(current.manifest, dict(action.wirings))
            )
        elif isinstance(action, DeleteObject):
            (secrets if action.kind == "Secret" else accounts)[action.namespace].discard(action.name)
    return dataclasses.replace(
        actual,
        connections=tuple(connections.values()),
        workloads=workloads,
        secrets={k: frozenset(v) for k, v in secrets.items()},
        service_accounts={k: frozenset(v) for k, v in accounts.items()},
        providers=providers,
    )


def converge(
    actual: ClusterState, targets: list[TargetInfo], passes: int = 3, identities: dict = IDENTITIES
) -> ClusterState:
    for _ in range(passes):
        actual = simulate(actual, plan(actual, targets, identities).actions)
    return actual


def with_keys(actual: ClusterState, keys: frozenset[str]) -> ClusterState:
    """The state with the keys listConfigurations gives each connection's secret."""
    secrets = {("Secret", c.namespace, naming.secret_name(c.name)): keys for c in actual.connections}
    return dataclasses.replace(actual, env_keys=secrets)


SQL_TARGET = TargetInfo(DB, TargetKind.SQL_DATABASE, SQL_TAGS)
OPENAI_TARGET = TargetInfo(OPENAI, TargetKind.OPENAI, OPENAI_TAGS)
