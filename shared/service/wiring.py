"""The wiring driver (`wire_timer`): workloads named in `sc-workloads` that exist now and lack their wiring are
wired, or for a GitOps-managed one suggested (GITOPS_MANAGED), within one SC_WIRE_SCHEDULE. A thin loop over the
one reconciler.

What one run costs, per cluster (docs/operations.md, "Late workloads"):
- ARM: nothing per cluster once this instance knows the cluster's API endpoint (KubeClients keeps it for the
  process's life; credentials stay in memory); 1 listClusterUserCredential the first time. Per subscription: the tag
  listing (1 call). No ARM write, ever.
- Kubernetes: a metadata-only list per workload kind the tags name on the cluster; a GET of each named workload
  whose metadata carries no record of our wiring (a GitOps-managed one once per version: it is suggested, not
  patched, so it keeps lacking the wiring until a commit adds it).
Only a cluster with a named workload that exists and lacks its wiring is observed in full (the reconciler's reads),
and only its workload patches are applied: linkers, providers and deletions are left to events and the sweep.
"""

from __future__ import annotations

import logging

from shared.adapters.errors import ReadError
from shared.adapters.kube.api import KubeApi
from shared.adapters.kube.client import KubeClients
from shared.adapters.logs import get_logger, log_event
from shared.config import Settings
from shared.core.gitops import GitOpsWiring
from shared.core.ids import ResourceRef
from shared.core.model import TaggedResource
from shared.core.named import NamedWorkload, lacks_wiring, left_to_its_manifest, named_workloads, recorded
from shared.core.plan import Plan, RewireWorkload
from shared.core.planner import PlannerSettings
from shared.service.inventory import Inventory
from shared.service.reconciler import Reconciler, unexpected_failure
from shared.service.results import ClusterResult, RunReport
from shared.service.run import Run, Runs

log = get_logger("wiring")


class WireDriver:
    def __init__(self, settings: Settings, inventory: Inventory, kube: KubeClients, reconciler: Reconciler,
                 runs: Runs, planner: PlannerSettings):  # fmt: skip
        self.settings = settings
        self.inventory = inventory
        self.kube = kube
        self.reconciler = reconciler
        self.runs = runs
        self.planner = planner
        # (uid, resourceVersion) of the GitOps-managed workloads this instance has suggested the wiring for
        self._suggested: set[tuple[str, str]] = set()

    def run(self) -> RunReport:
        estate = self.inventory.estate()
        run = self.runs.new(estate)
        clusters = sorted(estate.clusters, key=lambda c: c.id.lower())
        results = [r for r in run.each(clusters, lambda cluster: self._check(cluster, run)) if r is not None]
        report = RunReport(results, failures=[f.finding() for f in estate.failures])
        log_event(log, logging.INFO, "wiring checked", clusters=len(clusters), wired=len(report.applied),
                  findings=[str(f.code) for f in report.findings])  # fmt: skip
        return report

    def _check(self, tagged: TaggedResource, run: Run) -> ClusterResult | None:
        """None when every named workload that exists carries its wiring (nothing else is read)."""
        cluster = ResourceRef.parse(tagged.id)
        try:
            named = named_workloads(tagged, list(run.estate.targets), self.planner)
            if not named or not self._unwired(cluster, named, run):
                return None
            return self._wire(cluster, run)
        except ReadError as error:
            return ClusterResult(cluster.id, findings=[f.finding() for f in error.failures])
        except Exception as error:  # isolation: one cluster's failure is its own
            log.exception("checking the wiring of %s failed", cluster.id)
            return ClusterResult(cluster.id, findings=[unexpected_failure(cluster, error)])

    def _unwired(self, cluster: ResourceRef, named: list[NamedWorkload], run: Run) -> bool:
        api = KubeApi(self.kube.for_cluster(cluster))
        kinds = sorted({n.ref.kind for n in named})
        existing = {
            (kind, item["metadata"].get("namespace"), item["metadata"]["name"]): item["metadata"]
            for kind in kinds
            for item in api.list(kind, metadata_only=True, cluster_id=cluster.id)
        }
        suggest = self.planner.gitops_wiring is GitOpsWiring.SUGGEST
        unwired = False  # every candidate is looked at: the cluster's one plan suggests for all of them at once
        for workload in named:
            metadata = existing.get((workload.ref.kind, workload.ref.namespace, workload.ref.name))
            if metadata is None or recorded(metadata, workload):
                continue
            if left_to_its_manifest(metadata, suggest):
                version = (str(metadata.get("uid")), str(metadata.get("resourceVersion")))
                if version in self._suggested:
                    continue  # suggested already; the sweep keeps reporting it
                self._suggested.add(version)
            manifest = api.get(workload.ref.kind, workload.ref.namespace, workload.ref.name)
            unwired |= manifest is not None and lacks_wiring(manifest, workload)
        return unwired

    def _wire(self, cluster: ResourceRef, run: Run) -> ClusterResult:
        """The reconciler's plan for the cluster, of which only the workload patches are applied."""
        sight = self.reconciler.look(cluster, run)
        if sight.observation is None:
            return ClusterResult(cluster.id, findings=list(sight.failures))
        plan = sight.observation.plan
        patches = tuple(a for a in plan.actions if isinstance(a, RewireWorkload) and not (a.removes or a.after_linkers))
        return self.reconciler.apply(Plan(plan.cluster, patches, plan.findings), run)
