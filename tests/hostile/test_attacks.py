"""Each attack of issue 11 (and its variants), run by Mallory through the ARM tags API and the real entry points:
every one is refused with a CONSENT_MISSING finding naming the object and the grant, nothing is written outside
what the consents allow, the payments password reaches no namespace, and the shop's own flow still works."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from shared.cli import main
from shared.config import Settings
from shared.container import Application
from shared.core.codes import Code
from shared.core.manifests import pod_spec
from tests.conftest import CLUSTER, DATABASE, OPENAI, Admin, kube_call
from tests.e2e.conftest import CLUSTER_TAGS, OPENAI_TAGS, SQL_TAGS, Estate, env_from_secrets
from tests.hostile.conftest import (
    CENTRAL_VAULT,
    CENTRAL_VAULT_ID,
    DEPLOYER,
    EVIL_CLUSTER,
    EVIL_OPENAI,
    EVIL_POSTGRES,
    FOREIGN_IDENTITY,
    LOOT_DB,
    PAYMENTS_STORAGE,
    SHOP_IDENTITY,
    Attacker,
    consent_findings,
    federated_credentials,
    leaked_secrets,
    linkers_to,
    vault,
)

TO_SHOP = {"sc-clusters": CLUSTER}  # Mallory's own targets consent to the shop cluster: she owns them
SECRET = "payments-db-password"


def loot(url: str) -> dict[str, str]:
    """Her database on the shop cluster, in her own namespace, with the central vault's payments password."""
    return {"sc-group": "shop", "sc-namespace": "mallory", "sc-sql-user": "app", "sc-sql-password": url, **TO_SHOP}


@dataclass(frozen=True)
class Attack:
    name: str
    tags: Callable[[Admin], dict[str, dict[str, str]]]  # resource id -> tags Mallory writes
    refused: str  # the object the CONSENT_MISSING finding names


def _older_version(admin: Admin) -> str:
    """The payments password's first version (the platform team rotated it since)."""
    client = vault(admin)
    first = client.get_secret(SECRET).properties.version
    client.set_secret(SECRET, "Payments-R0tated-P@ss", tags={"sc-targets": "/subscriptions/none"})
    return first


ATTACKS = [
    Attack("keyvault-exfiltration", lambda a: {LOOT_DB: loot(f"{CENTRAL_VAULT}/secrets/{SECRET}")}, LOOT_DB),
    Attack("keyvault-older-version",
           lambda a: {LOOT_DB: loot(f"{CENTRAL_VAULT}/secrets/{SECRET}/{_older_version(a)}")}, LOOT_DB),
    Attack("keyvault-upper-case-host",
           lambda a: {LOOT_DB: loot(f"https://KV-CENTRAL.VAULT.AZURE.NET/secrets/{SECRET}")}, LOOT_DB),
    Attack("keyvault-port-443",
           lambda a: {LOOT_DB: loot(f"https://kv-central.vault.azure.net:443/secrets/{SECRET}")}, LOOT_DB),
    Attack("keyvault-trailing-slash", lambda a: {LOOT_DB: loot(f"{CENTRAL_VAULT}/secrets/{SECRET}/")}, LOOT_DB),
    Attack("cross-namespace-wiring",
           lambda a: {EVIL_OPENAI: {"sc-group": "shop", "sc-namespace": "payments", "sc-auth": "secret",
                                    "sc-workloads": "deploy/payments-api", **TO_SHOP}}, EVIL_OPENAI),
    Attack("namespace-creation",
           lambda a: {EVIL_OPENAI: {"sc-group": "shop", "sc-namespace": "fresh", "sc-auth": "secret", **TO_SHOP}},
           EVIL_OPENAI),
    Attack("identity-hijack",
           lambda a: {EVIL_CLUSTER: {"sc-group": "evil", "sc-identity": DEPLOYER},
                      EVIL_OPENAI: {"sc-group": "evil", "sc-namespace": "loot"}}, DEPLOYER),
    Attack("identity-outside-subscriptions",
           lambda a: {EVIL_CLUSTER: {"sc-group": "evil", "sc-identity": FOREIGN_IDENTITY},
                      EVIL_OPENAI: {"sc-group": "evil", "sc-namespace": "loot"}}, EVIL_CLUSTER),
    Attack("identity-into-attacker-namespace",
           lambda a: {EVIL_OPENAI: {"sc-group": "shop", "sc-namespace": "mallory", **TO_SHOP}}, SHOP_IDENTITY),
    Attack("identity-hijack-via-shop-group",
           lambda a: {EVIL_CLUSTER: {"sc-group": "shop", "sc-identity": SHOP_IDENTITY}}, OPENAI),
    Attack("group-squatting-workload",
           lambda a: {EVIL_OPENAI: {"sc-group": "shop", "sc-namespace": "shop", "sc-auth": "secret",
                                    "sc-workloads": "deploy/api", **TO_SHOP}}, EVIL_OPENAI),
    Attack("group-squatting-cluster", lambda a: {EVIL_CLUSTER: {"sc-group": "shop"}}, DATABASE),
    # a user secret on a flexible server (sc-password, the new generic tag): the vault's consent holds
    Attack("flexible-server-keyvault-exfiltration",
           lambda a: {EVIL_POSTGRES: {"sc-group": "shop", "sc-namespace": "mallory", "sc-database": "loot",
                                      "sc-user": "app", "sc-password": f"{CENTRAL_VAULT}/secrets/{SECRET}",
                                      **TO_SHOP}}, EVIL_POSTGRES),
    # keys Service Connector would fetch with the app's listKeys: her cluster joins the storage account's group
    Attack("fetched-keys-group-squatting", lambda a: {EVIL_CLUSTER: {"sc-group": "payments"}}, PAYMENTS_STORAGE),
    # Key Vault for the CSI driver (the add-on identity would get Key Vault Secrets User on it): the same squat
    Attack("csi-vault-group-squatting", lambda a: {EVIL_CLUSTER: {"sc-group": "platform"}}, CENTRAL_VAULT_ID),
]  # fmt: skip


