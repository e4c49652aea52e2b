"""Orphans: Service Connector secrets and service accounts no linker on the cluster accounts for. Pure.

Safety first: first sight only annotates; deletion waits a grace period, needs SC_CLEANUP_MODE=delete, skips
anything a workload still references, never touches protected namespaces, and stops at a per-run cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from shared.core import naming
from shared.core.codes import Code, Finding
from shared.core.ids import ResourceRef
from shared.core.manifests import secret_references, service_account_of
from shared.core.model import ClusterState, Connection, ObjectKind
from shared.core.plan import Action, AnnotateObject, DeleteObject

ORPHANED_SINCE = "sc-autopilot.io/orphaned-since"
ACCOUNT_PREFIX = "sc-account-"


@dataclass(frozen=True)
class CleanupPolicy:
    mode: str = "report"  # report | delete
    grace: timedelta = timedelta(hours=24)
    max_deletions: int = 20
    protected_namespaces: tuple[str, ...] = ()


class OrphanState(StrEnum):
    FIRST_SEEN = "first-seen"  # annotated now; the grace period starts
    WAITING = "waiting"  # within the grace period
    IN_USE = "in-use"  # a workload references it: never deleted while so
    REPORT_ONLY = "report-only"  # SC_CLEANUP_MODE=report
    DELETING = "deleting"  # due: planned for deletion (what a dry run shows; a run says what then happened)
    DELETED = "deleted"  # due, and the deletion succeeded in this run
    DELETE_FAILED = "delete-failed"  # due, and the deletion failed or was blocked in this run: tried again next run
    CAPPED = "capped"  # due, but the run's deletion cap is reached


@dataclass(frozen=True)
class Orphan:
    kind: ObjectKind
    namespace: str
    name: str
    since: str | None  # ISO time first seen orphaned (None: first sight now)
    state: OrphanState


def plan_orphans(
    cluster: ResourceRef, actual: ClusterState, policy: CleanupPolicy, now: datetime, deletions_left: int
) -> tuple[list[Action], list[Orphan], list[Finding]]:
    linked_secrets = {naming.secret_name(c.name) for c in actual.connections}
    linked_accounts = {
        (c.namespace, naming.service_account_name(c.client_id)) for c in actual.connections if c.client_id
    }
    actions: list[Action] = []
    orphans: list[Orphan] = []
    findings: list[Finding] = []
    for (kind, namespace, name), metadata in sorted(actual.metadata.items()):
        if namespace in policy.protected_namespaces:
            continue
        if kind == ObjectKind.SECRET and not (naming.is_service_connector_secret(name) and name not in linked_secrets):
            continue
        if kind == ObjectKind.SERVICE_ACCOUNT and not (
            name.startswith(ACCOUNT_PREFIX) and (namespace, name) not in linked_accounts
        ):
            continue
        users = _users(actual, kind, namespace, name)
        since = (metadata.get("annotations") or {}).get(ORPHANED_SINCE)
        if users:
            state = OrphanState.IN_USE
            findings.append(Finding(Code.ORPHAN_IN_USE, cluster.id,
                                    f"{kind} {namespace}/{name} has no connection but is used by {', '.join(users)}",
                                    "recreate the connection (tags) or remove the reference; it is never deleted "
                                    "while referenced"))  # fmt: skip
        else:
            state = _lifecycle(cluster, kind, namespace, name, since, policy, now, deletions_left, actions, findings)
            if state is OrphanState.DELETING:
                deletions_left -= 1
                actions.append(DeleteObject(cluster, kind, namespace, name))
        orphans.append(Orphan(kind, namespace, name, since, state))
    return actions, orphans, findings


def plan_releases(
    cluster: ResourceRef,
    actual: ClusterState,
    held: list[Connection],
    policy: CleanupPolicy,
    now: datetime,
    deletions_left: int,
) -> tuple[list[Action], frozenset[str], list[Orphan], list[Finding]]:
    """Connections held for a missing consent go through the orphan rules, never torn down silently: their secret
    is marked on first sight; once due (SC_CLEANUP_MODE=delete, the grace period, the per-run cap) the connection is
    released, and the planner unwires and removes it like any unwanted one."""
    actions: list[Action] = []
    released: set[str] = set()
    orphans: list[Orphan] = []
    findings: list[Finding] = []
    for connection in sorted(held, key=lambda c: c.name):
        namespace, secret = connection.namespace, naming.secret_name(connection.name)
        metadata = actual.metadata.get((ObjectKind.SECRET, namespace, secret))
        if metadata is None or namespace in policy.protected_namespaces:
            continue  # nothing to mark: held and reported
        since = (metadata.get("annotations") or {}).get(ORPHANED_SINCE)
        kind = ObjectKind.SECRET
        state = _lifecycle(cluster, kind, namespace, secret, since, policy, now, deletions_left, actions, findings)
        if state is OrphanState.DELETING:
            deletions_left -= 1
            released.add(connection.name)
        orphans.append(Orphan(kind, namespace, secret, since, state))
    return actions, frozenset(released), orphans, findings


def _lifecycle(
    cluster: ResourceRef,
    kind: ObjectKind,
    namespace: str,
    name: str,
    since: str | None,
    policy: CleanupPolicy,
    now: datetime,
    deletions_left: int,
    actions: list[Action],
    findings: list[Finding],
) -> OrphanState:
    """Where an unreferenced object stands: marked on first sight, then reported, waiting, capped or due."""
    if since is None:
        actions.append(AnnotateObject(cluster, kind, namespace, name, ((ORPHANED_SINCE, _iso(now)),)))
        return OrphanState.FIRST_SEEN
    if policy.mode != "delete":
        return OrphanState.REPORT_ONLY
    if now - _parse(since, now) < policy.grace:
        return OrphanState.WAITING
    if deletions_left <= 0:
        findings.append(Finding(Code.DELETION_CAP_REACHED, cluster.id,
                                f"{kind} {namespace}/{name} is due for deletion but the per-run cap is reached",
                                "raise SC_MAX_DELETIONS_PER_RUN if this many orphans are expected"))  # fmt: skip
        return OrphanState.CAPPED
    return OrphanState.DELETING


def _users(actual: ClusterState, kind: str, namespace: str, name: str) -> list[str]:
    users = []
    for ref, state in sorted(actual.workloads.items()):
        if ref.namespace != namespace:
            continue
        manifest = state.manifest
        used = (
            name in secret_references(manifest) if kind == ObjectKind.SECRET else service_account_of(manifest) == name
        )
        if used:
            users.append(str(ref))
    return users


def _iso(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: str, now: datetime) -> datetime:
    """An unreadable mark counts as 'seen now': the grace period restarts rather than deleting early."""
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=now.tzinfo)
    except ValueError:
        return now
