"""What exists: tagged clusters and targets, identities, linkers and the cluster's objects. Reads only."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from shared.adapters.azure.arm import Arm
from shared.adapters.azure.keyvault import KeyVault
from shared.adapters.errors import ReadError
from shared.adapters.kube.api import KubeApi
from shared.adapters.kube.client import KubeClients
from shared.core import catalogue, naming, rotation
from shared.core.codes import ReadFailure
from shared.core.ids import CLUSTER_TYPE, ResourceRef, type_of
from shared.core.manifests import env_from_secrets
from shared.core.model import (
    WORKLOAD_KINDS,
    ClusterInfo,
    ClusterState,
    Connection,
    IdentityInfo,
    Intent,
    TaggedResource,
    TargetInfo,
    WorkloadRef,
    WorkloadState,
)
from shared.core.planner import REQUIRED_PROVIDERS
from shared.service.estate import Estate

# Leaf reads of one cluster's state run here (never anything that submits more work, so it cannot deadlock).
_READS = ThreadPoolExecutor(max_workers=32, thread_name_prefix="sc-read")


class Inventory:
    def __init__(
        self, arm: Arm, kube: KubeClients, subscriptions: tuple[str, ...], protected: tuple[str, ...],
        keyvault: KeyVault | None = None,
    ):  # fmt: skip
        self.arm = arm
        self.kube = kube
        self.keyvault = keyvault
        self.subscriptions = subscriptions
        self.protected = protected

    def estate(self, *, all_clusters: bool = False) -> Estate:
        """The run's listing. `all_clusters`: the run covers every cluster, so list their details per
        subscription (one paged call) rather than GET each one. A subscription whose tag listing failed is named
        in `failures` (its resources are unseen, not absent); a failed detail listing only costs a GET per
        cluster later."""
        with ThreadPoolExecutor(max_workers=4) as pool:
            listings = list(pool.map(_attempt(self.arm.tagged_resources), self.subscriptions))
            details = list(pool.map(_attempt(self.arm.list_clusters), self.subscriptions)) if all_clusters else []
        resources = [r for listing, _ in listings for r in listing]
        failures = tuple(f for _, failed in listings for f in failed)
        clusters = tuple(r for r in resources if r.type == CLUSTER_TYPE)
        targets = tuple(t for t in (_target(r) for r in resources) if t is not None)
        tagged = {c.id.lower() for c in clusters}
        infos = (info for listing, _ in details for info in listing)
        cluster_infos = {i.ref.id.lower(): i for i in infos if i.ref.id.lower() in tagged}
        return Estate(clusters, targets, cluster_infos, failures=failures)

    def cluster_info(self, cluster: ResourceRef, estate: Estate | None = None) -> ClusterInfo | None:
        listed = estate.cluster_infos.get(cluster.id.lower()) if estate else None
        if listed is not None:
            return listed
        return self.arm.get_cluster(cluster.id)

    def identity(self, ref: ResourceRef, estate: Estate) -> IdentityInfo | None:
        return estate.remember(("identity", ref.id.lower()), lambda: self.arm.get_identity(ref.id))

    def provider_state(self, subscription_id: str, namespace: str, estate: Estate) -> str:
        return estate.remember(
            ("provider", subscription_id.lower(), namespace.lower()),
            lambda: self.arm.provider_state(subscription_id, namespace),
            keep=lambda state: state == "Registered",
        )

    def cluster_state(self, info: ClusterInfo, estate: Estate) -> ClusterState:
        """The cluster's linkers, workloads, secret and service-account names: independent reads, made at once
        (an event waits for one round trip instead of ten)."""
        api = KubeApi(self.kube.for_cluster(info.ref))
        cluster_id = info.ref.id
        reads: dict[str, Callable[[], Any]] = {
            kind: (lambda k=kind: api.list(k, cluster_id=cluster_id)) for kind in WORKLOAD_KINDS
        }
        reads |= {
            "Secret": lambda: api.list("Secret", metadata_only=True, cluster_id=cluster_id),
            "ServiceAccount": lambda: api.list("ServiceAccount", metadata_only=True, cluster_id=cluster_id),
            "Namespace": lambda: api.list("Namespace", metadata_only=True, cluster_id=cluster_id),
            "linkers": lambda: self.arm.list_linkers(info.ref.id),
            **{n: (lambda n=n: self.provider_state(info.ref.subscription_id, n, estate)) for n in REQUIRED_PROVIDERS},
        }
        futures = {name: _READS.submit(read) for name, read in reads.items()}
        results: dict[str, Any] = {}
        failures: list[ReadFailure] = []
        for name, future in futures.items():
            try:
                results[name] = future.result()
            except ReadError as error:  # every read is awaited, so all failures are reported at once
                failures += error.failures
        if failures:
            raise ReadError(tuple(failures))
        workloads: dict[WorkloadRef, WorkloadState] = {}
        for kind in WORKLOAD_KINDS:
            for item in results[kind]:
                meta = item["metadata"]
                if meta["namespace"] in self.protected:
                    continue
                item.setdefault("kind", kind)
                item.setdefault("apiVersion", "batch/v1" if kind in ("Job", "CronJob") else "apps/v1")
                ref = WorkloadRef(kind, meta["namespace"], meta["name"])
                workloads[ref] = WorkloadState(ref, item)
        secrets, accounts = results["Secret"], results["ServiceAccount"]
        return ClusterState(
            info=info,
            connections=tuple(results["linkers"]),
            workloads=workloads,
            secrets=_names_by_namespace(secrets),
            service_accounts=_names_by_namespace(accounts),
            metadata={
                (kind, item["metadata"].get("namespace", ""), item["metadata"]["name"]): item["metadata"]
                for kind, items in (("Secret", secrets), ("ServiceAccount", accounts))
                for item in items
            },
            providers={ns.lower(): results[ns] for ns in REQUIRED_PROVIDERS},
            namespaces={
                item["metadata"]["name"]: dict(item["metadata"].get("annotations") or {})
                for item in results["Namespace"]
            },
        )

    def configuration_names(self, cluster: ResourceRef, connection: Connection, estate: Estate) -> frozenset[str]:
        """The keys Service Connector writes into a connection's secret (listConfigurations). They depend on the
        linker's shape only: one call (a POST that reads) per shape per run."""
        shape = ("configuration-names", type_of(connection.target_id), connection.auth_type, connection.client_type)
        return estate.remember(
            shape, lambda: frozenset(self.arm.linker_configuration_names(cluster.id, connection.name))
        )

    def vault_versions(self, intents: Iterable[Intent], estate: Estate) -> dict[tuple[str, str], tuple | None]:
        """The versions (metadata only) of every Key Vault secret the intents' connections carry: one listing per
        secret per run. A vault that answers 403/404 is unreadable (None: nothing is rotated, the sweep says so);
        any other failure is a ReadError, like every read."""
        found: dict[tuple[str, str], tuple | None] = {}
        for intent in intents:
            url = rotation.password_url(intent)
            if not url:
                continue
            vault_url, name, _ = rotation.split_url(url)
            check_key = rotation.secret_key(vault_url, name)
            if check_key in found:
                continue
            try:
                found[check_key] = estate.remember(
                    ("vault-versions", *check_key), lambda u=url: self.keyvault.versions(u)
                )
            except ReadError as error:
                if error.failures[0].status not in (403, 404):
                    raise
                found[check_key] = None
        return found

    def secret_digests(self, actual: ClusterState, intents: Iterable[Intent]) -> dict[tuple[str, str], str]:
        """The content digest of each of our connections' secrets that a workload reads or should read (one GET
        each; values dropped at once, never logged)."""
        api = KubeApi(self.kube.for_cluster(actual.info.ref))
        wanted = {
            (i.namespace, i.secret_name) for i in intents
            if i.workloads and i.secret_name in actual.secrets.get(i.namespace, frozenset())
        }  # fmt: skip
        digests = {}
        for namespace, name in sorted(wanted):
            digest = api.secret_digest(namespace, name)
            if digest is not None:
                digests[(namespace, name)] = digest
        return digests

    def env_keys(self, actual: ClusterState, intents: Iterable[Intent], estate: Estate) -> dict[tuple, frozenset]:
        """The keys of every connection secret the intents' workloads get or would get through envFrom: the
        intents' own and any other connection's (ours or not) already in those workloads (values never read)."""
        by_secret = {(c.namespace, naming.secret_name(c.name)): c for c in actual.connections}
        wanted: set[tuple[str, str]] = set()
        for intent in intents:
            if intent.workloads and (intent.namespace, intent.secret_name) in by_secret:
                wanted.add((intent.namespace, intent.secret_name))
                for spec in intent.workloads:
                    state = actual.workloads.get(WorkloadRef(spec.kind, intent.namespace, spec.name))
                    if state is not None:
                        wanted |= {(intent.namespace, name) for name in env_from_secrets(state.manifest)}
        return {
            ("Secret", *key): self.configuration_names(actual.info.ref, by_secret[key], estate)
            for key in sorted(wanted & by_secret.keys())
        }


