"""The wiring check of `wire_timer`: which workloads the tags name on a cluster, and whether one that exists now
lacks its wiring. Pure; cheap on purpose (tags and metadata first, a manifest only when the metadata cannot tell).

No Azure event says a Deployment appeared, so a workload named in `sc-workloads` but deployed after the tag would
wait for the hourly sweep; this check finds it within one SC_WIRE_SCHEDULE.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.core import naming
from shared.core.gitops import gitops_owner
from shared.core.ids import ResourceRef
from shared.core.manifests import pod_spec, read_wirings
from shared.core.model import TaggedResource, TargetInfo, WorkloadRef
from shared.core.planner import PlannerSettings
from shared.core.tags import parse_cluster_tags, parse_target_tags


@dataclass(frozen=True)
class NamedWorkload:
    ref: WorkloadRef
    container: str | None  # None: every container
    linkers: frozenset[str]  # the names its connection may have (the 64-bit name; the 40-bit one given before)

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset(naming.secret_name(name) for name in self.linkers)


def named_workloads(
    cluster: TaggedResource, targets: list[TargetInfo], settings: PlannerSettings
) -> list[NamedWorkload]:
    """Every workload the targets sharing a group with the cluster name (paused or mis-tagged ones left out; the
    reconcile decides consent, and says why when it refuses)."""
    ref = ResourceRef.parse(cluster.id)
    cluster_tags, _ = parse_cluster_tags(ref, cluster.tags)
    if cluster_tags is None or cluster_tags.paused:
        return []
    named = []
    for target in targets:
        tags, _ = parse_target_tags(target.ref, target.kind, target.tags,
                                    protected_namespaces=settings.protected_namespaces,
                                    vault_suffixes=settings.vault_suffixes)  # fmt: skip
        if tags is None or tags.paused or not tags.groups & cluster_tags.groups:
            continue
        linkers = frozenset({naming.linker_name(target.ref, tags.namespace),
                             naming.legacy_linker_name(target.ref, tags.namespace)})  # fmt: skip
        named += [NamedWorkload(WorkloadRef(spec.kind, tags.namespace, spec.name), spec.container, linkers)
                  for spec in tags.workloads]  # fmt: skip
    return sorted(named, key=lambda n: (n.ref, n.container or "", sorted(n.linkers)))


def recorded(metadata: dict, named: NamedWorkload) -> bool:
    """Our wiring record (metadata only) names its connection: wired by us (a revert is the sweep's to find)."""
    return bool(named.linkers & read_wirings({"metadata": metadata}).keys())


def lacks_wiring(manifest: dict, named: NamedWorkload) -> bool:
    """A container it names has no envFrom of the connection's secret."""
    for container in pod_spec(manifest).get("containers") or []:
        if named.container and container.get("name") != named.container:
            continue
        refs = {(e.get("secretRef") or {}).get("name") for e in container.get("envFrom") or []}
        if not refs & named.secrets:
            return True
    return False


def left_to_its_manifest(metadata: dict, suggest: bool) -> bool:
    """A GitOps-managed workload in suggest mode: it lacks its wiring until a commit adds it, so it is reported
    once per version (and by every sweep), not observed again every few minutes."""
    return suggest and gitops_owner({"metadata": metadata}) is not None
