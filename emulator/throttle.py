"""ARM's 2024 token-bucket throttling: per subscription, per principal, per operation type."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

# Documented defaults (request-limits-and-throttling.md): bucket size, refill per second.
DEFAULT_BUCKETS = {"read": (250.0, 25.0), "write": (200.0, 10.0), "delete": (200.0, 10.0)}
HEADER_BY_KIND = {
    "read": "x-ms-ratelimit-remaining-subscription-reads",
    "write": "x-ms-ratelimit-remaining-subscription-writes",
    "delete": "x-ms-ratelimit-remaining-subscription-deletes",
}


@dataclass
class Decision:
    allowed: bool
    remaining: int
    retry_after: int = 0
    header: str = ""


class TokenBuckets:
    def __init__(self, buckets: dict[str, tuple[float, float]] | None = None, enabled: bool = True):
        self.enabled = enabled
        self.buckets = dict(DEFAULT_BUCKETS if buckets is None else buckets)
        self._state: dict[tuple[str, str, str], tuple[float, float]] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Every bucket full again (benchmarks start each phase from the documented burst)."""
        with self._lock:
            self._state.clear()

    def take(self, subscription_id: str, principal_id: str, kind: str) -> Decision:
        capacity, refill = self.buckets[kind]
        header = HEADER_BY_KIND[kind]
        if not self.enabled:
            return Decision(True, int(capacity), header=header)
        key = (subscription_id.lower(), principal_id, kind)
        now = time.monotonic()
        with self._lock:
            tokens, stamp = self._state.get(key, (capacity, now))
            tokens = min(capacity, tokens + (now - stamp) * refill)
            if tokens >= 1:
                self._state[key] = (tokens - 1, now)
                return Decision(True, int(tokens - 1), header=header)
            self._state[key] = (tokens, now)
            return Decision(False, 0, retry_after=max(1, math.ceil((1 - tokens) / refill)), header=header)
