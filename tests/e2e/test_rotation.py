"""Password rotation end to end on the local cloud, through the real clients: a new Key Vault version reaches the
connection's secret once (with its own consent) and each consumer's pods once, confirmed by the workloads' status;
the sweep never calls a secret behind its vault Compliant."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import jsonschema
import pytest
from azure.keyvault.secrets import SecretClient

from shared import report as sweep_report
from shared.core.codes import Code
from shared.core.ids import ResourceRef
from shared.core.rotation import DIGEST_ANNOTATION, ROLLED_AT_ANNOTATION, VERSION_ANNOTATION
from tests.conftest import CLUSTER, DATABASE, OPENAI, Admin, UserCredential, kube_call
from tests.e2e.conftest import CLUSTER_TAGS, OPENAI_TAGS, PASSWORD, PASSWORD_URL, SQL_TAGS, secret_values

VAULT_URL = "https://kv-shop.vault.azure.net"
NAME = "sql-orders-password"
NEW_PASSWORD = "Rotated-P@ssw0rd-2b9e"  # the local cloud's test value
LINKER_WRITES = "/providers/Microsoft.ServiceLinker/linkers/"


@pytest.fixture
def vault(admin: Admin) -> SecretClient:
    """The vault as the platform team sees it (a person with every data action)."""
    return SecretClient(VAULT_URL, UserCredential(admin, "platform-admin"))


@pytest.fixture
def wired(estate, app):
    """The demo estate connected: orders (secret auth: deploy/api and sts/worker) and OpenAI (deploy/web)."""
    estate.tag(CLUSTER, CLUSTER_TAGS)
    estate.tag(DATABASE, SQL_TAGS)
    estate.tag(OPENAI, OPENAI_TAGS)
    report = app.events.handle(estate.new_events())
    assert report.ok, report.summary()
    estate.new_events()  # what the app's own writes raised: handled by now
    return estate


def sql_secret(estate) -> dict:
    [name] = [n for n in _secret_names(estate) if "orders" in n]
    return estate.secret(name)


def _secret_names(estate) -> list[str]:
    return [item["metadata"]["name"] for item in estate.objects().get("secrets", [])
            if item["metadata"]["name"].startswith("sc-") and item["metadata"].get("namespace") == "shop"]  # fmt: skip


def template_annotations(workload: dict) -> dict:
    return workload["spec"]["template"].get("metadata", {}).get("annotations") or {}


def rotate(vault: SecretClient, value: str = NEW_PASSWORD, consent: bool = True):
    """The platform team's rotation: a new version, with its consent (Key Vault does not carry tags over)."""
    return vault.set_secret(NAME, value, tags={"sc-targets": DATABASE} if consent else None).properties


def linker_puts(estate, mark: int) -> list[dict]:
    return [r for r in estate.writes_since(mark) if LINKER_WRITES in r["path"] and r["method"] == "PUT"]


def requeued(report) -> bool:
    """Some cluster waits for something to settle: the delayed queue reconciles it again."""
    return any(run.requeue_after is not None for run in report.runs)


def codes(report) -> list[str]:
    return [str(f.code) for f in report.findings]


def test_a_new_version_with_its_event_reaches_the_secret_and_each_consumer_once(wired, app, admin, vault):
    estate = wired
    before = {name: estate.workload(kind, name) for kind, name in
              (("Deployment", "api"), ("StatefulSet", "worker"), ("Deployment", "web"))}  # fmt: skip
    assert all(DIGEST_ANNOTATION in template_annotations(before[n]) for n in ("api", "worker"))
    mark = admin.mark()
    version = rotate(vault)
    events = estate.new_events(schema="cloudevents")
    assert [e["type"] for e in events] == ["Microsoft.KeyVault.SecretNewVersionCreated"]
    report = app.events.handle(events)
    assert report.ok, report.summary()
    if requeued(report):  # a real control plane's controllers take a moment: the rollout is confirmed later
        assert {str(f.code) for f in report.findings} == {"ROLLOUT_PENDING"}
        estate.rolled_out()
        confirmed = app.events.reconcile_later(ResourceRef.parse(CLUSTER))
        assert confirmed.ok and not requeued(confirmed) and confirmed.applied == []
    assert len(linker_puts(estate, mark)) == 1
    secret = sql_secret(estate)
    assert secret_values(secret)["AZURE_SQL_PASSWORD"] == NEW_PASSWORD
    assert secret["metadata"]["annotations"][VERSION_ANNOTATION] == f"{VAULT_URL}/secrets/{NAME}/{version.version}"
    for name in ("api", "worker"):  # each consumer: its template changed once, so one rollout
        after = estate.workload("Deployment" if name == "api" else "StatefulSet", name)
        assert after["metadata"]["generation"] == before[name]["metadata"]["generation"] + 1
        assert template_annotations(after)[DIGEST_ANNOTATION] != template_annotations(before[name])[DIGEST_ANNOTATION]
        assert after["metadata"]["annotations"][ROLLED_AT_ANNOTATION]
    web = estate.workload("Deployment", "web")  # a bystander: untouched (its status is the controller's)

    def unchanged(w: dict) -> tuple:
        return w["metadata"]["generation"], w["metadata"].get("annotations"), w["spec"]

    assert unchanged(web) == unchanged(before["web"])
    calls = admin.requests_since(mark)
    print("one rotation:", json.dumps(_cost(calls)))
    assert NEW_PASSWORD not in json.dumps([f.to_dict() for f in report.findings])

    mark = admin.mark()  # the same event again (at least once): nothing to write
    again = app.events.handle(events)
    assert again.ok and again.applied == [] and estate.writes_since(mark) == []


