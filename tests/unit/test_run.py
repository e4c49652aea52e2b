"""The Run's shared counters and the process-wide caches."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from shared.service.run import Caches, LocalAllowance


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
