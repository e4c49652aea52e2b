"""The ARM pacer: a client-side mirror of ARM's token buckets, corrected by the rate-limit headers."""

from __future__ import annotations

import pytest

from shared.adapters.azure.pacing import RateLimitPacer, operation_kind

SUB = "c0ffee00-0000-4000-8000-00000000d370"


class Clock:
    """Simulated time: sleeping advances it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def pacer(clock: Clock) -> RateLimitPacer:
    return RateLimitPacer(clock=clock, sleep=clock.sleep)


def test_operation_kinds_follow_arm():
    assert [operation_kind(m) for m in ("GET", "head", "PUT", "PATCH", "POST", "DELETE")] == [
        "reads", "reads", "writes", "writes", "writes", "deletes",
    ]  # fmt: skip


def test_the_burst_is_free_then_calls_are_paced_at_the_refill_rate(clock):
    paced = pacer(clock)
    for _ in range(250):
        paced.acquire(SUB, "reads")
        paced.release(SUB, "reads", None, None)
    assert clock.slept == 0
    for _ in range(50):
        paced.acquire(SUB, "reads")
        paced.release(SUB, "reads", None, None)
    assert clock.slept == pytest.approx(50 / 25, rel=0.01)  # the floor: (R - 250) / 25 s


def test_buckets_are_per_subscription_and_kind(clock):
    paced = pacer(clock)
    for _ in range(250):
        paced.acquire(SUB, "reads")
    paced.acquire(SUB, "writes")
    paced.acquire("another", "reads")
    assert clock.slept == 0


def test_the_header_corrects_the_mirror_minus_what_is_in_flight(clock):
    paced = pacer(clock)
    for _ in range(3):
        paced.acquire(SUB, "writes")
    paced.release(SUB, "writes", "1", None)  # another process spent the bucket: 1 left, and 2 of ours in flight
    paced.acquire(SUB, "writes")
    assert clock.slept == pytest.approx(2 / 10, rel=0.01)  # waits for the refill (10 per s) instead of a 429


def test_a_429_holds_everyone_for_retry_after(clock):
    paced = pacer(clock)
    paced.acquire(SUB, "reads")
    paced.release(SUB, "reads", None, "7")
    paced.acquire(SUB, "reads")
    assert clock.slept >= 7
