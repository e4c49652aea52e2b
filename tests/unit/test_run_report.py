"""What a run reports: an action's last outcome counts, so a failure a later pass repaired is not a failure."""

from __future__ import annotations

from shared.core.codes import Code, Finding
from shared.core.ids import ResourceRef
from shared.core.plan import DeleteLinker
from shared.service.executor import Outcome
from shared.service.results import ClusterResult, OutcomeStatus, RunReport

CLUSTER = ResourceRef(
    "/subscriptions/c0ffee00-0000-4000-8000-00000000d370/resourceGroups/rg/providers/"
    "Microsoft.ContainerService/managedClusters/aks"
)
BROKEN = Finding(Code.ARM_TRANSIENT, CLUSTER.id, "the delete failed", "retried next run")


def test_a_failure_repaired_by_a_later_pass_is_neither_a_failure_nor_a_finding():
    action = DeleteLinker(CLUSTER, "scap_0123456789_db")
    outcomes = [Outcome(action, OutcomeStatus.FAILED, "503", BROKEN), Outcome(action, OutcomeStatus.APPLIED)]
    run = ClusterResult(CLUSTER.id, outcomes=outcomes)
    assert run.failed == [] and run.outcome_findings() == [] and RunReport([run]).ok


def test_a_failure_that_stays_is_reported_once_with_its_finding():
    action, other = DeleteLinker(CLUSTER, "scap_0123456789_db"), DeleteLinker(CLUSTER, "scap_9876543210_oai")
    outcomes = [
        Outcome(action, OutcomeStatus.FAILED, "503", BROKEN),
        Outcome(other, OutcomeStatus.APPLIED),
        Outcome(action, OutcomeStatus.FAILED, "503", BROKEN),
    ]
    run = ClusterResult(CLUSTER.id, outcomes=outcomes)
    assert [o.action for o in run.failed] == [action] and run.outcome_findings() == [BROKEN]
    assert not RunReport([run]).ok and "1 failure(s)" in RunReport([run]).summary()
