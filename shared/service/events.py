"""The event driver: Event Grid events (or a CLI `handle-event`) are hints; route each to the clusters it
concerns and reconcile those through the one reconciler, in one Run. The delayed queue's cluster comes back
through `reconcile_later`. A thin loop: it never changes anything itself."""

from __future__ import annotations

from shared.config import Settings
from shared.core.eventgrid import EventHint, Ignored, SecretHint, decode, parse_event
from shared.core.ids import ResourceRef
from shared.core.planner import PlannerSettings
from shared.service.inventory import Inventory
from shared.service.reconciler import Reconciler
from shared.service.results import RunReport
from shared.service.routing import Router
from shared.service.run import Runs


class EventDriver:
    def __init__(
        self, settings: Settings, inventory: Inventory, router: Router, reconciler: Reconciler, runs: Runs,
        planner_settings: PlannerSettings,
    ):  # fmt: skip
        self.subscriptions = settings.subscriptions
        self.inventory = inventory
        self.router = router
        self.reconciler = reconciler
        self.runs = runs
        self.planner_settings = planner_settings

    def handle(self, events: list | bytes | str) -> RunReport:
        """Decode, route, reconcile: one RunReport for the whole delivery (undecodable or foreign events ignored)."""
        arrived = self.inventory.fresh.clock()  # a tag listing begun after this shows what the events announce
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
            elif ResourceRef.parse(outcome.resource_id).subscription_id.lower() not in self.subscriptions:
                report.ignore(Ignored("subscription is not in SC_SUBSCRIPTIONS", outcome.event_id))
            else:
                hints.append(outcome)
        if not hints and not secret_hints:
            return report
        estate = self.inventory.estate(since=arrived)
        report.failures += [f.finding() for f in estate.failures]
        run = self.runs.new(estate)
        clusters: dict[ResourceRef, str] = {}
        for secret_hint in secret_hints:  # the clusters whose targets carry that secret: each reads the vault itself
            for cluster in self.router.secret_scope(secret_hint, estate, self.planner_settings):
                clusters.setdefault(cluster, secret_hint.event_id)
        for hint in hints:
            scope = self.router.scope(hint, estate, run.each)
            for cluster in scope:
                clusters.setdefault(cluster, hint.correlation_id)
            if not scope:
                report.unrouted += self.router.target_findings(hint, estate, self.planner_settings)
        run.correlations = clusters
        report.runs += self.reconciler.reconcile_all(sorted(clusters), run)
        return report

    def reconcile_later(self, cluster: ResourceRef) -> RunReport:
        """A deferred cluster, once its wait is over: reconciled from fresh tags and state, like any entry point."""
        estate = self.inventory.estate(since=self.inventory.fresh.clock())
        report = RunReport(failures=[f.finding() for f in estate.failures])
        report.runs += self.reconciler.reconcile_all([cluster], self.runs.new(estate))
        return report
