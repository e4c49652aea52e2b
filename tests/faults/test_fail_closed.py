"""Fail closed (issue 10), on the real clients against the local cloud: for every read the app makes, a fault that
outlasts every retry (503, 429 with Retry-After, 403, a dropped connection, a timeout) removes nothing anywhere,
is reported as READ_FAILED naming the read, makes the run not ok, and does not stop the other clusters.

The estate is the demo's, wired, plus a second cluster in the same subscription (`aks-two`, for the reads of one
cluster) and a second subscription with its own cluster, targets, identity and vault (`aks-ledger`, for the reads of
a whole subscription: a failed tag listing of the first must not stop the second). Each faulted run is one that
would have removed live wiring under the old bug (a failed read taken for an empty one): the tags of `aks-shop` are
replayed while it is fully wired, so "nothing is tagged" / "no linkers" / "no secrets" would un-wire, delete or put
again. Meanwhile the other clusters have work of their own (one more workload to wire per fault kind), which they do.

Reads covered, from shared/adapters (`READS` below): the tag listing, the cluster GET, the identity GET, the provider
registration GET, listClusterUserCredential, the linker listing, the five workload lists, the secret and
service-account metadata lists; the sweep's sc-extension GET, validateLinker, listConfigurations, the federated
credentials list, the secret GET for key names and the target GET; the Key Vault secret GET at apply time.
Excluded, and why:
- the cluster *listing* (`apply`/`sweep`): a failed listing only costs a GET per cluster (Inventory.estate), so
  nothing is unread; test_a_failed_cluster_listing_falls_back_to_a_get_per_cluster checks that.
- the workload / secret / service-account GETs the executor makes right before a write (a rewire's re-read on a
  conflict, a delete's precondition read): a failed one fails that write, which is retried next run; they only ever
  run on a plan made from a complete view.
- the linker listing of the router (`has_linker_to`, a target's event): a failed one includes the cluster, whose
  own reconcile then reads (and fails on) its linkers: covered by "linker listing".
- Blob reads (the fan-out's estate snapshot) are outside this emulator-backed matrix.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

import pytest

from shared.core.codes import Code
from tests.conftest import DATABASE, OPENAI, ROOT, SUB
from tests.e2e.conftest import env_from_secrets
from tests.faults.conftest import assert_wired, clear_faults, fault, inject, new_app
from tests.faults.world import APPS, OTHERS, World, assert_nothing_removed, findings_of, wired

# The fault kinds, each persistent (until cleared). 429 and 503 carry Retry-After: 0 so that a matrix of 20 reads stays
# fast; that a Retry-After of 1 s is waited out is test_arm_faults.test_retry_after_is_honoured.
TIMEOUT_SECONDS = 0.5
KINDS = {
    "503": {"kind": "status", "status": 503, "retry_after": 0},
    "429": {"kind": "throttle", "retry_after": 0},
    "403": {"kind": "status", "status": 403},
    "reset": {"kind": "reset"},
    "timeout": {"kind": "delay", "delay_ms": 2000},  # answered after the client (SC_HTTP_TIMEOUT_SECONDS) gave up
}
ATTEMPTS = {"arm": 5, "keyvault": 5, "kube": 4}  # errors.with_retries, kube/api.ATTEMPTS


@dataclass(frozen=True)
class Read:
    """One read the app makes, where it is made, and the fault that hits exactly it."""

    read: str  # as the adapter names it in ReadFailure.read (the READ_FAILED finding says it)
    entry: str  # events | apply | sweep: an entry point that makes this read
    service: str
    method: str
    path: str  # regex; {key} is aks-shop's Kubernetes API key
    subscription_wide: bool = False  # a read of all of SUB: only the other subscription's cluster can go on


KUBE = "^/clusters/{key}"
SHOP = r"/managedClusters/aks-shop"
LINKER = SHOP + r"/providers/Microsoft\.ServiceLinker/linkers"
EXTENSION = SHOP + r"/providers/Microsoft\.KubernetesConfiguration/extensions/sc-extension$"
GRAPH = r"^/providers/Microsoft\.ResourceGraph/resources$"
PROVIDER = rf"^/subscriptions/{SUB}/providers/Microsoft\.ServiceLinker$"
READS = [
    # Old bug: "nothing is tagged" -> un-wire web/api/worker/report, delete both secrets, the service account and
    # both linkers, exit 0 (the case).
    Read("tag listing", "events", "arm", "GET", rf"^/subscriptions/{SUB}/resources$", subscription_wide=True),
    # (No cluster GET: events take the cluster's provisioning state from the tag listing, full runs list them.)
    # Old bug: no identity -> the OpenAI target held; its wiring kept, but reported as IDENTITY_MISSING.
    Read("identity", "events", "arm", "GET", r"/userAssignedIdentities/id-shop-workloads$"),
    # Old bug: "NotRegistered" -> register again (a write on a read failure).
    Read("provider registration", "apply", "arm", "GET", PROVIDER, subscription_wide=True),
    Read("cluster credentials (listClusterUserCredential)", "apply", "arm", "POST", SHOP + "/listClusterUser"),
    # Old bug: "no linkers" -> both linkers put again over the existing ones.
    Read("linker listing", "apply", "arm", "GET", LINKER + "$"),
    # Old bug: "no workloads" -> every wired workload unknown; its wiring records lost to the plan.
    Read("Deployment list", "events", "kube", "GET", KUBE + "/apis/apps/v1/deployments$"),
    Read("StatefulSet list", "apply", "kube", "GET", KUBE + "/apis/apps/v1/statefulsets$"),
    Read("DaemonSet list", "events", "kube", "GET", KUBE + "/apis/apps/v1/daemonsets$"),
    Read("Job list", "apply", "kube", "GET", KUBE + "/apis/batch/v1/jobs$"),
    Read("CronJob list", "events", "kube", "GET", KUBE + "/apis/batch/v1/cronjobs$"),
    # Old bug: "no secrets" / "no service accounts" -> both linkers put again ("its secret is missing").
    Read("Secret list", "apply", "kube", "GET", KUBE + "/api/v1/secrets$"),
    Read("ServiceAccount list", "events", "kube", "GET", KUBE + "/api/v1/serviceaccounts$"),
    # The sweep's evidence. Old bug: a missing extension / failed validation / no keys / no federated credential
    # judged Drifted -> "repaired" by putting the linkers again.
    # Resource Graph answers the extension states; when it fails, each cluster's extension is read by a GET.
    Read("extension sc-extension", "sweep", "arm", "*", GRAPH + "|" + EXTENSION),
    Read("validateLinker", "sweep", "arm", "POST", LINKER + r"/scap_[^/]+/validateLinker$"),
    Read("listConfigurations", "sweep", "arm", "POST", LINKER + r"/scap_[^/]+/listConfigurations$"),
    Read("federated credentials", "sweep", "arm", "GET", r"/id-shop-workloads/federatedIdentityCredentials$"),
    Read("Secret shop/", "sweep", "kube", "GET", KUBE + r"/api/v1/namespaces/shop/secrets/sc-[a-z0-9]+-secret$"),
    # A legitimate removal is pending (oai-shop lost its sc-group): the sweep asks whether the target still exists.
    # Old bug: "absent" -> TARGET_DELETED; here the removal is held until the read succeeds, then applied.
    Read("target", "sweep", "arm", "GET", r"/accounts/oai-shop$"),
    # The SQL password, read right before the linker PUT (sc-sql-user changes each fault kind, so a PUT is due).
    Read("Key Vault secret", "apply", "keyvault", "GET", r"^/secrets/sql-orders-password"),
]


@pytest.fixture(autouse=True)
def validate_every_connection(monkeypatch):
    """Every connection's validateLinker is made each sweep (not once a day in its slot), so its faults are met."""
    monkeypatch.setenv("SC_VALIDATE_EVERY_HOURS", "1")


