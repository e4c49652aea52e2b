"""The application service every entry point uses (Functions, CLI, tests): events or a full pass in,
level-triggered reconcile of each affected cluster, a report out."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from azure.core.credentials import TokenCredential

from shared.adapters import telemetry
from shared.adapters.azure.arm import Arm
from shared.adapters.azure.clients import AzureClients
from shared.adapters.azure.keyvault import KeyVault
from shared.adapters.errors import ReadError
from shared.adapters.kube.client import KubeClients
from shared.adapters.logs import get_logger, log_event
from shared.config import Settings
from shared.core.codes import Code, Finding
from shared.core.eventgrid import EventHint, Ignored, SecretHint, decode, parse_event
from shared.core.ids import ResourceRef
from shared.core.model import ClusterState, IdentityInfo
from shared.core.plan import (
    DeleteLinker,
    Plan,
    PutLinker,
    RegisterProvider,
    RewireWorkload,
    changed_actions,
    is_removal,
)
from shared.core.planner import Desired, PlannerSettings, desired_state, hold_removals, plan_cluster
from shared.core.scope import EVERYWHERE, ClusterScope
from shared.core.tags import parse_cluster_tags
from shared.service.estate import Estate
from shared.service.executor import Executor
from shared.service.inventory import Inventory
from shared.service.results import ClusterRun, RunReport
from shared.service.routing import Router

log = get_logger("app")
# plan -> apply -> re-read; a second pass wires workloads once their new secrets exist (or rolls them onto new
# content), a third confirms a rollout
MAX_PASSES = 3
# Applying these changes what the next plan sees (new secrets to wire, a provider to use); anything else settles
# in the pass that applied it, so no confirmation pass is spent on it.
FOLLOW_UP_ACTIONS = (PutLinker, DeleteLinker, RegisterProvider)
T = TypeVar("T")
R = TypeVar("R")


class Application:
    """The reconciler every entry point uses. Per cluster: observe (desired from tags, actual from ARM and the
    cluster) -> plan (pure) -> apply, until nothing follows; a result with `requeue_after` when work waits.
    Each cluster is isolated: whatever it raises becomes its findings, and the others go on."""

    def __init__(self, settings: Settings, credential: TokenCredential | None = None):
        self.settings = settings
        clients = AzureClients(settings, credential)
        arm = Arm(clients)
        kube = KubeClients(clients)
        self.arm = arm
        keyvault = KeyVault(clients)
        self.inventory = Inventory(arm, kube, settings.subscriptions, settings.protected_namespaces, keyvault)
        self.executor = Executor(arm, kube, keyvault, settings.protected_namespaces)
        self.planner_settings = PlannerSettings(
            settings.protected_namespaces, settings.keyvault_dns_suffixes, frozenset(settings.subscriptions),
            timedelta(days=settings.secret_expiry_warning_days),
        )  # fmt: skip
        self.router = Router(arm, self.each_cluster)

    # -- entry points ----------------------------------------------------------------------------------
    def handle_events(self, events: list | bytes | str) -> RunReport:
        report = RunReport()
        try:
            items = decode(events)
        except ValueError as error:
            report.ignore(Ignored(f"undecodable payload: {str(error)[:200]}"))
            return report
        hints: list[EventHint] = []
        secret_hints: list[SecretHint] = []
        for item in items:
            outcome = parse_event(item)
            if isinstance(outcome, Ignored):
                report.ignore(outcome)
            elif isinstance(outcome, SecretHint):
                secret_hints.append(outcome)
            elif ResourceRef.parse(outcome.resource_id).subscription_id.lower() not in self.settings.subscriptions:
                report.ignore(Ignored("subscription is not in SC_SUBSCRIPTIONS", outcome.event_id))
            else:
                hints.append(outcome)
        if not hints and not secret_hints:
            return report
        estate = self.inventory.estate()
        report.failures += [f.finding() for f in estate.failures]
        clusters: dict[ResourceRef, str] = {}
        for secret_hint in secret_hints:  # the clusters whose targets carry that secret: each reads the vault itself
            for cluster in self.router.secret_scope(secret_hint, estate, self.planner_settings):
                clusters.setdefault(cluster, secret_hint.event_id)
        for hint in hints:
            scope = self.router.scope(hint, estate)
            for cluster in scope:
                clusters.setdefault(cluster, hint.correlation_id)
            if not scope:
                report.unrouted += self.router.target_findings(hint, estate, self.planner_settings)
        report.runs += self.reconcile_all(sorted(clusters.items()), estate, self.settings.dry_run)
        return report

    def apply(
        self,
        dry_run: bool | None = None,
        scope: ClusterScope = EVERYWHERE,
        progress: Progress | None = None,
        expected: Mapping[str, tuple[str, ...]] | None = None,
    ) -> RunReport:
        """Reconcile every cluster that carries `sc-group` in the managed subscriptions (within `scope`).

        With `expected` (a saved plan's action lines by lower-case cluster id), a cluster whose first plan is no
        longer exactly that is left untouched and reported as moved."""
        estate = self.inventory.estate(all_clusters=True)
        clusters = self.clusters_in(estate, scope)
        dry_run = self.settings.dry_run if dry_run is None else dry_run
        runs = self.reconcile_all([(c, None) for c in clusters], estate, dry_run, progress, expected)
        return RunReport(runs, failures=[f.finding() for f in estate.failures])

    def plan(self, scope: ClusterScope = EVERYWHERE, progress: Progress | None = None) -> RunReport:
        return self.apply(dry_run=True, scope=scope, progress=progress)

    @staticmethod
    def clusters_in(estate: Estate, scope: ClusterScope) -> list[ResourceRef]:
        return sorted(ref for c in estate.clusters if scope.matches(ref := ResourceRef.parse(c.id)))

    def each_cluster(self, items: Iterable[T], work: Callable[[T], R]) -> list[R]:
        """`work` over clusters, at most SC_CONCURRENCY at once, results in input order. Clusters are
        independent; ARM's token buckets are shared, and the pacing policy keeps the calls within them."""
        items = list(items)
        if self.settings.concurrency <= 1 or len(items) <= 1:
            return [work(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self.settings.concurrency, len(items))) as pool:
            return list(pool.map(work, items))

    # -- the reconcile loop ----------------------------------------------------------------------------
    def observe_all(
        self, clusters: list[ResourceRef], estate: Estate, progress: Progress | None = None
    ) -> tuple[list[Sight], RemovalBudget]:
        """Every cluster's first look, and the run's removal budget: a run whose plans together would remove more
        than SC_MAX_REMOVALS_PER_RUN holds all its removals (the breaker trips before anything is applied)."""
        done = ProgressCounter("reading", clusters, progress)
        sights = self.each_cluster(clusters, lambda cluster: done(self.sight(cluster, estate)))
        budget = RemovalBudget(self.settings.max_removals_per_run)
        budget.expect(sum(s.removals for s in sights))
        return sights, budget

    def reconcile_all(
        self,
        clusters: list[tuple[ResourceRef, str | None]],
        estate: Estate,
        dry_run: bool,
        progress: Progress | None = None,
        expected: Mapping[str, tuple[str, ...]] | None = None,
    ) -> list[ClusterRun]:
        sights, budget = self.observe_all([c for c, _ in clusters], estate, progress)
        work = [(sight, correlation) for sight, (_, correlation) in zip(sights, clusters, strict=True)]
        done = ProgressCounter("planning" if dry_run else "reconciling", [c for c, _ in clusters], progress)

        def reconcile(item: tuple[Sight, str | None]) -> ClusterRun:
            guard = None if expected is None else expected.get(item[0].cluster.id.lower(), ())
            return done(self.reconcile(item[0], estate, dry_run, budget, item[1], guard))

        return self.each_cluster(work, reconcile)

    def sight(self, cluster: ResourceRef, estate: Estate) -> Sight:
        """One cluster observed, or why it could not be (never raises: one cluster's failure is its own)."""
        try:
            return Sight(cluster, self.observe(cluster, estate))
        except ReadError as error:
            return Sight(cluster, None, tuple(f.finding() for f in error.failures))
        except Exception as error:  # isolation: anything else is this cluster's failure, not the run's
            log.exception("observing %s failed", cluster.id)
            return Sight(cluster, None, (unexpected_failure(cluster, error),))

    def reconcile(
        self,
        sight: Sight,
        estate: Estate,
        dry_run: bool,
        budget: RemovalBudget,
        correlation_id: str | None = None,
        expected: tuple[str, ...] | None = None,
        release: frozenset[str] = frozenset(),
    ) -> ClusterRun:
        """`release`: see plan_cluster (the sweep's orphan rules let go of connections held for consent)."""
        cluster = sight.cluster
        run = ClusterRun(cluster.id)
        attributes = {"sc.cluster": cluster.id, "sc.dry_run": dry_run, "sc.correlation_id": correlation_id or ""}
        with telemetry.tracer.start_as_current_span("reconcile_cluster", attributes=attributes):
            try:
                self._reconcile(run, sight, estate, dry_run, budget, correlation_id, expected, release)
            except ReadError as error:
                run.findings += [f.finding() for f in error.failures]
            except Exception as error:  # isolation, as in sight()
                log.exception("reconciling %s failed", cluster.id)
                run.findings.append(unexpected_failure(cluster, error))
        return run

    def reconcile_cluster(
        self, cluster: ResourceRef, estate: Estate, *, dry_run: bool | None = None, correlation_id: str | None = None
    ) -> ClusterRun:
        """One cluster on its own (its removals within the run's cap)."""
        dry_run = self.settings.dry_run if dry_run is None else dry_run
        [run] = self.reconcile_all([(cluster, correlation_id)], estate, dry_run)
        return run

    def _reconcile(
        self, run: ClusterRun, sight: Sight, estate: Estate, dry_run: bool, budget: RemovalBudget,
        correlation_id: str | None, expected: tuple[str, ...] | None, release: frozenset[str],
    ) -> None:  # fmt: skip
        cluster = sight.cluster
        if sight.failures:
            run.findings += list(sight.failures)
            return
        observed = sight.observation
        for attempt in range(MAX_PASSES):
            if observed is None:
                run.findings.append(
                    Finding(Code.CLUSTER_GONE, cluster.id, "the cluster no longer exists", "nothing to do")
                )
                break
            plan = budget.admit(observed.plan)
            run.plans.append(plan)
            run.findings = list(plan.findings) + run.outcome_findings()
            log_event(log, logging.INFO, "plan", resource=cluster.id, actions=plan.lines(), dry_run=dry_run,
                      correlation_id=correlation_id)  # fmt: skip
            if attempt == 0 and expected is not None and (moved := changed_actions(expected, tuple(plan.lines()))):
                run.moved = moved  # the saved plan no longer holds: nothing is applied on this cluster
                break
            if dry_run or plan.is_empty:
                break
            outcomes = self.executor.apply(plan.actions, correlation_id)
            run.outcomes += outcomes
            run.findings = list(plan.findings) + run.outcome_findings()
            if not any(o.status == "applied" and _follows_up(o.action) for o in outcomes):
                break
            observed = self.observe(cluster, estate, release)

    def observe(
        self, cluster: ResourceRef, estate: Estate, release: frozenset[str] = frozenset()
    ) -> Observation | None:
        """Desired state, actual state and the plan between them, for one cluster (reads only). Raises
        ReadError when the cluster or its state cannot be read; a failed read elsewhere (a subscription's tag
        listing, the identity) makes a plan that holds everything destructive."""
        info = self.inventory.cluster_info(cluster, estate)
        if info is None:
            return None
        cluster_tags, _ = parse_cluster_tags(info.ref, info.tags)
        identities: dict[ResourceRef, IdentityInfo | None] = {}
        failed = list(estate.failures)
        identity = cluster_tags.identity if cluster_tags else None
        if identity and identity.subscription_id.lower() in self.planner_settings.managed_subscriptions:
            try:  # never read outside SC_SUBSCRIPTIONS
                identities[identity] = self.inventory.identity(identity, estate)
            except ReadError as error:
                identities[identity] = None
                failed += error.failures
        actual = self.inventory.cluster_state(info, estate)
        desired = desired_state(actual, list(estate.targets), identities, self.planner_settings, tuple(failed))
        actual = dataclasses.replace(
            actual,
            env_keys=self.inventory.env_keys(actual, desired.intents, estate),
            vault_versions=self.inventory.vault_versions(desired.intents, estate),
            secret_digests=self.inventory.secret_digests(actual, desired.intents),
            observed_at=datetime.now(UTC),
        )
        plan = plan_cluster(desired, actual, self.planner_settings, release)
        return Observation(desired, actual, plan)


@dataclass(frozen=True)
class Observation:
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


class RemovalBudget:
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
            self.tripped = self.tripped or removals > self.cap

    def admit(self, plan: Plan) -> Plan:
        wanted = sum(is_removal(a) for a in plan.actions)
        if not wanted:
            return plan
        with self._lock:
            if not self.tripped and self.used + wanted <= self.cap:
                self.used += wanted
                return plan
            self.tripped = True
        return hold_removals(plan, self.cap)


Progress = Callable[[str, int, int], None]  # (phase, clusters done, clusters in the run)


class ProgressCounter:
    """Counts finished clusters for a progress callback (clusters finish concurrently, in any order)."""

    def __init__(self, phase: str, clusters: list[ResourceRef], progress: Progress | None):
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


def _follows_up(action: object) -> bool:
    """Applying it changes what the next plan sees; a rollout onto new secret content is confirmed by the next
    pass (ROLLOUT_PENDING requeues the cluster while it runs)."""
    return isinstance(action, FOLLOW_UP_ACTIONS) or (isinstance(action, RewireWorkload) and action.rolls)


def unexpected_failure(cluster: ResourceRef, error: Exception) -> Finding:
    return Finding(Code.RECONCILE_FAILED, cluster.id, f"{type(error).__name__}: {str(error)[:300]}",
                   "see the function logs for the traceback; the other clusters went on")  # fmt: skip
