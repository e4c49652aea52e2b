"""Tags -> ARM events -> Service Connector connections -> patched workloads, on the local cloud."""

from __future__ import annotations

import logging
import random

import kubernetes_validate
import pytest

from tests.conftest import CLUSTER, DATABASE, OPENAI
from tests.e2e.conftest import CLUSTER_TAGS, OPENAI_TAGS, PASSWORD, SQL_TAGS, env_from_secrets, secret_values


def connect_sql(estate, app):
    estate.tag(CLUSTER, {"sc-group": "shop"})
    estate.tag(DATABASE, SQL_TAGS)
    return app.events.handle(estate.new_events())


@pytest.mark.realkube
def test_sql_secret_connection_end_to_end(estate, app):
    report = connect_sql(estate, app)
    assert report.ok, report.summary()
    [linker] = estate.linkers()
    assert linker["name"].startswith("scap_") and linker["properties"]["scope"] == "shop"
    auth = {"authType": "secret", "name": "orders_app", "secretInfo": {"secretType": "rawValue"}}  # no value
    assert linker["properties"]["authInfo"] == auth
    secret_name = f"sc-{linker['name'].replace('_', '').replace('.', '')}-secret".lower()
    assert secret_values(estate.secret(secret_name))["AZURE_SQL_PASSWORD"] == PASSWORD
    for kind, name in (("Deployment", "api"), ("StatefulSet", "worker")):
        workload = estate.workload(kind, name)
        assert env_from_secrets(workload) == [secret_name]
        kubernetes_validate.validate(workload, "1.33.0", strict=True)
    assert env_from_secrets(estate.workload("Deployment", "web")) == []  # not named: untouched


@pytest.mark.realkube
def test_a_second_run_makes_zero_writes(estate, app, admin):
    connect_sql(estate, app)
    mark = admin.mark()
    report = app.applier.apply()
    assert report.ok and report.applied == []
    assert estate.writes_since(mark) == []