def _cost(calls: list[dict]) -> dict:
    """The calls one rotation costs, by service and method (the request log of the local cloud)."""
    cost: dict[str, int] = {}
    for call in calls:
        path = call["path"]
        service = "arm"
        if path.startswith(("/clusters/", "/secrets")):
            service = "kubernetes" if path.startswith("/clusters/") else "keyvault"
        key = f"{service} {call['method']}"
        cost[key] = cost.get(key, 0) + 1
    return cost


def test_the_same_rotation_in_eventgrid_schema_and_through_the_cli(wired, admin, vault, tmp_path, capsys):
    """`handle-event` takes the vault's event as the Functions trigger does (EventGrid schema here)."""
    from shared.cli import main

    rotate(vault)
    events = wired.new_events()
    assert [e["eventType"] for e in events] == ["Microsoft.KeyVault.SecretNewVersionCreated"]
    path = tmp_path / "events.json"
    path.write_text(json.dumps(events))
    mark = admin.mark()
    assert main(["handle-event", str(path)]) == 0, capsys.readouterr()
    assert len(linker_puts(wired, mark)) == 1
    assert secret_values(sql_secret(wired))["AZURE_SQL_PASSWORD"] == NEW_PASSWORD


def test_a_rotation_whose_event_never_arrives_is_not_compliant_and_the_sweep_repairs_it(wired, app, admin, vault):
    rotate(vault, "Second-P@ss-1")
    rotate(vault)  # two versions ahead, and no event delivered
    wired.new_events()
    dry = app.sweeper.run(dry_run=True)
    [orders] = [v for v in dry.clusters[0].verdicts if "orders" in v.connection]
    assert orders.status.value == "Drifted" and [r.code for r in orders.reasons] == [Code.SECRET_STALE]
    mark = admin.mark()
    swept = app.sweeper.run()
    [orders] = [v for v in swept.clusters[0].verdicts if "orders" in v.connection]
    assert orders.repaired and len(linker_puts(wired, mark)) == 1
    assert secret_values(sql_secret(wired))["AZURE_SQL_PASSWORD"] == NEW_PASSWORD
    after = app.sweeper.run(dry_run=True)
    assert {v.status.value for v in after.clusters[0].verdicts} == {"Compliant"}
    [orders] = [v for v in after.clusters[0].verdicts if "orders" in v.connection]
    assert {c.workload: c.rollout for c in orders.consumers} == {
        "deployment/shop/api": "Complete", "statefulset/shop/worker": "Complete"}  # fmt: skip
    assert all(c.rolled_at for c in orders.consumers)
    document = sweep_report.to_json(after)  # the report says when each consumer last rolled onto the current secret
    jsonschema.validate(document, sweep_report.schema())
    [row] = [c for c in document["connections"] if "orders" in c["connection"]]
    assert {c["workload"] for c in row["consumers"]} == {"deployment/shop/api", "statefulset/shop/worker"}
    page = sweep_report.to_html(document)
    assert f"deployment/shop/api: Complete, rolled {row['consumers'][0]['rolledAt']}" in page


