"""A wired estate over two subscriptions, for the fail-closed tests (tests/faults/test_fail_closed.py and the
isolation and circuit-breaker tests): the demo's `aks-shop` (SQL with a Key Vault password, OpenAI with workload
identity), a second cluster in the same subscription (`aks-two`, OpenAI with secret auth) and a second subscription
with its own cluster, targets, identity and vault (`aks-ledger`). The sc-autopilot principal is granted on both and
SC_SUBSCRIPTIONS covers both. The other clusters each have deployments app0..app5; app0 is wired at set-up, and
`give_the_others_work` names one more, so a run has additive work on them to prove they go on."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from emulator.runtime import LocalCloud
from shared.core.consent import ALLOWED_TARGETS, NAMESPACES_TAG
from shared.core.manifests import pod_template, read_wirings
from tests.conftest import CLUSTER, DATABASE, OPENAI, SUB, Admin, demo_spec
from tests.e2e.conftest import CLUSTER_TAGS, OPENAI_TAGS, SQL_TAGS, Estate, _iter_objects, env_from_secrets
from tests.faults.conftest import assert_wired, new_app

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
SUB_B = "c0ffee00-0000-4000-8000-0000000000b2"
RG_A = f"/subscriptions/{SUB}/resourceGroups/rg-shop"
RG_B = f"/subscriptions/{SUB_B}/resourceGroups/rg-ledger"
TWO = f"{RG_A}/providers/Microsoft.ContainerService/managedClusters/aks-two"
OAI_TWO = f"{RG_A}/providers/Microsoft.CognitiveServices/accounts/oai-two"
LEDGER = f"{RG_B}/providers/Microsoft.ContainerService/managedClusters/aks-ledger"
SQL_LEDGER = f"{RG_B}/providers/Microsoft.Sql/servers/sql-ledger/databases/ledger"
OAI_LEDGER = f"{RG_B}/providers/Microsoft.CognitiveServices/accounts/oai-ledger"
APPS = [f"app{i}" for i in range(6)]  # app0 is wired at set-up; each fault kind gives the others one more to wire
# (cluster, namespace, the target whose sc-workloads grows, its other tags)
OTHERS = {
    TWO: ("two", OAI_TWO, {"sc-group": "two", "sc-namespace": "two", "sc-auth": "secret"}),
    LEDGER: ("ledger", SQL_LEDGER, {
        "sc-group": "ledger", "sc-namespace": "ledger", "sc-sql-user": "ledger_app", "sc-client-type": "java",
        "sc-sql-password": "https://kv-ledger.vault.azure.net/secrets/ledger-password"}),
}  # fmt: skip
OAI_LEDGER_TAGS = {
    "sc-group": "ledger",
    "sc-namespace": "ledger",
    "sc-workloads": "deploy/app0",
    "sc-client-type": "dotnet",
}  # a shape of its own (listConfigurations is memoised per shape), so aks-shop's is read by aks-shop


def scenario() -> dict:
    spec = demo_spec()
    for principal in spec["principals"]:
        principal["grants"] += [dict(g, scope=f"/subscriptions/{SUB_B}") for g in principal["grants"]]
    [sub_a] = spec["subscriptions"]
    [rg] = sub_a["resource_groups"]
    workloads = lambda ns: [{"kind": "Deployment", "name": a, "namespace": ns, "containers": [a]} for a in APPS]  # noqa: E731
    # every owner consents (shared/core/consent.py): the namespaces let their resource group's targets in, the
    # identity is let into its namespace, the vault secret names its database
    namespace = lambda name, rg: {"name": name, "annotations": {ALLOWED_TARGETS: rg}}  # noqa: E731
    rg["clusters"].append({"name": "aks-two", "kubernetes": {"namespaces": [namespace("two", RG_A)],
                                                             "workloads": workloads("two")}})  # fmt: skip
    rg["openai_accounts"].append({"name": "oai-two", "kind": "OpenAI"})
    sub_b = copy.deepcopy(sub_a)
    sub_b.update(id=SUB_B, name="contoso-ledger")
    sub_b["providers"] = {"Microsoft.ServiceLinker": "Registered", "Microsoft.KubernetesConfiguration": "Registered"}
    sub_b["resource_groups"] = [{
        "name": "rg-ledger", "location": "westeurope",
        "clusters": [{"name": "aks-ledger",
                      "kubernetes": {"namespaces": [namespace("ledger", RG_B)], "workloads": workloads("ledger")}}],
        "sql_servers": [{"name": "sql-ledger", "databases": [{"name": "ledger"}]}],
        "openai_accounts": [{"name": "oai-ledger", "kind": "OpenAI"}],
        "identities": [{"name": "id-ledger", "tags": {NAMESPACES_TAG: "ledger"}}],
        "key_vaults": [{"name": "kv-ledger", "secrets": {
            "ledger-password": {"value": "Ledger-Demo-P@ss-19", "tags": {"sc-targets": SQL_LEDGER}}}}],
    }]  # fmt: skip
    spec["subscriptions"].append(sub_b)
    return spec


@dataclass
class World:
    admin: Admin
    estate: Estate
    replay: list[dict]  # aks-shop's own tag events
    monkeypatch: pytest.MonkeyPatch

    def key(self) -> str:
        clusters = {k.lower(): v for k, v in self.admin.state()["clusters"].items()}
        return clusters[CLUSTER.lower()]["key"]

    def give_the_others_work(self, step: int) -> None:
        """One more workload for each other cluster to wire (additive work, which a partial view does not hold)."""
        for _, target, tags in OTHERS.values():
            self.estate.tag(target, {**tags, "sc-workloads": ",".join(f"deploy/{a}" for a in APPS[: step + 1])})

    def run(self, entry: str):
        app = new_app()
        if entry == "events":
            return app.events.handle(self.replay + self.estate.new_events())
        self.estate.new_events()
        return app.applier.apply() if entry == "apply" else app.sweeper.run(now=NOW)


def objects(state: dict, cluster: str) -> list[dict]:
    clusters = {k.lower(): v for k, v in state["clusters"].items()}
    return list(_iter_objects(clusters[cluster.lower()]["objects"]))


def wiring_snapshot(state: dict) -> dict[tuple, str]:
    """Every workload that carries our wiring, anywhere: its pod template as it is now."""
    snapshot = {}
    for cluster in (CLUSTER, TWO, LEDGER):
        for item in objects(state, cluster):
            if item["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob") and read_wirings(item):
                meta = item["metadata"]
                key = (cluster, item["kind"], meta["namespace"], meta["name"])
                snapshot[key] = json.dumps(pod_template(item), sort_keys=True)
    return snapshot


def wired(state: dict, cluster: str) -> set[str]:
    """The workloads of an other cluster that carry a Service Connector secret."""
    namespace = OTHERS[cluster][0]
    return {
        o["metadata"]["name"]
        for o in objects(state, cluster)
        if o["kind"] == "Deployment" and o["metadata"]["namespace"] == namespace and env_from_secrets(o)
    }


def linker_ids(state: dict) -> set[str]:
    return {r["id"].lower() for r in state["resources"] if r["type"].lower() == "microsoft.servicelinker/linkers"}


def findings_of(result) -> list:
    if hasattr(result, "runs"):
        return result.findings
    return result.failures + [f for c in result.clusters for f in c.findings]


def assert_nothing_removed(admin: Admin, since: int, before: dict, after: dict) -> None:
    """No DELETE by the app, no linker put over an existing one, and every wired workload exactly as it was
    (`before` and `after`: the local cloud's state)."""
    linkers = linker_ids(before)
    log = [r for r in admin.requests_since(since) if r.get("principal") != "platform-admin"]
    deletes = [f"{r['service']} {r['path']}" for r in log if r["method"] == "DELETE"]
    assert deletes == [], f"deleted on a partial view: {deletes}"
    overwrites = [r["path"] for r in log if r["method"] == "PUT" and r["path"].lower() in linkers]
    assert overwrites == [], f"linker put over an existing one on a partial view: {overwrites}"
    wired_before, wired_after = wiring_snapshot(before), wiring_snapshot(after)
    changed = [key for key, template in wired_before.items() if wired_after.get(key) != template]
    assert changed == [], f"wired workloads changed on a partial view: {changed}"


def wire(cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch) -> World:
    """The whole estate wired once, with fast retries; aks-shop's tag events kept for replaying."""
    assert set(cloud.environment()["SC_SUBSCRIPTIONS"].split(",")) == {SUB, SUB_B}
    monkeypatch.setenv("SC_RETRY_BASE_SECONDS", "0")
    admin = Admin(cloud)
    estate = Estate(admin)
    estate.tag(CLUSTER, CLUSTER_TAGS)
    replay = estate.new_events()
    estate.tag(OPENAI, OPENAI_TAGS)
    estate.tag(DATABASE, SQL_TAGS)
    estate.tag(TWO, {"sc-group": "two"})
    estate.tag(LEDGER, {"sc-group": "ledger", "sc-identity": "id-ledger"})
    estate.tag(OAI_LEDGER, OAI_LEDGER_TAGS)
    for _, target, tags in OTHERS.values():
        estate.tag(target, {**tags, "sc-workloads": "deploy/app0"})
    estate.new_events()
    report = new_app().applier.apply()
    assert report.ok, report.summary()
    assert_wired(estate)
    state = admin.state()
    assert all(wired(state, cluster) == {"app0"} for cluster in OTHERS)
    return World(admin, estate, replay, monkeypatch)