@pytest.mark.parametrize("read", READS, ids=[r.read.split(" (")[0].rstrip("/ ") for r in READS])
def test_a_read_that_fails_beyond_every_retry_removes_nothing(read: Read, world: World, record_property):
    admin, estate = world.admin, world.estate
    path = read.path.format(key=world.key())
    others = [c for c in OTHERS if not (read.subscription_wide and c.startswith(f"/subscriptions/{SUB}/"))]
    if read.read == "target":
        estate.untag(OPENAI, "sc-group")  # its linker and wiring are due for removal
    attempts: dict[str, int] = {}
    for step, (name, kind) in enumerate(KINDS.items(), start=1):
        if read.read == "Key Vault secret":
            estate.tag(DATABASE, {"sc-sql-user": f"orders_app{step}"})  # the SQL linker must be put again
        world.give_the_others_work(step)
        if name == "timeout":
            world.monkeypatch.setenv("SC_HTTP_TIMEOUT_SECONDS", str(TIMEOUT_SECONDS))
        before, mark = admin.state(), admin.mark()
        inject(admin, fault(service=read.service, method=read.method, path=path, **{**kind, "times": None}))
        result = world.run(read.entry)
        [hits] = [f["hits"] for f in admin.get("faults")["faults"]]
        clear_faults(admin)
        world.monkeypatch.delenv("SC_HTTP_TIMEOUT_SECONDS", raising=False)
        attempts[name] = hits
        context = f"{read.read} under {name}"
        assert hits >= 1, f"{context}: the read was never made"
        assert hits <= 2 * ATTEMPTS[read.service], f"{context}: {hits} attempts"
        assert not result.ok, f"{context}: the run says ok"
        # A Key Vault 403 is the more precise KEYVAULT_SECRET_UNREADABLE (which right to grant on which vault).
        precise = Code.KEYVAULT_SECRET_UNREADABLE if read.service == "keyvault" else Code.READ_FAILED
        found = findings_of(result)
        failed = [f for f in found if (f.code is Code.READ_FAILED and read.read in f.message) or f.code is precise]
        assert failed, f"{context}: no READ_FAILED naming it: {[f.message for f in found]}"
        after = admin.state()
        assert_nothing_removed(admin, mark, before, after)
        for cluster in others:
            assert wired(after, cluster) == set(APPS[: step + 1]), f"{context}: {cluster} did not converge"
    record_property("attempts", attempts)
    # The fault cleared: the estate converges, the pending removal included.
    report = new_app().applier.apply()
    assert report.ok, report.summary()
    if read.read == "target":
        assert [lk for lk in estate.linkers() if "oai-shop" in lk["properties"]["targetService"]["id"]] == []
        assert env_from_secrets(estate.workload("Deployment", "web"), "web") == []
    else:
        assert_wired(estate)
    state = admin.state()
    assert all(wired(state, cluster) == set(APPS) for cluster in OTHERS)


