"""One cluster's failure is its own (issue 10): a 403 on its identity read, a 5xx beyond every retry or an
unexpected error while reconciling it become that cluster's findings, the run is not ok, and the other clusters
(one in the same subscription, one in another) do their work; the sweep still writes its report and marks the
cluster. And the removal circuit breaker: a run that would remove more than SC_MAX_REMOVALS_PER_HOUR holds every
removal (REMOVALS_HELD) and writes the rest; a run under the cap removes normally."""

from __future__ import annotations

import jsonschema
import pytest

from shared import report as report_module
from shared.core.codes import Code
from shared.service.results import FAILURE_CODES
from tests.conftest import CLUSTER, DATABASE, IDENTITY, OPENAI
from tests.e2e.conftest import OPENAI_TAGS, env_from_secrets
from tests.faults.conftest import assert_unwired, fault, inject, new_app
from tests.faults.world import OTHERS, World, assert_nothing_removed, findings_of, scenario, wire, wired

# A workload the API server serves but the app cannot handle (its containers are not a list): reconciling a cluster
# that names it raises an unexpected error (a bug, not a service error), which must stay that cluster's.
BROKEN = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "broken", "namespace": "shop"},
          "spec": {"selector": {"matchLabels": {"app": "broken"}},
                   "template": {"metadata": {"labels": {"app": "broken"}},
                                "spec": {"containers": "broken"}}}}  # fmt: skip
CAUSES = {
    # full runs list the identities (a failed listing: each identity is read by a GET); events GET it
    "403 on its identity read": fault("status", "arm", "GET", r"/userAssignedIdentities(/id-shop-workloads)?$",
                                      status=403, times=None),
    "503 beyond every retry": fault("status", "arm", "GET", r"/managedClusters/aks-shop/providers/"
                                    r"Microsoft\.ServiceLinker/linkers$", status=503, retry_after=0, times=None),
    "an unexpected error": None,
}  # fmt: skip


@pytest.fixture
def broken_world(make_cloud, monkeypatch) -> World:
    spec = scenario()
    spec["subscriptions"][0]["resource_groups"][0]["clusters"][0]["kubernetes"]["objects"] = [BROKEN]
    return wire(make_cloud(spec), monkeypatch)


@pytest.mark.parametrize("entry", ["events", "apply", "sweep"])
@pytest.mark.parametrize("cause", CAUSES)
def test_one_clusters_failure_does_not_stop_the_others(cause, entry, broken_world: World):
    world, admin = broken_world, broken_world.admin
    if CAUSES[cause] is None:
        world.estate.tag(OPENAI, {**OPENAI_TAGS, "sc-workloads": OPENAI_TAGS["sc-workloads"] + ",deploy/broken"})
    else:
        inject(admin, CAUSES[cause])
    world.give_the_others_work(1)
    before, mark = admin.state(), admin.mark()
    result = world.run(entry)  # never raises: every cluster's failure is its own
    assert not result.ok
    failed = [f for f in findings_of(result) if f.code in FAILURE_CODES]
    assert failed and all("aks-shop" in f.resource_id or "id-shop" in f.resource_id for f in failed), failed
    state = admin.state()
    assert all(wired(state, cluster) == {"app0", "app1"} for cluster in OTHERS), "the others did not go on"
    assert_nothing_removed(admin, mark, before, state)
    if entry == "sweep":  # the report is written, and says which cluster failed
        document = report_module.to_json(result)
        jsonschema.validate(document, report_module.schema())
        marked = [f for f in document["findings"] if f["code"] in FAILURE_CODES]
        assert marked and {f["resource"].lower() for f in marked} & {CLUSTER.lower(), IDENTITY.lower()}
        [shop] = [c for c in result.clusters if c.cluster.lower() == CLUSTER.lower()]
        assert not shop.ok and all(c.ok for c in result.clusters if c is not shop)


def test_a_run_that_would_remove_more_than_the_cap_holds_every_removal(world: World, monkeypatch):
    admin, estate = world.admin, world.estate
    estate.untag(OPENAI, "sc-group")
    estate.untag(DATABASE, "sc-group")  # 9 removals due on aks-shop: 4 un-wirings, 2 secrets, 1 account, 2 linkers
    world.give_the_others_work(1)  # and additive work elsewhere
    monkeypatch.setenv("SC_MAX_REMOVALS_PER_HOUR", "8")
    before, mark = admin.state(), admin.mark()
    tripped = new_app().applier.apply()
    assert [f.code for f in tripped.findings if f.code is Code.REMOVALS_HELD] == [Code.REMOVALS_HELD]
    assert_nothing_removed(admin, mark, before, admin.state())
    state = admin.state()
    assert all(wired(state, cluster) == {"app0", "app1"} for cluster in OTHERS), "the rest was not written"
    monkeypatch.setenv("SC_MAX_REMOVALS_PER_HOUR", "9")  # at the cap: removed normally (a new process's hour)
    report = new_app().applier.apply()
    assert report.ok and not [f for f in report.findings if f.code is Code.REMOVALS_HELD], report.summary()
    assert_unwired(estate)
    assert env_from_secrets(estate.workload("Deployment", "web"), "nginx") == []
