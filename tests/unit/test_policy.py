"""The pure requeue policy and the executor's one skip rule, with the prerequisites the planner declares as data."""

from __future__ import annotations

import dataclasses

import pytest

from shared.core.plan import DeleteLinker, DeleteObject, PutLinker, RegisterProvider, RewireWorkload
from shared.core.policy import (
    DONE,
    MAX_REQUEUES,
    Next,
    Step,
    after_requeues,
    blocked_by,
    fits,
    next_step,
    spend_in_window,
)
from shared.service.executor import Executor
from shared.service.results import OutcomeStatus
from tests.planner_world import SQL_TARGET, converge, plan, state, workload


def test_a_result_is_done_requeue_or_retry_never_two():
    assert next_step(False, []) == DONE
    assert next_step(False, [120, 30.0]) == Step(Next.REQUEUE, 30.0)
    assert next_step(True, [30]) == Step(Next.RETRY)  # the redelivery re-reads all a requeue would
    with pytest.raises(ValueError):
        Step(Next.RETRY, 30.0)
    with pytest.raises(ValueError):
        Step(Next.REQUEUE)


def test_a_requeue_is_given_up_to_the_sweep_after_max_requeues():
    waiting = Step(Next.REQUEUE, 60.0)
    assert after_requeues(waiting, MAX_REQUEUES) == waiting
    assert after_requeues(waiting, MAX_REQUEUES + 1) == Step(Next.GIVE_UP)
    assert after_requeues(DONE, MAX_REQUEUES + 1) == DONE


def test_a_budget_admits_all_or_nothing():
    assert fits(0, 20, 20) and fits(3, 17, 20)
    assert not fits(4, 17, 20) and not fits(1, 0, 0)


def test_the_skip_rule_names_the_prerequisites_that_did_not_apply():
    assert blocked_by(("a", "b"), {"a", "b", "c"}) == ()
    assert blocked_by(("a", "b"), {"a"}) == ("b",)
    assert blocked_by((), set()) == ()


def test_the_planner_declares_prerequisites_as_data():
    fresh = dataclasses.replace(state(workload("Deployment", "api"), workload("StatefulSet", "worker")), providers={})
    created = plan(fresh, [SQL_TARGET])
    registers = [a.id for a in created.actions if isinstance(a, RegisterProvider)]
    [put] = [a for a in created.actions if isinstance(a, PutLinker)]
    assert len(registers) == 2 and put.requires == tuple(registers)  # no PUT while a provider is not Registered
    waiting = [a for a in created.actions if isinstance(a, RewireWorkload)]
    assert waiting and all(a.requires == (put.id,) for a in waiting)

    wired = converge(state(workload("Deployment", "api"), workload("StatefulSet", "worker")), [SQL_TARGET])
    teardown = plan(wired, [])
    rewires = {a.id for a in teardown.actions if isinstance(a, RewireWorkload)}
    [secret] = [a for a in teardown.actions if isinstance(a, DeleteObject)]
    [linker] = [a for a in teardown.actions if isinstance(a, DeleteLinker)]
    assert rewires and set(secret.requires) == rewires  # a failed un-wiring may leave a reference to the secret
    assert set(linker.requires) == rewires | {secret.id}
    assert teardown.to_dict()["actions"][-1]["requires"] == list(linker.requires)
    # the rule holds whatever order the actions come in
    assert blocked_by(linker.requires, {secret.id}) == tuple(r for r in linker.requires if r in rewires)
    assert dataclasses.replace(linker, requires=()) == linker  # a dependency is not what the action does


def test_the_executor_attempts_nothing_whose_prerequisite_did_not_apply():
    """Blocked actions never reach an adapter (there is none here): a held prerequisite blocks its dependents, and
    those block theirs, in whatever order the plan lists them."""
    wired = converge(state(workload("Deployment", "api"), workload("StatefulSet", "worker")), [SQL_TARGET])
    teardown = plan(wired, [])
    [linker] = [a for a in teardown.actions if isinstance(a, DeleteLinker)]
    [secret] = [a for a in teardown.actions if isinstance(a, DeleteObject)]
    outcomes = Executor(None, None, None, ()).apply((linker, secret))  # the un-wirings are not in this batch
    assert [o.status for o in outcomes] == [OutcomeStatus.BLOCKED, OutcomeStatus.BLOCKED]
    assert all("waits for: rewire/" in o.detail for o in outcomes)
    assert secret.id in outcomes[0].detail and outcomes[0].finding is None


def test_a_sliding_hour_frees_each_spend_an_hour_after_it():
    admitted, spends = spend_in_window([], 0.0, 3, cap=5)
    assert admitted and spends == [(0.0, 3)]
    admitted, spends = spend_in_window(spends, 10.0, 3, cap=5)
    assert not admitted and spends == [(0.0, 3)]  # 3 + 3 > 5: held whole, nothing spent
    admitted, spends = spend_in_window(spends, 3600.0, 3, cap=5)
    assert admitted and spends == [(3600.0, 3)]  # the first spend has left the window
    admitted, spends = spend_in_window(spends, 3601.0, 9, cap=5, force=True)
    assert admitted and spends == [(3600.0, 3), (3601.0, 9)]  # a release still counts against the hour
