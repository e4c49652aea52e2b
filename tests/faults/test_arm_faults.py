"""Transient ARM and Key Vault faults on every operation the app uses: 429 with Retry-After, 500, 503 and dropped
connections are retried within the run (README: "429 and 5xx are retried with backoff honouring Retry-After"), so
the faulted run itself succeeds; a redelivery then makes zero writes. A failed linker LRO is repaired next run.

One test per (flow, fault kind) puts that fault on every operation of the flow at once, each once: every fault
must be met (or the operation was not exercised), and retries of different operations do not compound.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from shared.core.verdicts import Status
from tests.conftest import CLUSTER
from tests.faults.conftest import (
    TRANSIENT,
    assert_converged,
    assert_every_fault_hit,
    assert_only_ours_deleted,
    assert_references_resolve,
    attempt,
    clear_faults,
    connect_everything,
    disconnect_everything,
    fault,
    inject,
    new_app,
)

SUB_PATH = r"^/subscriptions/[^/]+"
LINKERS = r"/providers/Microsoft\.ServiceLinker/linkers"
# (operation, service, method, path regex) per flow; each path matches that operation only.
CONNECT = [
    ("resources list (tagged, with provisioning states: no cluster GET)", "arm", "GET", SUB_PATH + r"/resources$"),
    ("identity GET", "arm", "GET", r"/userAssignedIdentities/id-shop-workloads$"),
    ("listClusterUserCredential POST", "arm", "POST", r"/managedClusters/aks-shop/listClusterUserCredential$"),
    ("providers GET", "arm", "GET", SUB_PATH + r"/providers/Microsoft\.[A-Za-z]+$"),
    ("provider register POST", "arm", "POST", SUB_PATH + r"/providers/Microsoft\.KubernetesConfiguration/register$"),
    ("linker list GET", "arm", "GET", LINKERS + "$"),
    ("linker PUT", "arm", "PUT", LINKERS + "/scap_"),
    ("linker LRO poll GET", "arm", "GET", r"/operationStatuses/"),
    ("linker GET", "arm", "GET", LINKERS + r"/scap_[^/]+$"),
    ("Key Vault secret GET", "keyvault", "GET", r"^/secrets/sql-orders-password"),
]
DISCONNECT = [
    ("resources list (tagged)", "arm", "GET", SUB_PATH + r"/resources$"),
    ("linker list GET", "arm", "GET", LINKERS + "$"),
    ("linker DELETE", "arm", "DELETE", LINKERS + "/scap_"),
    ("linker delete LRO poll GET", "arm", "GET", r"/operationStatuses/"),
]
SWEEP = [
    ("managedClusters list", "arm", "GET", SUB_PATH + r"/providers/Microsoft\.ContainerService/managedClusters$"),
    ("identities list", "arm", "GET", SUB_PATH + r"/providers/Microsoft\.ManagedIdentity/userAssignedIdentities$"),
    ("Resource Graph query (sc-extension states)", "arm", "POST", r"^/providers/Microsoft\.ResourceGraph/resources$"),
    ("validateLinker POST", "arm", "POST", LINKERS + r"/scap_[^/]+/validateLinker$"),
    ("validateLinker LRO poll GET", "arm", "GET", r"/operationResults/"),
    ("listConfigurations POST", "arm", "POST", LINKERS + r"/scap_[^/]+/listConfigurations$"),
    ("federatedIdentityCredentials GET", "arm", "GET", r"/federatedIdentityCredentials$"),
]
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


CREDENTIAL = "listClusterUserCredential POST"


@pytest.fixture(autouse=True)
def validate_every_connection(monkeypatch):
    """Every connection's validateLinker is made each sweep (not once a day in its slot), so its faults are met."""
    monkeypatch.setenv("SC_VALIDATE_EVERY_HOURS", "1")


def faults_for(operations: list[tuple[str, str, str, str]], kind: str, skip: tuple[str, ...] = ()) -> list[dict]:
    return [
        fault(service=service, method=method, path=path, **TRANSIENT[kind])
        for name, service, method, path in operations
        if name not in skip
    ]


@pytest.mark.parametrize("kind", TRANSIENT)
def test_connecting_survives_transient_faults_on_every_operation(kind, estate, app, admin):
    events = connect_everything(estate)
    mark = admin.mark()
    # a dropped connection on listClusterUserCredential is its own (expected-failure) test below
    inject(admin, *faults_for(CONNECT, kind, skip=(CREDENTIAL,) if kind == "reset" else ()))
    first = attempt(lambda: app.events.handle(events), may_raise=())
    assert first.report.ok and not first.report.deferred, first.report.summary()
    assert_every_fault_hit(admin)
    assert_references_resolve(estate)
    clear_faults(admin)
    redelivered = new_app().events.handle(events)  # Event Grid delivers at least once: the same events again
    assert redelivered.ok and redelivered.applied == [], redelivered.summary()
    assert_converged(estate, app, admin)
    assert_only_ours_deleted(admin, mark)


@pytest.mark.parametrize("kind", TRANSIENT)
def test_disconnecting_survives_transient_faults_on_every_operation(kind, estate, app, admin):
    assert app.events.handle(connect_everything(estate)).ok
    events = disconnect_everything(estate)
    mark = admin.mark()
    inject(admin, *faults_for(DISCONNECT, kind))
    first = attempt(lambda: new_app().events.handle(events), may_raise=())
    assert first.report.ok, first.report.summary()
    assert_every_fault_hit(admin)
    assert_references_resolve(estate)
    clear_faults(admin)
    assert new_app().events.handle(events).ok
    assert_converged(estate, app, admin, connected=False)
    assert_only_ours_deleted(admin, mark)


