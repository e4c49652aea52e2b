"""The application service every entry point uses (Functions, CLI, tests): events or a full pass in,
level-triggered reconcile of each affected cluster, a report out."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from azure.core.credentials import TokenCredential

from shared.adapters import telemetry
from shared.adapters.azure.arm import Arm
from shared.adapters.azure.clients import AzureClients
from shared.adapters.azure.keyvault import KeyVault
from shared.adapters.kube.client import KubeClients
from shared.adapters.logs import get_logger, log_event
from shared.config import Settings
from shared.core.codes import Code, Finding
from shared.core.eventgrid import EventHint, Ignored, decode, parse_event
from shared.core.ids import CLUSTER_TYPE, ResourceRef
from shared.core.model import ClusterState
from shared.core.plan import DeleteLinker, Plan, PutLinker, RegisterProvider
from shared.core.planner import Desired, PlannerSettings, desired_state, plan_cluster
from shared.core.tags import declared_groups, parse_cluster_tags, parse_target_tags
from shared.service.estate import Estate
from shared.service.executor import Executor
from shared.service.inventory import Inventory
from shared.service.results import ClusterRun, RunReport

log = get_logger("app")
MAX_PASSES = 3  # plan -> apply -> re-read; a second pass wires workloads once their new secrets exist
EVENT_FANOUT_LIMIT = 50
# Applying these changes what the next plan sees (new secrets to wire, a provider to use); anything else settles
# in the pass that applied it, so no confirmation pass is spent on it.
FOLLOW_UP_ACTIONS = (PutLinker, DeleteLinker, RegisterProvider)
T = TypeVar("T")
R = TypeVar("R")


class Application:
    def __init__(self, settings: Settings, credential: TokenCredential | None = None):
        self.settings = settings
        clients = AzureClients(settings, credential)
        arm = Arm(clients)
        kube = KubeClients(clients)
        self.arm = arm
        self.inventory = Inventory(arm, kube, settings.subscriptions, settings.protected_namespaces)
        self.executor = Executor(arm, kube, KeyVault(clients), settings.protected_namespaces)
        self.planner_settings = PlannerSettings(settings.protected_namespaces, settings.keyvault_dns_suffixes)

    # -- entry points ----------------------------------------------------------------------------------
    def handle_events(self, events: list | bytes | str) -> RunReport:
        report = RunReport()
        try:
            items = decode(events)
        except ValueError as error:
            report.ignore(Ignored(f"undecodable payload: {str(error)[:200]}"))
            return report
        hints: list[EventHint] = []
        for item in items:
            outcome = parse_event(item)
            if isinstance(outcome, Ignored):
                report.ignore(outcome)
            elif outcome.resource_id.split("/")[2].lower() not in self.settings.subscriptions:
                report.ignore(Ignored("subscription is not in SC_SUBSCRIPTIONS", outcome.event_id))
            else:
                hints.append(outcome)
        if not hints:
            return report
        estate = self.inventory.estate()
        clusters: dict[ResourceRef, str] = {}
        for hint in hints:
            scope = self._scope(hint, estate)
            for cluster in scope:
                clusters.setdefault(cluster, hint.correlation_id)
            if not scope:
                report.unrouted += self._target_findings(hint, estate)
        report.runs += self.each_cluster(
            sorted(clusters.items()), lambda item: self.reconcile_cluster(item[0], estate, correlation_id=item[1])
        )
        return report

    def apply(self, dry_run: bool | None = None) -> RunReport:
        """Reconcile every cluster that carries `sc-group` in the managed subscriptions."""
        estate = self.inventory.estate(all_clusters=True)
        clusters = sorted(ResourceRef.parse(c.id) for c in estate.clusters)
        return RunReport(self.each_cluster(clusters, lambda c: self.reconcile_cluster(c, estate, dry_run=dry_run)))

    def each_cluster(self, items: Iterable[T], work: Callable[[T], R]) -> list[R]:
        """`work` over clusters, at most SC_CONCURRENCY at once, results in input order. Clusters are
        independent; ARM's token buckets are shared, and the pacing policy keeps the calls within them."""
        items = list(items)
        if self.settings.concurrency <= 1 or len(items) <= 1:
            return [work(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self.settings.concurrency, len(items))) as pool:
            return list(pool.map(work, items))

    def plan(self) -> RunReport:
        return self.apply(dry_run=True)

    # -- the reconcile loop ----------------------------------------------------------------------------
    def _scope(self, hint: EventHint, estate: Estate) -> list[ResourceRef]:
        """Clusters an event may concern: for a target, the clusters sharing a group with it now (by its
        `sc-group` tag even if its other tags are broken, so those clusters report it), and those still holding
        a linker to it (its removal or re-grouping must reach them). Finding the latter costs one linker listing
        per cluster, so large estates leave them to the sweep."""
        if hint.resource_type == CLUSTER_TYPE:
            return [] if hint.deleted else [ResourceRef.parse(hint.resource_id)]
        target_ref = ResourceRef.parse(hint.resource_id)
        target = next((t for t in estate.targets if t.ref == target_ref), None)
        groups = declared_groups(target.tags) if target else frozenset()
        sharing, others = [], []
        for cluster in estate.clusters:
            (sharing if declared_groups(cluster.tags) & groups else others).append(ResourceRef.parse(cluster.id))
        if len(estate.clusters) > EVENT_FANOUT_LIMIT:
            return sharing
        holding = self.each_cluster(others, lambda ref: self.arm.has_linker_to(ref.id, target_ref.id))
        return sharing + [ref for ref, holds in zip(others, holding, strict=True) if holds]

    def _target_findings(self, hint: EventHint, estate: Estate) -> list[Finding]:
        """What is wrong with the tags of a target no cluster was reconciled for (else nobody would say it)."""
        target = next((t for t in estate.targets if t.ref == ResourceRef.parse(hint.resource_id)), None)
        if target is None:
            return []
        settings = self.planner_settings
        _, findings = parse_target_tags(target.ref, target.kind, target.tags,
                                        protected_namespaces=settings.protected_namespaces,
                                        vault_suffixes=settings.vault_suffixes)  # fmt: skip
        return findings

    def reconcile_cluster(
        self, cluster: ResourceRef, estate: Estate, *, dry_run: bool | None = None, correlation_id: str | None = None
    ) -> ClusterRun:
        dry_run = self.settings.dry_run if dry_run is None else dry_run
        run = ClusterRun(cluster.id)
        attributes = {"sc.cluster": cluster.id, "sc.dry_run": dry_run, "sc.correlation_id": correlation_id or ""}
        with telemetry.tracer.start_as_current_span("reconcile_cluster", attributes=attributes):
            self._reconcile(run, cluster, estate, dry_run, correlation_id)
        return run

    def _reconcile(
        self, run: ClusterRun, cluster: ResourceRef, estate: Estate, dry_run: bool, correlation_id: str | None
    ) -> None:
        for _ in range(MAX_PASSES):
            plan = self._plan_once(cluster, estate)
            if plan is None:
                run.findings.append(
                    Finding(Code.CLUSTER_GONE, cluster.id, "the cluster no longer exists", "nothing to do")
                )
                break
            run.plans.append(plan)
            run.findings = list(plan.findings) + run.outcome_findings()
            log_event(
                log,
                logging.INFO,
                "plan",
                resource=cluster.id,
                actions=plan.lines(),
                dry_run=dry_run,
                correlation_id=correlation_id,
            )
            if dry_run or plan.is_empty:
                break
            outcomes = self.executor.apply(plan.actions, correlation_id)
            run.outcomes += outcomes
            run.findings = list(plan.findings) + run.outcome_findings()
            if not any(o.status == "applied" and isinstance(o.action, FOLLOW_UP_ACTIONS) for o in outcomes):
                break

    def _plan_once(self, cluster: ResourceRef, estate: Estate) -> Plan | None:
        observed = self.observe(cluster, estate)
        return observed.plan if observed else None

    def observe(self, cluster: ResourceRef, estate: Estate) -> Observation | None:
        """Desired state, actual state and the plan between them, for one cluster (reads only)."""
        info = self.inventory.cluster_info(cluster, estate)
        if info is None:
            return None
        cluster_tags, _ = parse_cluster_tags(info.ref, info.tags)
        identities = {}
        if cluster_tags and cluster_tags.identity:
            identities[cluster_tags.identity] = self.inventory.identity(cluster_tags.identity, estate)
        desired = desired_state(info, list(estate.targets), identities, self.planner_settings)
        actual = self.inventory.cluster_state(info, estate)
        plan = plan_cluster(desired, actual, self.planner_settings, frozenset(self.settings.subscriptions))
        return Observation(desired, actual, plan)


@dataclass(frozen=True)
class Observation:
    desired: Desired
    actual: ClusterState
    plan: Plan
