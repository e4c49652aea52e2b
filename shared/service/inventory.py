"""What exists: tagged clusters and targets, identities, linkers and the cluster's objects. Reads only."""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from shared.adapters.azure.arm import Arm
from shared.adapters.azure.keyvault import KeyVault
from shared.adapters.errors import ReadError
from shared.adapters.kube.api import KubeApi
from shared.adapters.kube.client import KubeClients
from shared.adapters.storage import SharedFacts
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
from shared.core.planner import REQUIRED_PROVIDERS, tagged_ref
from shared.service.estate import Estate, TagListing
from shared.service.fresh import FreshReads
from shared.service.run import Caches

# Leaf reads of one cluster's state run here (never anything that submits more work, so it cannot deadlock).
_READS = ThreadPoolExecutor(max_workers=32, thread_name_prefix="sc-read")


KEY_TABLE_FACT = "key-table"


class Inventory:
    """Reads. What does not change per event is not read per event: a provider's registration is kept once
    Registered until an answer says otherwise (`forget_providers`), and the configuration key names of each
    connection shape for the process (and, with `facts`, for every instance, in the app's storage)."""

    def __init__(
        self, arm: Arm, kube: KubeClients, subscriptions: tuple[str, ...], protected: tuple[str, ...],
        keyvault: KeyVault | None = None, caches: Caches | None = None, facts: SharedFacts | None = None,
    ):  # fmt: skip
        self.arm = arm
        self.kube = kube
        self.keyvault = keyvault
        self.subscriptions = subscriptions
        self.protected = protected
        self.caches = caches or Caches()  # the process's (the container shares it with every Run)
        self.facts = facts
        self.fresh = FreshReads()  # the tag listing, shared by concurrent events of this process

    def estate(self, *, all_clusters: bool = False, since: float | None = None) -> Estate:
        """The run's listing. `all_clusters`: the run covers every cluster, so list their details per
        subscription (one paged call) rather than GET each one. A subscription whose tag listing failed is named
        in `failures` (its resources are unseen, not absent); a failed detail listing only costs a GET per
        cluster later. `since` (an event's arrival, on `self.fresh.clock`): the tag listing may be one that a
        concurrent run of this process began at or after it (FreshReads), not necessarily this run's own."""
        with ThreadPoolExecutor(max_workers=4) as pool:
            shared = functools.partial(self.fresh.read, "tag listing", since, self._tag_listing)
            listing = pool.submit(self._tag_listing if since is None else shared)
            details = pool.map(_attempt(self.arm.list_clusters), self.subscriptions) if all_clusters else []
            identities = pool.map(_attempt(self.arm.list_identities), self.subscriptions) if all_clusters else []
            extensions = pool.submit(self._extension_states) if all_clusters else None
            listing, details, identities = listing.result(), list(details), list(identities)
        tagged = {c.id.lower() for c in listing.clusters}
        infos = (info for listing, _ in details for info in listing)
        cluster_infos = {i.ref.id.lower(): i for i in infos if i.ref.id.lower() in tagged}
        listed_identities = None  # a subscription whose identity listing failed: each identity is read by a GET
        if all_clusters and not any(failed for _, failed in identities):
            listed_identities = {i.ref.id.lower(): i for listing, _ in identities for i in listing}
        extension_states = extensions.result() if extensions else None
        return Estate(listing.clusters, listing.targets, cluster_infos, failures=listing.failures,
                      complete_infos=all_clusters, identities=listed_identities, extension_states=extension_states,
                      derived=listing.derived, fresh_since=since)  # fmt: skip

    def _tag_listing(self) -> TagListing:
        """Everything carrying `sc-group` in the managed subscriptions: one paged listing each, in parallel."""
        with ThreadPoolExecutor(max_workers=4) as pool:
            listings = list(pool.map(_attempt(self.arm.tagged_resources), self.subscriptions))
        resources = [r for listing, _ in listings for r in listing]
        clusters = tuple(r for r in resources if r.type == CLUSTER_TYPE)
        targets = tuple(t for t in (_target(r) for r in resources) if t is not None)
        return TagListing(clusters, targets, tuple(f for _, failed in listings for f in failed))

    def _extension_states(self) -> dict[str, str] | None:
        try:
            return self.arm.extension_states(self.subscriptions)
        except ReadError:  # throttled or down: each cluster's extension is read by a GET instead
            return None

    def extension_state(self, cluster: ResourceRef, estate: Estate) -> str | None:
        """sc-extension's state. From the run's Resource Graph query when it says Succeeded or nothing (for the
        verdicts both mean "no extension problem", so a lag cannot mislead them); anything else is confirmed by a
        GET, since Resource Graph may not have seen the extension recover yet."""
        if estate.extension_states is not None:
            state = estate.extension_states.get(cluster.id.lower())
            if state in (None, "Succeeded"):
                return state
        return self.arm.extension_state(cluster.id)

    def cluster_info(self, cluster: ResourceRef, estate: Estate | None = None) -> ClusterInfo | None:
        """From the run's cluster listing; else, for a run that plans only (an event), from the tag listing (tags
        and provisioning state are all a plan needs; the identity profile, which only the sweep's verdicts read, is
        left unknown); else a GET."""
        listed = estate.cluster_infos.get(cluster.id.lower()) if estate else None
        if listed is not None:
            return listed
        tagged = estate.tagged_cluster(cluster) if estate and not estate.complete_infos else None
        if tagged is not None and tagged.provisioning_state:
            return ClusterInfo(cluster, dict(tagged.tags), tagged.provisioning_state)
        return self.arm.get_cluster(cluster.id)

    def identity(self, ref: ResourceRef, estate: Estate) -> IdentityInfo | None:
        """From the run's identity listing (a full run), else one GET per identity per run."""
        listed = estate.identities.get(ref.id.lower()) if estate.identities is not None else None
        if listed is not None:
            return listed
        return estate.remember(("identity", ref.id.lower()), lambda: self.arm.get_identity(ref.id))

    def provider_state(self, subscription_id: str, namespace: str, estate: Estate) -> str:
        """Registration changes about once in a subscription's life: Registered is kept for the process."""
        key = ("provider", subscription_id.lower(), namespace.lower())
        return self.caches.remember(
            key, lambda: estate.remember(key, lambda: self.arm.provider_state(subscription_id, namespace),
                                         keep=lambda state: state == "Registered"),
            ttl_seconds=math.inf, keep=lambda state: state == "Registered",
        )  # fmt: skip

    def forget_providers(self, subscription_id: str) -> None:
        """An answer said a provider may not be registered after all (a linker PUT failed): read it again."""
        self.caches.forget(lambda key: key[:2] == ("provider", subscription_id.lower()))

    def cluster_state(
        self,
        info: ClusterInfo,
        estate: Estate,
        connections: tuple[Connection, ...] | None = None,
        renewed: bool = False,
    ) -> ClusterState:
        """The cluster's linkers (unless `connections` are known), workloads, secret and service-account names:
        independent reads, made at once (an event waits for one round trip instead of ten). When the API server gives
        no answer at all and ARM now names another endpoint for it (the kept one was stale), the reads are made once
        more (`renewed`)."""
        api = KubeApi(self.kube.for_cluster(info.ref))
        cluster_id = info.ref.id
        reads: dict[str, Callable[[], Any]] = {
            kind: (lambda k=kind: api.list(k, cluster_id=cluster_id)) for kind in WORKLOAD_KINDS
        }
        reads |= {
            "Secret": lambda: api.list("Secret", metadata_only=True, cluster_id=cluster_id),
            "ServiceAccount": lambda: api.list("ServiceAccount", metadata_only=True, cluster_id=cluster_id),
            "Namespace": lambda: api.list("Namespace", metadata_only=True, cluster_id=cluster_id),
            "linkers": (lambda: self.arm.list_linkers(info.ref.id)) if connections is None else (lambda: connections),
            **{n: (lambda n=n: self.provider_state(info.ref.subscription_id, n, estate)) for n in REQUIRED_PROVIDERS},
        }
        kube_reads = {*WORKLOAD_KINDS, "Secret", "ServiceAccount", "Namespace"}
        futures = {name: _READS.submit(read) for name, read in reads.items()}
        results: dict[str, Any] = {}
        failures: list[ReadFailure] = []
        unanswered = False  # the API server gave no answer at all
        for name, future in futures.items():
            try:
                results[name] = future.result()
            except ReadError as error:  # every read is awaited, so all failures are reported at once
                failures += error.failures
                unanswered |= name in kube_reads and any(f.status is None for f in error.failures)
        if failures:
            if unanswered and not renewed and self.kube.renew(info.ref):
                return self.cluster_state(info, estate, connections, renewed=True)
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

    def workloads_again(self, actual: ClusterState, refs: Iterable[WorkloadRef]) -> ClusterState:
        """`actual` with these workloads read again (one GET each, at once; one now gone is dropped), when nothing
        else in the cluster was changed since it was read: a pass confirming the rollouts it started."""
        api = KubeApi(self.kube.for_cluster(actual.info.ref))
        futures = {ref: _READS.submit(api.get, ref.kind, ref.namespace, ref.name) for ref in set(refs)}
        workloads, failures = dict(actual.workloads), []
        for ref, future in futures.items():
            try:
                manifest = future.result()
            except ReadError as error:
                failures += error.failures
                continue
            if manifest is None:
                workloads.pop(ref, None)
            else:
                workloads[ref] = WorkloadState(ref, manifest)
        if failures:
            raise ReadError(tuple(failures))
        return dataclasses.replace(actual, workloads=workloads, observed_at=datetime.now(UTC))

    def configuration_names(self, cluster: ResourceRef, connection: Connection, estate: Estate) -> frozenset[str]:
        """The keys Service Connector writes into a connection's secret (listConfigurations). They depend on the
        linker's shape (target type and catalogue kind, auth type, CSI or not, client type) only: one call (a POST
        that reads, in ARM's write bucket) per shape for the process, and with shared facts once for the whole app."""
        shape = "|".join(_shape(connection, estate)).lower()

        def load() -> frozenset[str]:
            shared = self.facts.get(KEY_TABLE_FACT, shape) if self.facts is not None else None
            if shared is not None and isinstance(shared.get("names"), list):
                return frozenset(shared["names"])
            names = estate.remember(
                ("configuration-names", shape),
                lambda: frozenset(self.arm.linker_configuration_names(cluster.id, connection.name)),
            )
            if self.facts is not None:
                self.facts.put(KEY_TABLE_FACT, shape, {"shape": shape, "names": sorted(names)})
            return names

        return self.caches.remember((KEY_TABLE_FACT, shape), load, ttl_seconds=math.inf)

    def vault_versions(self, intents: Iterable[Intent], estate: Estate) -> dict[tuple[str, str], tuple | None]:
        """The versions (metadata only) of every Key Vault secret the intents' connections carry: one listing per
        secret per run (for concurrent events, one begun after they arrived). A vault that answers 403/404 is
        unreadable (None: nothing is rotated, the sweep says so); any other failure is a ReadError, like every read."""
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
                found[check_key] = self._once(estate, ("vault-versions", *check_key),
                                              lambda u=url: self.keyvault.versions(u))  # fmt: skip
            except ReadError as error:
                if error.failures[0].status not in (403, 404):
                    raise
                found[check_key] = None
        return found

    def _once(self, estate: Estate, key: tuple, load: Callable[[], Any]) -> Any:
        """Once per run; an event's run shares it with concurrent runs when it began after the run's event arrived."""
        if estate.fresh_since is None:
            return estate.remember(key, load)
        return estate.remember(key, lambda: self.fresh.read(key, estate.fresh_since, load))

    def secret_digests(self, actual: ClusterState, intents: Iterable[Intent]) -> dict[tuple[str, str], str]:
        """The content digest of each of our connections' secrets that a workload reads or should read (one GET
        each; values dropped at once, never logged)."""
        api = KubeApi(self.kube.for_cluster(actual.info.ref))
        wanted = {
            (i.namespace, i.secret_name) for i in intents
            if i.workloads and i.secret_name in actual.secrets.get(i.namespace, frozenset())
        }  # fmt: skip
        reads = {key: _READS.submit(api.secret_digest, *key) for key in sorted(wanted)}  # at once: one round trip
        digests = {key: read.result() for key, read in reads.items()}
        return {key: digest for key, digest in digests.items() if digest is not None}

    def contents(self, actual: ClusterState, intents: tuple[Intent, ...], estate: Estate) -> ClusterState:
        """`actual` with what the plan compares beyond names: the env keys the workloads get, the Key Vault
        versions and our secrets' content digests (the vault and the cluster read at once)."""
        versions = _READS.submit(self.vault_versions, intents, estate)
        digests = self.secret_digests(actual, intents)
        return dataclasses.replace(actual, env_keys=self.env_keys(actual, intents, estate),
                                   vault_versions=versions.result(), secret_digests=digests,
                                   observed_at=datetime.now(UTC))  # fmt: skip

    def soon(self, read: Callable[[], Any]) -> Future:
        """A leaf read (one that submits no more work) started now and awaited later, beside others."""
        return _READS.submit(read)

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


def _shape(connection: Connection, estate: Estate) -> tuple[str, ...]:
    """What a connection's keys depend on. The target type alone is not enough: a Cognitive Services account's keys
    follow its kind (AZURE_OPENAI_* / AZURE_AISERVICES_* / AZURE_COGNITIVESERVICES_*), and a Key Vault connected for
    the CSI driver has other keys than one connected with workload identity, both `userAssignedIdentity`."""
    tagged = tagged_ref(connection.target_id)
    kind = next((t.kind.value for t in estate.targets if t.ref == tagged), "unlisted")
    csi = "csi" if connection.csi else ""
    return type_of(connection.target_id), kind, connection.auth_type, csi, connection.client_type


def _names_by_namespace(items: list[dict]) -> dict[str, frozenset[str]]:
    names: dict[str, set[str]] = {}
    for item in items:
        meta = item["metadata"]
        names.setdefault(meta.get("namespace", ""), set()).add(meta["name"])
    return {namespace: frozenset(values) for namespace, values in names.items()}
