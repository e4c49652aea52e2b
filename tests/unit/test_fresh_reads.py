"""FreshReads: concurrent runs of one instance share a read only when it began at or after their arrival."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.service.fresh import FreshReads

WAIT = 10  # seconds: a bound for a hang, never a timing assumption


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class GatedLoad:
    """A read that lands only when the test opens its gate; counts how many reads were made."""

    def __init__(self) -> None:
        self.calls = 0
        self.started = threading.Semaphore(0)
        self.gates: list[threading.Event] = []
        self._lock = threading.Lock()

    def __call__(self) -> str:
        gate = threading.Event()
        with self._lock:
            self.calls += 1
            number = self.calls
            self.gates.append(gate)
        self.started.release()
        assert gate.wait(WAIT), "the test never let this read land"
        return f"read {number}"

    def wait_started(self) -> None:
        assert self.started.acquire(timeout=WAIT), "no read began"


def test_sequential_runs_each_read_again():
    clock, load = Clock(), GatedLoad()
    reads = FreshReads(clock)
    answers = []
    for arrival in (1.0, 2.0, 3.0):
        clock.now = arrival
        with ThreadPoolExecutor(1) as pool:
            future = pool.submit(reads.read, "listing", arrival, load)
            load.wait_started()
            load.gates[-1].set()
            answers.append(future.result(WAIT))
    assert answers == ["read 1", "read 2", "read 3"] and load.calls == 3


def test_a_landed_read_is_shared_only_with_runs_that_arrived_before_it_began():
    clock, load = Clock(), GatedLoad()
    reads = FreshReads(clock)
    clock.now = 5.0
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(reads.read, "listing", 5.0, load)
        load.wait_started()
        load.gates[-1].set()
        assert future.result(WAIT) == "read 1"
    clock.now = 6.0
    assert reads.read("listing", 4.0, load) == "read 1", "arrived before the read began: its answer is fresh enough"
    assert reads.read("listing", 5.0, load) == "read 1"
    assert load.calls == 1
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(reads.read, "listing", 5.5, load)  # arrived after it began: it may miss the change
        load.wait_started()
        load.gates[-1].set()
        assert future.result(WAIT) == "read 2"


def test_a_run_arriving_during_an_older_read_waits_and_shares_the_next_one():
    clock, load = Clock(), GatedLoad()
    reads = FreshReads(clock)
    with ThreadPoolExecutor(4) as pool:
        clock.now = 1.0
        first = pool.submit(reads.read, "listing", 1.0, load)
        load.wait_started()  # read 1 in flight, begun at 1.0
        clock.now = 2.0
        late = [pool.submit(reads.read, "listing", 2.0, load) for _ in range(3)]  # arrived after it began
        assert not load.started.acquire(timeout=0.2), "no second read while the first is in flight"
        clock.now = 3.0
        load.gates[0].set()
        assert first.result(WAIT) == "read 1"
        load.wait_started()
        load.gates[1].set()
        assert [f.result(WAIT) for f in late] == ["read 2"] * 3
    assert load.calls == 2


def test_a_failed_read_is_shared_by_those_that_joined_it_and_the_next_arrival_reads_again():
    clock = Clock()
    reads = FreshReads(clock)
    began, release = threading.Event(), threading.Event()

    def failing() -> str:
        began.set()
        assert release.wait(WAIT)
        raise ConnectionError("ARM did not answer")

    with ThreadPoolExecutor(2) as pool:
        clock.now = 1.0
        first = pool.submit(reads.read, "listing", 1.0, failing)
        assert began.wait(WAIT)
        joined = pool.submit(reads.read, "listing", 0.5, lambda: "never read")  # arrived before it began
        release.set()
        for future in (first, joined):
            with pytest.raises(ConnectionError):
                future.result(WAIT)
    clock.now = 2.0
    assert reads.read("listing", 1.5, lambda: "read again") == "read again"


def test_keys_are_independent():
    reads = FreshReads(Clock())
    assert reads.read("subscription a", 0.0, lambda: "a") == "a"
    assert reads.read("subscription b", 0.0, lambda: "b") == "b"
