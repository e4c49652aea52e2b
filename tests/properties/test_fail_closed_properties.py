"""Fail closed, as a property (issue 10): for a random estate history (the targets' tags over time) and a random
fault schedule (which reads fail at which step), every plan made on a partial view removes only what a plan made on
the full view of the same estate removes. Each plan is judged against the estate the faulted run has reached, not
against the fault-free run's: objects are shared (one service account per identity and namespace), so a step a
fault skips can make a later, truthful removal differ from the fault-free history's without any read being
misjudged (the two CI-found histories below). Pure: the planner and planner_world's simulate stand in for the app
and the cloud, and a failed read is what the inventory hands the planner (tests/faults/test_fail_closed.py drives
the real clients against the local cloud, one read at a time)."""

from __future__ import annotations

import dataclasses
from enum import Enum

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from shared.core import naming
from shared.core.codes import ReadFailure
from shared.core.ids import ResourceRef
from shared.core.manifests import read_wirings
from shared.core.model import ClusterState, ObjectKind, TargetInfo, TargetKind
from shared.core.plan import DeleteLinker, DeleteObject, RewireWorkload
from shared.core.planner import desired_state, plan_cluster
from tests.planner_world import (
    DB,
    IDENTITIES,
    IDENTITY,
    OPENAI,
    OPENAI_TARGET,
    RG,
    SETTINGS,
    SQL_TAGS,
    SQL_TARGET,
    SUB,
    UAMI,
    simulate,
    state,
    workload,
)
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


@dataclasses.dataclass(frozen=True)
class Run:
    """What a run of a history did: each removal, the removals a full view of the same estates would have made
    (for a run without faults, the same), and the estate it left."""

    removed: frozenset[tuple]
    full_view_removes: frozenset[tuple]
    estate: ClusterState

    @property
    def only_under_faults(self) -> frozenset[tuple]:
        return self.removed - self.full_view_removes


def run(start: ClusterState, history: list[list[TargetInfo]], schedule: list[frozenset[Fault]], *,
        honest: bool = True) -> Run:  # fmt: skip
    """`honest=False` is the old bug: a failed read taken for an empty one, without saying it failed."""
    actual, removed, full_view_removes = start, set(), set()
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
            full_view = (
                plan_cluster(desired_state(actual, tags, IDENTITIES, SETTINGS), actual, SETTINGS) if faults else plan
            )
            removed |= removals(actual, plan.actions)
            full_view_removes |= removals(actual, full_view.actions)
            actual = simulate(actual, plan.actions)
    return Run(frozenset(removed), frozenset(full_view_removes), actual)


# Half the steps fault, in any combination (a step with no fault must still be possible between faulted ones).
fault_sets = st.one_of(st.just(frozenset()), st.frozensets(st.sampled_from(list(Fault)), min_size=1, max_size=2))


@st.composite
def histories(draw):
    history = draw(st.lists(targets(), min_size=1, max_size=4))
    schedule = draw(st.lists(fault_sets, min_size=len(history), max_size=len(history)))
    return history, schedule


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters(), targets(), histories())
def test_a_partial_view_removes_only_what_the_full_view_removes(cluster, before, history):
    tags, schedule = history
    start = _converged(cluster, before)  # a wired estate: there is something to lose
    faulted = run(start, tags, schedule)
    assert not faulted.only_under_faults, f"removed only under faults: {sorted(faulted.only_under_faults)}"
    clean = run(start, tags, [frozenset()] * len(tags))
    event(f"faulted steps: {sum(bool(f) for f in schedule)} of {len(schedule)}")
    event(f"removals held by the faults: {min(len(clean.removed - faulted.removed), 3)}")
    event(f"removals the fault-free history never makes: {bool(faulted.removed - clean.removed)}")


def test_the_property_can_fail():
    """The old bug (a failed tag listing taken for "nothing is tagged") breaks the property on the simplest wired
    estate: the check is not vacuous."""
    start = _converged(state(workload("Deployment", "api"), workload("StatefulSet", "worker")),
                       [SQL_TARGET, OPENAI_TARGET])  # fmt: skip
    history, schedule = [[SQL_TARGET, OPENAI_TARGET]], [frozenset({Fault.TAG_LISTING})]
    assert run(start, history, schedule).removed == set()  # held
    assert run(start, history, schedule, honest=False).only_under_faults  # removed


TAGS = {**SQL_TAGS, "sc-workloads": "deploy/api"}
ORDERS = TargetInfo(DB, TargetKind.SQL_DATABASE, TAGS)
BILLING = TargetInfo(ResourceRef(f"{RG}/providers/Microsoft.Sql/servers/s/databases/billing"),
                     TargetKind.SQL_DATABASE, TAGS)  # fmt: skip
ACCOUNT = (ObjectKind.SERVICE_ACCOUNT, "shop", naming.service_account_name(IDENTITY.client_id))


def test_a_skipped_auth_change_lets_the_deleted_linker_take_its_account():
    """Found by CI: orders moves from workload identity to a secret, then goes, then OpenAI reuses the identity.
    Without faults the auth change leaves the account to the orphan sweep and OpenAI reuses it; when a failed tag
    listing skips the auth change, deleting the orders linker takes its account along (as a full view would) and
    OpenAI creates it again. A history-wide comparison called that removal a fault's doing."""
    start = _converged(state(workload("Deployment", "api")), [_workload_identity(ORDERS), BILLING])
    history = [[ORDERS], [BILLING], [OPENAI_TARGET]]
    faulted = run(start, history, [frozenset({Fault.TAG_LISTING}), frozenset(), frozenset()])
    assert ACCOUNT in faulted.removed - run(start, history, [frozenset()] * 3).removed
    assert ACCOUNT[2] in faulted.estate.service_accounts["shop"]
    assert faulted.only_under_faults == set()


def test_a_skipped_step_lets_the_last_linker_of_an_identity_take_its_account():
    """Found by CI: two OpenAI accounts share the identity's service account. Without faults the new account's
    linker keeps the account when the old one goes, and stays (held) when its own tags ask for a namespace that
    does not consent; when a failed tag listing skips the step that created it, the old account's linker is the
    last user of the account and takes it along, as a full view of that estate would."""
    other = TargetInfo(ResourceRef(f"{RG}/providers/Microsoft.CognitiveServices/accounts/oai-two"), TargetKind.OPENAI,
                       TAGS)  # fmt: skip
    openai = TargetInfo(OPENAI, TargetKind.OPENAI, TAGS)
    elsewhere = dataclasses.replace(openai, tags={**TAGS, "sc-namespace": "billing"})
    start = _converged(state(workload("Deployment", "api")), [ORDERS, other])
    history = [[ORDERS, BILLING, openai], [elsewhere]]
    faulted = run(start, history, [frozenset({Fault.TAG_LISTING}), frozenset()])
    assert ACCOUNT in faulted.removed - run(start, history, [frozenset()] * 2).removed
    assert faulted.only_under_faults == set()


def _workload_identity(target: TargetInfo) -> TargetInfo:
    return dataclasses.replace(target, tags={**target.tags, "sc-auth": "workload-identity"})


def _converged(actual: ClusterState, tags: list[TargetInfo]) -> ClusterState:
    for _ in range(4):
        plan = plan_cluster(desired_state(actual, tags, IDENTITIES, SETTINGS), actual, SETTINGS)
        actual = simulate(actual, plan.actions)
    return dataclasses.replace(actual)
