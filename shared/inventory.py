"""What exists: tagged clusters and targets, identities, linkers and the cluster's objects. Reads only."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from shared.azure.arm import Arm, TaggedResource
from shared.kube.api import KubeApi
from shared.kube.client import KubeClients
from shared.model import (
    WORKLOAD_KINDS,
    ClusterInfo,
    ClusterState,
    Connection,
    IdentityInfo,
    ResourceRef,
    TargetInfo,
    TargetKind,
    WorkloadRef,
    WorkloadState,
)
from shared.planner import REQUIRED_PROVIDERS

CLUSTER_TYPE = "microsoft.containerservice/managedclusters"
TARGET_KINDS = {"microsoft.sql/servers/databases": TargetKind.SQL_DATABASE}
OPENAI_ACCOUNT_KINDS = {"openai", "aiservices"}


@dataclass(frozen=True)
class Estate:
    """Everything carrying `sc-group` in the managed subscriptions (one listing call per subscription)."""

    clusters: tuple[TaggedResource, ...]
    targets: tuple[TargetInfo, ...]


class Inventory:
    def __init__(self, arm: Arm, kube: KubeClients, subscriptions: tuple[str, ...], protected: tuple[str, ...]):
        self.arm = arm
        self.kube = kube
        self.subscriptions = subscriptions
        self.protected = protected

    def estate(self) -> Estate:
        with ThreadPoolExecutor(max_workers=4) as pool:
            listings = list(pool.map(self.arm.tagged_resources, self.subscriptions))
        resources = [r for listing in listings for r in listing]
        clusters = tuple(r for r in resources if r.type == CLUSTER_TYPE)
        targets = tuple(t for t in (_target(r) for r in resources) if t is not None)
        return Estate(clusters, targets)

    def cluster_info(self, cluster: ResourceRef) -> ClusterInfo | None:
        found = self.arm.get_cluster(cluster.id)
        if found is None:
            return None
        oidc = found.oidc_issuer_profile
        security = found.security_profile
        return ClusterInfo(
            ref=ResourceRef.parse(found.id),
            tags=dict(found.tags or {}),
            provisioning_state=found.provisioning_state or "Unknown",
            oidc_issuer_url=(oidc.issuer_url if oidc and oidc.enabled else None),
            workload_identity_enabled=bool(
                security and security.workload_identity and security.workload_identity.enabled
            ),
        )

    def identity(self, ref: ResourceRef) -> IdentityInfo | None:
        found = self.arm.get_identity(ref.id)
        if found is None:
            return None
        return IdentityInfo(ResourceRef.parse(found.id), found.client_id, found.principal_id)

    def cluster_state(self, info: ClusterInfo) -> ClusterState:
        api = KubeApi(self.kube.for_cluster(info.ref))
        workloads: dict[WorkloadRef, WorkloadState] = {}
        for kind in WORKLOAD_KINDS:
            for item in api.list(kind):
                meta = item["metadata"]
                if meta["namespace"] in self.protected:
                    continue
                item.setdefault("kind", kind)
                item.setdefault("apiVersion", "batch/v1" if kind in ("Job", "CronJob") else "apps/v1")
                ref = WorkloadRef(kind, meta["namespace"], meta["name"])
                workloads[ref] = WorkloadState(ref, item)
        secrets = api.list("Secret", metadata_only=True)
        accounts = api.list("ServiceAccount", metadata_only=True)
        return ClusterState(
            info=info,
            connections=tuple(_connection(linker) for linker in self.arm.list_linkers(info.ref.id)),
            workloads=workloads,
            secrets=_names_by_namespace(secrets),
            service_accounts=_names_by_namespace(accounts),
            metadata={
                (kind, item["metadata"].get("namespace", ""), item["metadata"]["name"]): item["metadata"]
                for kind, items in (("Secret", secrets), ("ServiceAccount", accounts))
                for item in items
            },
            providers={ns.lower(): self.arm.provider_state(info.ref.subscription_id, ns) for ns in REQUIRED_PROVIDERS},
        )


def _target(resource: TaggedResource) -> TargetInfo | None:
    try:
        ref = ResourceRef.parse(resource.id)
    except ValueError:
        return None
    if resource.type in TARGET_KINDS:
        return TargetInfo(ref, TARGET_KINDS[resource.type], resource.tags)
    if resource.type == "microsoft.cognitiveservices/accounts" and resource.kind.lower() in OPENAI_ACCOUNT_KINDS:
        return TargetInfo(ref, TargetKind.OPENAI, resource.tags)
    return None


def _connection(linker) -> Connection:
    auth = linker.auth_info
    return Connection(
        name=linker.name,
        target_id=(linker.target_service.id if linker.target_service else "") or "",
        auth_type=(auth.auth_type if auth else "") or "",
        namespace=linker.scope or "default",
        client_type=linker.client_type or "none",
        provisioning_state=linker.provisioning_state or "Unknown",
        client_id=getattr(auth, "client_id", None),
        secret_user=getattr(auth, "name", None),
    )


def _names_by_namespace(items: list[dict]) -> dict[str, frozenset[str]]:
    names: dict[str, set[str]] = {}
    for item in items:
        meta = item["metadata"]
        names.setdefault(meta.get("namespace", ""), set()).add(meta["name"])
    return {namespace: frozenset(values) for namespace, values in names.items()}
