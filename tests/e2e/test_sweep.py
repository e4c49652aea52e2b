"""The compliance sweep on the local cloud: verdicts, drift repaired, orphans annotated then cleaned, report."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import jsonschema
import pytest

from shared import report
from shared.config import Settings
from shared.container import Application
from shared.core.verdicts import Status
from tests.conftest import CLUSTER, DATABASE, OPENAI, Admin, demo_spec
from tests.e2e.conftest import CLUSTER_TAGS, OPENAI_TAGS, SQL_TAGS, Estate, env_from_secrets

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
STALE = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sc-oldconnection-secret", "namespace": "shop"},
         "data": {}}  # fmt: skip


def wire_everything(estate, app):
    estate.tag(CLUSTER, CLUSTER_TAGS)
    estate.tag(DATABASE, SQL_TAGS)
    estate.tag(OPENAI, OPENAI_TAGS)
    assert app.events.handle(estate.new_events()).ok
    estate.rolled_out()  # a sweep during a rollout rightly says Pending


def statuses(result):
    return [v.status for c in result.clusters for v in c.verdicts]


@pytest.mark.realkube
def test_a_compliant_estate_swept_twice_makes_zero_writes(estate, app, admin):
    wire_everything(estate, app)
    mark = admin.mark()
    for _ in range(2):
        result = app.sweeper.run(now=NOW)
        assert statuses(result) == [Status.COMPLIANT, Status.COMPLIANT]
    assert estate.writes_since(mark) == []


@pytest.mark.realkube
def test_drift_is_repaired_and_reverified(estate, app, admin, cloud):
    wire_everything(estate, app)
    runtime = cloud.cloud.clusters.runtime(CLUSTER)
    api = runtime.store.get("deployments", "shop", "api")
    api["spec"]["template"]["spec"]["containers"][0].pop("envFrom")
    runtime.store.apply(api)
    estate.rolled_out()
    result = app.sweeper.run(now=NOW)
    drifted = [v for c in result.clusters for v in c.verdicts if v.status is Status.DRIFTED]
    assert len(drifted) == 1 and drifted[0].repaired
    assert [r.code for r in drifted[0].reasons] == ["WORKLOAD_NOT_WIRED"]
    assert env_from_secrets(estate.workload("Deployment", "api"))
    estate.rolled_out()
    assert statuses(app.sweeper.run(now=NOW)) == [Status.COMPLIANT, Status.COMPLIANT]


def test_a_deleted_secret_and_federated_credential_are_found(estate, app, cloud):
    wire_everything(estate, app)
    runtime = cloud.cloud.clusters.runtime(CLUSTER)
    secret = env_from_secrets(estate.workload("Deployment", "api"))[0]
    runtime.store.delete("secrets", "shop", secret)
    result = app.sweeper.run(dry_run=True, now=NOW)
    codes = {r.code for c in result.clusters for v in c.verdicts for r in v.reasons}
    assert {"SECRET_MISSING", "LINKER_DRIFTED"} <= codes


@pytest.mark.realkube
def test_orphans_are_annotated_first_then_deleted_after_the_grace_period(make_cloud, monkeypatch):
    spec = demo_spec()
    cluster = spec["subscriptions"][0]["resource_groups"][0]["clusters"][0]
    cluster["tags"] = {"sc-group": "shop"}
    cluster["kubernetes"]["objects"] = [STALE]
    cloud = make_cloud(spec)
    monkeypatch.setenv("SC_CLEANUP_MODE", "delete")
    estate, app = Estate(Admin(cloud)), Application(Settings.from_env())
    first = app.sweeper.run(now=NOW)
    assert [o.state for o in first.clusters[0].orphans] == ["first-seen"]
    assert estate.secret("sc-oldconnection-secret")["metadata"]["annotations"]["sc-autopilot.io/orphaned-since"]
    assert [o.state for o in app.sweeper.run(now=NOW + timedelta(hours=1)).clusters[0].orphans] == ["waiting"]
    planned = app.sweeper.run(dry_run=True, now=NOW + timedelta(hours=25))
    assert [o.state for o in planned.clusters[0].orphans] == ["deleting"]  # a dry run says what it would do
    later = app.sweeper.run(now=NOW + timedelta(hours=25))
    assert [o.state for o in later.clusters[0].orphans] == ["deleted"]  # a run says what happened
    assert estate.secret("sc-oldconnection-secret") is None


def test_report_mode_keeps_orphans_and_referenced_ones_are_never_deleted(make_cloud, monkeypatch):
    spec = demo_spec()
    cluster = spec["subscriptions"][0]["resource_groups"][0]["clusters"][0]
    cluster["tags"] = {"sc-group": "shop"}
    kept = {**STALE, "metadata": {**STALE["metadata"], "name": "sc-userlookalike-secret"}}
    cluster["kubernetes"]["objects"] = [STALE, kept]
    for workload in cluster["kubernetes"]["workloads"]:
        if workload["name"] == "web":
            workload["envFrom"] = [{"secretRef": {"name": "sc-userlookalike-secret"}}]
    cloud = make_cloud(spec)
    estate = Estate(Admin(cloud))
    app = Application(Settings.from_env())
    app.sweeper.run(now=NOW)
    result = app.sweeper.run(now=NOW + timedelta(hours=48))
    assert {o.name: o.state for o in result.clusters[0].orphans} == {
        "sc-oldconnection-secret": "report-only", "sc-userlookalike-secret": "in-use"}  # fmt: skip
    monkeypatch.setenv("SC_CLEANUP_MODE", "delete")
    monkeypatch.setenv("SC_MAX_DELETIONS_PER_RUN", "0")
    capped = Application(Settings.from_env()).sweeper.run(now=NOW + timedelta(hours=48))
    assert {o.name: o.state for o in capped.clusters[0].orphans}["sc-oldconnection-secret"] == "capped"
    assert estate.secret("sc-userlookalike-secret") and estate.secret("sc-oldconnection-secret")


def test_report_json_matches_its_schema_and_html_renders(estate, app, tmp_path):
    wire_everything(estate, app)
    document = report.to_json(app.sweeper.run(dry_run=True, now=NOW))
    jsonschema.validate(document, report.schema())
    assert document["summary"]["verdicts"]["Compliant"] == 2
    page = report.to_html(document)
    assert page.startswith("<!doctype html>") and "oai-shop" in page
    assert "<script src" not in page and "<link" not in page and "default-src 'none'" in page  # self-contained


def test_protected_namespaces_are_never_swept(make_cloud, monkeypatch):
    spec = demo_spec()
    cluster = spec["subscriptions"][0]["resource_groups"][0]["clusters"][0]
    cluster["tags"] = {"sc-group": "shop"}
    cluster["kubernetes"]["objects"] = [{**STALE, "metadata": {**STALE["metadata"], "namespace": "kube-system"}}]
    make_cloud(spec)
    monkeypatch.setenv("SC_CLEANUP_MODE", "delete")
    result = Application(Settings.from_env()).sweeper.run(now=NOW)
    assert result.clusters[0].orphans == [] and dataclasses.asdict(result.clusters[0])["changes"] == []


def test_a_busy_cluster_gives_pending(estate, app, admin):
    wire_everything(estate, app)
    admin.post("provisioning-state", {"id": CLUSTER, "state": "Updating"})
    assert statuses(app.sweeper.run(dry_run=True, now=NOW)) == [Status.PENDING, Status.PENDING]


def test_an_extension_in_trouble_gives_error(estate, app, admin):
    wire_everything(estate, app)
    extension = f"{CLUSTER}/providers/Microsoft.KubernetesConfiguration/extensions/sc-extension"
    admin.post("provisioning-state", {"id": extension, "state": "Failed"})
    result = app.sweeper.run(dry_run=True, now=NOW)
    assert statuses(result) == [Status.ERROR, Status.ERROR]
    assert {r.code for v in result.clusters[0].verdicts for r in v.reasons} == {"EXTENSION_NOT_READY"}


def test_untagged_and_deleted_targets_give_orphaned_then_are_cleaned(estate, app):
    wire_everything(estate, app)
    estate.untag(DATABASE, "sc-group")
    estate.delete(OPENAI, api_version="2024-10-01")
    result = app.sweeper.run(dry_run=True, now=NOW)
    reasons = {v.target.rsplit("/", 1)[-1]: [r.code for r in v.reasons] for v in result.clusters[0].verdicts}
    assert statuses(result) == [Status.ORPHANED, Status.ORPHANED]
    assert reasons == {"orders": ["NOT_WANTED"], "oai-shop": ["TARGET_DELETED"]}
    app.sweeper.run(now=NOW)
    assert estate.linkers() == [] and env_from_secrets(estate.workload("Deployment", "api")) == []


def validated(admin, mark: int) -> list[str]:
    return [r["path"].rsplit("/", 2)[-2] for r in admin.requests_since(mark) if r["path"].endswith("/validateLinker")]


def test_the_validate_budget_is_spent_where_it_matters(estate, app, admin, monkeypatch):
    wire_everything(estate, app)
    monkeypatch.setenv("SC_VALIDATE_BUDGET", "1")
    monkeypatch.setenv("SC_VALIDATE_EVERY_HOURS", "1")  # both connections due every sweep: the budget decides
    mark = admin.mark()
    Application(Settings.from_env()).sweeper.run(dry_run=True, now=NOW)
    assert len(validated(admin, mark)) == 1


def test_each_connection_is_validated_once_a_day_by_default(estate, app, admin):
    wire_everything(estate, app)
    mark = admin.mark()
    for hour in range(24):  # a day of hourly sweeps
        app.sweeper.run(dry_run=True, now=NOW + timedelta(hours=hour))
    assert sorted(validated(admin, mark)) == sorted(linker["name"] for linker in estate.linkers())