def legitimate_flow(estate: Estate) -> None:
    """The platform team's own tags (every owner in rg-shop consents in the scenario)."""
    estate.tag(CLUSTER, CLUSTER_TAGS)
    estate.tag(DATABASE, SQL_TAGS)
    estate.tag(OPENAI, OPENAI_TAGS)


def assert_contained(admin: Admin, estate: Estate) -> None:
    """Nothing outside the consents: no password leak, no linker for Mallory, no federation she asked for, the
    other namespaces untouched, and the shop's workloads carry only the shop's own connections."""
    assert leaked_secrets(admin) == []
    assert (
        linkers_to(
            admin,
            LOOT_DB,
            EVIL_OPENAI,
            f"{EVIL_POSTGRES}/databases/loot",
            CENTRAL_VAULT_ID,
            *(f"{PAYMENTS_STORAGE}/{s}Services/default" for s in ("blob", "queue", "table", "file")),
        )
        == []
    )
    assert [r for r in admin.state()["resources"] if "/linkers/" in r["id"] and r["id"].startswith(EVIL_CLUSTER)] == []
    assert federated_credentials(admin, DEPLOYER) == [] and federated_credentials(admin, FOREIGN_IDENTITY) == []
    shop_subjects = {r["properties"]["subject"] for r in admin.state()["resources"]
                     if r["id"].lower().startswith(SHOP_IDENTITY.lower() + "/")}  # fmt: skip
    assert all(s.startswith("system:serviceaccount:shop:") for s in shop_subjects)
    objects = admin.cluster_objects(CLUSTER)
    for kind in ("secrets", "serviceaccounts"):
        outside = [o["metadata"] for o in objects.get(kind, [])
                   if o["metadata"]["namespace"] in ("payments", "mallory", "fresh")
                   and o["metadata"]["name"].startswith("sc-")]  # fmt: skip
        assert outside == []
    assert "fresh" not in {n["metadata"]["name"] for n in objects.get("namespaces", [])}
    payments_api = estate.workload("Deployment", "payments-api", "payments")
    assert "annotations" not in payments_api["metadata"] and env_from_secrets(payments_api) == []
    shop_secrets = {f"sc-{link['name'].replace('_', '')}-secret" for link in estate.linkers()}
    assert set(env_from_secrets(estate.workload("Deployment", "api"))) <= shop_secrets


def assert_shop_still_works(estate: Estate) -> None:
    api, web = estate.workload("Deployment", "api"), estate.workload("Deployment", "web")
    assert len(env_from_secrets(api)) == 1 and len(env_from_secrets(web, "web")) == 1
    assert pod_spec(web)["serviceAccountName"].startswith("sc-account-")


def mount(attack: Attack, admin: Admin, attacker: Attacker) -> None:
    for resource_id, tags in attack.tags(admin).items():
        attacker.tag(resource_id, tags)


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_each_attack_is_refused_through_the_events(attack, estate, admin, attacker, app):
    legitimate_flow(estate)
    mount(attack, admin, attacker)
    report = app.events.handle(estate.new_events())
    refusals = consent_findings(report.findings, attack.refused)
    assert refusals, [f.to_dict() for f in report.findings]
    assert all("sc-" in f.fix for f in refusals)  # the tag or annotation that grants it
    assert_contained(admin, estate)
    assert_shop_still_works(estate)


def test_mallory_cannot_tag_what_she_does_not_own(attacker):
    from azure.core.exceptions import HttpResponseError

    for resource_id in (CLUSTER, DATABASE, DEPLOYER):
        with pytest.raises(HttpResponseError) as refused:
            attacker.tag(resource_id, {"sc-clusters": EVIL_CLUSTER, "sc-namespaces": "mallory"})
        assert refused.value.status_code == 403