@pytest.mark.parametrize("kind", TRANSIENT)
def test_the_sweep_survives_transient_faults_on_every_operation(kind, estate, app, admin):
    assert app.events.handle(connect_everything(estate)).ok
    mark = admin.mark()
    inject(admin, *faults_for(SWEEP, kind))
    first = attempt(lambda: new_app().sweeper.run(now=NOW), may_raise=())
    verdicts = [v.status for c in first.result.clusters for v in c.verdicts]
    assert verdicts == [Status.COMPLIANT, Status.COMPLIANT], [v for c in first.result.clusters for v in c.verdicts]
    assert_every_fault_hit(admin)
    clear_faults(admin)
    again = new_app().sweeper.run(now=NOW)
    assert [v.status for c in again.clusters for v in c.verdicts] == [Status.COMPLIANT, Status.COMPLIANT]
    assert_converged(estate, app, admin)
    assert_only_ours_deleted(admin, mark)


def test_a_dropped_connection_on_the_cluster_credential_is_retried(estate, app, admin):
    events = connect_everything(estate)
    [(_, service, method, path)] = [op for op in CONNECT if op[0] == CREDENTIAL]
    inject(admin, fault("reset", service, method, path))
    report = app.events.handle(events)
    assert report.ok, report.summary()
    assert_every_fault_hit(admin)


def test_retry_after_is_honoured(estate, app, admin):
    """A 429's Retry-After (1 s) is waited out before the same request is sent again, for a read and a write."""
    events = connect_everything(estate)
    mark = admin.mark()
    resources, put = SUB_PATH + r"/resources$", LINKERS + "/scap_"
    inject(admin, fault("throttle", "arm", "GET", resources, retry_after=1),
           fault("throttle", "arm", "PUT", put, retry_after=1))  # fmt: skip
    assert app.events.handle(events).ok
    assert_every_fault_hit(admin)
    log = admin.requests_since(mark)
    for method, path in (("GET", resources), ("PUT", put)):
        tries = [r for r in log if r["method"] == method and re.search(path, r["path"])]
        throttled = next(i for i, r in enumerate(tries) if r["status"] == 429)
        retry = tries[throttled + 1]
        assert retry["path"] == tries[throttled]["path"] and retry["status"] < 300
        waited = datetime.fromisoformat(retry["time"]) - datetime.fromisoformat(tries[throttled]["time"])
        assert waited.total_seconds() >= 0.95, f"{method} retried after {waited} despite Retry-After: 1"


def test_a_linker_lro_that_fails_on_the_service_side_is_put_again_within_the_run(estate, app, admin):
    """The first linker PUT's operation ends Failed with InternalServerError (the linker is left Failed, as Service
    Connector leaves it): a service-side failure, so the PUT is retried in the run; nothing is wired to the linker
    before it succeeded, and a redelivery changes nothing."""
    events = connect_everything(estate)
    mark = admin.mark()
    inject(admin, fault("lro_fail", "arm", "LRO", LINKERS + "/scap_"))  # the emulator's LRO step, not a request
    first = attempt(lambda: app.events.handle(events), may_raise=())
    assert_every_fault_hit(admin)
    assert first.report.ok, first.report.summary()
    puts = [r["path"] for r in admin.requests_since(mark) if r["method"] == "PUT" and "/linkers/scap_" in r["path"]]
    assert len(puts) == len(set(puts)) + 1, "the failed linker was not put again"
    assert_references_resolve(estate)  # a workload is only ever wired to a secret that exists
    redelivered = new_app().events.handle(events)
    assert redelivered.ok and redelivered.applied == [], redelivered.summary()
    assert_converged(estate, app, admin)
    assert_only_ours_deleted(admin, mark)


def test_a_linker_put_retried_by_us_sends_the_whole_body_again(estate, app, admin):
    """A 409 is not retried by the SDK's pipeline but by our own retry, which calls the SDK again: the body must be
    complete the second time too (the SDK consumes parts of a dict body)."""
    events = connect_everything(estate)
    mark = admin.mark()
    inject(admin, fault("status", "arm", "PUT", LINKERS + "/scap_", status=409))
    report = app.events.handle(events)
    assert_every_fault_hit(admin)
    assert report.ok, report.summary()
    puts = [r for r in admin.requests_since(mark) if r["method"] == "PUT" and "/linkers/scap_" in r["path"]]
    assert [r["status"] for r in puts].count(409) == 1 and all(r["status"] in (200, 201, 409) for r in puts)
    assert_converged(estate, app, admin)


def test_work_deferred_under_faults_is_redone_on_redelivery(estate, app, admin):
    """A busy cluster defers everything (the function raises so that Event Grid redelivers); with ARM faults on
    top, the redelivery after the cluster settles does all of it."""
    admin.post("provisioning-state", {"id": CLUSTER, "state": "Updating"})
    events = connect_everything(estate)
    inject(admin, *faults_for(CONNECT[:3], "503"))
    first = attempt(lambda: app.events.handle(events), may_raise=())
    assert_every_fault_hit(admin)
    assert first.report.deferred and first.report.applied == [] and estate.linkers() == []
    assert any(f.code == "CLUSTER_NOT_READY" for f in first.report.findings)
    clear_faults(admin)
    admin.post("provisioning-state", {"id": CLUSTER, "state": "Succeeded"})
    redelivered = new_app().events.handle(events)
    assert redelivered.ok and not redelivered.deferred, redelivered.summary()
    assert_converged(estate, app, admin)
