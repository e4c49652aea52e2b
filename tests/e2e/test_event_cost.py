"""The cost of an event (issue 23): reverse routing from the linker index in the app's storage (Azurite), and what
does not change per event (provider registration, key tables, cluster endpoints) not read per event."""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from azure.core.exceptions import ResourceNotFoundError

from bench import scenario
from emulator.arm.errors import arm_error
from emulator.arm.service import ArmService
from shared.adapters.errors import ReadError
from shared.adapters.storage import LinkerIndex
from shared.config import Settings, StorageSettings
from shared.container import Application
from tests.conftest import Admin
from tests.e2e.conftest import Estate

LINKERS = "/providers/Microsoft.ServiceLinker/linkers"


def instance() -> Application:
    """One Functions instance: its own process caches, the app's shared storage (AzureWebJobsStorage)."""
    return Application(Settings.from_env())


@pytest.fixture
def admin(make_cloud, azurite, monkeypatch) -> Admin:
    """Three generated clusters (bench/scenario.py), each with two SQL databases and an OpenAI account."""
    return generated(3, make_cloud, azurite, monkeypatch)


def generated(clusters: int, make_cloud, azurite, monkeypatch) -> Admin:
    cloud = make_cloud(scenario.generate(clusters, arm_ms=0, kube_ms=0, throttling=False))
    monkeypatch.setenv("AzureWebJobsStorage", azurite)
    container = LinkerIndex.from_settings(StorageSettings.from_env()).container
    with contextlib.suppress(ResourceNotFoundError):  # a fresh index (Azurite is shared by the session)
        for blob in container.list_blobs():
            container.delete_blob(blob.name)
    return Admin(cloud)


def all_linkers(admin) -> list[dict]:
    return [r for r in admin.state()["resources"] if r["type"].lower() == "microsoft.servicelinker/linkers"]


def arm_calls(admin, mark: int) -> list[dict]:
    return [r for r in admin.requests_since(mark) if r["service"] == "arm"]


def test_a_warm_event_costs_three_reads_and_routes_by_the_index(admin):
    first = instance()
    oai = [scenario.openai_id(i) for i in range(3)]
    assert first.index.clusters_for(oai[1]) is None, "before any sweep the index is unknown, never empty"
    assert first.applier.apply().ok
    assert first.sweeper.run().ok  # re-syncs every cluster's holdings and marks the index built
    assert first.index.clusters_for(oai[1]) == {scenario.cluster_id(1).lower()}

    tags = Estate(admin)
    tags.new_events()  # what the cold apply caused
    other = instance()  # another instance: nothing of the first one's memory, the same storage account
    tags.tag(scenario.sql_id(0), {"sc-workloads": "deploy/w1,deploy/w2"})
    assert other.events.handle(tags.new_events()).ok  # warm: one event with nothing to do

    tags.tag(oai[1], {"sc-workloads": "deploy/w5,deploy/w6,deploy/w1"})
    events = tags.new_events()
    mark = admin.mark()
    report = other.events.handle(events)
    calls = arm_calls(admin, mark)
    assert report.ok and any("w1" in line for line in report.applied)
    assert [c["method"] for c in calls].count("GET") <= 3, [c["path"] for c in calls]
    assert [c for c in calls if c["method"] != "GET"] == [], "no write-bucket call (credentials, key tables)"

    # re-grouped: the cluster still holding a linker to it is found through the index, not a scan of every cluster
    tags.tag(oai[1], {"sc-group": scenario.cluster_id(2).split("aks-")[1]})
    events = tags.new_events()
    mark = admin.mark()
    report = other.events.handle(events)
    listed = {c["path"].split(LINKERS)[0].lower() for c in arm_calls(admin, mark)
              if c["method"] == "GET" and c["path"].endswith(LINKERS)}  # fmt: skip
    assert scenario.cluster_id(0).lower() not in listed
    assert scenario.cluster_id(1).lower() in listed
    holding = [lk for lk in all_linkers(admin) if oai[1].lower() in str(lk).lower()]
    assert report.ok and holding == [], "the linker of the re-grouped target was removed from its old cluster"
    assert other.index.clusters_for(oai[1]) == frozenset(), "the delete was recorded in the index"


def test_a_pass_that_only_patched_workloads_confirms_them_with_one_get_each(admin):
    """Wiring a workload rolls it out; the pass that confirms the rollout reads that workload again, not every list
    of the cluster (it changed nothing else)."""
    app = instance()
    assert app.applier.apply().ok
    tags = Estate(admin)
    tags.new_events()
    tags.tag(scenario.openai_id(1), {"sc-workloads": "deploy/w5,deploy/w6,deploy/w2"})
    events = tags.new_events()
    mark = admin.mark()
    report = app.events.handle(events)
    assert report.ok and any("w2" in line for line in report.applied), report.summary()
    assert [run.step.next.value for run in report.runs] == ["done"], "the rollout was confirmed in the same run"
    kube = [c for c in admin.requests_since(mark) if c["service"] == "kube"]
    patched = [i for i, c in enumerate(kube) if c["method"] == "PATCH"]
    assert len(patched) == 1 and kube[patched[0]]["path"].endswith("/deployments/w2")
    lists = [c["path"].split("/", 3)[3] for c in kube if c["method"] == "GET" and "/namespaces/" not in c["path"]]
    assert sorted(lists) == sorted(set(lists)), f"a list made twice: {sorted(lists)}"
    after = [c for c in kube[patched[0] + 1 :] if c["method"] == "GET"]
    assert [c["path"].rsplit("/", 2)[-2:] for c in after] == [["deployments", "w2"]], [c["path"] for c in after]