def _attempt(read: Callable[[str], list]) -> Callable[[str], tuple[list, tuple[ReadFailure, ...]]]:
    """A per-subscription read that reports its failure instead of raising, so one subscription's failed
    listing never hides the others."""

    def attempt(subscription_id: str) -> tuple[list, tuple[ReadFailure, ...]]:
        try:
            return read(subscription_id), ()
        except ReadError as error:
            return [], error.failures
        except Exception as error:  # an SDK that broke on the answer: the listing is unseen, never empty
            scope = f"/subscriptions/{subscription_id}"
            return [], (ReadFailure(f"listing ({read.__name__})", scope, None, type(error).__name__, str(error)),)

    return attempt


def _target(resource: TaggedResource) -> TargetInfo | None:
    try:
        ref = ResourceRef.parse(resource.id)
    except ValueError:
        return None
    kind = catalogue.classify(resource.type, resource.kind, resource.capabilities)
    return None if kind is None else TargetInfo(ref, kind, resource.tags)


def _names_by_namespace(items: list[dict]) -> dict[str, frozenset[str]]:
    names: dict[str, set[str]] = {}
    for item in items:
        meta = item["metadata"]
        names.setdefault(meta.get("namespace", ""), set()).add(meta["name"])
    return {namespace: frozenset(values) for namespace, values in names.items()}
