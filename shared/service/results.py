"""What a run did, per cluster: plans, outcomes, findings, verdicts, orphans. Plain data the CLI, the
functions and the report read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from shared.adapters.logs import get_logger
from shared.core.codes import Finding
from shared.core.eventgrid import Ignored
from shared.core.orphans import Orphan
from shared.core.plan import Action, Plan
from shared.core.verdicts import Verdict

log = get_logger("results")


@dataclass(frozen=True)
class Outcome:
    action: Action
    status: str  # applied | skipped | deferred | failed
    detail: str = ""
    finding: Finding | None = None


@dataclass
class ClusterRun:
    cluster: str
    plans: list[Plan] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def applied(self) -> list[str]:
        return [o.action.describe() for o in self.outcomes if o.status == "applied"]

    @property
    def settled(self) -> list[Outcome]:
        """Each action's last outcome in this run: one that failed and a later pass applied is not a failure."""
        return list({o.action.describe(): o for o in self.outcomes}.values())

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.settled if o.status == "failed"]

    def outcome_findings(self) -> list[Finding]:
        return [f for o in self.settled if o.status != "applied" and (f := o.finding)]

    @property
    def deferred(self) -> list[str]:
        return [o.detail for o in self.outcomes if o.status == "deferred"]


@dataclass
class RunReport:
    runs: list[ClusterRun] = field(default_factory=list)
    ignored: list[Ignored] = field(default_factory=list)
    unrouted: list[Finding] = field(default_factory=list)  # about a target whose event reached no cluster

    def ignore(self, ignored: Ignored) -> None:
        log.debug("event ignored: %s", ignored.reason)
        self.ignored.append(ignored)

    @property
    def ok(self) -> bool:
        return not any(run.failed for run in self.runs)

    @property
    def applied(self) -> list[str]:
        return [line for run in self.runs for line in run.applied]

    @property
    def deferred(self) -> list[str]:
        return [line for run in self.runs for line in run.deferred]

    @property
    def findings(self) -> list[Finding]:
        unique: dict[tuple, Finding] = {}
        for finding in [f for run in self.runs for f in run.findings] + self.unrouted:
            unique.setdefault((finding.code, finding.resource_id.lower(), finding.message), finding)
        return list(unique.values())

    def summary(self) -> str:
        failed = [o for run in self.runs for o in run.failed]
        return (
            f"{len(self.runs)} cluster(s), {len(self.applied)} change(s), {len(failed)} failure(s), "
            f"{len(self.deferred)} deferred, {len(self.findings)} finding(s), {len(self.ignored)} event(s) ignored"
            + "".join(f"\n  failed: {o.action.describe()}: {o.detail}" for o in failed)
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
                }
                for run in self.runs
            ],
            "findings": [f.to_dict() for f in self.findings],
            "ignored_events": [{"id": i.event_id, "reason": i.reason} for i in self.ignored],
        }


@dataclass
class ClusterSweep:
    cluster: str
    verdicts: list[Verdict] = field(default_factory=list)
    orphans: list[Orphan] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)


@dataclass
class SweepResult:
    started: datetime
    dry_run: bool
    clusters: list[ClusterSweep] = field(default_factory=list)