def test_a_new_version_without_its_consent_pushes_nothing_and_says_how_to_grant_it(wired, app, admin, vault):
    before = (wired.workload("Deployment", "api"), wired.workload("StatefulSet", "worker"))
    mark = admin.mark()
    version = rotate(vault, consent=False)
    report = app.events.handle(wired.new_events())
    assert linker_puts(wired, mark) == [] and secret_values(sql_secret(wired))["AZURE_SQL_PASSWORD"] == PASSWORD
    assert (wired.workload("Deployment", "api"), wired.workload("StatefulSet", "worker")) == before
    [refusal] = [f for f in report.findings if f.code == Code.CONSENT_MISSING]
    assert version.version in refusal.message
    assert (f"az keyvault secret set-attributes --vault-name kv-shop --name {NAME} --version {version.version} "
            f'--tags "sc-targets={DATABASE}"') in refusal.fix  # fmt: skip
    [orders] = [v for v in app.sweeper.run(dry_run=True).clusters[0].verdicts if "orders" in v.connection]
    assert orders.status.value == "Drifted" and orders.reasons[0].code == Code.SECRET_STALE
    assert "az keyvault secret set-attributes" in orders.reasons[0].fix
    vault.update_secret_properties(NAME, version.version, tags={"sc-targets": DATABASE})  # the owner consents
    mark = admin.mark()
    assert app.applier.apply().ok and len(linker_puts(wired, mark)) == 1
    assert secret_values(sql_secret(wired))["AZURE_SQL_PASSWORD"] == NEW_PASSWORD


def test_a_pinned_version_is_never_rotated_and_says_so(estate, app, admin, vault):
    pinned = vault.get_secret(NAME).properties.version
    estate.tag(CLUSTER, {"sc-group": "shop"})
    estate.tag(DATABASE, {**SQL_TAGS, "sc-sql-password": f"{PASSWORD_URL}/{pinned}"})
    assert app.events.handle(estate.new_events()).ok
    estate.new_events()
    mark = admin.mark()
    rotate(vault)
    report = app.events.handle(estate.new_events())
    assert report.ok and linker_puts(estate, mark) == []
    assert codes(report).count("SECRET_PINNED") == 1
    assert secret_values(sql_secret(estate))["AZURE_SQL_PASSWORD"] == PASSWORD
    [orders] = app.sweeper.run(dry_run=True).clusters[0].verdicts
    assert orders.status.value == "Compliant"


def test_near_expiry_warns_and_expired_is_an_error(wired, app, admin, vault):
    soon = datetime.now(UTC) + timedelta(days=5)
    vault.update_secret_properties(NAME, expires_on=soon)
    raised = admin.post("keyvault/expiry", {})["events"]
    assert [e["eventType"] for e in raised] == ["Microsoft.KeyVault.SecretNearExpiry"]
    assert raised[0]["data"]["EXP"] == int(soon.timestamp())
    wired.new_events()
    report = app.events.handle(raised)
    assert report.ok and codes(report).count("SECRET_NEAR_EXPIRY") == 1
    [orders] = [v for v in app.sweeper.run(dry_run=True).clusters[0].verdicts if "orders" in v.connection]
    assert orders.status.value == "Compliant" and [r.code for r in orders.reasons] == [Code.SECRET_NEAR_EXPIRY]
    vault.update_secret_properties(NAME, expires_on=datetime.now(UTC) - timedelta(minutes=1))
    assert [e["eventType"] for e in admin.post("keyvault/expiry", {})["events"]] == ["Microsoft.KeyVault.SecretExpired"]
    [orders] = [v for v in app.sweeper.run(dry_run=True).clusters[0].verdicts if "orders" in v.connection]
    assert orders.status.value == "Error" and [r.code for r in orders.reasons] == [Code.SECRET_EXPIRED]


