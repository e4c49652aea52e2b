"""One run: the context every reconcile of an invocation (an event, a queue message, a CLI command, a sweep or one
cluster of a fanned-out sweep) shares. controller-runtime passes a context to Reconcile; this is ours.

A Run carries
- `estate`: the run's listing and its memo of reads that cannot change within the run;
- the budgets: `removals` (the removal circuit breaker), `deletions` (the orphan cap), `validations` (validate
  POSTs), `rollouts` (consumers rolled onto changed secret content, SC_MAX_ROLLOUTS_PER_RUN); whoever spends them
  takes from the Run, never from a counter of their own;
- `dry_run`, `progress`, the saved-plan guard `expected`, the correlation id of each cluster's event;
- `caches`: process-wide (one `Caches` per process, owned by the container), for reads that stay true longer than
  a run (provider state, configuration names per shape, cluster endpoints). Add a cache by calling
  `run.caches.remember(key, load, ttl_seconds)`; it outlives the run, so give it a TTL that says how stale it may be.

`Runs` makes them (the drivers call `runs.new(estate, ...)`), so every driver gets the same budgets."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from shared.config import Settings
from shared.core.ids import ResourceRef
from shared.core.plan import Plan, is_removal
from shared.core.planner import hold_removals
from shared.core.policy import fits
from shared.service.estate import Estate

T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[str, int, int], None]  # (phase, clusters done, clusters in the run)


class RemovalBudget(Protocol):
    """The removal circuit breaker: admits a plan's removals whole, or holds them (REMOVALS_HELD)."""

    def expect(self, removals: int) -> None: ...

    def admit(self, plan: Plan) -> Plan: ...


class RunRemovalBudget:
    """The removal circuit breaker of one run, shared by its clusters: once the run's removals would pass the cap,
    every further removal of the run is held (REMOVALS_HELD); the rest of each plan still goes ahead."""

    def __init__(self, cap: int):
        self.cap = cap
        self.used = 0
        self.tripped = False
        self._lock = threading.Lock()

    def expect(self, removals: int) -> None:
        """The run's first plans together: trip before anything is applied when they already pass the cap."""
        with self._lock:
            self.tripped = self.tripped or not fits(removals, 0, self.cap)

    def admit(self, plan: Plan) -> Plan:
        wanted = sum(is_removal(a) for a in plan.actions)
        if not wanted:
            return plan
        with self._lock:
            if not self.tripped and fits(wanted, self.used, self.cap):
                self.used += wanted
                return plan
            self.tripped = True
        return hold_removals(plan, self.cap)


class Allowance:
    """A count a run may spend (orphan deletions, validate calls), shared by its concurrent clusters."""

    def __init__(self, total: int):
        self.left = total
        self._lock = threading.Lock()

    def take(self, wanted: int = 1) -> int:
        """Up to `wanted`, as many as are left: the number granted."""
        return self.reserve(lambda left: (min(wanted, left), min(wanted, left)))

    def reserve(self, plan: Callable[[int], tuple[T, int]]) -> T:
        """`plan(left)` -> (what it plans, how many of `left` it spends), as one step: concurrent clusters never
        plan with the same remainder."""
        with self._lock:
            planned, spent = plan(max(0, self.left))
            self.left -= spent
            return planned


class Caches:
    """Reads that stay true longer than a run, kept per process (a Functions worker serves many invocations)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._values: dict[tuple, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def remember(self, key: tuple, load: Callable[[], T], ttl_seconds: float) -> T:
        """`load()` unless a value for `key` loaded less than `ttl_seconds` ago is kept."""
        now = self._clock()
        with self._lock:
            kept = self._values.get(key)
            if kept is not None and now - kept[0] < ttl_seconds:
                return kept[1]
        value = load()
        with self._lock:
            self._values[key] = (now, value)
        return value


@dataclass
class Run:
    estate: Estate
    dry_run: bool
    removals: RemovalBudget
    deletions: Allowance
    validations: Allowance
    rollouts: Allowance
    caches: Caches
    concurrency: int = 1
    progress: Progress | None = None
    expected: Mapping[str, tuple[str, ...]] | None = None  # a saved plan's action lines by lower-case cluster id
    correlations: Mapping[ResourceRef, str] = field(default_factory=dict)  # the event that asked for each cluster
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def correlation(self, cluster: ResourceRef) -> str | None:
        return self.correlations.get(cluster)

    def each(self, items: Iterable[T], work: Callable[[T], R]) -> list[R]:
        """`work` over clusters, at most SC_CONCURRENCY at once, results in input order. Clusters are
        independent; ARM's token buckets are shared, and the pacing policy keeps the calls within them."""
        items = list(items)
        if self.concurrency <= 1 or len(items) <= 1:
            return [work(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(items))) as pool:
            return list(pool.map(work, items))

    def counter(self, phase: str, clusters: list) -> ProgressCounter:
        return ProgressCounter(phase, clusters, self.progress)


class Runs:
    """Makes the Runs of this process from the settings: the same caps and caches for every driver."""

    def __init__(self, settings: Settings, caches: Caches | None = None):
        self.settings = settings
        self.caches = caches or Caches()

    def new(
        self,
        estate: Estate,
        *,
        dry_run: bool | None = None,
        progress: Progress | None = None,
        expected: Mapping[str, tuple[str, ...]] | None = None,
        correlations: Mapping[ResourceRef, str] | None = None,
        validate_budget: int | None = None,
        now: datetime | None = None,
    ) -> Run:
        settings = self.settings
        return Run(
            estate=estate,
            dry_run=settings.dry_run if dry_run is None else dry_run,
            removals=RunRemovalBudget(settings.max_removals_per_run),
            deletions=Allowance(settings.max_deletions_per_run),
            rollouts=Allowance(settings.max_rollouts_per_run),
            validations=Allowance(settings.validate_budget if validate_budget is None else validate_budget),
            caches=self.caches,
            concurrency=settings.concurrency,
            progress=progress,
            expected=expected,
            correlations=correlations or {},
            now=now or datetime.now(UTC),
        )


class ProgressCounter:
    """Counts finished clusters for a progress callback (clusters finish concurrently, in any order)."""

    def __init__(self, phase: str, clusters: list, progress: Progress | None):
        self.phase, self.total, self.done, self.progress = phase, len(clusters), 0, progress
        self.lock = threading.Lock()
        if progress:
            progress(phase, 0, self.total)

    def __call__(self, result: R) -> R:
        if self.progress:
            with self.lock:
                self.done += 1
                self.progress(self.phase, self.done, self.total)
        return result