def test_openai_workload_identity_end_to_end(estate, app, admin):
    estate.tag(CLUSTER, CLUSTER_TAGS)
    estate.tag(OPENAI, OPENAI_TAGS)
    report = app.events.handle(estate.new_events(schema="cloudevents"))
    assert report.ok, report.summary()
    [linker] = estate.linkers()
    client_id = linker["properties"]["authInfo"]["clientId"]
    web = estate.workload("Deployment", "web")
    spec = web["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == f"sc-account-{client_id}"
    assert web["spec"]["template"]["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    containers = {c["name"]: c for c in spec["containers"]}
    assert "envFrom" in containers["web"] and "envFrom" not in containers["nginx"]
    report_job = estate.workload("CronJob", "report")
    template = report_job["spec"]["jobTemplate"]["spec"]["template"]
    assert template["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    assert template["spec"]["serviceAccountName"] == f"sc-account-{client_id}"
    fics = [r for r in admin.state()["resources"] if r["type"].endswith("federatedIdentityCredentials")]
    assert [f["properties"]["subject"] for f in fics] == [f"system:serviceaccount:shop:sc-account-{client_id}"]


def test_duplicated_reordered_and_replayed_events_converge(estate, app, admin):
    estate.tag(CLUSTER, {"sc-group": "shop"})
    estate.tag(DATABASE, SQL_TAGS)
    events = estate.new_events()
    shuffled = events * 3
    random.Random(7).shuffle(shuffled)
    assert app.events.handle(shuffled).ok
    state_after = (estate.linkers(), estate.workload("Deployment", "api"))
    mark = admin.mark()
    assert app.events.handle(events).ok  # a replay much later
    assert estate.writes_since(mark) == []
    assert (estate.linkers(), estate.workload("Deployment", "api")) == state_after


def test_a_cluster_that_is_updating_is_deferred_then_converges(estate, app, admin):
    admin.post("provisioning-state", {"id": CLUSTER, "state": "Updating"})
    report = connect_sql(estate, app)
    assert report.deferred and not estate.linkers()
    assert any(f.code == "CLUSTER_NOT_READY" for f in report.findings)
    admin.post("provisioning-state", {"id": CLUSTER, "state": "Succeeded"})
    assert app.applier.apply().ok
    assert len(estate.linkers()) == 1 and env_from_secrets(estate.workload("Deployment", "api"))


@pytest.mark.realkube
def test_removing_the_group_tag_reverses_the_wiring(estate, app):
    connect_sql(estate, app)
    assert len(estate.linkers()) == 1
    secret_name = env_from_secrets(estate.workload("Deployment", "api"))[0]
    assert estate.secret(secret_name) is not None  # so its absence below is the removal's doing
    estate.untag(DATABASE, "sc-group")
    assert app.events.handle(estate.new_events()).ok
    assert estate.linkers() == []
    assert env_from_secrets(estate.workload("Deployment", "api")) == []
    assert estate.secret(secret_name) is None


def test_deleting_the_target_reverses_the_wiring(estate, app):
    connect_sql(estate, app)
    estate.delete(DATABASE)
    assert app.events.handle(estate.new_events()).ok
    assert estate.linkers() == []
    assert env_from_secrets(estate.workload("StatefulSet", "worker")) == []


def test_pause_leaves_everything_alone(estate, app, admin):
    connect_sql(estate, app)
    before = estate.workload("Deployment", "api")
    estate.tag(DATABASE, {"sc-pause": "true"})
    estate.untag(DATABASE, "sc-workloads")
    mark = admin.mark()
    assert app.events.handle(estate.new_events()).ok
    assert estate.writes_since(mark) == [] and estate.workload("Deployment", "api") == before


def test_protected_namespace_is_never_touched(estate, app):
    estate.tag(CLUSTER, {"sc-group": "shop"})
    estate.tag(DATABASE, {**SQL_TAGS, "sc-namespace": "kube-system", "sc-workloads": "deployment/coredns"})
    report = app.events.handle(estate.new_events())
    assert estate.linkers() == []
    assert any(f.tag == "sc-namespace" for f in report.findings)


def test_a_foreign_service_account_is_not_replaced(make_cloud):
    from tests.conftest import Admin, demo_spec
    from tests.e2e.conftest import Estate

    spec = demo_spec()
    cluster = spec["subscriptions"][0]["resource_groups"][0]["clusters"][0]
    for workload in cluster["kubernetes"]["workloads"]:
        if workload["name"] == "web":
            workload["serviceAccountName"] = "payments-sa"
    cloud = make_cloud(spec)
    from shared.config import Settings
    from shared.container import Application

    estate, app = Estate(Admin(cloud)), Application(Settings.from_env())
    estate.tag(CLUSTER, CLUSTER_TAGS)
    estate.tag(OPENAI, OPENAI_TAGS)
    report = app.events.handle(estate.new_events())
    assert any(f.code == "SA_CONFLICT" for f in report.findings)
    assert estate.workload("Deployment", "web")["spec"]["template"]["spec"]["serviceAccountName"] == "payments-sa"


def test_invalid_tags_give_findings_and_do_not_block_others(estate, app):
    estate.tag(CLUSTER, CLUSTER_TAGS)
    estate.tag(DATABASE, {**SQL_TAGS, "sc-workloads": "pod/api;rm -rf /"})
    estate.tag(OPENAI, OPENAI_TAGS)
    report = app.events.handle(estate.new_events())
    bad = [f for f in report.findings if f.tag == "sc-workloads"]
    assert bad and DATABASE.lower() in bad[0].resource_id.lower() and bad[0].fix
    assert len(estate.linkers()) == 1  # the OpenAI connection still happened


def test_throttling_storms_and_server_errors_converge(estate, app, admin):
    estate.tag(CLUSTER, {"sc-group": "shop"})
    estate.tag(DATABASE, SQL_TAGS)
    admin.post("faults", [
        {"kind": "throttle", "service": "arm", "method": "PUT", "path": "linkers", "times": 2, "retry_after": 0},
        {"kind": "status", "status": 503, "service": "arm", "method": "GET", "path": "managedClusters", "times": 2,
         "retry_after": 0},
        {"kind": "status", "status": 500, "service": "kube", "method": "PATCH", "path": "deployments", "times": 1},
    ])  # fmt: skip
    app.events.handle(estate.new_events())
    app.applier.apply()
    assert len(estate.linkers()) == 1
    assert len(env_from_secrets(estate.workload("Deployment", "api"))) == 1


def test_no_log_line_carries_the_password(estate, app, caplog):
    caplog.set_level(logging.DEBUG)
    connect_sql(estate, app)
    app.applier.apply()
    assert caplog.records
    assert all(PASSWORD not in record.getMessage() for record in caplog.records)


def test_a_missing_right_becomes_a_finding_naming_action_and_scope(make_cloud):
    from shared.config import Settings
    from shared.container import Application
    from tests.conftest import Admin, demo_spec
    from tests.e2e.conftest import Estate

    spec = demo_spec()
    app_grants = spec["principals"][0]["grants"][0]
    app_grants["actions"] = [a for a in app_grants["actions"] if not a.endswith("register/action")]
    cloud = make_cloud(spec)
    estate, app = Estate(Admin(cloud)), Application(Settings.from_env())
    estate.tag(CLUSTER, {"sc-group": "shop"})
    estate.tag(DATABASE, SQL_TAGS)
    report = app.events.handle(estate.new_events())
    [finding] = [f for f in report.findings if f.code == "PERMISSION_MISSING"]
    assert "Microsoft.KubernetesConfiguration/register/action" in finding.message
    assert f"/subscriptions/{cloud.subscriptions[0]}" in finding.fix
    assert not report.ok and estate.linkers() == []