def test_a_failed_cluster_listing_falls_back_to_a_get_per_cluster(world: World):
    """Excluded from the matrix because nothing is unread: apply converges with the cluster listing failing."""
    admin = world.admin
    inject(admin, fault("status", "arm", "GET", r"/providers/Microsoft\.ContainerService/managedClusters$",
                        status=503, retry_after=0, times=None))  # fmt: skip
    world.give_the_others_work(1)
    report = new_app().applier.apply()
    assert report.ok, report.summary()
    assert any(f["hits"] for f in admin.get("faults")["faults"])
    state = admin.state()
    assert all(wired(state, cluster) == {"app0", "app1"} for cluster in OTHERS)


# -- the real CLI process: exit 1 (one representative case per entry point) ------------------------------------
def cli(*args: str) -> int:
    env = {**os.environ, "SC_RETRY_BASE_SECONDS": "0"}
    return subprocess.run([sys.executable, "-m", "shared.cli", *args], env=env, cwd=ROOT, capture_output=True,
                          timeout=300).returncode  # fmt: skip


@pytest.mark.parametrize(("command", "path"), [
    ("apply", rf"^/subscriptions/{SUB}/resources$"),  # the "exit 0 on a 503 tag listing"
    ("sweep", r"/id-shop-workloads/federatedIdentityCredentials$"),
])  # fmt: skip
def test_the_cli_exits_1_when_a_read_failed(command, path, world: World):
    admin = world.admin
    before, mark = admin.state(), admin.mark()
    inject(admin, fault("status", "arm", "GET", path, status=503, retry_after=0, times=None))
    assert cli(command) == 1
    assert_nothing_removed(admin, mark, before, admin.state())
    clear_faults(admin)
    assert cli(command) == 0
