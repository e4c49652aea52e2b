"""Pace ARM calls to its token buckets instead of bouncing off 429s.

ARM throttles per subscription, principal and operation type with token buckets (FACTS.md section 7: reads 250
burst / 25 per s, writes and deletes 200 / 10 per s) and reports what is left on every response in
`x-ms-ratelimit-remaining-subscription-{reads,writes,deletes}`. This policy keeps a mirror of each bucket: it
refills at the documented rate, is corrected by every header (which also counts other processes and tools using
the same principal), and makes a request wait for a token rather than spend one the server does not have.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import HTTPPolicy

BUCKETS = {"reads": (250.0, 25.0), "writes": (200.0, 10.0), "deletes": (200.0, 10.0)}  # burst, refill per second
HEADER = "x-ms-ratelimit-remaining-subscription-{}"
_SUBSCRIPTION = re.compile(r"/subscriptions/([^/?]+)", re.IGNORECASE)


def operation_kind(method: str) -> str:
    """ARM's operation types: GET/HEAD read, DELETE delete, everything else (PUT, PATCH, POST) writes."""
    method = method.upper()
    return "reads" if method in ("GET", "HEAD") else "deletes" if method == "DELETE" else "writes"


@dataclass
class _Bucket:
    capacity: float
    refill: float
    tokens: float
    stamp: float
    in_flight: int = 0
    blocked_until: float = 0.0

    def level(self, now: float) -> float:
        return min(self.capacity, self.tokens + (now - self.stamp) * self.refill)


class RateLimitPacer:
    """Token-bucket mirrors per (subscription, operation type), shared by every client of the process."""

    def __init__(self, buckets: dict[str, tuple[float, float]] | None = None, clock=time.monotonic, sleep=time.sleep):
        self._limits = dict(BUCKETS if buckets is None else buckets)
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._lock = threading.Lock()
        self._clock, self._sleep = clock, sleep

    def _bucket(self, subscription: str, kind: str, now: float) -> _Bucket:
        key = (subscription.lower(), kind)
        bucket = self._buckets.get(key)
        if bucket is None:
            capacity, refill = self._limits[kind]
            bucket = self._buckets[key] = _Bucket(capacity, refill, capacity, now)
        return bucket

    def acquire(self, subscription: str, kind: str) -> None:
        """Block until the bucket holds a token, then take it."""
        while True:
            with self._lock:
                now = self._clock()
                bucket = self._bucket(subscription, kind, now)
                level = bucket.level(now)
                wait = max(bucket.blocked_until - now, (1 - level) / bucket.refill)
                if wait <= 1e-6:  # a microsecond short of a token is a token: no spinning on float rounding
                    bucket.tokens, bucket.stamp = level - 1, now
                    bucket.in_flight += 1
                    return
            self._sleep(wait)

    def release(self, subscription: str, kind: str, remaining: str | None, retry_after: str | None) -> None:
        """A response came back: trust its header over the mirror, minus what is still in flight (those tokens
        are spent even if the server has not counted them yet), and stop everyone for a 429's Retry-After."""
        with self._lock:
            now = self._clock()
            bucket = self._bucket(subscription, kind, now)
            bucket.in_flight = max(0, bucket.in_flight - 1)
            if remaining is not None and remaining.strip().isdigit():
                bucket.tokens, bucket.stamp = float(remaining) - bucket.in_flight, now
            if retry_after is not None:
                seconds = float(retry_after) if retry_after.strip().replace(".", "", 1).isdigit() else 1.0
                bucket.blocked_until = max(bucket.blocked_until, now + seconds)
                bucket.tokens, bucket.stamp = min(bucket.tokens, 0.0), now


class PacingPolicy(HTTPPolicy):
    """The pipeline side of `RateLimitPacer`: one token per attempt (placed after the retry policy)."""

    def __init__(self, pacer: RateLimitPacer):
        super().__init__()
        self.pacer = pacer

    def send(self, request: PipelineRequest) -> PipelineResponse:
        http = request.http_request
        match = _SUBSCRIPTION.search(http.url)
        if match is None:
            return self.next.send(request)
        subscription, kind = match.group(1), operation_kind(http.method)
        self.pacer.acquire(subscription, kind)
        remaining = retry_after = None
        try:
            response = self.next.send(request)
            headers = response.http_response.headers
            remaining = headers.get(HEADER.format(kind))
            if response.http_response.status_code == 429:
                retry_after = headers.get("Retry-After") or "1"
            return response
        finally:
            self.pacer.release(subscription, kind, remaining, retry_after)