def test_a_rollout_is_pending_until_it_completes_and_stuck_past_its_deadline(wired, app, admin, vault):
    hold = {"cluster": CLUSTER, "namespace": "shop", "mode": "hold"}
    admin.post("rollouts", {**hold, "kind": "Deployment", "name": "api"})
    admin.post("rollouts", {**hold, "kind": "StatefulSet", "name": "worker"})
    rotate(vault)
    report = app.events.handle(wired.new_events())
    assert report.ok and requeued(report)  # the delayed queue looks again
    assert codes(report).count("ROLLOUT_PENDING") == 2
    [orders] = [v for v in app.sweeper.run(dry_run=True).clusters[0].verdicts if "orders" in v.connection]
    assert orders.status.value == "Pending" and {r.code for r in orders.reasons} == {Code.ROLLOUT_PENDING}
    admin.post("rollouts", {**hold, "kind": "Deployment", "name": "api", "mode": "complete"})
    admin.post("rollouts", {**hold, "kind": "StatefulSet", "name": "worker", "mode": "complete"})
    mark = admin.mark()
    again = app.applier.apply()
    assert again.ok and not requeued(again) and "ROLLOUT_PENDING" not in codes(again)
    assert wired.writes_since(mark) == []  # confirming writes nothing

    # a Deployment whose new pods never become ready: past progressDeadlineSeconds it is stuck
    kube_call(admin, CLUSTER, "PATCH", "/apis/apps/v1/namespaces/shop/deployments/api",
              {"spec": {"progressDeadlineSeconds": 1}}, "application/merge-patch+json")  # fmt: skip
    admin.post("rollouts", {**hold, "kind": "Deployment", "name": "api"})
    rotate(vault, "Third-P@ss-3")
    assert app.events.handle(wired.new_events()).ok
    time.sleep(1.5)
    report = app.applier.apply()
    [stuck] = [f for f in report.findings if f.code == Code.ROLLOUT_STUCK]
    assert "deployment/api" in stuck.message and "has timed out progressing" in stuck.message
    [orders] = [v for v in app.sweeper.run(dry_run=True).clusters[0].verdicts if "orders" in v.connection]
    assert orders.status.value == "Error" and Code.ROLLOUT_STUCK in {r.code for r in orders.reasons}


def test_an_estate_wired_before_versions_were_recorded_is_adopted_without_a_restart(wired, app, admin, vault):
    """The first run after the upgrade: one re-put per secret-auth connection (same value), a baseline digest on each
    consumer's metadata (its pods are not restarted); the next rotation then rolls each consumer once."""
    secret = sql_secret(wired)
    path = f"/api/v1/namespaces/shop/secrets/{secret['metadata']['name']}"
    remove = [{"op": "remove", "path": "/metadata/annotations/" + VERSION_ANNOTATION.replace("/", "~1")}]
    kube_call(admin, CLUSTER, "PATCH", path, remove, "application/json-patch+json")
    digest = "/spec/template/metadata/annotations/" + DIGEST_ANNOTATION.replace("/", "~1")
    for plural, name in (("deployments", "api"), ("statefulsets", "worker")):
        kube_call(admin, CLUSTER, "PATCH", f"/apis/apps/v1/namespaces/shop/{plural}/{name}",
                  [{"op": "remove", "path": digest}], "application/json-patch+json")  # fmt: skip
    before = {n: wired.workload(k, n) for k, n in (("Deployment", "api"), ("StatefulSet", "worker"))}
    mark = admin.mark()
    assert app.applier.apply().ok
    assert len(linker_puts(wired, mark)) == 1 and secret_values(sql_secret(wired))["AZURE_SQL_PASSWORD"] == PASSWORD
    for kind, name in (("Deployment", "api"), ("StatefulSet", "worker")):
        after = wired.workload(kind, name)
        assert after["spec"]["template"] == before[name]["spec"]["template"]  # not restarted
        assert after["metadata"]["annotations"][DIGEST_ANNOTATION]  # the baseline
    rotate(vault)
    assert app.events.handle(wired.new_events()).ok
    for kind, name in (("Deployment", "api"), ("StatefulSet", "worker")):
        after = wired.workload(kind, name)
        assert DIGEST_ANNOTATION in template_annotations(after)  # rolled, once
        assert DIGEST_ANNOTATION not in after["metadata"]["annotations"]


def test_a_run_rolls_at_most_its_allowance_and_requeues_the_rest(wired, admin, vault, monkeypatch):
    """SC_MAX_ROLLOUTS_PER_RUN=1: the rotation rolls one consumer, holds the other (ROLLOUTS_HELD, requeued); the
    delayed queue's run rolls it."""
    from shared.config import Settings
    from shared.container import Application

    monkeypatch.setenv("SC_MAX_ROLLOUTS_PER_RUN", "1")
    app = Application(Settings.from_env())
    before = {n: wired.workload(k, n) for k, n in (("Deployment", "api"), ("StatefulSet", "worker"))}
    rotate(vault)
    report = app.events.handle(wired.new_events())
    assert report.ok and requeued(report) and codes(report).count("ROLLOUTS_HELD") == 1
    rolled = [n for k, n in (("Deployment", "api"), ("StatefulSet", "worker"))
              if template_annotations(wired.workload(k, n)) != template_annotations(before[n])]  # fmt: skip
    assert rolled == ["api"]
    later = app.events.reconcile_later(ResourceRef.parse(CLUSTER))
    assert later.ok and "ROLLOUTS_HELD" not in codes(later)
    assert template_annotations(wired.workload("StatefulSet", "worker")) != template_annotations(before["worker"])
