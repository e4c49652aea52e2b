"""The Run's shared counters, the removal budget over a sliding hour, and the process-wide caches."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from shared.config import Settings
from shared.core.codes import Code
from shared.core.plan import Plan, is_removal
from shared.service.run import Caches, LocalAllowance, LocalWindow, RemovalBudget
from tests.planner_world import SQL_TARGET, SUB, converge, plan, state, workload


def test_an_allowance_is_never_overspent_by_concurrent_clusters():
    allowance = LocalAllowance(5)
    granted = list(ThreadPoolExecutor(8).map(lambda _: allowance.take(2), range(8)))
    assert sum(granted) == 5 and allowance.take() == 0


def test_reserve_plans_with_what_is_left_and_spends_what_it_used():
    allowance = LocalAllowance(3)
    assert allowance.reserve(lambda left: (f"planned with {left}", 2)) == "planned with 3"
    assert allowance.reserve(lambda left: (left, left)) == 1 and allowance.left == 0


def test_a_cache_keeps_a_value_for_its_ttl_across_runs():
    now = [0.0]
    caches, loads = Caches(clock=lambda: now[0]), []
    load = lambda: loads.append(1) or len(loads)  # noqa: E731
    assert caches.remember(("provider", "x"), load, ttl_seconds=60) == 1
    now[0] = 59.0
    assert caches.remember(("provider", "x"), load, ttl_seconds=60) == 1
    now[0] = 60.0
    assert caches.remember(("provider", "x"), load, ttl_seconds=60) == 2


def teardown_plan() -> Plan:
    wired = converge(state(workload("Deployment", "api"), workload("StatefulSet", "worker")), [SQL_TARGET])
    return plan(wired, [])


def test_runs_that_share_a_window_share_the_hourly_budget():
    teardown = teardown_plan()
    wanted = sum(is_removal(a) for a in teardown.actions)
    window = LocalWindow(clock=lambda: 100.0)
    assert RemovalBudget(window, cap=wanted + 1).admit(teardown) == teardown
    held = RemovalBudget(window, cap=wanted + 1).admit(teardown)  # another invocation, the same hour
    assert not any(is_removal(a) for a in held.actions)
    [note] = [f for f in held.findings if f.code is Code.REMOVALS_HELD]
    assert "the 1 left of SC_MAX_REMOVALS_PER_HOUR" in note.message and "apply --max-removals N" in note.fix
    assert "delete linker" in note.message  # what is held is named


def test_a_plan_spends_nothing_and_a_release_goes_ahead_but_counts(caplog):
    teardown = teardown_plan()
    wanted = sum(is_removal(a) for a in teardown.actions)
    window = LocalWindow(clock=lambda: 100.0)
    assert RemovalBudget(window, cap=wanted, dry_run=True).admit(teardown) == teardown
    assert window.left(wanted) == wanted  # planning is free
    released = RemovalBudget(window, cap=1, release=wanted)
    assert released.admit(teardown) == teardown and window.left(100) == 100 - wanted
    assert any("removals released by the operator" in r.getMessage() for r in caplog.records)


def test_the_former_per_run_setting_is_read_as_the_hourly_budget_with_a_warning(caplog):
    settings = Settings.from_env({"SC_SUBSCRIPTIONS": SUB, "SC_MAX_REMOVALS_PER_RUN": "7"})
    assert settings.max_removals_per_hour == 7
    assert any("SC_MAX_REMOVALS_PER_RUN is deprecated" in r.getMessage() for r in caplog.records)
    both = {"SC_SUBSCRIPTIONS": SUB, "SC_MAX_REMOVALS_PER_RUN": "7", "SC_MAX_REMOVALS_PER_HOUR": "30"}
    assert Settings.from_env(both).max_removals_per_hour == 30
    assert Settings.from_env({"SC_SUBSCRIPTIONS": SUB}).max_removals_per_hour == 20
