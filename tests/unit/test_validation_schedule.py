"""Which connections a sweep validates: the urgent first, then each connection once per cycle, spread evenly."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from shared.core.validation import due_for_validation

MIDNIGHT = datetime(2026, 12, 7, tzinfo=UTC)


def estate(clusters: int, per_cluster: int) -> list[list[str]]:
    return [[f"c{c:04d}-conn{i}" for i in range(per_cluster)] for c in range(clusters)]


def due_in_hour(names_by_cluster: list[list[str]], hour: int, every: int) -> list[str]:
    now = MIDNIGHT + timedelta(hours=hour)
    return [
        n
        for position, names in enumerate(names_by_cluster)
        for n in due_for_validation(names, (), position, now, every)
    ]


def test_every_connection_is_validated_exactly_once_per_cycle():
    clusters = estate(200, 3)
    seen = Counter(n for hour in range(24) for n in due_in_hour(clusters, hour, 24))
    assert set(seen) == {n for names in clusters for n in names} and set(seen.values()) == {1}


def test_the_estate_is_spread_evenly_over_the_hours():
    clusters = estate(200, 3)  # 600 connections over 24 slots: 25 an hour, never a clump
    per_hour = [len(due_in_hour(clusters, hour, 24)) for hour in range(24)]
    assert min(per_hour) >= 24 and max(per_hour) <= 27, per_hour  # 200 clusters: 8 or 9 start in each slot
    uneven = [[f"c{c}-{i}" for i in range(1 + c % 5)] for c in range(100)]  # clusters holding 1 to 5 connections
    per_hour = [len(due_in_hour(uneven, hour, 24)) for hour in range(24)]
    assert max(per_hour) - min(per_hour) <= 5, per_hour


def test_urgent_connections_come_first_whatever_their_slot():
    names = ["a", "b", "c", "d"]
    due = due_for_validation(names, {"d", "c"}, 0, MIDNIGHT + timedelta(hours=5), 24)
    assert due == ["c", "d"]  # slots 0..3 are not hour 5: only the urgent ones
    due = due_for_validation(names, {"d"}, 5, MIDNIGHT + timedelta(hours=5), 24)
    assert due == ["d", "a"]  # urgent first, then the one whose slot this is


def test_a_one_hour_cycle_validates_everything_every_sweep():
    names = ["x", "y", "z"]
    assert due_for_validation(names, (), 7, MIDNIGHT + timedelta(hours=13), 1) == names
