"""Pure decisions about what happens next, in one place (controller-runtime keeps its requeue policy in one switch):

- `next_step`: after a cluster's reconcile, is it done, requeued for later, or failed (retried by the platform)?
  Never two of them: a failure wins, because the platform's retry re-reads everything a requeue would.
- `after_requeues`: a cluster requeued too many times is given up (left to the scheduled sweep).
- `fits`, `spend_in_window`: budget admission (a plan's removals are admitted whole or held; the removal budget is a
  sliding hour shared by every invocation).
- `blocked_by`: the executor's one skip rule (an action whose prerequisite did not apply is not attempted)."""

from __future__ import annotations

from collections.abc import Iterable, Set
from dataclasses import dataclass
from enum import StrEnum

MAX_REQUEUES = 48  # a cluster still waiting after this many requeues is left to the scheduled sweep


class Next(StrEnum):
    DONE = "done"  # nothing waits; the next event or sweep looks again
    REQUEUE = "requeue"  # work waits for something to settle: reconcile again after `after` seconds
    RETRY = "retry"  # a read or write failed: the invocation fails so that the platform redelivers it
    GIVE_UP = "give-up"  # still waiting after MAX_REQUEUES requeues: the scheduled sweep takes over


@dataclass(frozen=True)
class Step:
    next: Next
    after: float | None = None  # seconds, with REQUEUE only

    def __post_init__(self) -> None:
        if (self.next is Next.REQUEUE) != (self.after is not None):
            raise ValueError("a requeue, and only a requeue, has a delay")


DONE = Step(Next.DONE)


def next_step(failed: bool, waits: Iterable[float]) -> Step:
    """One cluster's result: failed -> RETRY; else waiting -> REQUEUE after the soonest wait; else DONE."""
    if failed:
        return Step(Next.RETRY)
    soonest = min(waits, default=None)
    return DONE if soonest is None else Step(Next.REQUEUE, float(soonest))


def after_requeues(step: Step, attempt: int) -> Step:
    """A requeue once `attempt` requeues were made already: GIVE_UP beyond MAX_REQUEUES."""
    if step.next is Next.REQUEUE and attempt > MAX_REQUEUES:
        return Step(Next.GIVE_UP)
    return step


def fits(wanted: int, used: int, cap: int) -> bool:
    """Budget admission: `wanted` more within `cap` when `used` are spent already (all or nothing)."""
    return wanted == 0 or used + wanted <= cap


def blocked_by(requires: Iterable[str], done: Set[str]) -> tuple[str, ...]:
    """The skip rule: the prerequisites that did not apply (neither applied nor found nothing to do). An action
    with any is not attempted; a prerequisite the plan does not contain (held) did not apply either."""
    return tuple(r for r in requires if r not in done)


HOUR_SECONDS = 3600.0
Spend = tuple[float, int]  # (when, how many): one admitted batch of a sliding-hour budget


def in_window(spends: Iterable[Spend], now: float, window: float = HOUR_SECONDS) -> list[Spend]:
    """The spends still inside the sliding window ending `now` (older ones have freed their share)."""
    return [(at, count) for at, count in spends if now - at < window]


def spend_in_window(
    spends: Iterable[Spend], now: float, wanted: int, cap: int, force: bool = False
) -> tuple[bool, list[Spend]]:
    """Budget admission over a sliding hour: (admitted, the spends to keep). `force` records the spend whatever it
    costs: an operator's explicit release (`apply --max-removals N`) still counts against the hour."""
    kept = in_window(spends, now)
    admitted = force or fits(wanted, sum(count for _, count in kept), cap)
    return admitted, [*kept, (now, wanted)] if admitted and wanted else kept
