"""The one reconciler: `reconcile(cluster, run) -> ClusterResult`, shaped like controller-runtime's Reconcile.

Per cluster: observe (desired from tags, actual from ARM and the cluster) -> plan (pure) -> admit the plan's
removals through the run's budget -> apply, until nothing follows. The result says what happens next: done,
requeue after a wait, or failed (retry), never two (`ClusterResult.step`, decided by shared.core.policy). This is
the only place that changes anything: the drivers (events, the delayed queue, plan/apply, the sweep) only choose
clusters, make the Run and read the results. Each cluster is isolated: whatever it raises becomes its findings.

Public: `look` (a cluster's first observation, never raises), `observe` (reads only), `reconcile`,
`reconcile_all` (many clusters of one run), `apply` (an inert plan made elsewhere, e.g. the sweep's orphan rules,
through the same budget and executor)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from shared.adapters import telemetry
from shared.adapters.errors import ReadError
from shared.adapters.logs import get_logger, log_event
from shared.core import rotation
from shared.core.codes import Code, Finding
from shared.core.ids import ResourceRef
from shared.core.model import ClusterState, Connection, IdentityInfo
from shared.core.plan import (
    DeleteLinker,
    Plan,
    PutLinker,
    RegisterProvider,
    RewireWorkload,
    changed_actions,
    is_removal,
)
from shared.core.planner import Desired, PlannerSettings, desired_state, parse_targets, plan_cluster
from shared.core.tags import parse_cluster_tags
from shared.service.executor import Executor
from shared.service.inventory import Inventory
from shared.service.results import ClusterResult, Outcome, OutcomeStatus
from shared.service.run import Run

log = get_logger("app")
# plan -> apply -> re-read; a second pass wires workloads once their new secrets exist (or rolls them onto new
# content), a third confirms a rollout
MAX_PASSES = 3
# Applying these changes what the next plan sees (new secrets to wire, a provider to use); anything else settles
# in the pass that applied it, so no confirmation pass is spent on it.
FOLLOW_UP_ACTIONS = (PutLinker, DeleteLinker, RegisterProvider)


@dataclass(frozen=True)
class Observation:
    """One cluster observed: desired state (from tags), actual state, and the plan between them."""

    desired: Desired
    actual: ClusterState
    plan: Plan


@dataclass(frozen=True)
class Sight:
    """A cluster's first look in a run: its observation (None: the cluster is gone), or the findings that say why
    it could not be observed."""

    cluster: ResourceRef
    observation: Observation | None
    failures: tuple[Finding, ...] = ()

    @property
    def removals(self) -> int:
        return sum(is_removal(a) for a in self.observation.plan.actions) if self.observation else 0


class Reconciler:
    def __init__(self, inventory: Inventory, executor: Executor, settings: PlannerSettings):
        self.inventory = inventory
        self.executor = executor
        self.settings = settings

    def reconcile_all(self, clusters: list[ResourceRef], run: Run) -> list[ClusterResult]:
        """Every cluster of a run: their first looks together (the removal breaker trips before anything is applied
        when their plans together already pass the cap), then each reconciled, at most SC_CONCURRENCY at once."""
        sights = self.look_all(clusters, run)
        done = run.counter("planning" if run.dry_run else "reconciling", clusters)
        return run.each(sights, lambda sight: done(self.reconcile(sight.cluster, run, first=sight)))

    def look_all(self, clusters: list[ResourceRef], run: Run) -> list[Sight]:
        done = run.counter("reading", clusters)
        sights = run.each(clusters, lambda cluster: done(self.look(cluster, run)))
        run.removals.expect(sum(s.removals for s in sights))
        return sights

    def look(self, cluster: ResourceRef, run: Run, release: frozenset[str] = frozenset()) -> Sight:
        """One cluster observed, or why it could not be (never raises: one cluster's failure is its own)."""
        try:
            return Sight(cluster, self.observe(cluster, run, release))
        except ReadError as error:
            return Sight(cluster, None, tuple(f.finding() for f in error.failures))
        except Exception as error:  # isolation: anything else is this cluster's failure, not the run's
            log.exception("observing %s failed", cluster.id)
            return Sight(cluster, None, (unexpected_failure(cluster, error),))

    def reconcile(
        self, cluster: ResourceRef, run: Run, *, first: Sight | None = None, release: frozenset[str] = frozenset()
    ) -> ClusterResult:
        """`first`: the cluster's look, when the driver made it already. `release`: see plan_cluster (the sweep's
        orphan rules let go of connections held for consent)."""
        result = ClusterResult(cluster.id)
        correlation_id = run.correlation(cluster)
        attributes = {"sc.cluster": cluster.id, "sc.dry_run": run.dry_run, "sc.correlation_id": correlation_id or ""}
        with telemetry.tracer.start_as_current_span("reconcile_cluster", attributes=attributes):
            try:
                self._reconcile(result, first or self.look(cluster, run, release), run, release)
            except ReadError as error:
                result.findings += [f.finding() for f in error.failures]
            except Exception as error:  # isolation, as in look()
                log.exception("reconciling %s failed", cluster.id)
                result.findings.append(unexpected_failure(cluster, error))
        return result

    def apply(self, plan: Plan, run: Run) -> ClusterResult:
        """An inert plan made elsewhere (the sweep's orphan rules): its removals through the run's budget, then the
        executor, exactly as a reconcile applies its own. Nothing is applied in a dry run."""
        result = ClusterResult(plan.cluster.id)
        admitted = run.removals.admit(plan)
        result.plans.append(admitted)
        if not run.dry_run and not admitted.is_empty:
            result.outcomes += self.executor.apply(admitted.actions, run.correlation(plan.cluster))
        result.findings = list(admitted.findings) + result.outcome_findings()
        return result

    def _reconcile(self, result: ClusterResult, sight: Sight, run: Run, release: frozenset[str]) -> None:
        cluster = sight.cluster
        if sight.failures:
            result.findings += list(sight.failures)
            return
        observed = sight.observation
        expected = None if run.expected is None else run.expected.get(cluster.id.lower(), ())
        correlation_id = run.correlation(cluster)
        for attempt in range(MAX_PASSES):
            if observed is None:
                result.findings.append(
                    Finding(Code.CLUSTER_GONE, cluster.id, "the cluster no longer exists", "nothing to do")
                )
                break
            plan = run.removals.admit(observed.plan)
            moved = changed_actions(expected, tuple(plan.lines())) if attempt == 0 and expected is not None else []
            if not run.dry_run and not moved:  # a plan shows every rollout; applying spends the run's allowance
                plan = run.rollouts.reserve(lambda left, p=plan: rotation.hold_rollouts(p, left))
            result.plans.append(plan)
            result.findings = list(plan.findings) + result.outcome_findings()
            log_event(log, logging.INFO, "plan", resource=cluster.id, actions=plan.lines(), dry_run=run.dry_run,
                      correlation_id=correlation_id)  # fmt: skip
            if moved:
                result.moved = moved  # the saved plan no longer holds: nothing is applied on this cluster
                break
            if run.dry_run or plan.is_empty:
                break
            outcomes = self.executor.apply(plan.actions, correlation_id)
            result.outcomes += outcomes
            if any(o.status is OutcomeStatus.FAILED and isinstance(o.action, PutLinker) for o in outcomes):
                self.inventory.forget_providers(cluster.subscription_id)  # a kept Registered may be stale
            result.findings = list(plan.findings) + result.outcome_findings()
            if not any(o.status is OutcomeStatus.APPLIED and _follows_up(o.action) for o in outcomes):
                break
            observed = self._look_again(observed, outcomes, run, release)

    def _look_again(
        self, observed: Observation, outcomes: list[Outcome], run: Run, release: frozenset[str]
    ) -> Observation | None:
        """The next pass's view. A pass that only patched workloads (rollouts to confirm) changed nothing else: those
        workloads are read again (one GET each) and the plan remade on the rest of the view, instead of every list
        of the cluster again; a pass that changed nothing in ARM keeps the linkers it read; otherwise everything is
        read again."""
        cluster = observed.actual.info.ref
        applied = [o.action for o in outcomes if o.status is OutcomeStatus.APPLIED]
        if all(isinstance(action, RewireWorkload) for action in applied):
            patched = [o.action.workload for o in outcomes if isinstance(o.action, RewireWorkload)]
            actual = self.inventory.workloads_again(observed.actual, patched)
            return Observation(observed.desired, actual, plan_cluster(observed.desired, actual, self.settings, release))
        arm_changed = any(isinstance(action, FOLLOW_UP_ACTIONS) for action in applied)
        return self.observe(cluster, run, release, None if arm_changed else observed.actual.connections)

    def observe(
        self, cluster: ResourceRef, run: Run, release: frozenset[str] = frozenset(),
        connections: tuple[Connection, ...] | None = None,
    ) -> Observation | None:  # fmt: skip
        """Desired state, actual state and the plan between them, for one cluster (reads only). Raises
        ReadError when the cluster or its state cannot be read; a failed read elsewhere (a subscription's tag
        listing, the identity) makes a plan that holds everything destructive. `connections`: the linkers this
        reconcile read a moment ago and has not changed since (else they are listed)."""
        estate = run.estate
        info = self.inventory.cluster_info(cluster, estate)
        if info is None:
            return None
        cluster_tags, _ = parse_cluster_tags(info.ref, info.tags)
        identities: dict[ResourceRef, IdentityInfo | None] = {}
        failed = list(estate.failures)
        identity = cluster_tags.identity if cluster_tags else None
        managed = identity is not None and identity.subscription_id.lower() in self.settings.managed_subscriptions
        # never read outside SC_SUBSCRIPTIONS; read beside the cluster's state, not before it
        identity_read = self.inventory.soon(lambda: self.inventory.identity(identity, estate)) if managed else None
        actual = self.inventory.cluster_state(info, estate, connections)
        if identity_read is not None:
            try:
                identities[identity] = identity_read.result()
            except ReadError as error:
                identities[identity] = None
                failed += error.failures
        targets = estate.derived.remember(("parsed-targets",), lambda: parse_targets(estate.targets, self.settings))
        desired = desired_state(actual, targets, identities, self.settings, tuple(failed))
        actual = self.inventory.contents(actual, desired.intents, estate)
        plan = plan_cluster(desired, actual, self.settings, release)
        return Observation(desired, actual, plan)


def _follows_up(action: object) -> bool:
    """Applying it changes what the next plan sees; a rollout onto new secret content is confirmed by the next
    pass (ROLLOUT_PENDING requeues the cluster while it runs)."""
    return isinstance(action, FOLLOW_UP_ACTIONS) or (isinstance(action, RewireWorkload) and action.rolls)


def unexpected_failure(cluster: ResourceRef, error: Exception) -> Finding:
    return Finding(Code.RECONCILE_FAILED, cluster.id, f"{type(error).__name__}: {str(error)[:300]}",
                   "see the function logs for the traceback; the other clusters went on")  # fmt: skip
