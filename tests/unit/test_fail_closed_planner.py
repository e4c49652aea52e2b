"""Fail closed in the pure core: a plan made on a partial view holds everything destructive and says why; the
removal circuit breaker; Pending only for the linker that is actually settling."""

from __future__ import annotations

import dataclasses

from shared.core.codes import Code, ReadFailure
from shared.core.plan import DeleteLinker, DeleteObject, PutLinker, RewireWorkload, is_destructive, is_removal
from shared.core.planner import desired_state, plan_cluster
from shared.core.verdicts import Evidence, Status, judge
from shared.service.run import LocalWindow, RemovalBudget
from tests.planner_world import (
    IDENTITIES,
    OPENAI_TARGET,
    SETTINGS,
    SQL_TARGET,
    converge,
    state,
    workload,
)

LISTING_FAILED = ReadFailure("tag listing", "/subscriptions/s", 503, "ServiceUnavailable")


def wired():
    return converge(state(workload("Deployment", "api"), workload("StatefulSet", "worker")), [SQL_TARGET])


def plan_on(actual, targets, failed=()):
    return plan_cluster(desired_state(actual, targets, IDENTITIES, SETTINGS, failed), actual, SETTINGS)


def test_a_wired_estate_seen_without_its_targets_is_torn_down_only_when_the_view_is_complete():
    actual = wired()
    complete = plan_on(actual, [])  # the target really is untagged: everything of it goes
    assert any(isinstance(a, DeleteLinker) for a in complete.actions)
    assert any(isinstance(a, DeleteObject) for a in complete.actions)
    assert any(isinstance(a, RewireWorkload) and a.removes for a in complete.actions)
    partial = plan_on(actual, [], failed=(LISTING_FAILED,))  # the listing failed: it only looks untagged
    assert not any(is_destructive(a) for a in partial.actions), partial.lines()
    codes = [f.code for f in partial.findings]
    assert codes.count(Code.READ_FAILED) == 2  # the failed read, and what it held
    assert any("tag listing failed (HTTP 503" in f.message for f in partial.findings)


def test_on_a_partial_view_what_only_adds_still_goes_ahead_and_overwrites_are_held():
    fresh = state(workload("Deployment", "api"))
    partial = plan_on(fresh, [SQL_TARGET], failed=(LISTING_FAILED,))
    assert [type(a) for a in partial.actions if isinstance(a, PutLinker)] == [PutLinker]  # a new linker is created
    actual = wired()
    drifted = dataclasses.replace(SQL_TARGET, tags={**SQL_TARGET.tags, "sc-client-type": "java"})
    repair = plan_on(actual, [drifted])
    assert [a.replaces for a in repair.actions if isinstance(a, PutLinker)] == [True]
    held = plan_on(actual, [drifted], failed=(LISTING_FAILED,))
    assert not any(isinstance(a, PutLinker) for a in held.actions)


def test_a_removal_is_a_delete_or_an_unwiring_and_destructive_adds_overwrites():
    actual = wired()
    removals = [a for a in plan_on(actual, []).actions if is_removal(a)]
    assert removals and all(isinstance(a, DeleteLinker | DeleteObject | RewireWorkload) for a in removals)
    adding = plan_on(state(workload("Deployment", "api")), [SQL_TARGET]).actions
    assert not any(is_removal(a) for a in adding)


def test_the_removal_breaker_holds_every_removal_of_a_run_once_it_would_pass_the_cap():
    teardown = plan_on(wired(), [])
    wanted = sum(is_removal(a) for a in teardown.actions)
    assert wanted >= 3
    within = RemovalBudget(LocalWindow(), cap=wanted)
    assert within.admit(teardown) == teardown and within.used == wanted
    over = RemovalBudget(LocalWindow(), cap=wanted - 1)
    held = over.admit(teardown)
    assert over.tripped and not any(is_removal(a) for a in held.actions)
    assert [f.code for f in held.findings if f.code == Code.REMOVALS_HELD] == [Code.REMOVALS_HELD]
    tripped = RemovalBudget(LocalWindow(), cap=100)
    tripped.expect(101)  # the run's first plans together already pass the cap: nothing is removed at all
    assert not any(is_removal(a) for a in tripped.admit(teardown).actions)


def test_only_the_connection_whose_linker_is_settling_is_pending():
    actual = converge(
        state(workload("Deployment", "api"), workload("StatefulSet", "worker")), [SQL_TARGET, OPENAI_TARGET]
    )
    sql = next(c for c in actual.connections if "databases" in c.target_id)
    busy = dataclasses.replace(
        actual,
        connections=tuple(
            dataclasses.replace(c, provisioning_state="Updating") if c is sql else c for c in actual.connections
        ),
    )
    desired = desired_state(busy, [SQL_TARGET, OPENAI_TARGET], IDENTITIES, SETTINGS)
    plan = plan_cluster(desired, busy, SETTINGS)
    assert [d.linker for d in plan.deferred] == [sql.name]
    verdicts = {v.connection: v for v in judge(desired, busy, plan, Evidence())}
    assert verdicts[sql.name].status is Status.PENDING
    assert [r.code for r in verdicts[sql.name].reasons] == [Code.LINKER_PROVISIONING]
    others = [v for name, v in verdicts.items() if name != sql.name]
    assert others and all(v.status is not Status.PENDING for v in others), others


def test_a_listing_that_breaks_in_the_sdk_is_unseen_not_empty():
    from shared.service.inventory import _attempt

    def broken(subscription_id: str) -> list:
        raise AttributeError("'dict' object has no attribute 'workload_identity'")

    listed, failures = _attempt(broken)("s")
    assert listed == [] and [(f.read, f.resource_id, f.error) for f in failures] == [
        ("listing (broken)", "/subscriptions/s", "AttributeError")
    ]
