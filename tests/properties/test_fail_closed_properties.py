"""Fail closed, as a property (issue 10): for a random estate history (the targets' tags over time) and a random
fault schedule (which reads fail at which step), the removals a faulted run makes are a subset of the removals the
fault-free run of the same history makes, counting what the fault-free estate's sweep would clean up as orphans.
(The planner deletes a connection's service account when its linker goes; a change of auth or identity leaves the
old account to the sweep's orphan clean-up. A fault that merges two steps into one can therefore remove such an
account a sweep early, never one that anything still uses.) Pure: the planner and planner_world's simulate stand in
for the app and the cloud, and a failed read is what the inventory hands the planner
(tests/faults/test_fail_closed.py drives the real clients against the local cloud, one read at a time, and its
emulator-backed twin is below)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from enum import Enum

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from shared.core.codes import ReadFailure
from shared.core.manifests import read_wirings
from shared.core.model import ClusterState, ObjectKind, TargetInfo
from shared.core.orphans import ORPHANED_SINCE, CleanupPolicy, plan_orphans
from shared.core.plan import DeleteLinker, DeleteObject, RewireWorkload
from shared.core.planner import desired_state, plan_cluster
from tests.planner_world import IDENTITIES, SETTINGS, SUB, UAMI, simulate
from tests.properties.test_properties import clusters, targets

PASSES = 3  # the reconciler's MAX_PASSES: plan, apply, re-read


class Fault(Enum):
    TAG_LISTING = "tag listing"  # the subscription's tagged resources are unseen
    IDENTITY = "identity"  # the cluster's sc-identity could not be read
    CLUSTER_STATE = "cluster state"  # a list of the cluster's linkers, workloads, secrets: nothing is planned


FAILURES = {
    Fault.TAG_LISTING: ReadFailure("tag listing", f"/subscriptions/{SUB}", 503, "ServiceUnavailable"),
    Fault.IDENTITY: ReadFailure("identity", UAMI.id, 403, "AuthorizationFailed"),
}


def removals(actual: ClusterState, actions) -> set[tuple]:
    """What the actions take away: linkers, secrets and service accounts deleted, and each (workload, linker)
    wiring that is removed or changed."""
    taken: set[tuple] = set()
    for action in actions:
        if isinstance(action, DeleteLinker):
            taken.add(("linker", action.name))
        elif isinstance(action, DeleteObject):
            taken.add((action.kind, action.namespace, action.name))
        elif isinstance(action, RewireWorkload) and action.removes:
            before = read_wirings(actual.workloads[action.workload].manifest)
            after = dict(action.wirings)
            taken |= {("wiring", str(action.workload), name) for name, w in before.items() if after.get(name) != w}
    return taken


def run(start: ClusterState, history: list[list[TargetInfo]], schedule: list[frozenset[Fault]], *,
        honest: bool = True) -> tuple[set[tuple], ClusterState]:  # fmt: skip
    """Every removal a run of the history makes, and the estate it leaves. `honest=False` is the old bug: a failed
    read taken for an empty one, without saying it failed."""
    actual, taken = start, set()
    for tags, faults in zip(history, schedule, strict=True):
        if Fault.CLUSTER_STATE in faults:
            continue  # Application.sight: the cluster is not observed, nothing is planned
        seen = [] if Fault.TAG_LISTING in faults else tags
        identities = {} if Fault.IDENTITY in faults else IDENTITIES
        failed = tuple(FAILURES[f] for f in sorted(faults, key=lambda f: f.value) if f in FAILURES) if honest else ()
        for _ in range(PASSES):
            plan = plan_cluster(desired_state(actual, seen, identities, SETTINGS, failed), actual, SETTINGS)
            if not plan.actions:
                break
            taken |= removals(actual, plan.actions)
            actual = simulate(actual, plan.actions)
    return taken, actual


def swept(actual: ClusterState) -> set[tuple]:
    """What the sweep's orphan clean-up (shared.core.orphans, mode delete, grace long past, no cap) would delete
    from this estate: Service Connector objects that no linker accounts for and nothing uses."""
    long_ago = {"annotations": {ORPHANED_SINCE: "2000-01-01T00:00:00Z"}}
    objects = [(ObjectKind.SECRET, ns, name) for ns, names in actual.secrets.items() for name in names]
    objects += [
        (ObjectKind.SERVICE_ACCOUNT, ns, name) for ns, names in actual.service_accounts.items() for name in names
    ]
    estate = dataclasses.replace(actual, metadata={key: long_ago for key in objects})
    policy = CleanupPolicy(mode="delete", grace=timedelta(hours=24), max_deletions=len(objects))
    actions, _, _ = plan_orphans(actual.info.ref, estate, policy, datetime.now(UTC), len(objects))
    return {(a.kind, a.namespace, a.name) for a in actions}


# Half the steps fault, in any combination (a step with no fault must still be possible between faulted ones).
fault_sets = st.one_of(st.just(frozenset()), st.frozensets(st.sampled_from(list(Fault)), min_size=1, max_size=2))


@st.composite
def histories(draw):
    history = draw(st.lists(targets(), min_size=1, max_size=4))
    schedule = draw(st.lists(fault_sets, min_size=len(history), max_size=len(history)))
    return history, schedule


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters(), targets(), histories())
def test_a_faulted_run_removes_only_what_the_fault_free_run_removes(cluster, before, history):
    tags, schedule = history
    start = _converged(cluster, before)  # a wired estate: there is something to lose
    clean, left = run(start, tags, [frozenset()] * len(tags))
    faulted, _ = run(start, tags, schedule)
    early = (faulted - clean) & swept(left)  # the fault-free estate's sweep removes these too
    assert faulted - early <= clean, f"removed only under faults: {sorted(faulted - clean - early)}"
    event(f"removed a sweep early: {bool(early)}")
    event(f"faulted steps: {sum(bool(f) for f in schedule)} of {len(schedule)}")
    event(f"removals held by the faults: {min(len(clean - faulted), 3)}")


def test_the_property_can_fail():
    """The old bug (a failed tag listing taken for "nothing is tagged") breaks the property on the simplest wired
    estate: the check is not vacuous."""
    from tests.planner_world import OPENAI_TARGET, SQL_TARGET, state, workload

    start = _converged(state(workload("Deployment", "api"), workload("StatefulSet", "worker")),
                       [SQL_TARGET, OPENAI_TARGET])  # fmt: skip
    history, schedule = [[SQL_TARGET, OPENAI_TARGET]], [frozenset({Fault.TAG_LISTING})]
    clean, left = run(start, history, [frozenset()])
    assert clean == set() and swept(left) == set()
    assert run(start, history, schedule)[0] == set()  # held
    assert run(start, history, schedule, honest=False)[0] - clean  # removed


def _converged(actual: ClusterState, tags: list[TargetInfo]) -> ClusterState:
    for _ in range(4):
        plan = plan_cluster(desired_state(actual, tags, IDENTITIES, SETTINGS), actual, SETTINGS)
        actual = simulate(actual, plan.actions)
    return dataclasses.replace(actual)
