"""One run's view of the estate and its memo of reads that cannot change within a run."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from shared.core.codes import ReadFailure
from shared.core.ids import ResourceRef
from shared.core.model import ClusterInfo, IdentityInfo, TaggedResource, TargetInfo, TargetKind


class Memo:
    """Values computed once per key even when many threads ask at once (the others wait for the first)."""

    def __init__(self) -> None:
        self._values: dict[tuple, Any] = {}
        self._loading: dict[tuple, threading.Lock] = {}
        self._lock = threading.Lock()

    def remember(self, key: tuple, load: Callable[[], Any], keep: Callable[[Any], bool] = lambda v: v is not None):
        with self._lock:
            if key in self._values:
                return self._values[key]
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:
            with self._lock:
                if key in self._values:
                    return self._values[key]
            value = load()
            if keep(value):
                with self._lock:
                    self._values[key] = value
            return value


@dataclass(frozen=True)
class TagListing:
    """Everything carrying `sc-group`, as listed (read-only: concurrent runs may share one), with the derivations
    of it that runs compute once (`derived`: the parsed targets)."""

    clusters: tuple[TaggedResource, ...]
    targets: tuple[TargetInfo, ...]
    failures: tuple[ReadFailure, ...]
    derived: Memo = field(default_factory=Memo, repr=False, compare=False)


@dataclass(frozen=True)
class Estate:
    """One run's view: everything carrying `sc-group` in the managed subscriptions (one paged listing per
    subscription), the clusters' details when the run covers them all, and a memo of the reads that cannot change
    within a run (identities, registered providers), so no read is done twice in a run."""

    clusters: tuple[TaggedResource, ...]
    targets: tuple[TargetInfo, ...]
    cluster_infos: dict[str, ClusterInfo] = field(default_factory=dict)  # by lower-case id
    failures: tuple[ReadFailure, ...] = ()  # listings that failed: what they would have shown is unseen
    # The run judges (a sweep): a cluster's details always come from its listing or a GET, never from the tag
    # listing alone (which lacks the identity profile the verdicts read).
    complete_infos: bool = False
    # A full run's listings that replace a read per cluster (absent: read per cluster, as before): every identity of
    # the managed subscriptions (lower-case id; ARM, consistent), and sc-extension's state per cluster from Resource
    # Graph (lower-case cluster id; a cluster it does not list has no extension, or one Resource Graph has not seen).
    identities: dict[str, IdentityInfo] | None = None
    extension_states: dict[str, str] | None = None
    # An event's run: reads it may share with concurrent runs of this process must have begun at or after this (its
    # arrival, on Inventory.fresh's clock; FreshReads). None: the run makes its own reads.
    fresh_since: float | None = None
    _memo: Memo = field(default_factory=Memo, repr=False, compare=False)
    # Pure derivations of the tag listing (the parsed targets), shared by every run built from the same listing
    # (concurrent events of one instance share one listing: Inventory.estate).
    derived: Memo = field(default_factory=Memo, repr=False, compare=False)

    def remember(self, key: tuple, load: Callable[[], Any], keep: Callable[[Any], bool] = lambda v: v is not None):
        """`load()` once per run for `key`, even when many clusters ask at once (the others wait for the first);
        values `keep` refuses (absent, not yet registered) are read again next time."""
        return self._memo.remember(key, load, keep)

    def tagged_cluster(self, cluster: ResourceRef) -> TaggedResource | None:
        return next((c for c in self.clusters if c.id.lower() == cluster.id.lower()), None)

    def to_dict(self) -> dict:
        """A JSON snapshot, so fanned-out invocations of one sweep share the run's listing instead of redoing it."""
        return {
            "clusters": [asdict(c) for c in self.clusters],
            "targets": [{"id": t.ref.id, "kind": t.kind.value, "tags": t.tags} for t in self.targets],
            "clusterInfos": [_info_dict(i) for i in self.cluster_infos.values()],
            "failures": [asdict(f) for f in self.failures],  # a fanned-out sweep holds removals like its run
            "completeInfos": self.complete_infos,
            "identities": None if self.identities is None else [
                {"id": i.ref.id, "clientId": i.client_id, "principalId": i.principal_id, "tags": i.tags}
                for i in self.identities.values()
            ],
            "extensionStates": self.extension_states,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict) -> Estate:
        infos = [
            ClusterInfo(ResourceRef.parse(i["id"]), i["tags"], i["provisioningState"], i["oidcIssuerUrl"],
                        i["workloadIdentityEnabled"])
            for i in data.get("clusterInfos", [])
        ]  # fmt: skip
        return cls(
            clusters=tuple(TaggedResource(**c) for c in data["clusters"]),
            targets=tuple(
                TargetInfo(ResourceRef.parse(t["id"]), TargetKind(t["kind"]), t["tags"]) for t in data["targets"]
            ),
            cluster_infos={i.ref.id.lower(): i for i in infos},
            failures=tuple(ReadFailure(**f) for f in data.get("failures", [])),
            complete_infos=bool(data.get("completeInfos", True)),  # snapshots are taken by full runs
            identities=None if data.get("identities") is None else {
                i["id"].lower(): IdentityInfo(ResourceRef.parse(i["id"]), i["clientId"], i["principalId"], i["tags"])
                for i in data["identities"]
            },
            extension_states=data.get("extensionStates"),
        )  # fmt: skip


def _info_dict(info: ClusterInfo) -> dict:
    return {
        "id": info.ref.id,
        "tags": info.tags,
        "provisioningState": info.provisioning_state,
        "oidcIssuerUrl": info.oidc_issuer_url,
        "workloadIdentityEnabled": info.workload_identity_enabled,
    }