def _all_attacks(estate: Estate, admin: Admin, attacker: Attacker) -> None:
    """The attacks at once: her database after the payments password, her OpenAI account squatting the shop's
    api, and her cluster in group shop asking for the privileged deployer identity."""
    legitimate_flow(estate)
    attacker.tag(LOOT_DB, loot(f"{CENTRAL_VAULT}/secrets/{SECRET}"))
    attacker.tag(EVIL_OPENAI, {"sc-group": "shop", "sc-namespace": "shop", "sc-auth": "secret",
                               "sc-workloads": "deploy/api", **TO_SHOP})  # fmt: skip
    attacker.tag(EVIL_CLUSTER, {"sc-group": "shop", "sc-identity": DEPLOYER})


def test_apply_and_the_sweep_refuse_them_too(estate, admin, attacker, app, monkeypatch):
    _all_attacks(estate, admin, attacker)
    report = app.applier.apply()
    for refused in (LOOT_DB, EVIL_OPENAI, DEPLOYER, DATABASE, OPENAI):
        assert consent_findings(report.findings, refused), refused
    monkeypatch.setenv("SC_CLEANUP_MODE", "delete")
    now = datetime.now(UTC)
    for when in (now, now + timedelta(hours=25)):
        swept = app.sweeper.run(now=when)
        findings = [f for c in swept.clusters for f in c.findings]
        assert consent_findings(findings, EVIL_OPENAI) and consent_findings(findings, DEPLOYER)
    assert_contained(admin, estate)
    assert_shop_still_works(estate)


def test_the_cli_refuses_them_and_says_how_to_grant(estate, admin, attacker, capsys):
    _all_attacks(estate, admin, attacker)
    main(["--output", "json", "apply"])
    report = json.loads(capsys.readouterr().out)
    findings = report["findings"]
    codes = {(f["code"], f["resource"].lower()) for f in findings}
    assert ("CONSENT_MISSING", EVIL_OPENAI.lower()) in codes and ("CONSENT_MISSING", LOOT_DB.lower()) in codes
    assert any("kubectl annotate namespace shop" in f["fix"] for f in findings)
    assert_contained(admin, estate)


def test_a_connection_never_shadows_keys_the_workload_sets_itself(estate, admin, app):
    legitimate_flow(estate)
    app.events.handle(estate.new_events())
    estate.tag(OPENAI, {"sc-workloads": "deploy/web:web,cronjob/report,deploy/legacy"})
    report = app.events.handle(estate.new_events())
    conflicts = [f for f in report.findings if f.code is Code.ENV_KEY_CONFLICT]
    assert conflicts and "AZURE_OPENAI_BASE" in conflicts[0].message and conflicts[0].resource_id == OPENAI
    assert env_from_secrets(estate.workload("Deployment", "legacy")) == []
    assert_shop_still_works(estate)


def annotate_namespace(admin: Admin, namespace: str, annotations: dict[str, str | None]) -> None:
    """The namespace's owner changes its annotations (a merge patch, as kubectl annotate sends)."""
    kube_call(admin, CLUSTER, "PATCH", f"/api/v1/namespaces/{namespace}", {"metadata": {"annotations": annotations}},
              "application/merge-patch+json")  # fmt: skip


def test_wiring_whose_consent_is_withdrawn_is_held_then_released_only_by_the_orphan_rules(
    estate, admin, app, monkeypatch
):
    legitimate_flow(estate)
    app.events.handle(estate.new_events())
    wired = env_from_secrets(estate.workload("Deployment", "api"))
    assert wired and len(estate.linkers()) == 2
    annotate_namespace(admin, "shop", {"sc-autopilot.io/allowed-targets": None})  # the owner withdraws it
    report = app.applier.apply()
    assert consent_findings(report.findings, DATABASE) and consent_findings(report.findings, OPENAI)
    assert env_from_secrets(estate.workload("Deployment", "api")) == wired and len(estate.linkers()) == 2  # held
    now = datetime.now(UTC)
    app.sweeper.run(now=now)  # report mode: marked, nothing removed
    app.sweeper.run(now=now + timedelta(hours=25))
    assert env_from_secrets(estate.workload("Deployment", "api")) == wired and len(estate.linkers()) == 2
    monkeypatch.setenv("SC_CLEANUP_MODE", "delete")
    monkeypatch.setenv("SC_MAX_DELETIONS_PER_RUN", "1")
    deleting = Application(Settings.from_env())
    deleting.sweeper.run(now=now + timedelta(hours=1))  # within the grace period
    assert len(estate.linkers()) == 2
    deleting.sweeper.run(now=now + timedelta(hours=25))  # due, one per run (the cap)
    assert len(estate.linkers()) == 1
    deleting.sweeper.run(now=now + timedelta(hours=26))
    assert estate.linkers() == [] and env_from_secrets(estate.workload("Deployment", "api")) == []
    assert estate.secret(wired[0]) is None
