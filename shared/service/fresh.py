"""Reads that concurrent runs of one process share, each only when the shared read is fresh enough for it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any


class _Read:
    def __init__(self, started: float):
        self.started = started
        self.landed = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class FreshReads:
    """Concurrent invocations of one instance (the Python worker runs several at once) share a read instead of each
    making it, but a run only takes a read that BEGAN at or after the moment it asks for (its event's arrival):
    such a read already shows the change the event announced, so sharing it is as good as reading again. A run
    that arrives while an older read is in flight waits for it to land and shares the next one (one read per key in
    flight), so a storm of events on one instance costs a few reads, not one each, and a lone event waits for
    nothing. A failed read is shared like any other answer by those that joined it; the next arrival reads again."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._lock = threading.Lock()
        self._latest: dict[Hashable, _Read] = {}

    def read(self, key: Hashable, since: float, load: Callable[[], Any]) -> Any:
        """`load()`'s answer from a read begun at or after `since` (a `clock()` reading), made by this call or
        shared with concurrent ones."""
        while True:
            with self._lock:
                latest = self._latest.get(key)
                if latest is not None and latest.started >= since:
                    break
                if latest is None or latest.landed.is_set():
                    read = self._latest[key] = _Read(self.clock())
                    return self._make(read, load)
            latest.landed.wait()  # an older read in flight: the next one is shared by everyone waiting for it
        latest.landed.wait()
        if latest.error is not None:
            raise latest.error
        return latest.value

    @staticmethod
    def _make(read: _Read, load: Callable[[], Any]) -> Any:
        try:
            read.value = load()
            return read.value
        except BaseException as error:
            read.error = error
            raise
        finally:
            read.landed.set()
