"""The sweep driver: judge every connection (deeper than Service Connector's validate), then reconcile each cluster
through the one reconciler (repairs), then plan the orphan rules (pure) and apply them through the same reconciler,
its removal budget and the run's orphan cap. It never writes anything itself."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime, timedelta

from shared.adapters import telemetry
from shared.adapters.azure.arm import API_VERSIONS, Arm
from shared.adapters.errors import ReadError
from shared.adapters.kube.api import KubeApi
from shared.adapters.logs import get_logger, log_event
from shared.adapters.storage import LinkerIndex
from shared.config import Settings
from shared.core import naming
from shared.core.codes import Code, Finding
from shared.core.ids import ResourceRef
from shared.core.model import AuthKind, Connection, Intent
from shared.core.orphans import CleanupPolicy, Orphan, OrphanState, plan_orphans, plan_releases
from shared.core.plan import DeleteObject, Plan, PutLinker
from shared.core.planner import tagged_ref
from shared.core.scope import EVERYWHERE, ClusterScope
from shared.core.validation import due_for_validation
from shared.core.verdicts import Evidence, Reason, Status, Verdict, judge, verdict_of
from shared.service.apply import clusters_in
from shared.service.estate import Estate
from shared.service.inventory import Inventory
from shared.service.reconciler import Observation, Reconciler, Sight, unexpected_failure
from shared.service.results import ClusterResult, ClusterSweep, SweepResult
from shared.service.run import Progress, Run, Runs

log = get_logger("sweep")


class Sweeper:
    def __init__(
        self, settings: Settings, arm: Arm, inventory: Inventory, reconciler: Reconciler, runs: Runs,
        index: LinkerIndex | None = None,
    ):  # fmt: skip
        self.settings = settings
        self.arm = arm
        self.index = index  # re-synced from each cluster's own linker listing
        self.inventory = inventory
        self.reconciler = reconciler
        self.runs = runs
        self.policy = CleanupPolicy(
            settings.cleanup_mode, timedelta(hours=settings.orphan_grace_hours), settings.max_deletions_per_run,
            settings.protected_namespaces,
        )  # fmt: skip

    def run(
        self,
        dry_run: bool | None = None,
        now: datetime | None = None,
        progress: Progress | None = None,
        scope: ClusterScope = EVERYWHERE,
    ) -> SweepResult:
        """Every tagged cluster in `scope`; `progress(phase, done, total)` as clusters are read, then swept."""
        estate = self.inventory.estate(all_clusters=True)
        run = self.runs.new(estate, dry_run=dry_run, progress=progress, now=now or datetime.now(UTC))
        clusters = clusters_in(estate, scope)
        sights = self.reconciler.look_all(clusters, run)
        done = run.counter("sweeping", clusters)
        swept = run.each(sights, lambda sight: done(self.sweep_cluster(sight, run)))
        if self.index is not None and scope is EVERYWHERE and not estate.failures:
            self.index.mark_built()  # every cluster's holdings are recorded: events may route by the index
        return SweepResult(run.now, run.dry_run, swept, [f.finding() for f in estate.failures])

    def run_one(
        self, cluster: ResourceRef, dry_run: bool, now: datetime | None = None, estate: Estate | None = None,
        sweep_run: str | None = None,
    ) -> SweepResult:  # fmt: skip
        """One cluster, as a queue-triggered invocation sweeps it (with the run's estate snapshot if given);
        `sweep_run`: the fanned-out run it belongs to, whose caps and budgets all its invocations share."""
        estate = estate or self.inventory.estate(all_clusters=True)  # verdicts need the clusters' full details
        run = self.runs.new(estate, dry_run=dry_run, now=now or datetime.now(UTC), sweep_run=sweep_run)
        [sight] = self.reconciler.look_all([cluster], run)
        result = SweepResult(run.now, run.dry_run, failures=[f.finding() for f in estate.failures])
        result.clusters.append(self.sweep_cluster(sight, run))
        return result

    def sweep_cluster(self, sight: Sight, run: Run) -> ClusterSweep:
        with telemetry.tracer.start_as_current_span("sweep_cluster", attributes={"sc.cluster": sight.cluster.id}):
            try:
                return self._sweep_cluster(sight, run)
            except ReadError as error:  # a read after the first look (repair, re-judging): nothing more is done
                return ClusterSweep(sight.cluster.id, findings=[f.finding() for f in error.failures])
            except Exception as error:  # isolation: the other clusters are swept
                log.exception("sweeping %s failed", sight.cluster.id)
                return ClusterSweep(sight.cluster.id, findings=[unexpected_failure(sight.cluster, error)])

    def _sweep_cluster(self, sight: Sight, run: Run) -> ClusterSweep:
        cluster = sight.cluster
        outcome = ClusterSweep(cluster.id, findings=list(sight.failures))
        observed = sight.observation
        if observed is None:
            return outcome
        if self.index is not None:  # re-sync the reverse-routing index from the cluster's own listing
            self.index.sync(cluster.id, {c.name: c.target_id for c in observed.actual.connections
                                         if naming.is_ours(c)})  # fmt: skip
        try:
            evidence = self._evidence(observed, run)
        except ReadError as error:  # verdicts would be guesses: each connection is marked, nothing is repaired
            failures = [f.finding() for f in error.failures]
            outcome.findings += list(observed.plan.findings) + failures
            outcome.verdicts = [_unknown(intent, failures) for intent in observed.desired.intents]
            return outcome
        gitops = self.settings.gitops_wiring
        verdicts = judge(observed.desired, observed.actual, observed.plan, evidence, gitops)
        outcome.findings += list(observed.plan.findings)
        # Drift is repaired; so is anything else the plan still writes while every verdict holds (e.g. lifting the
        # stop on a reverted wiring once the manifest carries it).
        drifted = any(v.status in (Status.DRIFTED, Status.ORPHANED) for v in verdicts)
        if not run.dry_run and (drifted or observed.plan.writes):
            result = self.reconciler.reconcile(cluster, run, first=sight)
            _record(outcome, result)
            observed = self.reconciler.observe(cluster, run) or observed
            after = {v.connection: v for v in judge(observed.desired, observed.actual, observed.plan,
                                                    self._evidence(observed, run), gitops)}  # fmt: skip
            verdicts = [_repaired(v, after.get(v.connection, v), bool(result.applied)) for v in verdicts]
        outcome.verdicts = verdicts
        if observed.desired.failed_reads:  # orphan clean-up only on a complete view
            outcome.findings += [f for f in observed.plan.findings if f not in outcome.findings]
        else:
            self._orphans(outcome, observed, run)
        for verdict in verdicts:
            telemetry.verdicts.add(1, {"verdict": verdict.status.value, "repaired": verdict.repaired})
        for orphan in outcome.orphans:
            telemetry.orphans.add(1, {"state": orphan.state, "kind": orphan.kind})
        log_event(log, logging.INFO, "swept", resource=cluster.id, dry_run=run.dry_run,
                  verdicts={s.value: sum(v.status is s for v in verdicts) for s in Status},
                  orphans=len(outcome.orphans), changes=len(outcome.changes))  # fmt: skip
        return outcome

    def _orphans(self, outcome: ClusterSweep, observed: Observation, run: Run) -> None:
        """The orphan rules (pure), within the run's deletion cap, applied through the reconciler."""
        cluster, actual, desired = observed.actual.info.ref, observed.actual, observed.desired
        intended = {i.linker_name for i in desired.intents}
        held = [c for c in actual.connections if naming.is_ours(c) and c.name not in intended
                and tagged_ref(c.target_id) in desired.refused_targets]  # fmt: skip

        def rules(left: int) -> tuple[tuple, int]:
            actions, orphans, findings = plan_orphans(cluster, actual, self.policy, run.now, left)
            deletions = sum(1 for a in actions if isinstance(a, DeleteObject))
            marks, release, held_orphans, held_findings = plan_releases(
                cluster, actual, held, self.policy, run.now, left - deletions
            )
            return (actions + marks, orphans + held_orphans, findings + held_findings, release), deletions + len(
                release
            )

        (actions, orphans, findings, release) = run.deletions.reserve(rules)
        outcome.orphans, outcome.findings = orphans, outcome.findings + findings
        if run.dry_run:
            return
        if actions:
            result = self.reconciler.apply(Plan(cluster, tuple(actions)), run)
            _record(outcome, result)
            outcome.orphans = _after_deletions(outcome.orphans, result)
        if release:  # due: unwired and removed like any unwanted connection
            _record(outcome, self.reconciler.reconcile(cluster, run, release=release), findings=False)

    def _evidence(self, observed: Observation, run: Run) -> Evidence:
        arm, info, estate = self.arm, observed.actual.info, run.estate
        api = KubeApi(self.inventory.kube.for_cluster(info.ref))
        extension_state = self.inventory.extension_state(info.ref, estate)
        secret_keys, expected, validation, subjects = {}, {}, {}, {}
        existing = {c.name: c for c in observed.actual.connections}
        due = self._validations_due(observed, existing, run)
        for name in due[: run.validations.take(len(due))]:  # a POST and its LRO polls each: within the run's budget
            validation[name] = arm.validate_linker(info.ref.id, name)
        for intent in observed.desired.intents:
            linker = existing.get(intent.linker_name)
            if linker is None:
                continue
            secret_keys[intent.linker_name] = api.secret_keys(intent.namespace, intent.secret_name)
            expected[intent.linker_name] = self.inventory.configuration_names(info.ref, linker, estate)
            if intent.auth is AuthKind.WORKLOAD_IDENTITY and intent.identity:
                key = intent.identity.client_id.lower()
                if key not in subjects:
                    subjects[key] = arm.federated_subjects(intent.identity.ref.id)
        present = {t.ref for t in estate.targets}
        tagged = {c.name: tagged_ref(c.target_id) for c in observed.actual.connections if naming.is_ours(c)}
        missing = frozenset(  # a target is gone when the resource its owner tagged is (GET by id, once a run)
            c.target_id.lower() for c in observed.actual.connections
            if (ref := tagged.get(c.name)) is not None and ref not in present and ref.type in API_VERSIONS
            and estate.remember(("target-exists", ref.id.lower()),
                                lambda ref=ref: arm.target_exists(ref.id, ref.type),
                                keep=lambda exists: True) is False
        )  # fmt: skip
        return Evidence(
            extension_state=extension_state,
            secret_keys=secret_keys, expected_keys=expected, federated_subjects=subjects, validation=validation,
            missing_targets=missing, expiry_warning=self.reconciler.settings.expiry_warning,
        )  # fmt: skip

    def _validations_due(self, observed: Observation, existing: dict[str, Connection], run: Run) -> list[str]:
        """The cluster's `existing` connections Service Connector validates this sweep (shared/core/validation.py):
        those about to change or not Succeeded, then those whose hourly slot this is."""
        names = [i.linker_name for i in observed.desired.intents if i.linker_name in existing]
        changing = {a.intent.linker_name for a in observed.plan.actions if isinstance(a, PutLinker)}
        unsettled = {n for n in names if existing[n].provisioning_state != "Succeeded"}
        positions = run.estate.remember(("cluster-positions",), lambda: {
            c.id.lower(): i for i, c in enumerate(sorted(run.estate.clusters, key=lambda c: c.id.lower()))
        })  # fmt: skip
        position = positions.get(observed.actual.info.ref.id.lower(), 0)
        return due_for_validation(names, changing | unsettled, position, run.now, self.settings.validate_every_hours)


def _after_deletions(orphans: list[Orphan], result: ClusterResult) -> list[Orphan]:
    """An orphan planned for deletion says what happened to it: deleted, or not (the report must not say
    "deleting" about an object that is gone, or one that is still there)."""
    settled = {
        (o.action.kind, o.action.namespace, o.action.name): o.status
        for o in result.settled if isinstance(o.action, DeleteObject)
    }  # fmt: skip

    def state(orphan: Orphan) -> OrphanState:
        if orphan.state is not OrphanState.DELETING:
            return orphan.state
        done = settled.get((orphan.kind, orphan.namespace, orphan.name))
        return OrphanState.DELETED if done is not None and done.done else OrphanState.DELETE_FAILED

    return [dataclasses.replace(o, state=state(o)) for o in orphans]


def _repaired(before: Verdict, after: Verdict, applied: bool) -> Verdict:
    """Repaired: a drifted connection re-verified (settled), or one whose reconcile took away some of what was
    wrong, even when something else (a workload not deployed yet) still makes it an Error: repair is judged per
    workload, not per connection."""
    fixed = {r.code for r in before.reasons} - {r.code for r in after.reasons}
    settled = before.status is Status.DRIFTED and _settled(after)
    if settled or (applied and fixed and before.status is not Status.COMPLIANT):
        return dataclasses.replace(before, repaired=True)
    return before


def _record(outcome: ClusterSweep, result: ClusterResult, findings: bool = True) -> None:
    """What a reconcile did, into the cluster's sweep outcome."""
    outcome.changes += result.applied
    outcome.failed_changes += [o.action.describe() for o in result.failed]
    if findings:
        outcome.findings += [f for f in result.findings if f not in outcome.findings]


def _settled(verdict: Verdict) -> bool:
    """Re-verified after the repair: Compliant, or only waiting for the rollout the repair started (a real
    cluster's controllers take a moment; ROLLOUT_PENDING is confirmed by the next pass or sweep)."""
    if verdict.status is Status.COMPLIANT:
        return True
    return verdict.status is Status.PENDING and all(r.code is Code.ROLLOUT_PENDING for r in verdict.reasons)


def _unknown(intent: Intent, failures: list[Finding]) -> Verdict:
    reasons = tuple(Reason(Code.READ_FAILED, f.message, f.fix) for f in failures)
    return Verdict(intent.cluster.id, intent.linker_name, intent.target.id, verdict_of(reasons), reasons)
