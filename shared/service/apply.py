"""The plan/apply driver (the CLI's `plan` and `apply`): every cluster carrying `sc-group` in the managed
subscriptions (within a scope), reconciled through the one reconciler in one Run. A thin loop."""

from __future__ import annotations

from collections.abc import Mapping

from shared.core.ids import ResourceRef
from shared.core.scope import EVERYWHERE, ClusterScope
from shared.service.estate import Estate
from shared.service.inventory import Inventory
from shared.service.reconciler import Reconciler
from shared.service.results import RunReport
from shared.service.run import Progress, Runs


class ApplyDriver:
    def __init__(self, inventory: Inventory, reconciler: Reconciler, runs: Runs):
        self.inventory = inventory
        self.reconciler = reconciler
        self.runs = runs

    def apply(
        self,
        dry_run: bool | None = None,
        scope: ClusterScope = EVERYWHERE,
        progress: Progress | None = None,
        expected: Mapping[str, tuple[str, ...]] | None = None,
        release_removals: int | None = None,
    ) -> RunReport:
        """Reconcile every tagged cluster in `scope` (SC_DRY_RUN unless `dry_run` says otherwise).

        With `expected` (a saved plan's action lines by lower-case cluster id), a cluster whose first plan is no
        longer exactly that is left untouched and reported as moved. `release_removals`: the operator's
        `--max-removals N`: up to N removals go ahead whatever the app-wide hour has left (logged, still counted)."""
        estate = self.inventory.estate(all_clusters=True)
        run = self.runs.new(estate, dry_run=dry_run, progress=progress, expected=expected,
                            release_removals=release_removals)  # fmt: skip
        results = self.reconciler.reconcile_all(clusters_in(estate, scope), run)
        return RunReport(results, failures=[f.finding() for f in estate.failures])

    def plan(self, scope: ClusterScope = EVERYWHERE, progress: Progress | None = None) -> RunReport:
        return self.apply(dry_run=True, scope=scope, progress=progress)


def clusters_in(estate: Estate, scope: ClusterScope) -> list[ResourceRef]:
    return sorted(ref for c in estate.clusters if scope.matches(ref := ResourceRef.parse(c.id)))
