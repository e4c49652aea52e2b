"""Kubernetes API faults on every call the app makes: lists, workload patches (wiring and unwiring), secret and
service-account reads and deletes, the orphan annotation. Each operation meets a 429, a 500, a 503 and a dropped
connection, one after the other; the entry point runs again after each (Event Grid redelivers the same events, the
sweep runs again) until every fault was met. No run may crash with anything but a service error, a workload must
never be left pointing at a deleted secret, nothing but ours is deleted, and once the faults clear the estate
converges with every workload wired exactly once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.core.verdicts import Status
from tests.conftest import Admin, demo_spec
from tests.e2e.conftest import Estate
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
    fault_hits,
    inject,
    new_app,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
WORKLOAD_PATCH = r"^/clusters/[^/]+/apis/[a-z.]+/v1/namespaces/shop/(deployments|statefulsets|cronjobs)/[a-z-]+$"
OURS = r"^/clusters/[^/]+/api/v1/namespaces/shop/{}/sc-[a-z0-9-]+$"
# (operation, flow, method, path regex)
OPERATIONS = [
    ("list", "connect", "GET", r"^/clusters/[^/]+/(api|apis/[a-z.]+)/v1/[a-z]+$"),
    ("workload PATCH (wire)", "connect", "PATCH", WORKLOAD_PATCH),
    ("workload PATCH (unwire)", "disconnect", "PATCH", WORKLOAD_PATCH),
    ("secret GET", "disconnect", "GET", OURS.format("secrets")),
    ("secret DELETE", "disconnect", "DELETE", OURS.format("secrets")),
    ("serviceaccount GET", "disconnect", "GET", OURS.format("serviceaccounts")),
    ("serviceaccount DELETE", "disconnect", "DELETE", OURS.format("serviceaccounts")),
    ("secret GET (sweep: key names)", "sweep", "GET", OURS.format("secrets")),
    ("annotate PATCH (sweep: orphan)", "orphans", "PATCH", OURS.format("secrets")),
]
STALE = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sc-oldconnection-secret", "namespace": "shop"},
         "data": {}}  # fmt: skip


def orphan_cloud(make_cloud) -> Admin:
    spec = demo_spec()
    cluster = spec["subscriptions"][0]["resource_groups"][0]["clusters"][0]
    cluster["tags"] = {"sc-group": "shop"}
    cluster["kubernetes"]["objects"] = [STALE]
    return Admin(make_cloud(spec))


def sweep_statuses(result) -> list[Status]:
    return [v.status for c in result.clusters for v in c.verdicts]


@pytest.mark.parametrize(("operation", "flow", "method", "path"), OPERATIONS, ids=[op[0] for op in OPERATIONS])
def test_kubernetes_faults_converge(operation, flow, method, path, make_cloud):
    admin = orphan_cloud(make_cloud) if flow == "orphans" else Admin(make_cloud())
    estate, app = Estate(admin), new_app()
    if flow == "orphans":
        run = lambda: app.sweeper.run(now=NOW)  # noqa: E731
    elif flow == "sweep":
        assert app.events.handle(connect_everything(estate)).ok
        run = lambda: app.sweeper.run(now=NOW)  # noqa: E731
    else:
        events = connect_everything(estate)
        if flow == "disconnect":
            assert app.events.handle(events).ok
            events = disconnect_everything(estate)
        run = lambda: app.events.handle(events)  # noqa: E731
    mark = admin.mark()
    inject(admin, *[fault(service="kube", method=method, path=path, **spec) for spec in TRANSIENT.values()])
    for _ in range(len(TRANSIENT)):  # each redelivery meets at least one fault until all were met
        attempt(run)
        assert_references_resolve(estate)
        assert_only_ours_deleted(admin, mark)
        if all(f["hits"] >= f["times"] for f in fault_hits(admin)):
            break
    assert_every_fault_hit(admin)
    clear_faults(admin)
    final = run()  # no faults left: this run must not raise
    if flow == "orphans":
        assert [o.state for o in final.clusters[0].orphans] == ["first-seen"]  # every earlier annotation failed
        annotations = estate.secret(STALE["metadata"]["name"])["metadata"]["annotations"]
        assert annotations["sc-autopilot.io/orphaned-since"] == "2026-11-22T12:00:00Z"
        later = app.sweeper.run(now=NOW + timedelta(hours=1))
        assert [o.state for o in later.clusters[0].orphans] == ["report-only"]  # marked once, not again
        assert estate.secret(STALE["metadata"]["name"])["metadata"]["annotations"] == annotations
    elif flow == "sweep":
        assert sweep_statuses(final) == [Status.COMPLIANT, Status.COMPLIANT]
        assert_converged(estate, app, admin)
    else:
        assert final.ok, final.summary()
        assert_converged(estate, app, admin, connected=flow == "connect")
    assert_only_ours_deleted(admin, mark)


def test_a_workload_that_cannot_be_unwired_keeps_its_secret_and_linker(estate, app, admin):
    """The plan deletes a removed connection's secret because its rewires take every reference away. If a rewire
    keeps failing (every pass of the run), the secret it still references and the linker stay until it succeeds."""
    assert app.events.handle(connect_everything(estate)).ok
    events = disconnect_everything(estate)
    mark = admin.mark()
    inject(admin, fault("status", "kube", "PATCH", r"/namespaces/shop/deployments/api$", status=503, times=None))
    report = attempt(lambda: app.events.handle(events), may_raise=()).report
    assert not report.ok and any("deployment/shop/api" in o.action.describe() for r in report.runs for o in r.failed)
    assert_references_resolve(estate)  # api still uses the SQL secret: it must still exist
    sql = [lk for lk in estate.linkers() if "orders" in lk["properties"]["targetService"]["id"]]
    assert len(sql) == 1, "the SQL linker went while its secret is still in use"
    clear_faults(admin)
    assert app.events.handle(events).ok
    assert_converged(estate, app, admin, connected=False)
    assert_only_ours_deleted(admin, mark)


def test_a_kubernetes_server_error_on_a_read_is_retried_within_the_run(estate, app, admin):
    events = connect_everything(estate)
    inject(admin, fault("status", "kube", "GET", r"/apis/apps/v1/deployments$", status=500))
    report = app.events.handle(events)
    assert_every_fault_hit(admin)
    assert report.ok, report.summary()


def test_a_throttled_kubernetes_read_is_retried_within_the_run(estate, app, admin):
    """A 429 or 503 with Retry-After on a read or a delete is retried by the transport (urllib3's default policy)."""
    events = connect_everything(estate)
    inject(admin, fault("throttle", "kube", "GET", r"/apis/apps/v1/deployments$", retry_after=1),
           fault("status", "kube", "GET", r"/api/v1/secrets$", status=503, retry_after=1))  # fmt: skip
    report = app.events.handle(events)
    assert_every_fault_hit(admin)
    assert report.ok, report.summary()
    assert_converged(estate, app, admin)
