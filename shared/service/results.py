"""What a run did, per cluster: plans, outcomes, findings, verdicts, orphans. Plain data the CLI, the
functions and the report read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from shared.adapters.logs import get_logger
from shared.core.codes import Code, Finding
from shared.core.eventgrid import Ignored
from shared.core.orphans import Orphan
from shared.core.plan import Action, Defer, Plan, RegisterProvider, is_removal
from shared.core.policy import Step, next_step
from shared.core.verdicts import Verdict

log = get_logger("results")


class OutcomeStatus(StrEnum):
    APPLIED = "applied"
    SKIPPED = "skipped"  # nothing to do (already as wanted, gone, not ours) or the next pass's: counts as done
    BLOCKED = "blocked"  # not attempted: a prerequisite did not apply (retried next run)
    DEFERRED = "deferred"  # the cluster, a linker or a provider is busy: requeued for later
    FAILED = "failed"

    @property
    def done(self) -> bool:
        """Satisfies the actions that require it (the skip rule's `done`)."""
        return self in (OutcomeStatus.APPLIED, OutcomeStatus.SKIPPED)


@dataclass(frozen=True)
class Outcome:
    action: Action
    status: OutcomeStatus
    detail: str = ""
    finding: Finding | None = None


BUSY_RETRY_SECONDS = 60  # a write ARM refused with Conflict (the cluster is busy): when to try again
PROVIDER_RETRY_SECONDS = 30  # a resource provider still Registering: when to look again
# Findings that mean a run did not see or do all it should: the run is not ok (exit 1; a Functions invocation raises).
FAILURE_CODES = frozenset({Code.READ_FAILED, Code.RECONCILE_FAILED, Code.SWEEP_FAILED})


@dataclass
class ClusterResult:
    """One cluster's reconcile: what was planned and done, and what happens next (`step`: done, requeue after a
    wait, or retry; never two of them, see shared.core.policy.next_step)."""

    cluster: str
    plans: list[Plan] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)  # how the estate moved since a saved plan: nothing was applied

    @property
    def applied(self) -> list[str]:
        return [o.action.describe() for o in self.outcomes if o.status is OutcomeStatus.APPLIED]

    @property
    def planned(self) -> list[str]:
        """The writes of the first plan: what `plan` shows and what `apply` would make."""
        return [a.describe() for a in self.plans[0].writes] if self.plans else []

    @property
    def settled(self) -> list[Outcome]:
        """Each action's last outcome in this run: one that failed and a later pass applied is not a failure."""
        return list({o.action.describe(): o for o in self.outcomes}.values())

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.settled if o.status is OutcomeStatus.FAILED]

    def outcome_findings(self) -> list[Finding]:
        return [f for o in self.settled if o.status is not OutcomeStatus.APPLIED and (f := o.finding)]

    @property
    def deferred(self) -> list[str]:
        return [o.detail for o in self.outcomes if o.status is OutcomeStatus.DEFERRED]

    @property
    def ok(self) -> bool:
        """Every read and every write of this cluster succeeded (deferred work is not a failure)."""
        return not self.failed and not self.moved and not any(f.code in FAILURE_CODES for f in self.findings)

    @property
    def step(self) -> Step:
        """Done, requeue (controller-runtime's RequeueAfter: the soonest wait of the last pass), or retry."""
        return next_step(not self.ok, (_wait(o) for o in self.settled if o.status is OutcomeStatus.DEFERRED))

    @property
    def requeue_after(self) -> float | None:
        return self.step.after


def _why(outcome: Outcome) -> str:
    finding = outcome.finding
    return f"{finding.message}; {finding.fix}" if finding else outcome.detail


def _wait(outcome: Outcome) -> float:
    action = outcome.action
    if isinstance(action, Defer):
        return action.retry_after_seconds
    return PROVIDER_RETRY_SECONDS if isinstance(action, RegisterProvider) else BUSY_RETRY_SECONDS


@dataclass
class RunReport:
    runs: list[ClusterResult] = field(default_factory=list)
    ignored: list[Ignored] = field(default_factory=list)
    unrouted: list[Finding] = field(default_factory=list)  # about a target whose event reached no cluster
    failures: list[Finding] = field(default_factory=list)  # estate reads that failed (a subscription's listing)

    def ignore(self, ignored: Ignored) -> None:
        log.debug("event ignored: %s", ignored.reason)
        self.ignored.append(ignored)

    @property
    def ok(self) -> bool:
        return not self.failures and all(run.ok for run in self.runs)

    @property
    def applied(self) -> list[str]:
        return [line for run in self.runs for line in run.applied]

    @property
    def removals_at_stake(self) -> bool:
        """Whether any plan of the run removed something or had removals held."""
        return any(is_removal(a) for run in self.runs for plan in run.plans for a in plan.actions) or any(
            f.code is Code.REMOVALS_HELD for f in self.findings
        )

    @property
    def planned(self) -> list[str]:
        return [line for run in self.runs for line in run.planned]

    @property
    def deferred(self) -> list[str]:
        return [line for run in self.runs for line in run.deferred]

    @property
    def findings(self) -> list[Finding]:
        unique: dict[tuple, Finding] = {}
        for finding in self.failures + [f for run in self.runs for f in run.findings] + self.unrouted:
            unique.setdefault((finding.code, finding.resource_id.lower(), finding.message), finding)
        return list(unique.values())

    def summary(self) -> str:
        failed = [o for run in self.runs for o in run.failed]
        unread = [f for f in self.findings if f.code in FAILURE_CODES]
        return (
            f"{len(self.runs)} cluster(s), {len(self.applied)} change(s), {len(failed) + len(unread)} failure(s), "
            f"{len(self.deferred)} deferred, {len(self.findings)} finding(s), {len(self.ignored)} event(s) ignored"
            + "".join(f"\n  failed: {o.action.describe()}: {_why(o)}" for o in failed)
            + "".join(f"\n  failed: {f.message} ({f.resource_id}); {f.fix}" for f in unread)
        )

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "clusters": [
                {
                    "cluster": run.cluster,
                    "plans": [plan.to_dict() for plan in run.plans],
                    "outcomes": [
                        {"action": o.action.describe(), "status": o.status, "detail": o.detail} for o in run.outcomes
                    ],
                    "moved": run.moved,
                }
                for run in self.runs
            ],
            "findings": [f.to_dict() for f in self.findings],
            "ignoredEvents": [{"id": i.event_id, "reason": i.reason} for i in self.ignored],
        }


@dataclass
class ClusterSweep:
    cluster: str
    verdicts: list[Verdict] = field(default_factory=list)
    orphans: list[Orphan] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    failed_changes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every read and write of this cluster's sweep succeeded (its verdicts are the whole truth)."""
        return not self.failed_changes and not any(f.code in FAILURE_CODES for f in self.findings)


@dataclass
class SweepResult:
    started: datetime
    dry_run: bool
    clusters: list[ClusterSweep] = field(default_factory=list)
    failures: list[Finding] = field(default_factory=list)  # estate reads that failed

    @property
    def ok(self) -> bool:
        return not self.failures and all(c.ok for c in self.clusters)
