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

from shared.adapters.budgets import BlobAllowance, BlobCounters, BlobWindow
from shared.adapters.logs import get_logger
from shared.config import Settings
from shared.core.ids import ResourceRef
from shared.core.plan import Plan, is_removal
from shared.core.planner import hold_removals
from shared.core.policy import Spend, fits, in_window, spend_in_window
from shared.service.estate import Estate

log = get_logger("budgets")
T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[str, int, int], None]  # (phase, clusters done, clusters in the run)


class Window(Protocol):
    """A sliding-hour budget's spends: in the app's storage account (adapters.budgets.BlobWindow: every instance and
    the CLI share it) or in this process (LocalWindow)."""

    def spend(self, wanted: int, cap: int, force: bool = False) -> bool: ...

    def left(self, cap: int) -> int: ...


class LocalWindow:
    """The sliding hour of this process only (no storage configured)."""

    def __init__(self, clock: Callable[[], float] = time.time):
        self.clock = clock
        self.spends: list[Spend] = []
        self._lock = threading.Lock()

    def spend(self, wanted: int, cap: int, force: bool = False) -> bool:
        with self._lock:
            admitted, self.spends = spend_in_window(self.spends, self.clock(), wanted, cap, force)
            return admitted

    def left(self, cap: int) -> int:
        with self._lock:
            return max(0, cap - sum(count for _, count in in_window(self.spends, self.clock())))


class RemovalBudget:
    """The removal circuit breaker of one run: SC_MAX_REMOVALS_PER_HOUR over a sliding hour of the `window` it
    spends from (app-wide with storage). A plan's removals are admitted whole if they fit, else held
    (REMOVALS_HELD) while the rest of the plan goes ahead; once one plan is held, the run holds every later one
    (no arbitrary half of a storm). With `release` (the operator's `apply --max-removals N`, after reading
    `plan`), up to N removals of this run go ahead whatever the hour has left, logged, and still counted."""

    def __init__(self, window: Window, cap: int, release: int | None = None, dry_run: bool = False):
        self.window = window
        self.cap = cap
        self.release = release
        self.dry_run = dry_run  # a plan shows what would be held, and spends nothing
        self.used = 0
        self.tripped = False
        self._lock = threading.Lock()

    def expect(self, removals: int) -> None:
        """The run's first plans together: trip before anything is applied when they already do not fit."""
        if not removals:
            return
        with self._lock:
            limit = self.release if self.release is not None else self.window.left(self.cap)
            self.tripped = self.tripped or not fits(removals, 0, limit)

    def admit(self, plan: Plan) -> Plan:
        wanted = sum(is_removal(a) for a in plan.actions)
        if not wanted:
            return plan
        with self._lock:
            if not self.tripped and self._spend(wanted):
                self.used += wanted
                return plan
            self.tripped = True
            left = 0 if self.release is not None else self.window.left(self.cap)
        return hold_removals(plan, self.cap, left)

    def _spend(self, wanted: int) -> bool:
        if self.release is None and self.dry_run:
            return fits(wanted, self.used, self.window.left(self.cap))
        if self.release is None:
            return self.window.spend(wanted, self.cap)
        if not fits(wanted, self.used, self.release):
            return False
        if self.dry_run:
            return True
        self.window.spend(wanted, self.cap, force=True)
        log.warning("removals released by the operator (apply --max-removals %d): %d now, %d of this run",
                    self.release, wanted, self.used + wanted)  # fmt: skip
        return True


class Allowance(Protocol):
    """A count a run may spend (orphan deletions, validate calls): in this process (LocalAllowance), or across the
    invocations of a fanned-out run (adapters.budgets.BlobAllowance)."""

    def take(self, wanted: int = 1) -> int: ...

    def reserve(self, plan: Callable[[int], tuple[T, int]]) -> T: ...


class LocalAllowance:
    """A count one process's run spends, shared by its concurrent clusters."""

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

    def remember(
        self, key: tuple, load: Callable[[], T], ttl_seconds: float, keep: Callable[[T], bool] = lambda value: True
    ) -> T:
        """`load()` unless a value for `key` loaded less than `ttl_seconds` ago is kept; values `keep` refuses (not
        yet registered, say) are loaded again next time."""
        now = self._clock()
        with self._lock:
            kept = self._values.get(key)
            if kept is not None and now - kept[0] < ttl_seconds:
                return kept[1]
        value = load()
        if keep(value):
            with self._lock:
                self._values[key] = (now, value)
        return value

    def forget(self, matches: Callable[[tuple], bool]) -> None:
        """Drop the kept values whose key `matches`: an answer said they may no longer hold."""
        with self._lock:
            self._values = {k: v for k, v in self._values.items() if not matches(k)}


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
    """Makes the Runs of this process from the settings: the same caps, caches and budgets for every driver. With
    `counters` (the app's storage account) the removal budget is the Function App's, and a fanned-out sweep's
    orphan cap is counted across its invocations; without, both count this process only (`app_wide` is False)."""

    def __init__(self, settings: Settings, caches: Caches | None = None, counters: BlobCounters | None = None):
        self.settings = settings
        self.caches = caches or Caches()
        self.counters = counters
        self.window: Window = BlobWindow(counters) if counters else LocalWindow()

    @property
    def app_wide(self) -> bool:
        return self.counters is not None

    def new(
        self,
        estate: Estate,
        *,
        dry_run: bool | None = None,
        progress: Progress | None = None,
        expected: Mapping[str, tuple[str, ...]] | None = None,
        correlations: Mapping[ResourceRef, str] | None = None,
        now: datetime | None = None,
        release_removals: int | None = None,
        sweep_run: str | None = None,
    ) -> Run:
        """`release_removals`: the operator's `apply --max-removals N`. `sweep_run`: the id of the fanned-out sweep
        this invocation is a part of (its orphan cap, validate budget and rollout cap are the whole run's)."""
        settings = self.settings

        def allowance(what: str, total: int) -> Allowance:  # a fanned-out run's is counted across its invocations
            if self.counters is not None and sweep_run is not None:
                return BlobAllowance(self.counters, sweep_run, what, total)
            return LocalAllowance(total)

        dry_run = settings.dry_run if dry_run is None else dry_run
        return Run(
            estate=estate,
            dry_run=dry_run,
            removals=RemovalBudget(self.window, settings.max_removals_per_hour, release_removals, dry_run),
            deletions=allowance("deletions", settings.max_deletions_per_run),
            rollouts=allowance("rollouts", settings.max_rollouts_per_run),
            validations=allowance("validations", settings.validate_budget),
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