def test_a_stale_index_entry_is_a_place_to_look_never_a_removal(admin):
    app = instance()
    assert app.applier.apply().ok
    assert app.sweeper.run().ok
    sql = scenario.sql_id(1)
    app.index.held(scenario.cluster_id(0), sql, "scap_not_there")  # says cluster 0 holds a linker to it: false
    before = all_linkers(admin)
    tags = Estate(admin)
    tags.new_events()
    tags.tag(sql, {"sc-workloads": "deploy/w1,deploy/w2,deploy/w3"})
    mark = admin.mark()
    report = app.events.handle(tags.new_events())
    listed = [c["path"] for c in arm_calls(admin, mark) if c["path"].endswith(LINKERS)]
    assert report.ok and any(scenario.cluster_id(0) in path for path in listed)  # looked at
    assert [c for c in arm_calls(admin, mark) if c["method"] == "DELETE"] == []
    assert len(all_linkers(admin)) == len(before)


def test_concurrent_events_of_one_instance_share_a_listing_begun_after_they_arrived(make_cloud, azurite, monkeypatch):
    """A storm on one instance (the Python worker runs several invocations at once): the events that arrive while a
    tag listing is in flight share the next one instead of each listing the estate (FreshReads), and so the Key
    Vault versions they all read; each still sees its own change, since it only takes a read begun after it
    arrived."""
    admin = generated(6, make_cloud, azurite, monkeypatch)
    app = instance()
    assert app.applier.apply().ok
    assert app.sweeper.run().ok
    tags = Estate(admin)
    tags.new_events()
    for index in range(6):
        tags.tag(scenario.openai_id(index), {"sc-workloads": "deploy/w5,deploy/w6,deploy/w2"})
    events = tags.new_events()
    assert len(events) == 6
    admin.post("latency", {"arm_ms": 500})  # a listing in flight long enough for every invocation to arrive
    arrive = threading.Barrier(len(events))

    def invocation(event: dict):
        arrive.wait()
        return app.events.handle([event])

    mark = admin.mark()
    with ThreadPoolExecutor(len(events)) as pool:
        reports = list(pool.map(invocation, events))
    admin.post("latency", {"arm_ms": 0})
    listings = [c for c in arm_calls(admin, mark) if c["method"] == "GET" and c["path"].endswith("/resources")]
    vault = [c for c in admin.requests_since(mark) if c["service"] == "keyvault"]  # the SQL password's versions
    assert all(report.ok for report in reports), [report.summary() for report in reports]
    for index, report in enumerate(reports):
        assert any("w2" in line for line in report.applied), (index, report.applied)
    assert 1 <= len(listings) <= 3, f"{len(listings)} tag listings for {len(events)} concurrent events"
    assert 1 <= len(vault) <= 3, f"{len(vault)} Key Vault listings for {len(events)} concurrent events"


def test_the_tag_listing_reads_every_page_and_fails_whole(admin, monkeypatch):
    """The tag listing is read as JSON through the client's pipeline: every page (nextLink), and a page that fails
    fails the listing (never a shorter estate)."""
    monkeypatch.setattr("emulator.arm.service.PAGE_SIZE", 2)
    arm = instance().arm
    tagged = {r["id"].lower() for r in admin.state()["resources"] if "sc-group" in (r.get("tags") or {})}
    mark = admin.mark()
    listed = arm.tagged_resources(scenario.SUBSCRIPTION)
    pages = [c for c in arm_calls(admin, mark) if c["path"].endswith("/resources")]
    assert {r.id.lower() for r in listed} == tagged and len(listed) == len(tagged) > 4
    assert len(pages) == -(-len(tagged) // 2), "one GET per page of 2"
    assert all(r.provisioning_state == "Succeeded" for r in listed)
    openai = next(r for r in listed if r.id.lower() == scenario.openai_id(0).lower())
    assert openai.type == "microsoft.cognitiveservices/accounts" and openai.tags["sc-workloads"]

    paged = ArmService._page

    def second_page_refused(service, request, items):
        if "$skiptoken" in request.query:
            raise arm_error(403, "AuthorizationFailed", "The client does not have authorization (page 2)")
        return paged(service, request, items)

    monkeypatch.setattr(ArmService, "_page", second_page_refused)
    with pytest.raises(ReadError) as failed:
        arm.tagged_resources(scenario.SUBSCRIPTION)
    failure = failed.value.failures[0]
    assert (failure.status, failure.error) == (403, "AuthorizationFailed"), failure
