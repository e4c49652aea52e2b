"""Which clusters an event concerns. Events are hints: routing only chooses what to reconcile, never what to do."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from shared.adapters.azure.arm import Arm
from shared.adapters.errors import ReadError
from shared.adapters.storage import LinkerIndex
from shared.core import rotation
from shared.core.codes import Finding
from shared.core.eventgrid import EventHint, SecretHint
from shared.core.ids import CLUSTER_TYPE, ResourceRef
from shared.core.planner import PlannerSettings
from shared.core.tags import declared_groups, parse_target_tags
from shared.service.estate import Estate

EVENT_FANOUT_LIMIT = 50


Each = Callable[[Iterable, Callable], list]  # Run.each: work over clusters, at most SC_CONCURRENCY at once


class Router:
    """Reads only (the linker index, or ARM's linker listings); knows nothing of the reconciler or the drivers that
    call it."""

    def __init__(self, arm: Arm, index: LinkerIndex | None = None):
        self.arm = arm
        self.index = index

    def scope(self, hint: EventHint, estate: Estate, each: Each) -> list[ResourceRef]:
        """For a cluster, itself. For a target, the clusters sharing a group with it now (by its `sc-group` tag even
        if its other tags are broken, so those clusters report it), and those still holding a linker to it (its
        removal or re-grouping must reach them). The latter come from the linker index in the app's storage (one
        listing, whatever the estate's size); without a usable index (no storage, never completed by a sweep, or
        unreadable), from one linker listing per cluster, so large estates then leave them to the sweep. The index is
        a hint: a cluster it names is only looked at, and its own listing decides. A cluster whose linkers cannot
        be read is included: its own reconcile then reports the failed read (and removes nothing)."""
        if hint.resource_type == CLUSTER_TYPE:
            return [] if hint.deleted else [ResourceRef.parse(hint.resource_id)]
        target_ref = ResourceRef.parse(hint.resource_id)
        target = next((t for t in estate.targets if t.ref == target_ref), None)
        groups = declared_groups(target.tags) if target else frozenset()
        sharing, others = [], []
        for cluster in estate.clusters:
            (sharing if declared_groups(cluster.tags) & groups else others).append(ResourceRef.parse(cluster.id))
        indexed = self.index.clusters_for(target_ref.id) if self.index is not None else None
        if indexed is not None:
            return sharing + [ref for ref in others if ref.id.lower() in indexed]
        if len(estate.clusters) > EVENT_FANOUT_LIMIT:
            return sharing
        holding = each(others, lambda ref: self._may_hold_linker_to(ref, target_ref))
        return sharing + [ref for ref, holds in zip(others, holding, strict=True) if holds]

    def _may_hold_linker_to(self, cluster: ResourceRef, target: ResourceRef) -> bool:
        try:
            return self.arm.has_linker_to(cluster.id, target.id)
        except ReadError:
            return True

    @staticmethod
    def secret_scope(hint: SecretHint, estate: Estate, settings: PlannerSettings) -> list[ResourceRef]:
        """For a Key Vault secret's event: the clusters sharing a group with a target whose password URL names that
        secret (versioned or not: a pinned one is reported, never rotated)."""
        groups: set[str] = set()
        for target in estate.targets:
            tags, _ = parse_target_tags(target.ref, target.kind, target.tags,
                                        protected_namespaces=settings.protected_namespaces,
                                        vault_suffixes=settings.vault_suffixes)  # fmt: skip
            url = tags.password_url if tags else None
            if url:
                vault_url, name, _ = rotation.split_url(url)
                if name.lower() == hint.name and vault_url.removeprefix("https://").split(".", 1)[0] == hint.vault:
                    groups |= tags.groups
        return sorted(ResourceRef.parse(c.id) for c in estate.clusters if declared_groups(c.tags) & groups)

    @staticmethod
    def target_findings(hint: EventHint, estate: Estate, settings: PlannerSettings) -> list[Finding]:
        """What is wrong with the tags of a target no cluster was reconciled for (else nobody would say it)."""
        target = next((t for t in estate.targets if t.ref == ResourceRef.parse(hint.resource_id)), None)
        if target is None:
            return []
        _, findings = parse_target_tags(target.ref, target.kind, target.tags,
                                        protected_namespaces=settings.protected_namespaces,
                                        vault_suffixes=settings.vault_suffixes)  # fmt: skip
        return findings
