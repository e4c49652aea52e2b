"""Which clusters a run acts on: the CLI's --subscription, --resource-group and --cluster, like az's filters."""

from __future__ import annotations

from dataclasses import dataclass

from shared.core.ids import ResourceRef


@dataclass(frozen=True)
class ClusterScope:
    """Empty fields match everything; matching ignores case, as ARM does. `clusters` holds names or full ids."""

    subscriptions: frozenset[str] = frozenset()
    resource_groups: frozenset[str] = frozenset()
    clusters: frozenset[str] = frozenset()

    @classmethod
    def of(cls, subscriptions=(), resource_groups=(), clusters=()) -> ClusterScope:
        lower = lambda values: frozenset(v.lower().rstrip("/") for v in values or ())  # noqa: E731
        return cls(lower(subscriptions), lower(resource_groups), lower(clusters))

    @property
    def everything(self) -> bool:
        return not (self.subscriptions or self.resource_groups or self.clusters)

    def matches(self, cluster: ResourceRef) -> bool:
        return (
            (not self.subscriptions or cluster.subscription_id.lower() in self.subscriptions)
            and (not self.resource_groups or cluster.resource_group.lower() in self.resource_groups)
            and (not self.clusters or bool({cluster.name.lower(), cluster.id.lower()} & self.clusters))
        )


EVERYWHERE = ClusterScope()
